"""Silero VAD's weights: read from the `silero-vad` package, shipped as package data, and
loaded into the Keras layers.

The TorchScript model in `silero-vad` 6.2.3 (`silero_vad/data/silero_vad.jit`, the same
weights as its `silero_vad.onnx`) is the one converted: `read_torchscript` reads its
tensors (this needs torch and runs the TorchScript loader on the file the installed
package ships, never on a download), `write_weights` stores them as an `.npz` of plain
arrays, and `read_weights` loads that file (no pickle) after checking its sha256. The
package's `silero_vad_16k.safetensors` holds different weights and is not used.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from kerasaudio.errors import ChecksumError, InvalidOptionError, WeightsNotFoundError
from kerasaudio.models.silero_vad.config import CONFIGS, UNITS, config_for
from kerasaudio.weights import file_sha256

__all__ = ["WEIGHTS_SHA256", "default_weights_path", "load_silero_weights", "read_torchscript",
           "read_weights", "tensor_shapes", "write_weights"]

#: sha256 of the shipped `kerasaudio/pretrained/silero_vad/silero_vad.npz`.
WEIGHTS_SHA256 = "15dbb3c4a61934ae50bd7b752cefb6579e5c9a40bb8da8f7b640fd039738f01d"


def tensor_shapes(sample_rate: int) -> dict[str, tuple[int, ...]]:
    """The TorchScript tensor names and shapes of one network (what a weights file holds).

    Example:
    ```python
    kerasaudio.models.silero_vad.tensor_shapes(8000)["_model_8k.stft.forward_basis_buffer"]
    # (130, 1, 128)
    ```
    """
    cfg = config_for(sample_rate)
    p = cfg.prefix
    shapes: dict[str, tuple[int, ...]] = {
        f"{p}stft.forward_basis_buffer": (2 * cfg.bins, 1, cfg.n_fft)}
    channels = cfg.bins
    for i, filters in enumerate((128, 64, 64, UNITS)):
        shapes[f"{p}encoder.{i}.reparam_conv.weight"] = (filters, channels, 3)
        shapes[f"{p}encoder.{i}.reparam_conv.bias"] = (filters,)
        channels = filters
    for kind, width in (("ih", UNITS), ("hh", UNITS)):
        shapes[f"{p}decoder.rnn.weight_{kind}"] = (4 * UNITS, width)
        shapes[f"{p}decoder.rnn.bias_{kind}"] = (4 * UNITS,)
    shapes[f"{p}decoder.decoder.2.weight"] = (1, UNITS, 1)
    shapes[f"{p}decoder.decoder.2.bias"] = (1,)
    return shapes


def _checked(tensors: dict, sample_rate: int) -> dict[str, np.ndarray]:
    expected = tensor_shapes(sample_rate)
    missing = sorted(set(expected) - set(tensors))
    wrong = sorted(name for name in set(expected) & set(tensors)
                   if tuple(np.shape(tensors[name])) != expected[name])
    if missing or wrong:
        raise InvalidOptionError(
            f"Silero VAD weights for {sample_rate} Hz: missing {missing or 'none'}, "
            f"mis-shaped {wrong or 'none'}.")
    return {name: np.asarray(tensors[name], dtype="float32") for name in expected}


def read_torchscript(path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """Both networks' tensors from a Silero VAD TorchScript file.

    Args:
        path: the `.jit` file; None takes `silero_vad/data/silero_vad.jit` from the
            installed `silero-vad` package.

    Returns:
        TorchScript tensor name -> float32 array, for the 16 kHz and 8 kHz networks.

    Raises:
        WeightsNotFoundError: no file, or `silero-vad`/torch not installed.

    Example:
    ```python
    tensors = kerasaudio.models.silero_vad.read_torchscript()  # needs torch, silero-vad
    ```
    """
    try:
        import torch
    except ImportError:
        raise WeightsNotFoundError("reading Silero's TorchScript file needs torch "
                                   "(pip install torch silero-vad).") from None
    if path is None:
        try:
            path = str(resources.files("silero_vad") / "data" / "silero_vad.jit")
        except ModuleNotFoundError:
            raise WeightsNotFoundError("the silero-vad package is not installed "
                                       "(pip install silero-vad).") from None
    path = Path(str(path))
    if not path.is_file():
        raise WeightsNotFoundError(f"no Silero VAD TorchScript file at {path}.")
    state = torch.jit.load(str(path), map_location="cpu").state_dict()
    tensors = {name: value.detach().numpy().astype("float32") for name, value in state.items()}
    for rate in CONFIGS:
        _checked(tensors, rate)
    return tensors


def write_weights(tensors: dict, path: str | os.PathLike) -> str:
    """Store both networks' tensors as an `.npz` of plain arrays; returns its sha256.

    Example:
    ```python
    import tempfile
    tensors = kerasaudio.models.silero_vad.read_weights()
    digest = kerasaudio.models.silero_vad.write_weights(
        tensors, tempfile.mkdtemp() + "/silero_vad.npz")
    ```
    """
    arrays: dict[str, Any] = {}
    for rate in CONFIGS:
        arrays.update(_checked(tensors, rate))
    path = Path(path)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return file_sha256(path)


def default_weights_path() -> Path:
    """The shipped weights file, `kerasaudio/pretrained/silero_vad/silero_vad.npz`."""
    return Path(str(resources.files("kerasaudio") / "pretrained" / "silero_vad"
                    / "silero_vad.npz"))


def read_weights(path: str | os.PathLike | None = None, *,
                 sha256: str | None = None) -> dict[str, np.ndarray]:
    """Silero VAD's tensors from an `.npz` written by `write_weights` (no pickle).

    Args:
        path: the file; None reads the one shipped with kerasaudio.
        sha256: the expected digest; None checks the shipped file's digest when reading
            it and nothing for another file.

    Returns:
        TorchScript tensor name -> float32 array.

    Raises:
        WeightsNotFoundError: no file. ChecksumError: the digest differs.
        InvalidOptionError: tensors missing or mis-shaped.

    Example:
    ```python
    tensors = kerasaudio.models.silero_vad.read_weights()
    tensors["_model.decoder.rnn.weight_ih"].shape  # (512, 128)
    ```
    """
    if path is None:
        path, sha256 = default_weights_path(), sha256 or WEIGHTS_SHA256
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"no Silero VAD weights file at {path}.")
    if sha256 is not None and (digest := file_sha256(path)) != sha256:
        raise ChecksumError(str(path), f"sha256 {digest} is not the expected {sha256}")
    with np.load(path, allow_pickle=False) as archive:
        tensors = {name: archive[name] for name in archive.files}
    for rate in CONFIGS:
        _checked(tensors, rate)
    return tensors


def load_silero_weights(model, tensors: dict, *, sample_rate: int) -> None:
    """Set a `silero_vad` or `silero_vad_streaming` model's weights from Silero's tensors.

    PyTorch's `(out, in, taps)` convolutions become Keras' `(taps, in, out)`; the LSTM
    cell's gates have the same order (input, forget, cell, output) in both, and its two
    biases are summed.

    Args:
        model: a model built by `silero_vad` or `silero_vad_streaming` for `sample_rate`.
        tensors: TorchScript tensor name -> array (`read_weights`, `read_torchscript`).
        sample_rate: which network's tensors to take.

    Raises:
        InvalidOptionError: tensors missing or mis-shaped, or not a Silero VAD model.

    Example:
    ```python
    vad = kerasaudio.create_model("silero_vad", weights=None, sample_rate=8000)
    kerasaudio.models.silero_vad.load_silero_weights(
        vad, kerasaudio.models.silero_vad.read_weights(), sample_rate=8000)
    ```
    """
    t = _checked(tensors, sample_rate)
    p = config_for(sample_rate).prefix
    names = {layer.name: layer for layer in model.layers}
    if "step" in names:
        step = names["step"]
        encoder, recurrent, classifier = step.encoder, step.cell, step.classifier
    elif {"encoder", "lstm", "classifier"} <= set(names):
        encoder, recurrent, classifier = names["encoder"], names["lstm"], names["classifier"]
    else:
        raise InvalidOptionError(f"{model.name} is not a Silero VAD model.")
    if encoder.sample_rate != sample_rate:
        raise InvalidOptionError(f"{model.name} is the {encoder.sample_rate} Hz network; "
                                 f"these are the {sample_rate} Hz weights.")
    encoder.basis.assign(t[f"{p}stft.forward_basis_buffer"].transpose(2, 1, 0))
    for i, conv in enumerate(encoder.convs):
        conv.set_weights([t[f"{p}encoder.{i}.reparam_conv.weight"].transpose(2, 1, 0),
                          t[f"{p}encoder.{i}.reparam_conv.bias"]])
    recurrent.set_weights([t[f"{p}decoder.rnn.weight_ih"].T, t[f"{p}decoder.rnn.weight_hh"].T,
                           t[f"{p}decoder.rnn.bias_ih"] + t[f"{p}decoder.rnn.bias_hh"]])
    classifier.set_weights([t[f"{p}decoder.decoder.2.weight"][:, :, 0].T,
                            t[f"{p}decoder.decoder.2.bias"]])
