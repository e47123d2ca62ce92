"""kerasaudio: Keras audio models and front ends that match librosa and ship to TFLite."""

import importlib

__version__ = "0.1.0.dev0"

from kerasaudio import errors, filters, layers

# Imported on first use: they pull in TensorFlow (which a JAX-backend user may not
# need) or build the model registry.
_LAZY_SUBMODULES = ("data", "datasets", "export", "losses", "metrics", "models")
_REGISTRY_FUNCTIONS = ("available_models", "create_model", "list_models", "register_model")

__all__ = ["__version__", "errors", "filters", "layers", *_LAZY_SUBMODULES,
           *_REGISTRY_FUNCTIONS]


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"kerasaudio.{name}")
    if name in _REGISTRY_FUNCTIONS:
        return getattr(importlib.import_module("kerasaudio.models"), name)
    raise AttributeError(f"module 'kerasaudio' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
