"""Hugging Face wav2vec 2.0 checkpoints to kerasaudio: config, tensors, weight mapping.

Reads a checkpoint directory as `save_pretrained` writes it (`config.json`, and
`model.safetensors` or `pytorch_model.bin`) offline: nothing is downloaded and nothing is
unpickled (`safetensors` reads numpy arrays; `torch.load(weights_only=True)` reads
tensors only). `Wav2Vec2.from_huggingface(path)` builds a model from one.

Reference:
    Wolf et al., "Transformers: State-of-the-Art Natural Language Processing", EMNLP
    2020 (system demonstrations): the checkpoint format and tensor names.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from kerasaudio.errors import InvalidOptionError
from kerasaudio.models.wav2vec2.config import ARCHITECTURE, check_architecture
from kerasaudio.models.wav2vec2.encoder import Wav2Vec2Encoder

__all__ = ["load_huggingface_weights", "read_huggingface_config",
           "read_huggingface_normalize", "read_huggingface_weights"]


def read_huggingface_config(path: str | os.PathLike) -> dict:
    """The architecture options of a Hugging Face wav2vec 2.0 `config.json`.

    Args:
        path: the checkpoint directory (or the `config.json` file).

    Returns:
        A dict of `Wav2Vec2Encoder` options.

    Example:
    ```python
    from kerasaudio.models.wav2vec2 import read_huggingface_config
    read_huggingface_config("/models/wav2vec2-base")["hidden_size"]  # 768
    ```
    """
    path = Path(path)
    file = path / "config.json" if path.is_dir() else path
    if not file.is_file():
        raise InvalidOptionError(f"no Hugging Face config.json at {file}.")
    data = json.loads(file.read_text())
    model_type = data.get("model_type", "wav2vec2")
    if model_type != "wav2vec2":
        raise InvalidOptionError(
            f"{file}: model_type={model_type!r}; only wav2vec2 checkpoints convert.")
    for key in ("add_adapter", "adapter_attn_dim"):
        if data.get(key):
            raise InvalidOptionError(f"{file}: {key}={data[key]!r} (adapters) is not "
                                     "supported.")
    config = {key: data.get(key, default) for key, default in ARCHITECTURE.items()}
    for key in ("conv_dim", "conv_kernel", "conv_stride"):
        config[key] = tuple(config[key])
    return check_architecture(config)


def read_huggingface_normalize(path: str | os.PathLike) -> bool:
    """Whether a checkpoint's processor standardises each utterance (`do_normalize`).

    Args:
        path: the checkpoint directory.

    Returns:
        `do_normalize` of its `preprocessor_config.json`; False without that file.

    Example:
    ```python
    from kerasaudio.models.wav2vec2.convert import read_huggingface_normalize
    read_huggingface_normalize("/models/wav2vec2-base")  # True
    ```
    """
    file = Path(path) / "preprocessor_config.json"
    if not file.is_file():
        return False
    return bool(json.loads(file.read_text()).get("do_normalize", False))


def read_huggingface_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The tensors of a checkpoint directory as float32 numpy arrays, by name.

    `model.safetensors` (or sharded `model-*.safetensors`) through `safetensors`, else
    `pytorch_model.bin` through `torch.load(weights_only=True)`.

    Args:
        path: the checkpoint directory.

    Returns:
        `{tensor name: float32 array}`, the names as the checkpoint stores them.

    Raises:
        InvalidOptionError: no weights file, or the package to read it is missing.

    Example:
    ```python
    from kerasaudio.models.wav2vec2 import read_huggingface_weights
    sorted(read_huggingface_weights("/models/wav2vec2-base"))[:2]
    ```
    """
    directory = Path(path)
    files = sorted(directory.glob("model*.safetensors"))
    tensors: dict[str, np.ndarray] = {}
    if files:
        try:
            from safetensors.numpy import load_file
        except ImportError:
            raise InvalidOptionError(
                "reading model.safetensors needs the safetensors package "
                "(pip install safetensors).") from None
        for file in files:
            tensors.update(load_file(str(file)))
    elif (directory / "pytorch_model.bin").is_file():
        try:
            import torch
        except ImportError:
            raise InvalidOptionError(
                "reading pytorch_model.bin needs torch (pip install torch); a "
                "model.safetensors file needs only safetensors.") from None
        state = torch.load(directory / "pytorch_model.bin", map_location="cpu",
                           weights_only=True)
        tensors = {k: v.float().numpy() for k, v in state.items()}
    else:
        raise InvalidOptionError(
            f"{directory}: no model.safetensors or pytorch_model.bin (a Hugging Face "
            "checkpoint directory is config.json plus one of them).")
    return {k: np.asarray(v, dtype="float32") for k, v in tensors.items()}


