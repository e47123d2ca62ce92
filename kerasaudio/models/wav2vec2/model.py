"""`Wav2Vec2`: the Keras model around the encoder, and its registered builders."""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from pathlib import Path

import keras
from keras import ops

from kerasaudio.errors import InvalidOptionError
from kerasaudio.info import AudioInfo
from kerasaudio.layers.attention import MaskedGlobalPooling1D
from kerasaudio.models.audio_model import CONFIG_KEY, AudioModel
from kerasaudio.models.common import check_arguments
from kerasaudio.models.registry import register_model
from kerasaudio.models.wav2vec2.config import (
    ARCHITECTURE,
    CONFIGS,
    SAMPLE_RATE,
    receptive_field,
)
from kerasaudio.models.wav2vec2.convert import (
    convert_state_dict,
    read_huggingface_config,
    read_huggingface_head,
    read_huggingface_normalize,
    read_huggingface_weights,
)
from kerasaudio.models.wav2vec2.encoder import Wav2Vec2Encoder

__all__ = ["HEADS", "Wav2Vec2", "WeightedLayerSum", "family_builder", "register_sizes",
           "wav2vec2_base", "wav2vec2_large", "wav2vec2_large_lv60"]

#: The classification heads (`include_top=True`), by `head=` name.
HEADS = {
    "sequence_classification": "transformers' *ForSequenceClassification: optional "
                               "softmax-weighted sum of the hidden states, Dense("
                               "classifier_proj_size), mean over the valid frames, "
                               "Dense(classes)",
    "dense_tanh": "the S3 utterance head: mean over the valid frames, dropout, "
                  "Dense(hidden_size, tanh), dropout, Dense(classes)",
}


@keras.saving.register_keras_serializable(package="kerasaudio")
class WeightedLayerSum(keras.layers.Layer):
    """A softmax-weighted sum of same-shaped tensors (`use_weighted_layer_sum`).

    `call(states)` takes a list of `n` tensors and returns `sum_i softmax(w)_i *
    states[i]`, with the trainable `layer_weights` `w` (`(n,)`, initialised to `1/n`),
    as transformers' sequence-classification heads combine every hidden state.

    Args:
        **kwargs: `keras.layers.Layer` arguments (`name`, ...).

    Example:
    ```python
    from kerasaudio.models.wav2vec2.model import WeightedLayerSum
    states = [np.full((1, 2, 3), v, "float32") for v in (1.0, 3.0)]
    WeightedLayerSum()(states)  # all 2.0: equal weights at initialisation
    ```
    """

    def build(self, input_shape):
        count = len(input_shape)
        self.layer_weights = self.add_weight(
            shape=(count,), initializer=keras.initializers.Constant(1.0 / count),
            name="layer_weights")

    def call(self, states):
        weights = ops.softmax(self.layer_weights)
        return ops.sum(ops.stack(states, axis=0) * ops.reshape(weights, (-1, 1, 1, 1)),
                       axis=0)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="kerasaudio")
