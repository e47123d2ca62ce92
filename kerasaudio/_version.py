"""The package version (a module of its own so any module can read it without importing
the package's `__init__`, which imports every layer and model)."""

__version__ = "0.1.0.dev0"
