"""wav2vec 2.0 architecture options: the defaults, the registered sizes, their checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from kerasaudio.errors import InvalidOptionError

__all__ = ["ACTIVATIONS", "ARCHITECTURE", "CONFIGS", "SAMPLE_RATE", "activation_function",
           "check_architecture", "frame_lengths", "receptive_field"]

#: Sampling rate every wav2vec 2.0 checkpoint expects.
SAMPLE_RATE = 16000
#: Architecture options and their defaults (those of `facebook/wav2vec2-base`).
ARCHITECTURE: dict[str, Any] = {
    "conv_dim": (512, 512, 512, 512, 512, 512, 512),
    "conv_kernel": (10, 3, 3, 3, 3, 2, 2),
    "conv_stride": (5, 2, 2, 2, 2, 2, 2),
    "conv_bias": False,
    "feat_extract_norm": "group",
    "feat_extract_activation": "gelu",
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "num_conv_pos_embeddings": 128,
    "num_conv_pos_embedding_groups": 16,
    "do_stable_layer_norm": False,
    "layer_norm_eps": 1e-5,
    "hidden_dropout": 0.1,
    "attention_dropout": 0.1,
    "activation_dropout": 0.0,
    "feat_proj_dropout": 0.1,
}
_LARGE = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
          "intermediate_size": 4096}
#: The registered configurations (`wav2vec2_base`, `wav2vec2_large`, `wav2vec2_large_lv60`:
#: facebook/wav2vec2-base, -large and -large-lv60) as overrides of `ARCHITECTURE`.
CONFIGS: dict[str, dict[str, Any]] = {
    "wav2vec2_base": {},
    "wav2vec2_large": dict(_LARGE),
    "wav2vec2_large_lv60": {**_LARGE, "feat_extract_norm": "layer", "conv_bias": True,
                            "do_stable_layer_norm": True},
}
#: Activation names of Hugging Face configs and the functions they mean.
ACTIVATIONS = {
    "gelu": lambda x: keras.activations.gelu(x, approximate=False),
    "gelu_new": lambda x: keras.activations.gelu(x, approximate=True),
    "gelu_pytorch_tanh": lambda x: keras.activations.gelu(x, approximate=True),
    "relu": keras.activations.relu,
    "silu": keras.activations.silu,
    "swish": keras.activations.silu,
}
def activation_function(name: str, option: str):
    """The function of activation `name` (a key of `ACTIVATIONS`), for option `option`.

    Args:
        name: an activation name of a Hugging Face config (`"gelu"` is the exact, erf GELU).
        option: the option that holds it, for the error message.

    Returns:
        The activation function (`keras.activations`).

    Raises:
        InvalidOptionError: an unknown name.

    Example:
    ```python
    from kerasaudio.models.wav2vec2.config import activation_function
    gelu = activation_function("gelu", "hidden_act")
    ```
    """
    if name not in ACTIVATIONS:
        raise InvalidOptionError(f"{option}={name!r}: use one of {sorted(ACTIVATIONS)}.")
    return ACTIVATIONS[name]


def frame_lengths(lengths, conv_kernel: Sequence[int] = ARCHITECTURE["conv_kernel"],
                  conv_stride: Sequence[int] = ARCHITECTURE["conv_stride"]):
    """Frames the feature encoder makes from `lengths` samples (numpy or tensor, >= 0).

    `floor((n - kernel) / stride) + 1` per convolution, as transformers'
    `_get_feat_extract_output_lengths`: the frames whose receptive field lies inside the
    audio (400 samples, hop 320 for the default encoder).

    Args:
        lengths: sample counts: an int, a numpy array or a tensor.
        conv_kernel: kernel sizes of the feature encoder's convolutions.
        conv_stride: their strides.

    Returns:
        The frame counts, of the same kind as `lengths` (0 for audio shorter than the
        receptive field).

    Example:
    ```python
    from kerasaudio.models.wav2vec2 import frame_lengths
    frame_lengths(np.array([16000, 80000]))  # [49, 249]
    ```
    """
    symbolic = not isinstance(lengths, int | np.integer | np.ndarray)
    if not symbolic:
        lengths = np.asarray(lengths)
    for kernel, stride in zip(conv_kernel, conv_stride, strict=True):
        lengths = (lengths - kernel) // stride + 1
        lengths = ops.maximum(lengths, 0) if symbolic else np.maximum(lengths, 0)
    return lengths


def receptive_field(conv_kernel: Sequence[int] = ARCHITECTURE["conv_kernel"],
                    conv_stride: Sequence[int] = ARCHITECTURE["conv_stride"]) -> int:
    """Samples one output frame of the feature encoder sees (400 for the default).

    Args:
        conv_kernel: kernel sizes of the feature encoder's convolutions.
        conv_stride: their strides.

    Returns:
        The receptive field in samples: the shortest audio that gives one frame.

    Example:
    ```python
    from kerasaudio.models.wav2vec2 import receptive_field
    receptive_field()  # 400: 25 ms at 16 kHz
    ```
    """
    size = 1
    for kernel, stride in reversed(list(zip(conv_kernel, conv_stride, strict=True))):
        size = (size - 1) * stride + kernel
    return size


def check_architecture(c: dict) -> dict:
    """`c` (every key of `ARCHITECTURE`) checked and normalised: tuples, floats, bools.

    Args:
        c: architecture options, every key of `ARCHITECTURE`.

    Returns:
        A new dict: convolution sizes as tuples of ints, rates as floats, flags as bools.

    Raises:
        InvalidOptionError: a value out of range or sizes that do not fit together.

    Example:
    ```python
    from kerasaudio.models.wav2vec2.config import ARCHITECTURE, CONFIGS, check_architecture
    large = check_architecture({**ARCHITECTURE, **CONFIGS["wav2vec2_large"]})
    ```
    """
    c = dict(c)
    for key in ("conv_dim", "conv_kernel", "conv_stride"):
        try:
            c[key] = tuple(int(v) for v in c[key])
        except (TypeError, ValueError):
            raise InvalidOptionError(f"{key}={c[key]!r} must be a sequence of ints.") from None
        if not c[key] or min(c[key]) < 1:
            raise InvalidOptionError(f"{key}={c[key]!r} must be non-empty, values >= 1.")
    if not len(c["conv_dim"]) == len(c["conv_kernel"]) == len(c["conv_stride"]):
        raise InvalidOptionError("conv_dim, conv_kernel and conv_stride must have one entry "
                                 "per convolution.")
    if c["feat_extract_norm"] not in ("group", "layer"):
        raise InvalidOptionError(
            f"feat_extract_norm={c['feat_extract_norm']!r}: use 'group' or 'layer'.")
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size", "num_conv_pos_embeddings",
                "num_conv_pos_embedding_groups"):
        value = c[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidOptionError(f"{key}={value!r} must be an integer >= 1.")
    if c["hidden_size"] % c["num_attention_heads"]:
        raise InvalidOptionError(f"hidden_size={c['hidden_size']} is not a multiple of "
                                 f"num_attention_heads={c['num_attention_heads']}.")
    if c["hidden_size"] % c["num_conv_pos_embedding_groups"]:
        raise InvalidOptionError(
            f"hidden_size={c['hidden_size']} is not a multiple of "
            f"num_conv_pos_embedding_groups={c['num_conv_pos_embedding_groups']}.")
    for key in ("feat_extract_activation", "hidden_act"):
        activation_function(c[key], key)
    for key in ("hidden_dropout", "attention_dropout", "activation_dropout",
                "feat_proj_dropout"):
        if not 0.0 <= float(c[key]) < 1.0:
            raise InvalidOptionError(f"{key}={c[key]!r} must be in [0, 1).")
        c[key] = float(c[key])
    c["layer_norm_eps"] = float(c["layer_norm_eps"])
    c["conv_bias"] = bool(c["conv_bias"])
    c["do_stable_layer_norm"] = bool(c["do_stable_layer_norm"])
    return c