def _pos_conv_g_v(state: dict, prefix: str):
    for g, v in (("parametrizations.weight.original0", "parametrizations.weight.original1"),
                 ("weight_g", "weight_v")):
        if f"{prefix}.{g}" in state:
            return state.pop(f"{prefix}.{g}"), state.pop(f"{prefix}.{v}")
    if f"{prefix}.weight" in state:  # weight norm already folded in: g = ||v||
        v = state.pop(f"{prefix}.weight")
        return np.sqrt(np.sum(np.square(v), axis=(0, 1), keepdims=True)), v
    raise InvalidOptionError(f"checkpoint has no positional convolution ({prefix}.*).")


def load_huggingface_weights(model, path: str | os.PathLike) -> None:
    """Copy a checkpoint directory's weights into `model` (its architecture must match).

    Every weight of the encoder must be in the checkpoint with its shape; a clear error
    names the first missing or mismatched tensor.

    Args:
        model: a `Wav2Vec2` model or a `Wav2Vec2Encoder` layer (built).
        path: the checkpoint directory.

    Raises:
        InvalidOptionError: `model` holds no wav2vec 2.0 encoder, or a tensor is missing,
            has another shape or is not understood.

    Returns:
        None; every encoder weight of `model` is assigned (task heads stay as they are).

    Example:
    ```python
    from kerasaudio.models.wav2vec2 import load_huggingface_weights
    model = kerasaudio.create_model("wav2vec2_base")
    load_huggingface_weights(model, "/models/wav2vec2-base")
    ```
    """
    raw = read_huggingface_weights(path)
    state = {}
    for key, value in raw.items():
        if key.startswith("wav2vec2."):
            state[key[len("wav2vec2."):]] = value
        elif not any(key.startswith(p) for p in ("lm_head.", "quantizer.", "project_",
                                                 "projector.", "classifier.", "dropout")):
            state.setdefault(key, value)
    encoder = model if isinstance(model, Wav2Vec2Encoder) else getattr(model, "encoder", None)
    if not isinstance(encoder, Wav2Vec2Encoder):
        raise InvalidOptionError(
            f"load_huggingface_weights: {type(model).__name__} is neither a Wav2Vec2 model "
            "nor a Wav2Vec2Encoder layer.")
    assignments = []

    def take(key, transform=None):
        if key not in state:
            raise InvalidOptionError(f"{path}: the checkpoint has no tensor {key!r}; is it "
                                     "a wav2vec 2.0 checkpoint of this architecture?")
        value = state.pop(key)
        return transform(value) if transform else value

    def linear(layer, key):
        assignments.append((layer.kernel, take(f"{key}.weight", np.transpose)))
        assignments.append((layer.bias, take(f"{key}.bias")))

    def norm(layer, key):
        assignments.append((layer.gamma, take(f"{key}.weight")))
        assignments.append((layer.beta, take(f"{key}.bias")))

    conv_t = lambda w: np.transpose(w, (2, 1, 0))  # noqa: E731  (out, in, k) -> (k, in, out)
    for i, conv in enumerate(encoder.conv_layers):
        base = f"feature_extractor.conv_layers.{i}"
        assignments.append((conv.kernel, take(f"{base}.conv.weight", conv_t)))
        if conv.use_bias:
            assignments.append((conv.bias, take(f"{base}.conv.bias")))
        if i < len(encoder.conv_norms):
            norm(encoder.conv_norms[i], f"{base}.layer_norm")
    norm(encoder.projection_norm, "feature_projection.layer_norm")
    linear(encoder.projection, "feature_projection.projection")
    g, v = _pos_conv_g_v(state, "encoder.pos_conv_embed.conv")
    assignments.append((encoder.pos_conv.weight_g, np.reshape(g, (-1,))))
    assignments.append((encoder.pos_conv.weight_v, conv_t(v)))
    assignments.append((encoder.pos_conv.bias, take("encoder.pos_conv_embed.conv.bias")))
    norm(encoder.encoder_norm, "encoder.layer_norm")
    for i, layer in enumerate(encoder.transformer_layers):
        base = f"encoder.layers.{i}"
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            linear(getattr(layer, proj), f"{base}.attention.{proj}")
        norm(layer.layer_norm, f"{base}.layer_norm")
        linear(layer.intermediate_dense, f"{base}.feed_forward.intermediate_dense")
        linear(layer.output_dense, f"{base}.feed_forward.output_dense")
        norm(layer.final_layer_norm, f"{base}.final_layer_norm")
    for variable, value in assignments:
        if tuple(variable.shape) != value.shape:
            raise InvalidOptionError(
                f"{path}: tensor for {variable.path} has shape {value.shape}, the model "
                f"expects {tuple(variable.shape)} (config.json and weights disagree?).")
    for variable, value in assignments:
        variable.assign(value)
    left = sorted(k for k in state if k.startswith(("encoder.", "feature_")))
    if left:
        raise InvalidOptionError(f"{path}: checkpoint tensors not understood: {left[:5]} "
                                 "(an unsupported wav2vec 2.0 variant?).")

