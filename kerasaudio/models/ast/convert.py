"""transformers AST checkpoints to kerasaudio: config, labels and every tensor.

Reads a directory as `save_pretrained` writes it (`config.json` + `model.safetensors`)
with `safetensors` (numpy arrays, never a pickle), or takes an in-memory state dict
(`{name: array}`, e.g. `{k: v.numpy() for k, v in torch_model.state_dict().items()}`).
Every tensor maps to one Keras weight; missing or unexpected tensors are refused with
their names listed.

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
from kerasaudio.models.ast.config import ARCHITECTURE

__all__ = ["convert_state_dict", "load_huggingface_weights", "read_config", "read_weights"]

_PREFIX = "audio_spectrogram_transformer."
#: transformers >= 5 module names -> the checkpoint names (both are accepted).
_ALIASES = {".attention.q_proj.": ".attention.attention.query.",
            ".attention.k_proj.": ".attention.attention.key.",
            ".attention.v_proj.": ".attention.attention.value.",
            ".attention.o_proj.": ".attention.output.dense.",
            ".mlp.fc1.": ".intermediate.dense.", ".mlp.fc2.": ".output.dense.",
            _PREFIX + "layers.": _PREFIX + "encoder.layer."}


def read_config(path: str | os.PathLike) -> dict:
    """The architecture and label names of a transformers AST `config.json`.

    Args:
        path: the checkpoint directory or its `config.json`.

    Returns:
        `{"architecture": {ASTConfig options}, "class_names": [label of output i]}`
        (`id2label` in output order; `LABEL_i` names when the config has none).

    Raises:
        InvalidOptionError: no config, or not an AST config.

    Example:
    ```python
    from kerasaudio.models.ast.convert import read_config
    read_config("/models/ast-finetuned-audioset-10-10-0.4593")["class_names"][0]  # 'Speech'
    ```
    """
    path = Path(path)
    file = path / "config.json" if path.is_dir() else path
    if not file.is_file():
        raise InvalidOptionError(f"no Hugging Face config.json at {file}.")
    data = json.loads(file.read_text())
    if data.get("model_type") != "audio-spectrogram-transformer":
        raise InvalidOptionError(
            f"{file}: model_type={data.get('model_type')!r}; this converter reads "
            "'audio-spectrogram-transformer' (ASTForAudioClassification) checkpoints.")
    architecture = {key: data.get(key, default) for key, default in ARCHITECTURE.items()}
    id2label = data.get("id2label") or {}
    count = len(id2label) or int(data.get("num_labels", 2))
    names = [str(id2label.get(str(i), id2label.get(i, f"LABEL_{i}"))) for i in range(count)]
    return {"architecture": architecture, "class_names": names}


def read_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The tensors of a checkpoint directory's `model*.safetensors` as float32 arrays.

    Args:
        path: the checkpoint directory.

    Returns:
        `{tensor name: float32 array}`.

    Raises:
        InvalidOptionError: no safetensors file, or the `safetensors` package is missing.

    Example:
    ```python
    from kerasaudio.models.ast.convert import read_weights
    len(read_weights("/models/ast-dir"))
    ```
    """
    files = sorted(Path(path).glob("model*.safetensors"))
    if not files:
        raise InvalidOptionError(
            f"{path}: no model.safetensors (AST converts from safetensors only; re-save a "
            "pytorch_model.bin checkpoint with save_pretrained(safe_serialization=True)).")
    try:
        from safetensors.numpy import load_file
    except ImportError:
        raise InvalidOptionError("reading model.safetensors needs the safetensors package "
                                 "(pip install safetensors).") from None
    tensors: dict[str, np.ndarray] = {}
    for file in files:
        tensors.update(load_file(str(file)))
    return {k: np.asarray(v, dtype="float32") for k, v in tensors.items()}


def _canonical(name: str) -> str:
    for new, old in _ALIASES.items():
        name = name.replace(new, old)
    return name