class Wav2Vec2(AudioModel):
    """wav2vec 2.0: raw 16 kHz audio to hidden states, pooled embeddings or classes.

    A functional model around `Wav2Vec2Encoder` (the network of transformers'
    `Wav2Vec2Model`: seven-convolution feature encoder, feature projection, grouped
    weight-normalised convolutional positional embedding, transformer encoder).
    Outputs, by option:

    - default: the last hidden state `(batch, frames, hidden_size)`, 49 frames per
      second of audio (receptive field 400 samples, hop 320).
    - `output_hidden_states=True`: the list of `num_hidden_layers + 1` hidden states
      (transformer input, then each layer's output; the last is the final output).
    - `pooling="avg"` / `"max"`: each of those pooled over the unpadded frames.
    - `include_top=True`: a classification head (`HEADS`), by `head`:
      `"sequence_classification"`, the layout of transformers'
      `Wav2Vec2ForSequenceClassification` (with `use_weighted_layer_sum`, a
      softmax-weighted sum of every hidden state instead of the last; then
      Dense(classifier_proj_size), the mean over the valid frames, Dense(classes,
      classifier_activation)); `"dense_tanh"` (this class's default), the utterance head
      of the fine-tuned S3 models: masked mean of the last hidden state, dropout,
      Dense(hidden_size, tanh), dropout, Dense(classes, classifier_activation).
      `class_names` go into the model-info record.

    Its model-info record (`kerasaudio.info.model_info`) starts with the 16 kHz sample
    rate (and the input length, when fixed); `kerasaudio.models.with_info` adds more.

    Build it with `create_model("wav2vec2_base", ...)` (or `wav2vec2_large`,
    `wav2vec2_large_lv60`), or from a Hugging Face checkpoint directory with
    `Wav2Vec2.from_huggingface(path)` / `create_model("wav2vec2_base", weights=path)`.
    `kerasaudio.models.Hubert` and `kerasaudio.models.WavLM` are this class with their
    family's encoder and checkpoint names.

    Args:
        include_top: add the classification head (default False: the encoder).
        weights: None, a `.weights.h5` file of the same configuration, or a Hugging Face
            checkpoint directory (`config.json` + `model.safetensors` or
            `pytorch_model.bin`); with a directory the architecture is the checkpoint's.
        input_shape: `(samples,)` (default `(None,)`: any length, at least 400 samples).
        classes: outputs of the head.
        pooling: None, `"avg"` or `"max"`: pool the hidden states over frames.
        classifier_activation: activation of the head's output layer.
        frontend: None (the model takes audio as given) or `"default"`: the checkpoint
            processor's normalisation (each utterance to zero mean and unit variance)
            inside the model.
        padding_mask: add a second input `"padding_mask"` `(batch, samples)`: 1 for
            audio, 0 for padding (for batches of different lengths).
        output_hidden_states: output every layer's hidden state, not just the last.
        final_dropout: dropout rate of the `"dense_tanh"` head.
        head: `"sequence_classification"` or `"dense_tanh"` (see above; None: the
            class's default).
        classifier_proj_size: width of the sequence-classification head's projector.
        use_weighted_layer_sum: the sequence-classification head pools a learned
            softmax-weighted sum of every hidden state instead of the last one.
        layer_sum_final_norm: in that sum, the last state of a pre-norm model is the
            output after the closing layer norm (True: transformers 4, which fine-tuned
            the hub checkpoints) or before it (False: transformers 5's
            `hidden_states`). Post-norm models have one last state either way.
        class_names: names of the head's outputs (a converted checkpoint's
            `id2label`), kept in the model-info record.
        name: model name (None: the family's).
        **architecture: `Wav2Vec2Encoder` options (`hidden_size`, `num_hidden_layers`,
            `feat_extract_norm`, `do_stable_layer_norm`, ...), default `wav2vec2_base`'s.

    Example:
    ```python
    from kerasaudio.models import Wav2Vec2
    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64, conv_dim=(32,) * 7, num_conv_pos_embedding_groups=2)
    model = Wav2Vec2(**small)                                    # random weights
    hidden = model(np.zeros((1, 16000), "float32"))              # (1, 49, 32)
    batch = Wav2Vec2(padding_mask=True, pooling="avg", **small)
    audio = np.random.default_rng(0).normal(size=(2, 16000)).astype("float32")
    mask = np.ones((2, 16000), "float32")
    mask[1, 8000:] = 0                                           # second clip: 0.5 s
    batch({"audio": audio, "padding_mask": mask})                # (2, 32)
    classifier = Wav2Vec2(include_top=True, head="sequence_classification", classes=3,
                          class_names=["a", "b", "c"], **small)
    classifier.audio_info.class_names                            # ('a', 'b', 'c')
    ```

    Reference:
        Baevski, Zhou, Mohamed, Auli, "wav2vec 2.0: A Framework for Self-Supervised
        Learning of Speech Representations", NeurIPS 2020.
    """

    #: The family: `model_type` of its Hugging Face configs, prefix of its checkpoint
    #: tensor names, and name of the encoder layer.
    family = "wav2vec2"
    #: The encoder layer class and its options with their defaults.
    encoder_class = Wav2Vec2Encoder
    architecture_defaults = ARCHITECTURE
    #: The head `include_top=True` adds when `head` is not given.
    default_head = "dense_tanh"

    def __init__(self, *, include_top: bool = False, input_shape=None, classes: int = 2,
                 pooling: str | None = None, classifier_activation="softmax",
                 frontend=None, padding_mask: bool = False,
                 output_hidden_states: bool = False, final_dropout: float = 0.1,
                 head: str | None = None, classifier_proj_size: int = 256,
                 use_weighted_layer_sum: bool = False, layer_sum_final_norm: bool = True,
                 class_names=None, name: str | None = None, **architecture):
        name = name or self.family
        check_arguments(name, include_top=include_top, weights=None, classes=classes,
                        pooling=pooling, classifier_activation=classifier_activation)
        if frontend not in (None, "default"):
            raise InvalidOptionError(
                f"{name}: frontend={frontend!r}; this model takes raw 16 kHz audio: use "
                "None (audio as given) or 'default' (per-utterance normalisation, as the "
                "checkpoints' processors do).")
        head = head or self.default_head
        if head not in HEADS:
            raise InvalidOptionError(f"{name}: head={head!r}; use one of {sorted(HEADS)}.")
        if isinstance(classifier_proj_size, bool) or not isinstance(
                classifier_proj_size, int) or classifier_proj_size < 1:
            raise InvalidOptionError(
                f"{name}: classifier_proj_size={classifier_proj_size!r} must be an integer "
                ">= 1.")
        if class_names is not None:
            class_names = [str(c) for c in class_names]
            if include_top and len(class_names) != classes:
                raise InvalidOptionError(f"{name}: {len(class_names)} class_names for "
                                         f"{classes} classes.")
        unknown = sorted(set(architecture) - set(self.architecture_defaults))
        if unknown:
            raise InvalidOptionError(f"{name} has no option(s) {unknown}.")
        arch = {**self.architecture_defaults, **architecture}
        shape = _input_shape(name, input_shape, arch)
        encoder = self.encoder_class(**arch, normalize_audio=frontend == "default",
                                     name=self.family)
        summed = include_top and head == "sequence_classification" and use_weighted_layer_sum
        # The weighted sum may take the last pre-norm layer's output before its norm.
        final_norm = not summed or bool(layer_sum_final_norm)
        audio = keras.Input(shape, name="audio")
        if padding_mask:
            mask_input = keras.Input(shape, name="padding_mask")
            inputs = {"audio": audio, "padding_mask": mask_input}
            states, frame_mask = encoder(audio, mask_input, final_norm=final_norm)
        else:
            inputs = audio
            states, frame_mask = encoder(audio, final_norm=final_norm)
        if not summed and (not output_hidden_states or include_top):
            states = states[-1:]
        if include_top and head == "sequence_classification":
            x = WeightedLayerSum(name="layer_sum")(states) if summed else states[-1]
            x = keras.layers.Dense(classifier_proj_size, name="projector")(x)
            x = MaskedGlobalPooling1D(mode="avg", name="pool")(x, mask=frame_mask)
            outputs = keras.layers.Dense(classes, activation=classifier_activation,
                                         name="predictions")(x)
        elif include_top:
            x = MaskedGlobalPooling1D(mode="avg", name="pool")(states[0], mask=frame_mask)
            x = keras.layers.Dropout(final_dropout, name="head_dropout_1")(x)
            x = keras.layers.Dense(encoder.config_["hidden_size"], activation="tanh",
                                   name="dense")(x)
            x = keras.layers.Dropout(final_dropout, name="head_dropout_2")(x)
            outputs = keras.layers.Dense(classes, activation=classifier_activation,
                                         name="predictions")(x)
        else:
            if pooling is not None:
                pool = MaskedGlobalPooling1D(mode=pooling, name="pool")
                states = [pool(s, mask=frame_mask) for s in states]
            outputs = states if output_hidden_states else states[0]
        super().__init__(inputs=inputs, outputs=outputs, name=name,
                         info=AudioInfo(sample_rate=SAMPLE_RATE, input_length=shape[0],
                                        class_names=class_names if include_top else None))
        self.include_top = include_top
        self.input_shape_ = None if input_shape is None else list(shape)
        self.classes = classes
        self.pooling = pooling
        self.classifier_activation = classifier_activation
        self.frontend = frontend
        self.padding_mask = bool(padding_mask)
        self.output_hidden_states = bool(output_hidden_states)
        self.final_dropout = final_dropout
        self.head = head
        self.classifier_proj_size = classifier_proj_size
        self.use_weighted_layer_sum = bool(use_weighted_layer_sum)
        self.layer_sum_final_norm = bool(layer_sum_final_norm)
        self.class_names = class_names
        self.architecture = {k: arch[k] for k in self.architecture_defaults}

    @property
    def encoder(self) -> Wav2Vec2Encoder:
        """The encoder layer holding the network (a `Wav2Vec2Encoder` or subclass)."""
        return self.get_layer(self.family)

    @property
    def sample_rate(self) -> int:
        """16000: the rate every wav2vec 2.0, HuBERT and WavLM checkpoint was trained on."""
        return SAMPLE_RATE

    def get_config(self):
        config = {"include_top": self.include_top, "input_shape": self.input_shape_,
                  "classes": self.classes, "pooling": self.pooling,
                  "classifier_activation": self.classifier_activation,
                  "frontend": self.frontend, "padding_mask": self.padding_mask,
                  "output_hidden_states": self.output_hidden_states,
                  "final_dropout": self.final_dropout, "head": self.head,
                  "classifier_proj_size": self.classifier_proj_size,
                  "use_weighted_layer_sum": self.use_weighted_layer_sum,
                  "layer_sum_final_norm": self.layer_sum_final_norm,
                  "class_names": self.class_names, "name": self.name}
        for key, value in self.architecture.items():
            config[key] = list(value) if isinstance(value, tuple) else value
        config[CONFIG_KEY] = self.audio_info.to_dict()
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        record = config.pop(CONFIG_KEY, None)
        model = cls(**config)
        if record is not None:
            model.audio_info = AudioInfo.from_dict(record)
        return model

    @classmethod
    def from_huggingface(cls, path: str | os.PathLike, *, config: Mapping | None = None,
                         frontend="auto", **kwargs) -> Wav2Vec2:
        """Build the model of a Hugging Face checkpoint directory and load its weights.

        Reads `config.json` (a config of this family: `model_type` `"wav2vec2"` here,
        `"hubert"` / `"wavlm"` for `Hubert` / `WavLM`) and `model.safetensors` (with the
        `safetensors` package, numpy only) or else `pytorch_model.bin` (with
        `torch.load(..., weights_only=True)`: tensors only, never arbitrary pickles).
        Checkpoints of `*Model`, `*ForCTC`, `*ForPreTraining` and
        `*ForSequenceClassification` all work (keys with or without the family prefix).
        A `*ForSequenceClassification` checkpoint (its config's `architectures`) becomes
        a classifier by default: `include_top=True` with the sequence-classification
        head of its config (`classifier_proj_size`, `use_weighted_layer_sum`),
        `classes=num_labels`, `id2label` as the class names of the model-info record,
        and logits (`classifier_activation=None`), as transformers. Other task heads,
        the quantizer and `masked_spec_embed` are left out; missing, unexpected or
        mis-shaped tensors are an error listing them. Works offline.

        Args:
            path: the checkpoint directory (e.g. a `save_pretrained` output or a
                downloaded hub snapshot; a trailing slash is fine).
            config: the parsed `config.json` when the caller has read it already (it
                must be the directory's); None reads it.
            frontend: `"auto"` (default): `"default"` (per-utterance normalisation
                inside the model) when the directory's `preprocessor_config.json` says
                `do_normalize`, else None; or None / `"default"` explicitly.
            **kwargs: options of this class (`pooling`, `padding_mask`,
                `output_hidden_states`, `include_top`, `classifier_activation`, ...);
                architecture options must agree with `config.json`.

        Returns:
            The model with the checkpoint's weights (a head the checkpoint lacks stays
            random).

        Example:
        ```python
        import json, os
        from safetensors.numpy import save_file
        from kerasaudio.models.wav2vec2 import Wav2Vec2
        from kerasaudio.models.wav2vec2.convert import to_state_dict
        small = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, conv_dim=(32,) * 7,
                     num_conv_pos_embedding_groups=2)
        os.makedirs("wav2vec2-tiny")
        save_file(to_state_dict(Wav2Vec2(**small)), "wav2vec2-tiny/model.safetensors")
        json.dump({"model_type": "wav2vec2", "num_conv_pos_embeddings": 128, **small},
                  open("wav2vec2-tiny/config.json", "w"))
        model = Wav2Vec2.from_huggingface("wav2vec2-tiny/", pooling="avg")
        model(np.zeros((1, 16000), "float32")).shape  # (1, 32)
        ```
        """
        directory = Path(path)
        source = config if config is not None else directory
        arch = read_huggingface_config(source, model_type=cls.family,
                                       architecture=cls.architecture_defaults)
        for key, value in list(kwargs.items()):
            if key in cls.architecture_defaults:
                if _normalised(value) != _normalised(arch[key]):
                    raise InvalidOptionError(
                        f"{key}={value!r} disagrees with the checkpoint's config.json "
                        f"({arch[key]!r}).")
                del kwargs[key]
        head = read_huggingface_head(source, model_type=cls.family)
        if kwargs.get("include_top", head["include_top"]) and head["include_top"]:
            kwargs.setdefault("include_top", True)
            kwargs.setdefault("head", "sequence_classification")
            kwargs.setdefault("classifier_activation", None)
            if kwargs["head"] == "sequence_classification":
                for key in ("classifier_proj_size", "use_weighted_layer_sum"):
                    kwargs.setdefault(key, head[key])
            if "classes" not in kwargs:
                kwargs["classes"] = head["classes"]
                kwargs.setdefault("class_names", head["class_names"])
        if frontend == "auto":
            frontend = "default" if read_huggingface_normalize(directory) else None
        kwargs.setdefault("name", directory.name.replace("-", "_") or cls.family)
        model = cls(**arch, frontend=frontend, **kwargs)
        convert_state_dict(model, read_huggingface_weights(directory),
                           source=os.fspath(directory))
        return model


