"""transformers AST checkpoints to kerasaudio and back: config, labels and every tensor.

A checkpoint directory (`config.json`, `model.safetensors` or `pytorch_model.bin`,
`preprocessor_config.json`) is read by `kerasaudio.weights.huggingface` (numpy arrays,
never a pickle); `from_huggingface` builds the `AST` it describes, with the feature
extractor's normalisation, and carries `id2label` into the model-info record. An
in-memory state dict (`{name: array}`, e.g.
`{k: v.numpy() for k, v in torch_model.state_dict().items()}`) converts with
`convert_state_dict`. Every tensor maps to one Keras weight; missing or unexpected tensors
are refused with their names listed. `save_huggingface` writes a model back as a
checkpoint transformers' `ASTForAudioClassification.from_pretrained` reads.

Reference:
    Wolf et al., "Transformers: State-of-the-Art Natural Language Processing", EMNLP
    2020 (system demonstrations): the checkpoint format and tensor names.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import keras
import numpy as np

from kerasaudio.errors import InvalidOptionError
from kerasaudio.info import AudioInfo, model_info
from kerasaudio.layers.kaldi import AUDIOSET_MEAN, AUDIOSET_STD
from kerasaudio.models.ast.config import ARCHITECTURE, SAMPLE_RATE
from kerasaudio.models.ast.model import AST
from kerasaudio.models.audio_model import with_info
from kerasaudio.weights import huggingface as hf

__all__ = ["MODEL_TYPE", "TASK", "convert_state_dict", "from_huggingface",
           "load_huggingface_weights", "read_config", "save_huggingface", "state_dict"]

#: `model_type` of a transformers AST `config.json`.
MODEL_TYPE = "audio-spectrogram-transformer"
#: The model-info task of a converted classifier (the hub's pipeline name).
TASK = "audio-classification"
_PREFIX = "audio_spectrogram_transformer."
#: transformers >= 5 module names -> the checkpoint names (both are accepted).
_ALIASES = {".attention.q_proj.": ".attention.attention.query.",
            ".attention.k_proj.": ".attention.attention.key.",
            ".attention.v_proj.": ".attention.attention.value.",
            ".attention.o_proj.": ".attention.output.dense.",
            ".mlp.fc1.": ".intermediate.dense.", ".mlp.fc2.": ".output.dense.",
            _PREFIX + "layers.": _PREFIX + "encoder.layer."}


def read_config(path: str | os.PathLike | None = None, *,
                config: Mapping | None = None) -> dict:
    """The architecture, label names and front end of a transformers AST checkpoint.

    Args:
        path: the checkpoint directory (with or without a trailing slash); its
            `config.json` and, when present, `preprocessor_config.json` are read.
        config: an already parsed `config.json` (then only the preprocessor config is
            read from `path`, if given).

    Returns:
        `{"architecture": {ASTConfig options}, "class_names": [label of output i],
        "frontend": {"mean", "std", "do_normalize"}, "sample_rate": 16000}`
        (`id2label` in output order; `LABEL_i` names when the config has none).

    Raises:
        InvalidOptionError: not an AST config, or a feature extractor that disagrees
            with the model (another sampling rate, mel count or length).
        ModelFileNotFoundError: no directory or no `config.json`.

    Example:
    ```python
    from kerasaudio.models.ast import AST, read_config, save_huggingface
    save_huggingface(AST(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=48, max_length=100, classes=2,
                         class_names=["yes", "no"]), "tiny-ast")
    read_config("tiny-ast/")["class_names"]  # ['yes', 'no']
    ```
    """
    if config is None:
        if path is None:
            raise InvalidOptionError("read_config needs a checkpoint directory or a config.")
        config = hf.read_config(path)
    extractor = hf.read_preprocessor_config(path) if path is not None else {}
    if config.get("model_type") != MODEL_TYPE:
        raise InvalidOptionError(
            f"{path or 'config'}: model_type={config.get('model_type')!r}; this converter "
            f"reads {MODEL_TYPE!r} (ASTForAudioClassification) checkpoints.")
    architecture = {key: config.get(key, default) for key, default in ARCHITECTURE.items()}
    names = hf.class_names(config) or [f"LABEL_{i}" for i in range(2)]
    for key, ours in (("sampling_rate", SAMPLE_RATE),
                      ("num_mel_bins", architecture["num_mel_bins"]),
                      ("max_length", architecture["max_length"])):
        if key in extractor and extractor[key] != ours:
            raise InvalidOptionError(
                f"{path}: preprocessor_config.json has {key}={extractor[key]!r} but the "
                f"model takes {ours!r}; AST's front end computes the model's own features.")
    frontend = {"mean": float(extractor.get("mean", AUDIOSET_MEAN)),
                "std": float(extractor.get("std", AUDIOSET_STD)),
                "do_normalize": bool(extractor.get("do_normalize", True))}
    return {"architecture": architecture, "class_names": names, "frontend": frontend,
            "sample_rate": SAMPLE_RATE}


def _canonical(name: str) -> str:
    for new, old in _ALIASES.items():
        name = name.replace(new, old)
    return name


def _patch_to_keras(w):
    return np.transpose(w, (2, 3, 1, 0))  # torch (out, in, h, w) -> Keras (h, w, in, out)


def _patch_to_torch(w):
    return np.transpose(w, (3, 2, 0, 1))


def _pairs(model) -> list:
    """(Keras variable, checkpoint name, to Keras, to checkpoint) for every weight."""
    try:
        encoder = model.get_layer("audio_spectrogram_transformer")
    except ValueError:
        raise InvalidOptionError(f"{model.name} is not an AST (no "
                                 "'audio_spectrogram_transformer' layer).") from None
    pairs = []

    def linear(layer, key):
        pairs.append((layer.kernel, f"{key}.weight", np.transpose, np.transpose))
        if layer.use_bias:
            pairs.append((layer.bias, f"{key}.bias", None, None))

    def norm(layer, key):
        pairs.append((layer.gamma, f"{key}.weight", None, None))
        pairs.append((layer.beta, f"{key}.bias", None, None))

    base = _PREFIX + "embeddings."
    pairs += [(encoder.cls_token, base + "cls_token", None, None),
              (encoder.distillation_token, base + "distillation_token", None, None),
              (encoder.position_embeddings, base + "position_embeddings", None, None),
              (encoder.patch_embeddings.kernel, base + "patch_embeddings.projection.weight",
               _patch_to_keras, _patch_to_torch),
              (encoder.patch_embeddings.bias, base + "patch_embeddings.projection.bias",
               None, None)]
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
    if _has_top(model):
        norm(model.get_layer("head_layernorm"), "classifier.layernorm")
        linear(model.get_layer("predictions"), "classifier.dense")
    return pairs


def _has_top(model) -> bool:
    return any(layer.name == "predictions" for layer in model.layers)


def convert_state_dict(model, state: Mapping) -> None:
    """Assign a transformers AST state dict to `model`, every tensor accounted for.

    Args:
        model: an `AST` (with or without its head; without, `classifier.*` tensors are
            allowed and left out), or the `AudioModel` `from_huggingface` returns.
        state: `{tensor name: array}` of `ASTForAudioClassification` or `ASTModel`.

    Returns:
        None; every weight of `model` is assigned.

    Raises:
        InvalidOptionError: tensors missing from `state`, left over in it, or of another
            shape (each listed).

    Example:
    ```python
    from kerasaudio.models.ast import AST, convert_state_dict, state_dict
    tiny = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=48, max_length=100, frontend=None)
    source, target = AST(**tiny, classes=2), AST(**tiny, classes=2)
    convert_state_dict(target, state_dict(source))   # target now computes as source
    ```
    """
    state = {_canonical(k if k.startswith((_PREFIX, "classifier.")) else _PREFIX + k):
             np.asarray(v, dtype="float32") for k, v in state.items()}
    pairs = _pairs(model)
    wanted = {name for _, name, _, _ in pairs}
    missing = sorted(wanted - set(state))
    unexpected = sorted(k for k in set(state) - wanted
                        if _has_top(model) or not k.startswith("classifier."))
    if missing or unexpected:
        raise InvalidOptionError(
            f"the AST state dict does not fit the model: missing {missing}, unexpected "
            f"{unexpected}.")
    values = []
    for variable, name, to_keras, _ in pairs:
        value = to_keras(state[name]) if to_keras else state[name]
        if tuple(variable.shape) != value.shape:
            raise InvalidOptionError(
                f"{name} has shape {value.shape}; {variable.path} expects "
                f"{tuple(variable.shape)} (config and weights disagree?).")
        values.append(value)
    for (variable, _, _, _), value in zip(pairs, values, strict=True):
        variable.assign(value)


def state_dict(model) -> dict[str, np.ndarray]:
    """`model`'s weights under transformers' `ASTForAudioClassification` tensor names.

    The inverse of `convert_state_dict` (a model without its head gives the `ASTModel`
    tensors, under the `audio_spectrogram_transformer.` prefix).

    Args:
        model: an `AST`, or the `AudioModel` `from_huggingface` returns.

    Returns:
        `{tensor name: float32 array}` in transformers' layouts.

    Example:
    ```python
    from kerasaudio.models.ast import AST, state_dict
    weights = state_dict(AST(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                             intermediate_size=48, max_length=100, classes=2))
    weights["classifier.dense.weight"].shape  # (2, 32): torch's (out, in)
    ```
    """
    weights = {}
    for variable, name, _, to_torch in _pairs(model):
        value = np.asarray(keras.ops.convert_to_numpy(variable), dtype="float32")
        weights[name] = np.ascontiguousarray(to_torch(value) if to_torch else value)
    return weights


def save_huggingface(model, directory: str | os.PathLike) -> None:
    """Write `model` as a transformers AST checkpoint directory.

    `config.json` (`ASTConfig`: architecture, `id2label` from the model-info record or
    the `AST`'s `class_names`), `model.safetensors` (`state_dict`) and
    `preprocessor_config.json` (`ASTFeatureExtractor`: the front end's normalisation);
    `transformers.ASTForAudioClassification.from_pretrained(directory)` reads it, and so
    does `from_huggingface`.

    Args:
        model: an `AST` with its head, or the `AudioModel` `from_huggingface` returns.
        directory: created if missing; existing files of the same names are replaced.

    Raises:
        InvalidOptionError: not an AST with its head.

    Example:
    ```python
    from kerasaudio.models.ast import AST, from_huggingface, save_huggingface
    model = AST(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=48, max_length=100, classes=2, class_names=["yes", "no"])
    save_huggingface(model, "tiny-ast")
    from_huggingface("tiny-ast").audio_info.class_names  # ('yes', 'no')
    ```
    """
    if not _has_top(model):
        raise InvalidOptionError(f"{model.name}: save_huggingface writes an "
                                 "ASTForAudioClassification checkpoint; the model needs its "
                                 "head (include_top=True).")
    encoder = model.get_layer("audio_spectrogram_transformer")
    classes = model.get_layer("predictions").units
    names = model_info(model).class_names or getattr(model, "class_names", None)
    names = list(names) if names else [f"LABEL_{i}" for i in range(classes)]
    config = {"model_type": MODEL_TYPE, "architectures": ["ASTForAudioClassification"],
              **{key: encoder.config_[key] for key in ARCHITECTURE},
              "initializer_range": 0.02,
              "id2label": {str(i): name for i, name in enumerate(names)},
              "label2id": {name: i for i, name in enumerate(names)}}
    fbank = next((layer for layer in model.layers if layer.name == "fbank"), None)
    extractor = {"feature_extractor_type": "ASTFeatureExtractor", "feature_size": 1,
                 "sampling_rate": SAMPLE_RATE, "num_mel_bins": config["num_mel_bins"],
                 "max_length": config["max_length"], "padding_value": 0.0,
                 "return_attention_mask": False,
                 "do_normalize": bool(fbank.normalize) if fbank else True,
                 "mean": fbank.mean if fbank else AUDIOSET_MEAN,
                 "std": fbank.std if fbank else AUDIOSET_STD}
    hf.write_checkpoint(directory, config, state_dict(model), preprocessor_config=extractor)


def from_huggingface(directory: str | os.PathLike, *, config: Mapping | None = None,
                     **options):
    """Build the model of a transformers AST checkpoint, with every tensor and its labels.

    The architecture comes from `config.json`, the front end's normalisation
    (`mean`, `std`, `do_normalize`) from `preprocessor_config.json`, the weights from
    `model.safetensors` (or `pytorch_model.bin` through
    `torch.load(weights_only=True)`). The head has the checkpoint's `num_labels` and
    outputs logits, as transformers, unless `classifier_activation` is given.

    Args:
        directory: a checkpoint directory (with or without a trailing slash) or
            `"hf://ORG/NAME[@REVISION]"` (downloaded by
            `kerasaudio.weights.huggingface.snapshot`).
        config: the parsed `config.json`, if the caller has read it already.
        **options: `AST` options (`include_top`, `pooling`, `output_hidden_states`,
            `frontend`, `input_shape`, `classifier_activation`, `name`); architecture
            options must agree with `config.json`.

    Returns:
        A `kerasaudio.models.AudioModel` whose model-info record holds the task
        (`"audio-classification"`), `id2label` as `class_names` (with the head) and
        the sample rate (16000).

    Raises:
        InvalidOptionError: not an AST checkpoint, an option that disagrees with it, or
            tensors that do not fit (listed).
        ModelFileNotFoundError: no directory, `config.json` or weights file.

    Example:
    ```python
    from kerasaudio.models.ast import AST, from_huggingface, save_huggingface
    save_huggingface(AST(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=48, max_length=100, classes=3,
                         class_names=["dog", "rain", "speech"]), "tiny-ast")
    model = from_huggingface("tiny-ast/")
    model(np.zeros((1, 16000), "float32")).shape   # (1, 3): logits
    model.audio_info.class_names                    # ('dog', 'rain', 'speech')
    ```
    """
    directory = hf.resolve(directory)
    if config is None:
        config = hf.read_config(directory)
    read = read_config(directory, config=config)
    arch, labels = read["architecture"], read["class_names"]
    for key in [k for k in options if k in ARCHITECTURE]:
        if options.pop(key) != arch[key]:
            raise InvalidOptionError(f"{key} disagrees with {directory}/config.json "
                                     f"({arch[key]!r}).")
    unknown = sorted(set(options) - {"include_top", "pooling", "output_hidden_states",
                                     "frontend", "input_shape", "classifier_activation",
                                     "name"})
    if unknown:
        raise InvalidOptionError(f"from_huggingface takes no option(s) {unknown}.")
    options.setdefault("classifier_activation", None)
    options.setdefault("name", "ast")
    include_top = options.get("include_top", True)
    if include_top:
        options.update(classes=len(labels), class_names=labels)
    tensors = hf.read_tensors(directory)  # a missing or broken file fails before building
    model = AST(**arch, **read["frontend"], **options)
    convert_state_dict(model, tensors)
    return with_info(model, AudioInfo(task=TASK if include_top else None,
                                      class_names=labels if include_top else None,
                                      sample_rate=read["sample_rate"]))


def load_huggingface_weights(model, path: str | os.PathLike) -> list[str]:
    """Load a checkpoint directory's tensors into an existing `model`.

    Args:
        model: an `AST` of the checkpoint's architecture.
        path: the checkpoint directory.

    Returns:
        The checkpoint's class names (`id2label` in output order).

    Example:
    ```python
    from kerasaudio.models.ast import AST, load_huggingface_weights, save_huggingface
    tiny = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=48, max_length=100, classes=2)
    save_huggingface(AST(**tiny, class_names=["yes", "no"]), "tiny-ast")
    load_huggingface_weights(AST(**tiny), "tiny-ast")  # ['yes', 'no']
    ```
    """
    convert_state_dict(model, hf.read_tensors(path))
    return read_config(path)["class_names"]
