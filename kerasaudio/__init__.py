"""kerasaudio: Keras audio models and front ends that match librosa and ship to TFLite.

`import kerasaudio` registers the layers and models with Keras (so `.keras` files that use
them load). Where Keras is not installed, the package still imports: `kerasaudio.export`'s
`TFLiteModel` runs exported `.tflite` files with LiteRT, soundfile and soxr alone.
"""

import importlib
import os

# TensorFlow's C++ INFO/WARNING lines (oneDNN notices, CPU feature guard) drown the CLI's
# output; quiet them unless the user chose a level (effective if TF is not yet loaded).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0.dev0"

_SUBMODULES = ("audio_io", "data", "datasets", "embeddings", "ensemble", "equalization",
               "errors", "export", "filters", "layers", "losses", "metrics", "models", "presets",
               "tflite_metadata", "vad")
_REGISTRY_FUNCTIONS = ("available_models", "create_model", "list_models", "register_model")

__all__ = ["__version__", *_SUBMODULES, *_REGISTRY_FUNCTIONS]

try:
    import keras as _keras  # noqa: F401
except ImportError:  # a runtime-only install (LiteRT): no layers, no models
    pass
else:
    # Registers every layer and model family with Keras' serialization.
    from kerasaudio import layers, models  # noqa: F401
    from kerasaudio.models import (  # noqa: F401
        available_models,
        create_model,
        list_models,
        register_model,
    )


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"kerasaudio.{name}")
    raise AttributeError(f"module 'kerasaudio' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
