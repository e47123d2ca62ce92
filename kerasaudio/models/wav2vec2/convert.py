"""Hugging Face wav2vec 2.0 checkpoints to kerasaudio: config, tensors, weight mapping.

Reads a checkpoint directory as `save_pretrained` writes it (`config.json`, and
`model.safetensors` or `pytorch_model.bin`) offline: nothing is downloaded and nothing is
unpickled (`safetensors` reads numpy arrays; `torch.load(weights_only=True)` reads
tensors only). `from_huggingface(directory)` (or `Wav2Vec2.from_huggingface`) builds a
model from one; `convert_state_dict(model, state)` assigns an in-memory state dict.
The HuBERT and WavLM converters (`kerasaudio.models.hubert.convert`,
`kerasaudio.models.wavlm.convert`) are these functions with their family's names.

Reference:
    Wolf et al., "Transformers: State-of-the-Art Natural Language Processing", EMNLP
    2020 (system demonstrations): the checkpoint format and tensor names.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from kerasaudio.errors import InvalidOptionError
from kerasaudio.models.registry import get_model_info
from kerasaudio.models.wav2vec2.config import ARCHITECTURE, check_architecture
from kerasaudio.weights import huggingface

__all__ = ["LAYOUTS", "assign_tensors", "convert_state_dict",
           "from_huggingface",
           "load_huggingface_weights", "read_huggingface_config", "read_huggingface_head",
           "read_huggingface_normalize", "read_huggingface_weights", "tensor_pairs",
           "to_state_dict"]

#: Checkpoint tensors of task heads and pre-training parts that no kerasaudio model
#: holds; they are left out without error (prefixes, after the family prefix is removed).
IGNORED = ("masked_spec_embed", "lm_head.", "quantizer.", "project_q.", "project_hid.")
#: Tensors of the sequence-classification head (kept only by a model with that head).
HEAD_TENSORS = ("projector.", "classifier.", "layer_weights")


def _config_data(path, model_type: str) -> tuple[dict, str]:
    """(config dict, where it came from) of a directory, a config.json or a dict."""
    if isinstance(path, Mapping):
        data, where = dict(path), "config"
    else:
        path = Path(path)
        file = path / "config.json" if path.is_dir() else path
        if not file.is_file():
            raise InvalidOptionError(f"no Hugging Face config.json at {file}.")
        data, where = json.loads(file.read_text()), str(file)
    found = data.get("model_type", model_type)
    if found != model_type:
        raise InvalidOptionError(
            f"{where}: model_type={found!r}; this converter reads {model_type!r} "
            "checkpoints (kerasaudio.models.wav2vec2, .hubert and .wavlm each read their "
            "own).")
    return data, where


def read_huggingface_config(path: str | os.PathLike | Mapping, *,
                            model_type: str = "wav2vec2",
                            architecture: Mapping = ARCHITECTURE) -> dict:
    """The architecture options of a Hugging Face `config.json` of this family.

    Args:
        path: the checkpoint directory, its `config.json`, or the parsed config (a dict).
        model_type: the config's expected `model_type` (`"wav2vec2"`, `"hubert"`,
            `"wavlm"`).
        architecture: the family's options and their defaults (its `ARCHITECTURE`).

    Returns:
        A dict of encoder options (every key of `architecture`).

    Raises:
        InvalidOptionError: no config, another model type, or an unsupported variant
            (adapters, a batch-normalised positional convolution).

    Example:
    ```python
    from kerasaudio.models.wav2vec2 import read_huggingface_config
    config = {"model_type": "wav2vec2", "hidden_size": 32, "num_attention_heads": 2,
              "num_conv_pos_embedding_groups": 2}
    read_huggingface_config(config)["hidden_size"]  # 32
    ```
    """
    data, where = _config_data(path, model_type)
    for key in ("add_adapter", "adapter_attn_dim", "conv_pos_batch_norm"):
        if data.get(key):
            raise InvalidOptionError(f"{where}: {key}={data[key]!r} is not supported.")
    config = {key: data.get(key, default) for key, default in architecture.items()}
    for key in ("conv_dim", "conv_kernel", "conv_stride"):
        config[key] = tuple(config[key])
    checked = check_architecture({key: config[key] for key in ARCHITECTURE})
    return {**config, **checked}


def read_huggingface_head(path: str | os.PathLike | Mapping, *,
                          model_type: str = "wav2vec2") -> dict:
    """The sequence-classification head a Hugging Face config describes, if any.

    A checkpoint of `*ForSequenceClassification` (its config's `architectures`) has a
    head; its labels are `id2label` in output order (`LABEL_i` where none is given).

    Args:
        path: the checkpoint directory, its `config.json`, or the parsed config.
        model_type: the config's expected `model_type`.

    Returns:
        `{"include_top": bool, "classes": int, "class_names": [str],
        "classifier_proj_size": int, "use_weighted_layer_sum": bool}`.

    Example:
    ```python
    from kerasaudio.models.wav2vec2.convert import read_huggingface_head
    config = {"model_type": "wav2vec2", "id2label": {"0": "no", "1": "yes"},
              "architectures": ["Wav2Vec2ForSequenceClassification"]}
    read_huggingface_head(config)["class_names"]  # ['no', 'yes']
    ```
    """
    data, _ = _config_data(path, model_type)
    id2label = data.get("id2label") or {}
    count = len(id2label) or int(data.get("num_labels", 2))
    names = [str(id2label.get(str(i), id2label.get(i, f"LABEL_{i}"))) for i in range(count)]
    return {"include_top": any(str(a).endswith("ForSequenceClassification")
                               for a in data.get("architectures") or ()),
            "classes": count, "class_names": names,
            "classifier_proj_size": int(data.get("classifier_proj_size", 256)),
            "use_weighted_layer_sum": bool(data.get("use_weighted_layer_sum", False))}


def read_huggingface_normalize(path: str | os.PathLike) -> bool:
    """Whether a checkpoint's processor standardises each utterance (`do_normalize`).

    Args:
        path: the checkpoint directory.

    Returns:
        `do_normalize` of its `preprocessor_config.json`; False without that file.

    Example:
    ```python
    import json, os
    from kerasaudio.models.wav2vec2.convert import read_huggingface_normalize
    os.makedirs("checkpoint")
    json.dump({"do_normalize": True}, open("checkpoint/preprocessor_config.json", "w"))
    read_huggingface_normalize("checkpoint")  # True
    ```
    """
    return bool(huggingface.read_preprocessor_config(path).get("do_normalize", False))


def read_huggingface_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The tensors of a checkpoint directory as float32 numpy arrays, by name.

    `kerasaudio.weights.huggingface.read_tensors`: `model.safetensors` (or its shards),
    else `pytorch_model.bin` through `torch.load(weights_only=True)`.

    Args:
        path: the checkpoint directory.

    Returns:
        `{tensor name: float32 array}`, the names as the checkpoint stores them.

    Raises:
        ModelFileNotFoundError: no weights file. ModelFileError: an unreadable one.
        InvalidOptionError: only `pytorch_model.bin` and torch is not installed.

    Example:
    ```python
    import os
    from safetensors.numpy import save_file
    from kerasaudio.models.wav2vec2 import read_huggingface_weights
    os.makedirs("checkpoint")
    save_file({"encoder.layer_norm.weight": np.ones(4, "float32")},
              "checkpoint/model.safetensors")
    read_huggingface_weights("checkpoint")["encoder.layer_norm.weight"]  # [1. 1. 1. 1.]
    ```
    """
    return {k: np.asarray(v, dtype="float32") for k, v in huggingface.read_tensors(path).items()}


#: How a checkpoint tensor's layout maps to the Keras variable's: name -> (to Keras,
#: to the checkpoint). Linear weights are (out, in) in PyTorch, (in, out) in Keras;
#: convolutions (out, in, kernel) and (kernel, in, out); the positional convolution's
#: weight-norm magnitude is (1, 1, kernel) and (kernel,).
LAYOUTS: dict[str | None, tuple[Callable, Callable]] = {
    None: (lambda w: w, lambda w: w),
    "linear": (np.transpose, np.transpose),
    "conv": (lambda w: np.transpose(w, (2, 1, 0)), lambda w: np.transpose(w, (2, 1, 0))),
    "magnitude": (lambda w: np.reshape(w, (-1,)), lambda w: np.reshape(w, (1, 1, -1))),
}
_G, _V = "encoder.pos_conv_embed.conv.weight_g", "encoder.pos_conv_embed.conv.weight_v"


def _encoder_of(model):
    encoder = getattr(model, "encoder", model)
    if not hasattr(encoder, "conv_layers") or not hasattr(encoder, "transformer_layers"):
        raise InvalidOptionError(
            f"{type(model).__name__} is neither a Wav2Vec2/Hubert/WavLM model nor their "
            "encoder layer.")
    return encoder


def tensor_pairs(model) -> list[tuple]:
    """`(Keras variable, checkpoint tensor name, layout)` for every weight of `model`.

    Names are the transformers ones without the family prefix (`encoder.layers.0...`,
    `feature_projection...`) for the encoder, `projector.*`, `classifier.*` and
    `layer_weights` for the sequence-classification head; `layout` is a key of
    `LAYOUTS`. Layers with WavLM's gated attention add their `gru_rel_pos_*` and
    `rel_attn_embed` tensors.

    Args:
        model: a `Wav2Vec2` (or `Hubert`, `WavLM`) model, or an encoder layer (built).

    Returns:
        The list of pairs, the encoder's first.

    Example:
    ```python
    from kerasaudio.models.wav2vec2.convert import tensor_pairs
    model = kerasaudio.create_model("wav2vec2_base", hidden_size=32, num_hidden_layers=1,
                                    num_attention_heads=2, intermediate_size=64,
                                    conv_dim=(32,) * 7, num_conv_pos_embedding_groups=2)
    [name for _, name, _ in tensor_pairs(model)][0]
    # 'feature_extractor.conv_layers.0.conv.weight'
    ```
    """
    encoder = _encoder_of(model)
    pairs = []

    def linear(layer, key):
        pairs.append((layer.kernel, f"{key}.weight", "linear"))
        pairs.append((layer.bias, f"{key}.bias", None))

    def norm(layer, key):
        pairs.append((layer.gamma, f"{key}.weight", None))
        pairs.append((layer.beta, f"{key}.bias", None))

    for i, conv in enumerate(encoder.conv_layers):
        base = f"feature_extractor.conv_layers.{i}"
        pairs.append((conv.kernel, f"{base}.conv.weight", "conv"))
        if conv.use_bias:
            pairs.append((conv.bias, f"{base}.conv.bias", None))
        if i < len(encoder.conv_norms):
            norm(encoder.conv_norms[i], f"{base}.layer_norm")
    if encoder.projection_norm is not None:
        norm(encoder.projection_norm, "feature_projection.layer_norm")
    linear(encoder.projection, "feature_projection.projection")
    pairs += [(encoder.pos_conv.weight_g, _G, "magnitude"),
              (encoder.pos_conv.weight_v, _V, "conv"),
              (encoder.pos_conv.bias, "encoder.pos_conv_embed.conv.bias", None)]
    norm(encoder.encoder_norm, "encoder.layer_norm")
    for i, layer in enumerate(encoder.transformer_layers):
        base = f"encoder.layers.{i}"
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            linear(getattr(layer, proj), f"{base}.attention.{proj}")
        if hasattr(layer, "gru_rel_pos_linear"):
            linear(layer.gru_rel_pos_linear, f"{base}.attention.gru_rel_pos_linear")
            pairs.append((layer.gru_rel_pos_const, f"{base}.attention.gru_rel_pos_const",
                          "magnitude"))
            if layer.relative_bias:
                pairs.append((layer.rel_attn_embed,
                              f"{base}.attention.rel_attn_embed.weight", None))
        norm(layer.layer_norm, f"{base}.layer_norm")
        linear(layer.intermediate_dense, f"{base}.feed_forward.intermediate_dense")
        linear(layer.output_dense, f"{base}.feed_forward.output_dense")
        norm(layer.final_layer_norm, f"{base}.final_layer_norm")
    if getattr(model, "include_top", False) and model.head == "sequence_classification":
        if model.use_weighted_layer_sum:
            pairs.append((model.get_layer("layer_sum").layer_weights, "layer_weights", None))
        linear(model.get_layer("projector"), "projector")
        linear(model.get_layer("predictions"), "classifier")
    return pairs


def _canonical(state: Mapping, prefix: str) -> dict[str, np.ndarray]:
    """Names without the family prefix; the positional convolution as weight_g/weight_v."""
    out = {}
    for key, value in state.items():
        key = key[len(prefix) + 1:] if key.startswith(prefix + ".") else key
        out[key] = np.asarray(value, dtype="float32")
    conv = "encoder.pos_conv_embed.conv."
    for new, old in (("parametrizations.weight.original0", "weight_g"),
                     ("parametrizations.weight.original1", "weight_v")):
        if conv + new in out:
            out[conv + old] = out.pop(conv + new)
    if conv + "weight" in out and _V not in out:  # weight norm folded in: g = ||v||
        v = out.pop(conv + "weight")
        out[_V] = v
        out[_G] = np.sqrt(np.sum(np.square(v), axis=(0, 1), keepdims=True))
    return out


def assign_tensors(model, state: Mapping, pairs: list[tuple], *, prefix: str,
                   source: str = "the state dict") -> None:
    """Assign `state` to the variables of `pairs`, every tensor accounted for.

    Nothing is assigned unless every pair finds its tensor with the right shape and no
    tensor is left over (beyond `IGNORED` ones, and the head's when `model` has no
    sequence-classification head).

    Args:
        model: the model the pairs belong to.
        state: `{checkpoint name: array}` (with or without the `prefix.` of the family).
        pairs: `tensor_pairs(model)` (plus any a family adds).
        prefix: the family's prefix in checkpoint names (`"wav2vec2"`, `"hubert"`, ...).
        source: what `state` is, for the error message (e.g. the directory).

    Returns:
        None; every variable of `pairs` is assigned.

    Raises:
        InvalidOptionError: listing the missing, unexpected and mis-shaped tensors.

    Example:
    ```python
    from kerasaudio.models.wav2vec2.convert import assign_tensors, tensor_pairs
    model = kerasaudio.create_model("wav2vec2_base", hidden_size=32, num_hidden_layers=1,
                                    num_attention_heads=2, intermediate_size=64,
                                    conv_dim=(32,) * 7, num_conv_pos_embedding_groups=2)
    pairs = tensor_pairs(model)
    state = {name: np.zeros(v.shape, "float32") for v, name, _ in pairs}
    try:
        assign_tensors(model, state, pairs, prefix="wav2vec2")   # wrong layouts
    except kerasaudio.errors.InvalidOptionError as e:
        print(e)
    ```
    """
    state = _canonical(state, prefix)
    wanted = {name for _, name, _ in pairs}
    ignored = IGNORED + (() if any(n.startswith(HEAD_TENSORS) for n in wanted)
                         else HEAD_TENSORS)
    missing = sorted(wanted - set(state))
    unexpected = sorted(k for k in set(state) - wanted if not k.startswith(ignored))
    values, shapes = [], []
    for variable, name, layout in pairs:
        if name in state:
            value = LAYOUTS[layout][0](state[name])
            if tuple(variable.shape) != value.shape:
                shapes.append(f"{name} {state[name].shape} (expected "
                              f"{tuple(variable.shape)} for {variable.path})")
            values.append(value)
    problems = huggingface.mismatch_report(missing, unexpected, shapes)
    if problems:
        raise InvalidOptionError(
            f"{source} does not fit {model.name} ({type(model).__name__}): "
            + problems + " (config.json and weights disagree, or another architecture?).")
    for (variable, _, _), value in zip(pairs, values, strict=True):
        variable.assign(value)


def convert_state_dict(model, state: Mapping, *, source: str = "the state dict") -> None:
    """Assign a transformers state dict (in memory) to a `Wav2Vec2`/`Hubert` model.

    Checkpoints of `*Model`, `*ForCTC`, `*ForPreTraining` and
    `*ForSequenceClassification` all fit the encoder (names with or without the family
    prefix); a model with the sequence-classification head also takes `projector.*`,
    `classifier.*` (and `layer_weights`). Task heads the model lacks, the quantizer and
    `masked_spec_embed` are left out; any other tensor left over, missing or of another
    shape is an error listing them all, and then nothing is assigned. The prefix is the
    model's family (`wav2vec2.`, `hubert.`, `wavlm.`), so HuBERT and WavLM models
    convert here too (`kerasaudio.models.hubert.convert` and `.wavlm.convert` offer it
    under their names).

    Args:
        model: a `Wav2Vec2`, `Hubert` or `WavLM` model (or an encoder layer).
        state: `{tensor name: array}`, e.g. `{k: v.numpy() for k, v in
            torch_model.state_dict().items()}`.
        source: what `state` is, for error messages.

    Returns:
        None; every weight of `model` is assigned.

    Raises:
        InvalidOptionError: missing, unexpected or mis-shaped tensors (listed).

    Example:
    ```python
    from kerasaudio.models.wav2vec2.convert import convert_state_dict, to_state_dict
    small = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                 intermediate_size=64, conv_dim=(32,) * 7, num_conv_pos_embedding_groups=2)
    source = kerasaudio.create_model("wav2vec2_base", **small)
    target = kerasaudio.create_model("wav2vec2_base", **small)
    convert_state_dict(target, to_state_dict(source))   # as from a transformers model
    ```
    """
    prefix = getattr(model, "family", "wav2vec2")
    assign_tensors(model, state, tensor_pairs(model), prefix=prefix, source=source)


def to_state_dict(model, *, pairs: list[tuple] | None = None) -> dict[str, np.ndarray]:
    """A model's weights as a transformers state dict (names with the family prefix).

    The inverse of `convert_state_dict`: what a transformers `*Model` (or, with the
    sequence-classification head, `*ForSequenceClassification`) of the same config
    loads with `load_state_dict(..., strict=False)` (it lacks only `masked_spec_embed`).

    Args:
        model: a `Wav2Vec2`, `Hubert` or `WavLM` model.
        pairs: the model's `tensor_pairs` (default: computed).

    Returns:
        `{name: float32 array}` in the checkpoint's layouts.

    Example:
    ```python
    from kerasaudio.models import Hubert
    from kerasaudio.models.wav2vec2.convert import to_state_dict
    classifier = Hubert(include_top=True, classes=2, hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, conv_dim=(16,) * 7,
                        num_conv_pos_embedding_groups=2)
    state = to_state_dict(classifier)
    state["classifier.weight"].shape, state["hubert.encoder.layer_norm.weight"].shape
    # (2, 256), (16,)
    ```
    """
    prefix = getattr(model, "family", "wav2vec2")
    out = {}
    for variable, name, layout in pairs if pairs is not None else tensor_pairs(model):
        value = LAYOUTS[layout][1](np.asarray(variable.numpy(), dtype="float32"))
        head = name.startswith(HEAD_TENSORS)
        out[name if head else f"{prefix}.{name}"] = np.ascontiguousarray(value)
    return out


def load_huggingface_weights(model, path: str | os.PathLike) -> None:
    """Copy a checkpoint directory's weights into `model` (its architecture must match).

    `read_huggingface_weights(path)` assigned by `convert_state_dict`: every weight of
    the model must be in the checkpoint with its shape, and nothing unknown may be left
    over; the error lists every problem.

    Args:
        model: a `Wav2Vec2`, `Hubert` or `WavLM` model, or an encoder layer (built).
        path: the checkpoint directory.

    Raises:
        InvalidOptionError: not such a model, or missing, unexpected or mis-shaped
            tensors.

    Returns:
        None; every weight of `model` is assigned.

    Example:
    ```python
    import os
    from safetensors.numpy import save_file
    from kerasaudio.models.wav2vec2 import load_huggingface_weights
    from kerasaudio.models.wav2vec2.convert import to_state_dict
    small = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                 intermediate_size=64, conv_dim=(32,) * 7, num_conv_pos_embedding_groups=2)
    source = kerasaudio.create_model("wav2vec2_base", **small)
    os.makedirs("checkpoint")
    save_file(to_state_dict(source), "checkpoint/model.safetensors")
    target = kerasaudio.create_model("wav2vec2_base", **small)
    load_huggingface_weights(target, "checkpoint")
    ```
    """
    _encoder_of(model)
    convert_state_dict(model, read_huggingface_weights(path), source=os.fspath(path))


def from_huggingface(directory: str | os.PathLike, *, config: Mapping | None = None,
                     **options):
    """The Keras model of a Hugging Face wav2vec 2.0 checkpoint directory.

    `Wav2Vec2.from_huggingface(directory, config=config, **options)`: the architecture
    from `config.json`, the weights from `model.safetensors` (or `pytorch_model.bin`,
    tensors only); a `Wav2Vec2ForSequenceClassification` checkpoint becomes a classifier
    (its projector, mean pooling over the valid frames, classifier; logits) whose
    model-info record holds `id2label` as class names. The model class is the one the
    model registry builds for `wav2vec2_base` (the model module imports this one, so
    this one does not import it).

    Args:
        directory: the checkpoint directory (a trailing slash is fine).
        config: the parsed `config.json` when the caller has read it already (it must be
            the directory's); None reads it.
        **options: `Wav2Vec2` options (`include_top`, `pooling`, `padding_mask`,
            `output_hidden_states`, `classifier_activation`, ...).

    Returns:
        A `kerasaudio.models.AudioModel` (a `Wav2Vec2`).

    Example:
    ```python
    import json, os
    from safetensors.numpy import save_file
    from kerasaudio.models.wav2vec2.convert import from_huggingface, to_state_dict
    small = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                 intermediate_size=64, conv_dim=(32,) * 7, num_conv_pos_embedding_groups=2)
    source = kerasaudio.create_model("wav2vec2_base", include_top=True, classes=2,
                                     head="sequence_classification", **small)
    os.makedirs("checkpoint")
    save_file(to_state_dict(source), "checkpoint/model.safetensors")
    config = {"model_type": "wav2vec2", "architectures": ["Wav2Vec2ForSequenceClassification"],
              "id2label": {"0": "no", "1": "yes"}, "num_conv_pos_embeddings": 128, **small}
    json.dump(config, open("checkpoint/config.json", "w"))
    model = from_huggingface("checkpoint/")
    model.audio_info.class_names  # ('no', 'yes')
    ```
    """
    # `model.py` imports this module: the class comes through the registry instead.
    model_class = get_model_info("wav2vec2_base").builder.model_class  # type: ignore[attr-defined]
    return model_class.from_huggingface(directory, config=config, **options)
