"""kerasaudio: Keras audio models and front ends that match librosa and ship to TFLite.

`import kerasaudio` registers the layers and models with Keras (so `.keras` files that use
them load): at once when Keras is already imported, else as soon as it is. The package
itself never imports Keras or TensorFlow: `kerasaudio.runtime`'s `TFLiteModel` runs
exported `.tflite` files with LiteRT, soundfile and soxr alone, and the submodules and
registry functions below load on first use.
"""

import importlib
import os

# TensorFlow's C++ INFO/WARNING lines (oneDNN notices, CPU feature guard) drown the CLI's
# output; quiet them unless the user chose a level (effective if TF is not yet loaded).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kerasaudio._version import __version__

_SUBMODULES = ("audio_io", "data", "datasets", "embeddings", "ensemble", "errors", "export",
               "filters", "hub", "info", "layers", "losses", "metrics", "models", "runtime",
               "training", "vad", "weights")
_REGISTRY_FUNCTIONS = ("available_models", "create_model", "list_models", "register_model")

__all__ = ["__version__", *_SUBMODULES, *_REGISTRY_FUNCTIONS]

from kerasaudio._registration import register_with_keras  # noqa: E402

register_with_keras()


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"kerasaudio.{name}")
    if name == "register_model":
        return importlib.import_module("kerasaudio.models").register_model
    if name in _REGISTRY_FUNCTIONS:  # create_model, list_models, available_models
        return getattr(importlib.import_module("kerasaudio.hub"), name)
    raise AttributeError(f"module 'kerasaudio' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
