"""kerasaudio: Keras audio models and front ends that match librosa and ship to TFLite.

`import kerasaudio` registers the layers and models with Keras (so `.keras` files that use
them load) and gives `create_model`, `list_models`, `available_models` (from
`kerasaudio.hub`) and `register_model` (from `kerasaudio.models`). Where Keras is not
installed, the package still imports: `kerasaudio.export`'s `TFLiteModel` runs exported
`.tflite` files with LiteRT, soundfile and soxr alone.
"""

import importlib
import os

# TensorFlow's C++ INFO/WARNING lines (oneDNN notices, CPU feature guard) drown the CLI's
# output; quiet them unless the user chose a level (effective if TF is not yet loaded).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kerasaudio._version import __version__

_SUBMODULES = ("audio_io", "data", "datasets", "embeddings", "ensemble", "equalization",
               "errors", "export", "filters", "hub", "layers", "losses", "metrics", "models",
               "tflite_metadata", "vad", "weights")
_REGISTRY_FUNCTIONS = ("available_models", "create_model", "list_models", "register_model")

__all__ = ["__version__", *_SUBMODULES, *_REGISTRY_FUNCTIONS]

try:
    import keras as _keras  # noqa: F401
except ImportError:  # a runtime-only install (LiteRT): no layers, no models
    pass
else:
    # Registers every layer and model family (the stack family through hub) with Keras.
    from kerasaudio import hub, layers, models  # noqa: F401
    from kerasaudio.hub import available_models, create_model, list_models  # noqa: F401
    from kerasaudio.models import register_model  # noqa: F401


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"kerasaudio.{name}")
    raise AttributeError(f"module 'kerasaudio' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