def _normalised(value):
    return list(value) if isinstance(value, tuple | list) else value


def _input_shape(name: str, input_shape, arch: dict) -> tuple:
    if input_shape is None:
        return (None,)
    try:
        shape = tuple(None if d is None else int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise InvalidOptionError(f"{name}: input_shape={input_shape!r} must be (samples,)."
                                 ) from None
    if len(shape) != 1:
        raise InvalidOptionError(
            f"{name}: input_shape={shape} must be (samples,): raw 16 kHz audio.")
    least = receptive_field(arch["conv_kernel"], arch["conv_stride"])
    if shape[0] is not None and shape[0] < least:
        raise InvalidOptionError(
            f"{name}: input too short: {shape[0]} samples; the feature encoder needs at "
            f"least {least} samples for one frame.")
    return shape


def family_builder(model_class: type[Wav2Vec2], registered: str, sizes: dict, summary: str,
                   reference: str):
    """The registered builder of one configuration of a wav2vec 2.0-style family.

    The builder takes every option of `model_class` (its signature lists them with this
    configuration's defaults, `keras.applications`-style) plus `weights`: None
    (random), a `.weights.h5` file, or a Hugging Face checkpoint directory (the
    architecture, head and labels from it: `model_class.from_huggingface`). The builder
    has `model_class` as an attribute, for the family's converter.

    Args:
        model_class: `Wav2Vec2` or a subclass (`Hubert`, `WavLM`).
        registered: the registered name (e.g. `"hubert_base"`).
        sizes: this configuration's overrides of `model_class.architecture_defaults`.
        summary: the builder's one-line description.
        reference: the paper, for the docstring.

    Returns:
        The builder function (not yet registered: pass it to `register_model`).

    Example:
    ```python
    from kerasaudio.models.wav2vec2.model import Wav2Vec2, family_builder
    tiny = family_builder(Wav2Vec2, "wav2vec2_tiny", dict(hidden_size=32,
                          num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                          conv_dim=(32,) * 7, num_conv_pos_embedding_groups=2),
                          "a tiny wav2vec 2.0", "Baevski et al. 2020")
    tiny(pooling="avg")(np.zeros((1, 16000), "float32")).shape  # (1, 32)
    ```
    """
    defaults = {**model_class.architecture_defaults, **sizes}

    def builder(**kwargs):
        weights = kwargs.pop("weights", None)
        kwargs.setdefault("name", registered)
        if weights is not None and os.path.isdir(os.fspath(weights)):
            return model_class.from_huggingface(weights, **kwargs)
        name = kwargs["name"]
        check_arguments(name, include_top=True, weights=weights, classes=2, pooling=None,
                        classifier_activation=None)
        model = model_class(**{**sizes, **kwargs})
        if weights is not None:
            try:
                model.load_weights(os.fspath(weights))
            except ValueError as exc:
                raise InvalidOptionError(
                    f"{name}: the weights file {os.fspath(weights)!r} does not fit this "
                    f"model (check classes, include_top and the options): {exc}") from None
        return model

    params = [inspect.Parameter("weights", inspect.Parameter.KEYWORD_ONLY, default=None)]
    own = inspect.signature(model_class.__init__).parameters
    for key, parameter in own.items():
        if key in ("self", "architecture"):
            continue
        default = registered if key == "name" else parameter.default
        if key == "head" and default is None:
            default = model_class.default_head
        params.append(parameter.replace(default=default))
    params += [inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=value)
               for key, value in defaults.items()]
    builder.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    builder.__name__ = builder.__qualname__ = registered
    builder.model_class = model_class  # type: ignore[attr-defined]
    builder.__doc__ = f"""{summary}

    A `{model_class.__name__}` with this configuration (every option of
    `{model_class.__name__}` and its encoder can be overridden). `weights` is None
    (random), a `.weights.h5` file, or a Hugging Face checkpoint directory (architecture,
    head, labels and weights from it, offline; see `{model_class.__name__}.from_huggingface`).

    Example:
    ```python
    small = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                 intermediate_size=64, conv_dim=(32,) * 7, num_conv_pos_embedding_groups=2)
    model = kerasaudio.create_model("{registered}", **small)           # encoder, random
    embed = kerasaudio.create_model("{registered}", pooling="avg", padding_mask=True,
                                    **small)
    classifier = kerasaudio.create_model("{registered}", include_top=True, classes=3,
                                         head="sequence_classification", **small)
    classifier(np.zeros((1, 16000), "float32")).shape                   # (1, 3)
    ```

    Reference:
        {reference}
    """
    return builder