def convert_state_dict(model, state: dict) -> None:
    """Assign a transformers AST state dict to `model`, every tensor accounted for.

    Args:
        model: an `AST` (with or without its head; without, `classifier.*` tensors are
            allowed and left out).
        state: `{tensor name: array}` of `ASTForAudioClassification` or `ASTModel`.

    Returns:
        None; every weight of `model` is assigned.

    Raises:
        InvalidOptionError: tensors missing from `state`, left over in it, or of another
            shape (each listed).

    Example:
    ```python
    from kerasaudio.models.ast.convert import convert_state_dict
    convert_state_dict(model, {k: v.numpy() for k, v in torch_model.state_dict().items()})
    ```
    """
    state = {_canonical(k if k.startswith((_PREFIX, "classifier.")) else _PREFIX + k):
             np.asarray(v, dtype="float32") for k, v in state.items()}
    encoder = model.encoder
    pairs = []  # (keras variable, checkpoint name, transform)

    def linear(layer, key):
        pairs.append((layer.kernel, f"{key}.weight", np.transpose))
        if layer.use_bias:
            pairs.append((layer.bias, f"{key}.bias", None))

    def norm(layer, key):
        pairs.append((layer.gamma, f"{key}.weight", None))
        pairs.append((layer.beta, f"{key}.bias", None))

    base = _PREFIX + "embeddings."
    pairs += [(encoder.cls_token, base + "cls_token", None),
              (encoder.distillation_token, base + "distillation_token", None),
              (encoder.position_embeddings, base + "position_embeddings", None),
              (encoder.patch_embeddings.kernel, base + "patch_embeddings.projection.weight",
               lambda w: np.transpose(w, (2, 3, 1, 0))),
              (encoder.patch_embeddings.bias, base + "patch_embeddings.projection.bias",
               None)]
    for i, layer in enumerate(encoder.transformer_layers):
        key = f"{_PREFIX}encoder.layer.{i}"
        linear(layer.query, f"{key}.attention.attention.query")
        linear(layer.key, f"{key}.attention.attention.key")
        linear(layer.value, f"{key}.attention.attention.value")
        linear(layer.attention_output, f"{key}.attention.output.dense")
        linear(layer.intermediate, f"{key}.intermediate.dense")
        linear(layer.output_dense, f"{key}.output.dense")
        norm(layer.layernorm_before, f"{key}.layernorm_before")
        norm(layer.layernorm_after, f"{key}.layernorm_after")
    norm(encoder.layernorm, _PREFIX + "layernorm")
    if model.include_top:
        norm(model.get_layer("head_layernorm"), "classifier.layernorm")
        linear(model.get_layer("predictions"), "classifier.dense")
    wanted = {name for _, name, _ in pairs}
    missing = sorted(wanted - set(state))
    unexpected = sorted(k for k in set(state) - wanted
                        if model.include_top or not k.startswith("classifier."))
    if missing or unexpected:
        raise InvalidOptionError(
            f"the AST state dict does not fit the model: missing {missing}, unexpected "
            f"{unexpected}.")
    values = []
    for variable, name, transform in pairs:
        value = transform(state[name]) if transform else state[name]
        if tuple(variable.shape) != value.shape:
            raise InvalidOptionError(
                f"{name} has shape {value.shape}; {variable.path} expects "
                f"{tuple(variable.shape)} (config and weights disagree?).")
        values.append(value)
    for (variable, _, _), value in zip(pairs, values, strict=True):
        variable.assign(value)


def load_huggingface_weights(model, path: str | os.PathLike) -> list[str]:
    """Load a checkpoint directory's `model.safetensors` into `model`.

    Args:
        model: an `AST` of the checkpoint's architecture.
        path: the checkpoint directory.

    Returns:
        The checkpoint's class names (`id2label` in output order).

    Example:
    ```python
    from kerasaudio.models.ast.convert import load_huggingface_weights
    labels = load_huggingface_weights(model, "/models/ast-dir")
    ```
    """
    convert_state_dict(model, read_weights(path))
    return read_config(path)["class_names"]
