"""SpeechBrain ECAPA-TDNN checkpoints to kerasaudio: read the tensors, map them onto the model.

SpeechBrain saves the embedding network of a speaker recipe as `embedding_model.ckpt`,
the `state_dict` of `speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN` written by
`torch.save`. It is read with `torch.load(path, map_location="cpu", weights_only=True)`
(`kerasaudio.weights.huggingface.read_torch_tensors`): tensors only, never arbitrary
pickled objects. A state dict already in memory (torch tensors or numpy arrays) works too.

Tensor mapping (PyTorch -> Keras, channels last); SpeechBrain module `path` is the Keras
layer `path` with dots replaced by underscores (`config.keras_name`):

| SpeechBrain | Keras | transform |
| --- | --- | --- |
| `<path>.weight` `(out, in, k)`, `.bias` of a `Conv1d` | `Conv1D` | kernel `(k, in, out)` |
| `fc.conv.weight` `(embedding, 2 C, 1)`, `.bias` | `Dense` `fc_conv` | kernel `(2 C, embedding)` |
| `<path>.{weight,bias,running_mean,running_var}` of a `BatchNorm1d` | `BatchNormalization` | none |

`*.num_batches_tracked` counters are ignored. SpeechBrain's convolutions reflect-pad
("same") before a valid convolution; the Keras model does the same with a
`ReflectPadding1D` layer, so the kernels are copied as they are. The batch-norm running
statistics are SpeechBrain's inference statistics (the model runs in `eval()` mode).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from kerasaudio.errors import InvalidOptionError
from kerasaudio.models.ecapa_tdnn.config import EcapaConfig, keras_name
from kerasaudio.weights.huggingface import mismatch_report, read_torch_tensors, tensor_array

if TYPE_CHECKING:
    import keras

__all__ = ["config_from_state", "convert_state_dict", "load_speechbrain_weights",
           "read_speechbrain_checkpoint", "to_state_dict"]

_BN = ("weight", "bias", "running_mean", "running_var")


def _to_numpy(key: str, value) -> np.ndarray:
    return tensor_array(key, value, source="ECAPA-TDNN checkpoint")


def read_speechbrain_checkpoint(source) -> dict[str, np.ndarray]:
    """The tensors of a SpeechBrain `embedding_model.ckpt`, as numpy arrays by name.

    Args:
        source: the checkpoint file, or its state dict in memory (torch tensors or numpy
            arrays). A `"module."` prefix on every key (`DataParallel`) is removed.

    Returns:
        `{name: array}`, float tensors as float32.

    Raises:
        ModelFileNotFoundError: no such file. ModelFileError: `torch.load(weights_only=
        True)` refused the file. InvalidOptionError: torch missing, or not a state dict.

    Example:
    ```python
    import torch
    from kerasaudio.models.ecapa_tdnn import read_speechbrain_checkpoint
    torch.save({"fc.conv.weight": torch.zeros(192, 6144, 1)}, "part.ckpt")  # a state dict
    read_speechbrain_checkpoint("part.ckpt")["fc.conv.weight"].shape  # (192, 6144, 1)
    ```
    """
    if isinstance(source, Mapping):
        state = dict(source)
    else:
        try:
            path = os.fspath(source)
        except TypeError:
            raise InvalidOptionError(
                "read_speechbrain_checkpoint: pass a checkpoint path or a state dict; got "
                f"{type(source).__name__}.") from None
        state = read_torch_tensors(path)
    if not state:
        raise InvalidOptionError("ECAPA-TDNN checkpoint: the state dict is empty.")
    keys = [str(k) for k in state]
    strip = "module." if all(k.startswith("module.") for k in keys) else ""
    return {str(k)[len(strip):]: _to_numpy(str(k), v) for k, v in state.items()}


def _infer(shape_of: Callable[[str], tuple | None]) -> dict | None:
    """The builder options that fix the tensor shapes, from `shape_of(module path)`
    (a weight's PyTorch shape, or None when absent); None if the layout is not ECAPA's."""
    first = shape_of("blocks.0.conv.conv")
    aggregation = shape_of("mfa.conv.conv")
    attention = shape_of("asp.tdnn.conv.conv")
    fc = shape_of("fc.conv")
    if first is None or aggregation is None or attention is None or fc is None:
        return None
    channels, kernels = [first[0]], [first[2]]
    index = 1
    while (tdnn1 := shape_of(f"blocks.{index}.tdnn1.conv.conv")) is not None:
        res2net = shape_of(f"blocks.{index}.res2net_block.blocks.0.conv.conv")
        channels.append(tdnn1[0])
        kernels.append(res2net[2] if res2net is not None else 1)
        index += 1
    scale = 1
    while shape_of(f"blocks.1.res2net_block.blocks.{scale - 1}.conv.conv") is not None:
        scale += 1
    se = shape_of("blocks.1.se_block.conv1.conv")
    channels.append(aggregation[0])
    kernels.append(aggregation[2])
    return {"n_mels": first[1], "channels": tuple(channels), "kernel_sizes": tuple(kernels),
            "attention_channels": attention[0], "res2net_scale": scale,
            "se_channels": se[0] if se is not None else 128,
            "global_context": attention[1] == 3 * aggregation[0], "embedding_dim": fc[0]}


def config_from_state(state: Mapping) -> dict:
    """The `ecapa_tdnn` options a SpeechBrain state dict was made with (its tensor shapes).

    Dilations leave no trace in the tensors: give them to the builder if they are not
    SpeechBrain's `[1, 2, 3, 4, 1]`.

    Args:
        state: `{name: array}` (`read_speechbrain_checkpoint`).

    Returns:
        `{"n_mels", "channels", "kernel_sizes", "attention_channels", "res2net_scale",
        "se_channels", "global_context", "embedding_dim"}`.

    Raises:
        InvalidOptionError: the tensors are not an ECAPA-TDNN's.

    Example:
    ```python
    from kerasaudio.models.ecapa_tdnn import config_from_state, to_state_dict
    model = kerasaudio.create_model("ecapa_tdnn", include_top=False, n_mels=40,
                                    channels=(64,) * 4 + (192,))
    config_from_state(to_state_dict(model))["channels"]  # (64, 64, 64, 64, 192)
    ```
    """
    options = _infer(lambda path: tuple(state[path + ".weight"].shape)
                     if path + ".weight" in state else None)
    if options is None:
        raise InvalidOptionError(
            "not an ECAPA-TDNN state dict: it lacks blocks.0.conv.conv.weight, "
            "mfa.conv.conv.weight, asp.tdnn.conv.conv.weight or fc.conv.weight.")
    return options


def _layers(model) -> dict:
    return {layer.name: layer for layer in model.layers}


def _torch_shape(layer) -> tuple:
    kernel = tuple(layer.kernel.shape)
    if len(kernel) == 3:  # Conv1D (kernel, in, out)
        return (kernel[2], kernel[1], kernel[0])
    return (kernel[1], kernel[0], 1)  # Dense (in, out) as a 1x1 convolution


def _model_config(model) -> EcapaConfig:
    layers = _layers(model)

    def shape_of(path: str):
        layer = layers.get(keras_name(path))
        return None if layer is None else _torch_shape(layer)

    options = _infer(shape_of)
    if options is None:
        raise InvalidOptionError(f"{model.name!r} is not an ECAPA-TDNN model (built by "
                                 "kerasaudio.create_model('ecapa_tdnn', ...)).")
    return EcapaConfig(**options, dilations=(1,) * len(options["channels"]))


def _plan(model) -> list[tuple[keras.layers.Layer, str, str]]:
    """`(Keras layer, SpeechBrain module path, kind)` of every weighted module."""
    layers = _layers(model)
    return [(layers[keras_name(path)], path, kind)
            for path, kind, _ in _model_config(model).modules()]


def _keras_values(layer, kind: str, tensors: list[np.ndarray]) -> list[np.ndarray]:
    if kind == "bn":
        return tensors
    weight, bias = tensors
    kernel = weight.transpose(2, 1, 0) if len(layer.kernel.shape) == 3 else weight[:, :, 0].T
    return [kernel, bias]


def convert_state_dict(model, state: Mapping, *, source: str = "the state dict") -> None:
    """Assign a SpeechBrain `ECAPA_TDNN` state dict to an `ecapa_tdnn` model.

    Every weight of the model must be in `state` with its shape and every tensor of
    `state` must be used (`num_batches_tracked` counters aside); otherwise nothing is
    assigned and the error lists every missing, unexpected and mis-shaped tensor. A
    model with a classifier (`include_top=True`) keeps its `predictions` layer as it is
    (SpeechBrain's classifier is another checkpoint).

    Args:
        model: a model built by `ecapa_tdnn` (any front end, `lengths`, `include_top`).
        state: `{name: array or tensor}` (`read_speechbrain_checkpoint`, or
            `{k: v.numpy() for k, v in ecapa.state_dict().items()}`).
        source: what `state` is, for the error message.

    Returns:
        None; every weight of the embedding network is assigned.

    Raises:
        InvalidOptionError: the tensors do not fit the model (all problems listed), or
            the model is not an ECAPA-TDNN.

    Example:
    ```python
    from kerasaudio.models.ecapa_tdnn import convert_state_dict, to_state_dict
    small = dict(include_top=False, channels=(64,) * 4 + (192,))
    source = kerasaudio.create_model("ecapa_tdnn", **small)
    target = kerasaudio.create_model("ecapa_tdnn", **small)
    convert_state_dict(target, to_state_dict(source))  # as from SpeechBrain
    state = to_state_dict(source)
    del state["fc.conv.bias"]
    try:
        convert_state_dict(target, state)
    except kerasaudio.errors.InvalidOptionError as e:
        print(e)  # ... missing (1): ['fc.conv.bias'] ...
    ```
    """
    state = {str(k): _to_numpy(str(k), v) for k, v in state.items()}
    plan = _plan(model)
    missing, shapes, values = [], [], []
    used = {k for k in state if k.endswith(".num_batches_tracked")}
    for layer, path, kind in plan:
        names = [f"{path}.{t}" for t in (_BN if kind == "bn" else ("weight", "bias"))]
        expected = {f"{path}.weight": _torch_shape(layer)} if kind == "conv" else {}
        tensors = []
        for tensor, variable in zip(names, layer.get_weights(), strict=True):
            if tensor not in state:
                missing.append(tensor)
                continue
            used.add(tensor)
            want = expected.get(tensor, variable.shape)
            if tuple(state[tensor].shape) != tuple(want):
                shapes.append(f"{tensor} {tuple(state[tensor].shape)} (expected "
                              f"{tuple(want)})")
            tensors.append(state[tensor])
        if len(tensors) == len(names):
            values.append((layer, kind, tensors))
    unexpected = sorted(set(state) - used)
    problems = mismatch_report(missing, unexpected, shapes)
    if problems:
        raise InvalidOptionError(
            f"{source} does not fit {model.name!r} (an ECAPA-TDNN checkpoint needs the same "
            "n_mels, channels, kernel_sizes, res2net_scale, se_channels, "
            "attention_channels, global_context and embedding_dim; config_from_state "
            "reads them): " + problems + ".")
    for layer, kind, tensors in values:
        layer.set_weights(_keras_values(layer, kind, tensors))


def load_speechbrain_weights(model, source) -> None:
    """Read a SpeechBrain checkpoint (`read_speechbrain_checkpoint`) into `model`
    (`convert_state_dict`).

    Example:
    ```python
    from kerasaudio.models.ecapa_tdnn import load_speechbrain_weights, to_state_dict
    sizes = dict(include_top=False, n_mels=40, channels=(32,) * 4 + (96,))
    trained = to_state_dict(kerasaudio.create_model("ecapa_tdnn", **sizes))
    model = kerasaudio.create_model("ecapa_tdnn", **sizes)
    load_speechbrain_weights(model, trained)  # or "embedding_model.ckpt"
    ```
    """
    where = os.fspath(source) if isinstance(source, (str, os.PathLike)) \
        else "the SpeechBrain state dict"
    convert_state_dict(model, read_speechbrain_checkpoint(source), source=where)


def to_state_dict(model) -> dict[str, np.ndarray]:
    """A model's embedding network as a SpeechBrain `ECAPA_TDNN` state dict (numpy arrays).

    The inverse of `convert_state_dict` (without `num_batches_tracked`); `torch.save` of
    its tensors gives a checkpoint SpeechBrain's `load_state_dict(..., strict=False)`
    reads.

    Example:
    ```python
    from kerasaudio.models.ecapa_tdnn import to_state_dict
    model = kerasaudio.create_model("ecapa_tdnn", include_top=False,
                                    channels=(64,) * 4 + (192,))
    to_state_dict(model)["blocks.0.conv.conv.weight"].shape  # (64, 80, 5)
    ```
    """
    state = {}
    for layer, path, kind in _plan(model):
        weights = [np.asarray(w) for w in layer.get_weights()]
        if kind == "bn":
            state.update({f"{path}.{t}": w for t, w in zip(_BN, weights, strict=True)})
            continue
        kernel, bias = weights
        state[f"{path}.weight"] = (kernel.transpose(2, 1, 0) if kernel.ndim == 3
                                   else kernel.T[:, :, None])
        state[f"{path}.bias"] = bias
    return state