def register_sizes(model_class: type[Wav2Vec2], configs: dict, *, paper: str,
                   sizes: dict[str, tuple[int, str]]) -> dict:
    """Register a builder (`family_builder`) for each size of a family (at import of the
    family's model module; `kerasaudio.models.hubert` and `.wavlm` use it).

    Args:
        model_class: `Wav2Vec2` or a subclass.
        configs: the family's `CONFIGS` (name -> overrides of its architecture).
        paper: the family's paper, for the registry and the docstrings.
        sizes: name -> (parameters of the default configuration, one-line summary).

    Returns:
        `{name: builder}`, each registered under its name.

    Example:
    ```python
    # kerasaudio.models.hubert.model registers its sizes with it:
    info = kerasaudio.models.get_model_info("hubert_large")
    info.parameters, info.builder.model_class.__name__  # 315437696, 'Hubert'
    ```
    """
    builders = {}
    for name, (parameters, summary) in sizes.items():
        width = {**model_class.architecture_defaults, **configs[name]}["hidden_size"]
        builders[name] = register_model(
            name, task="speech representation (hidden states, embeddings, classification)",
            input=f"raw 16 kHz audio (samples,); 49 frames/s of {width}-d hidden states out",
            paper=paper, parameters=parameters)(
                family_builder(model_class, name, configs[name], summary, paper))
    return builders


