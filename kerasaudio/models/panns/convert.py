"""PANNs PyTorch checkpoints to kerasaudio: read the tensors, map them onto CNN14.

A released checkpoint (`Cnn14_mAP=0.431.pth`, `Cnn14_16k_mAP=0.438.pth`,
`Cnn14_DecisionLevelMax_mAP=0.385.pth`, ...) is a dict whose `"model"` entry is the
`state_dict` of `panns_inference.models.Cnn14` (or `Cnn14_DecisionLevelMax`, which has
the same tensors). It is read with `torch.load(path, map_location="cpu",
weights_only=True)`: tensors, numbers and dicts only, never arbitrary pickled objects.
A state dict already in memory (tensors or numpy arrays) works too.

Tensor mapping (PyTorch -> Keras, channels last):

| PyTorch | Keras layer | transform |
| --- | --- | --- |
| `bn0.{weight,bias,running_mean,running_var}` | `bn0` (over the mel axis) | none |
| `conv_block{i}.conv{j}.weight` `(out, in, 3, 3)` | `conv_block{i}_conv{j}` | `(3, 3, in, out)` |
| `conv_block{i}.bn{j}.*` | `conv_block{i}_bn{j}` | none |
| `fc1.weight` `(out, in)`, `fc1.bias` | `fc1` | kernel transposed |
| `fc_audioset.weight`, `.bias` | `predictions` | kernel transposed |

PyTorch's `(batch, channels, time, mel)` maps to Keras' `(batch, time, mel, channels)`,
so kernels keep their time x mel orientation. `*.num_batches_tracked` counters are
ignored. The front end's tensors (`spectrogram_extractor.stft.conv_real/conv_imag.weight`,
`logmel_extractor.melW`) are frozen constants in PANNs; they are not copied but checked
against the model's own front end, so a 16 kHz checkpoint cannot silently load into a
32 kHz model. A model without a classifier (`include_top=False`) leaves `fc_audioset`
unused.

Reference:
    Kong et al., "PANNs: Large-Scale Pretrained Audio Neural Networks for Audio Pattern
    Recognition", IEEE/ACM TASLP 28, 2020 (checkpoints: Zenodo record 3987831).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers import MelSpectrogram
from kerasaudio.models.panns.config import SAMPLE_RATES
from kerasaudio.weights.huggingface import tensor_array

__all__ = ["load_panns_weights", "read_panns_checkpoint"]

#: The front end's tensors in a PANNs checkpoint: verified, not copied.
FRONTEND_KEYS = ("spectrogram_extractor.stft.conv_real.weight",
                 "spectrogram_extractor.stft.conv_imag.weight",
                 "logmel_extractor.melW")
_BN = (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
       ("running_var", "moving_variance"))
_LISTED = 12


def _to_numpy(key: str, value) -> np.ndarray:
    return tensor_array(key, value, source="PANNs checkpoint")


def read_panns_checkpoint(source) -> dict[str, np.ndarray]:
    """The tensors of a PANNs checkpoint as numpy arrays, by `state_dict` name.

    Args:
        source: a checkpoint file (`.pth`), or a checkpoint already in memory: the
            `{"model": state_dict, ...}` dict `torch.save` wrote, or the state dict
            itself (torch tensors or numpy arrays). A `"module."` prefix on every key
            (a model saved inside `DataParallel`) is removed.

    Returns:
        `{name: array}`, float tensors as float32.

    Raises:
        InvalidOptionError: the file is missing, torch is not installed (needed for a
            file), `torch.load(weights_only=True)` refuses the file (not a tensors-only
            checkpoint), or the content is not a state dict.

    Example:
    ```python
    import torch
    from panns_inference.models import Cnn14  # the authors' PyTorch CNN14
    reference = Cnn14(sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64,
                      fmin=50, fmax=14000, classes_num=527).eval()
    torch.save({"model": reference.state_dict()}, "cnn14.pth")  # as the released files
    from kerasaudio.models.panns import read_panns_checkpoint
    tensors = read_panns_checkpoint("cnn14.pth")  # torch.load(weights_only=True)
    tensors["fc_audioset.weight"].shape, tensors["fc_audioset.weight"].dtype
    # ((527, 2048), dtype('float32'))
    ```
    """
    if isinstance(source, Mapping):
        state, where = source, "PANNs checkpoint (in memory)"
    else:
        try:
            path = os.fspath(source)
        except TypeError:
            raise InvalidOptionError(
                "read_panns_checkpoint: pass a .pth path or a state dict; got "
                f"{type(source).__name__}.") from None
        where = path
        if not os.path.isfile(path):
            raise InvalidOptionError(f"PANNs checkpoint {path!r} does not exist.")
        try:
            import torch
        except ImportError:
            raise InvalidOptionError(
                f"reading the PyTorch checkpoint {path!r} needs torch (pip install torch; "
                "the CPU build is enough). Or pass a state dict of numpy arrays.") from None
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # unpickling refusals, truncated zips, foreign files
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise InvalidOptionError(
                f"{path}: not a tensors-only PyTorch checkpoint; torch.load(weights_only="
                f"True) refused it ({type(exc).__name__}: {first[:200]}). kerasaudio never "
                "unpickles arbitrary objects.") from None
    if isinstance(state, Mapping) and isinstance(state.get("model"), Mapping):
        state = state["model"]
    if not isinstance(state, Mapping) or not state:
        raise InvalidOptionError(
            f"{where}: not a PANNs checkpoint (expected a dict with a 'model' state dict, "
            f"or a state dict; got {type(state).__name__}).")
    keys = [str(k) for k in state]
    strip = "module." if all(k.startswith("module.") for k in keys) else ""
    return {str(k)[len(strip):]: _to_numpy(str(k), v) for k, v in state.items()}


def _get_layer(model, name: str):
    try:
        return model.get_layer(name)
    except ValueError:
        return None


def _check_frontend(model, state: dict, where: str) -> None:
    """Compare the checkpoint's frozen DFT/mel tensors with the model's front end."""
    mels = [layer for layer in model.layers if isinstance(layer, MelSpectrogram)]
    mel_w = state[FRONTEND_KEYS[2]]
    by_fft = {c["window_size"]: rate for rate, c in SAMPLE_RATES.items()}
    checkpoint_fft = 2 * (mel_w.shape[0] - 1) if mel_w.ndim == 2 else None
    hint = (f" The checkpoint's front end has n_fft={checkpoint_fft}: build the model with "
            f"sample_rate={by_fft[checkpoint_fft]}." if checkpoint_fft in by_fft else "")
    if not mels:  # log-mel input: only the number of mel bands can be checked
        bands = _get_layer(model, "bn0")
        if bands is not None and mel_w.shape[-1] != bands.gamma.shape[0]:
            raise InvalidOptionError(
                f"{where}: the checkpoint's mel bank has {mel_w.shape[-1]} bands, the "
                f"model's bn0 {bands.gamma.shape[0]}.")
        return
    layer = mels[0]
    expected_mel = layer.mel_weights.T
    real, imag = state[FRONTEND_KEYS[0]], state[FRONTEND_KEYS[1]]
    n = np.arange(layer.n_fft)
    k = np.arange(layer.n_bins)
    angle = 2.0 * np.pi * np.outer(k, n) / layer.n_fft
    window = np.asarray(layer._window, dtype=np.float64)
    expected_real = (np.cos(angle) * window)[:, None, :]
    expected_imag = (-np.sin(angle) * window)[:, None, :]
    for key, value, expected in ((FRONTEND_KEYS[0], real, expected_real),
                                 (FRONTEND_KEYS[1], imag, expected_imag),
                                 (FRONTEND_KEYS[2], mel_w, expected_mel)):
        if value.shape != expected.shape:
            raise InvalidOptionError(
                f"{where}: {key} has shape {value.shape}, the model's front end "
                f"{expected.shape} (sample_rate={layer.sample_rate}, n_fft={layer.n_fft})."
                + hint)
        scale = max(float(np.abs(expected).max()), 1e-12)
        if float(np.abs(value - expected).max()) > 1e-4 * scale:
            raise InvalidOptionError(
                f"{where}: {key} differs from the model's front end (sample_rate="
                f"{layer.sample_rate}, n_fft={layer.n_fft}, fmin={layer.fmin}, "
                f"fmax={layer.fmax}); the checkpoint was trained with another "
                "configuration." + hint)


def load_panns_weights(model, source) -> None:
    """Copy a PANNs checkpoint into a `panns_cnn14` / `panns_cnn14_decision_level_max`.

    Every tensor of the checkpoint must be used and every weight of the model must be
    in the checkpoint with its shape; otherwise nothing is assigned and the error lists
    the missing, unexpected and mismatched tensors. The front end's frozen tensors are
    checked against the model's front end (see the module docstring).

    Args:
        model: a model built by `panns_cnn14` or `panns_cnn14_decision_level_max` (any
            `frontend`, `include_top` and `sample_rate`).
        source: a checkpoint path or dict, as `read_panns_checkpoint` takes.

    Returns:
        None; the model's weights are assigned.

    Raises:
        InvalidOptionError: the checkpoint does not fit the model (the message lists
            why), or cannot be read.

    Example:
    ```python
    import torch
    from panns_inference.models import Cnn14  # the authors' PyTorch CNN14
    reference = Cnn14(sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64,
                      fmin=50, fmax=14000, classes_num=527).eval()
    torch.save({"model": reference.state_dict()}, "cnn14.pth")  # as the released files
    from kerasaudio.models.panns import load_panns_weights
    model = kerasaudio.create_model("panns_cnn14")
    load_panns_weights(model, "cnn14.pth")  # or the downloaded Cnn14_mAP=0.431.pth
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, (1, 32000)).astype("float32")
    expected = reference(torch.from_numpy(audio))["clipwise_output"].detach().numpy()
    float(np.abs(np.asarray(model(audio)) - expected).max()) < 1e-4  # True
    ```
    """
    state = read_panns_checkpoint(source)
    where = source if isinstance(source, (str, os.PathLike)) else "PANNs checkpoint"
    if _get_layer(model, "bn0") is None or _get_layer(model, "fc1") is None:
        raise InvalidOptionError(
            f"load_panns_weights: model {model.name!r} is not a PANNs CNN14 model (no bn0 "
            "or fc1 layer); build it with create_model('panns_cnn14', ...).")
    plan: list[tuple] = []  # (variable, key, value as Keras stores it)
    missing: list[str] = []
    used = {k for k in state if k.endswith(".num_batches_tracked")}

    def take(variable, key: str, transform=None) -> None:
        if key not in state:
            missing.append(key)
            return
        used.add(key)
        value = state[key]
        plan.append((variable, key, transform(value) if transform else value))

    def batch_norm(layer_name: str, prefix: str) -> None:
        layer = model.get_layer(layer_name)
        for torch_name, keras_name in _BN:
            take(getattr(layer, keras_name), f"{prefix}.{torch_name}")

    def dense(layer_name: str, prefix: str) -> None:
        layer = model.get_layer(layer_name)
        take(layer.kernel, f"{prefix}.weight", np.transpose)
        take(layer.bias, f"{prefix}.bias")

    batch_norm("bn0", "bn0")
    block = 1
    while _get_layer(model, f"conv_block{block}_conv1") is not None:
        for conv in (1, 2):
            layer = model.get_layer(f"conv_block{block}_conv{conv}")
            take(layer.kernel, f"conv_block{block}.conv{conv}.weight",
                 lambda w: np.transpose(w, (2, 3, 1, 0)))
            batch_norm(f"conv_block{block}_bn{conv}", f"conv_block{block}.bn{conv}")
        block += 1
    dense("fc1", "fc1")
    if _get_layer(model, "predictions") is not None:
        dense("predictions", "fc_audioset")
    else:
        used.update(k for k in ("fc_audioset.weight", "fc_audioset.bias") if k in state)
    missing.extend(k for k in FRONTEND_KEYS if k not in state)
    used.update(k for k in FRONTEND_KEYS if k in state)
    unexpected = sorted(set(state) - used)
    mismatched = [f"{key}: checkpoint {state[key].shape}, model {tuple(variable.shape)}"
                  f"{' (as Keras stores it)' if value.shape != state[key].shape else ''}"
                  for variable, key, value in plan if tuple(variable.shape) != value.shape]
    problems = []
    if missing:
        problems.append(f"missing tensors ({len(missing)}): {missing[:_LISTED]}")
    if unexpected:
        problems.append(f"unexpected tensors ({len(unexpected)}): {unexpected[:_LISTED]}")
    if mismatched:
        problems.append(f"shape mismatches ({len(mismatched)}): {mismatched[:_LISTED]}")
    if problems:
        raise InvalidOptionError(
            f"{where} does not fit {model.name!r} (a CNN14 checkpoint needs the same "
            "filters, embedding_dim and, with include_top, classes=527): "
            + "; ".join(problems) + ".")
    _check_frontend(model, state, str(where))
    for variable, _, value in plan:
        variable.assign(value.astype(variable.dtype))