def _builder(registered: str, summary: str):
    return family_builder(Wav2Vec2, registered, CONFIGS[registered], summary,
                          "Baevski et al., \"wav2vec 2.0\", NeurIPS 2020.")


_PAPER = ("Baevski, Zhou, Mohamed, Auli, 'wav2vec 2.0: A Framework for Self-Supervised "
          "Learning of Speech Representations', NeurIPS 2020")
wav2vec2_base = register_model(
    "wav2vec2_base", task="speech representation (hidden states, embeddings)",
    input="raw 16 kHz audio (samples,); 49 frames/s of 768-d hidden states out",
    paper=_PAPER, parameters=94_370_944)(_builder(
        "wav2vec2_base", "wav2vec 2.0 base (facebook/wav2vec2-base): 12 post-norm layers "
        "of 768, group-norm feature encoder."))
wav2vec2_large = register_model(
    "wav2vec2_large", task="speech representation (hidden states, embeddings)",
    input="raw 16 kHz audio (samples,); 49 frames/s of 1024-d hidden states out",
    paper=_PAPER, parameters=315_427_968)(_builder(
        "wav2vec2_large", "wav2vec 2.0 large (facebook/wav2vec2-large): 24 post-norm "
        "layers of 1024, group-norm feature encoder."))
wav2vec2_large_lv60 = register_model(
    "wav2vec2_large_lv60", task="speech representation (hidden states, embeddings)",
    input="raw 16 kHz audio (samples,); 49 frames/s of 1024-d hidden states out",
    paper=_PAPER, parameters=315_437_696)(_builder(
        "wav2vec2_large_lv60", "wav2vec 2.0 large LV-60 (facebook/wav2vec2-large-lv60): "
        "24 pre-norm ('stable layer norm') layers of 1024, layer-norm feature encoder "
        "with conv biases."))

