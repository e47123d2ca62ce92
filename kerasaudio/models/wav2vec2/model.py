"""`Wav2Vec2`: the Keras model around the encoder, and its registered builders."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import keras

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
    load_huggingface_weights,
    read_huggingface_config,
    read_huggingface_normalize,
)
from kerasaudio.models.wav2vec2.encoder import Wav2Vec2Encoder

__all__ = ["Wav2Vec2", "wav2vec2_base", "wav2vec2_large", "wav2vec2_large_lv60"]


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
    - `include_top=True`: the utterance head of the fine-tuned S3 models: masked mean
      of the last hidden state, dropout, Dense(hidden_size, tanh), dropout,
      Dense(classes, classifier_activation).

    Its model-info record (`kerasaudio.info.model_info`) starts with the 16 kHz sample
    rate (and the input length, when fixed); `kerasaudio.models.with_info` adds more.

    Build it with `create_model("wav2vec2_base", ...)` (or `wav2vec2_large`,
    `wav2vec2_large_lv60`), or from a Hugging Face checkpoint directory with
    `Wav2Vec2.from_huggingface(path)` / `create_model("wav2vec2_base", weights=path)`.

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
        final_dropout: dropout rate of the head.
        name: model name.
        **architecture: `Wav2Vec2Encoder` options (`hidden_size`, `num_hidden_layers`,
            `feat_extract_norm`, `do_stable_layer_norm`, ...), default `wav2vec2_base`'s.

    Example:
    ```python
    model = kerasaudio.create_model("wav2vec2_base")            # random weights
    model = kerasaudio.models.wav2vec2.Wav2Vec2.from_huggingface("wav2vec2-base/")
    hidden = model(np.zeros((1, 16000), "float32"))            # (1, 49, 768)
    batch = kerasaudio.create_model("wav2vec2_base", padding_mask=True, pooling="avg")
    batch({"audio": audio, "padding_mask": mask})               # (batch, 768)
    ```

    Reference:
        Baevski, Zhou, Mohamed, Auli, "wav2vec 2.0: A Framework for Self-Supervised
        Learning of Speech Representations", NeurIPS 2020.
    """

    def __init__(self, *, include_top: bool = False, input_shape=None, classes: int = 2,
                 pooling: str | None = None, classifier_activation="softmax",
                 frontend=None, padding_mask: bool = False,
                 output_hidden_states: bool = False, final_dropout: float = 0.1,
                 name: str = "wav2vec2", **architecture):
        check_arguments(name, include_top=include_top, weights=None, classes=classes,
                        pooling=pooling, classifier_activation=classifier_activation)
        if frontend not in (None, "default"):
            raise InvalidOptionError(
                f"{name}: frontend={frontend!r}; wav2vec 2.0 takes raw 16 kHz audio: use "
                "None (audio as given) or 'default' (per-utterance normalisation, as the "
                "checkpoints' processors do).")
        unknown = sorted(set(architecture) - set(ARCHITECTURE))
        if unknown:
            raise InvalidOptionError(f"{name} has no option(s) {unknown}.")
        arch = {**ARCHITECTURE, **architecture}
        shape = _input_shape(name, input_shape, arch)
        encoder = Wav2Vec2Encoder(**arch, normalize_audio=frontend == "default",
                                  name="wav2vec2")
        audio = keras.Input(shape, name="audio")
        if padding_mask:
            mask_input = keras.Input(shape, name="padding_mask")
            inputs = {"audio": audio, "padding_mask": mask_input}
            states, frame_mask = encoder(audio, mask_input)
        else:
            inputs = audio
            states, frame_mask = encoder(audio)
        if not output_hidden_states or include_top:
            states = states[-1:]
        if include_top:
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
                         info=AudioInfo(sample_rate=SAMPLE_RATE, input_length=shape[0]))
        self.include_top = include_top
        self.input_shape_ = None if input_shape is None else list(shape)
        self.classes = classes
        self.pooling = pooling
        self.classifier_activation = classifier_activation
        self.frontend = frontend
        self.padding_mask = bool(padding_mask)
        self.output_hidden_states = bool(output_hidden_states)
        self.final_dropout = final_dropout
        self.architecture = {k: arch[k] for k in ARCHITECTURE}

    @property
    def encoder(self) -> Wav2Vec2Encoder:
        """The `Wav2Vec2Encoder` layer holding the network."""
        return self.get_layer("wav2vec2")

    @property
    def sample_rate(self) -> int:
        """16000: the rate every wav2vec 2.0 checkpoint was trained on."""
        return SAMPLE_RATE

    def get_config(self):
        config = {"include_top": self.include_top, "input_shape": self.input_shape_,
                  "classes": self.classes, "pooling": self.pooling,
                  "classifier_activation": self.classifier_activation,
                  "frontend": self.frontend, "padding_mask": self.padding_mask,
                  "output_hidden_states": self.output_hidden_states,
                  "final_dropout": self.final_dropout, "name": self.name}
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
    def from_huggingface(cls, path: str | os.PathLike, *, frontend="auto",
                         **kwargs) -> Wav2Vec2:
        """Build the model of a Hugging Face checkpoint directory and load its weights.

        Reads `config.json` (a `Wav2Vec2Config`) and `model.safetensors` (with the
        `safetensors` package, numpy only) or else `pytorch_model.bin` (with
        `torch.load(..., weights_only=True)`: tensors only, never arbitrary pickles).
        Checkpoints of `Wav2Vec2Model`, `Wav2Vec2ForCTC`, `Wav2Vec2ForPreTraining` or
        `Wav2Vec2ForSequenceClassification` all work: the encoder weights are taken
        (keys with or without the `wav2vec2.` prefix) and task heads, quantizer and
        `masked_spec_embed` are ignored. Works offline: nothing is downloaded.

        Args:
            path: the checkpoint directory (e.g. a `save_pretrained` output or a
                downloaded hub snapshot).
            frontend: `"auto"` (default): `"default"` (per-utterance normalisation
                inside the model) when the directory's `preprocessor_config.json` says
                `do_normalize`, else None; or None / `"default"` explicitly.
            **kwargs: `Wav2Vec2` options (`pooling`, `padding_mask`,
                `output_hidden_states`, `include_top`, `classes`, ...); architecture
                options must agree with `config.json`.

        Returns:
            A `Wav2Vec2` with the checkpoint's weights (a new head stays random).

        Example:
        ```python
        from kerasaudio.models.wav2vec2 import Wav2Vec2
        model = Wav2Vec2.from_huggingface("/models/wav2vec2-base", pooling="avg")
        ```
        """
        directory = Path(path)
        config = read_huggingface_config(directory)
        for key, value in list(kwargs.items()):
            if key in ARCHITECTURE:
                if _normalised(value) != _normalised(config[key]):
                    raise InvalidOptionError(
                        f"{key}={value!r} disagrees with the checkpoint's config.json "
                        f"({config[key]!r}).")
                del kwargs[key]
        if frontend == "auto":
            frontend = "default" if read_huggingface_normalize(directory) else None
        kwargs.setdefault("name", directory.name.replace("-", "_") or "wav2vec2")
        model = cls(**config, frontend=frontend, **kwargs)
        load_huggingface_weights(model, directory)
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


def _builder(registered: str, summary: str):
    sizes = CONFIGS[registered]
    defaults = {**ARCHITECTURE, **sizes}

    def builder(**kwargs):
        weights = kwargs.pop("weights", None)
        kwargs.setdefault("name", registered)
        if weights is not None and os.path.isdir(os.fspath(weights)):
            return Wav2Vec2.from_huggingface(weights, **kwargs)
        name = kwargs["name"]
        check_arguments(name, include_top=True, weights=weights, classes=2, pooling=None,
                        classifier_activation=None)
        model = Wav2Vec2(**{**sizes, **kwargs})
        if weights is not None:
            try:
                model.load_weights(os.fspath(weights))
            except ValueError as exc:
                raise InvalidOptionError(
                    f"{name}: the weights file {os.fspath(weights)!r} does not fit this "
                    f"model (check classes, include_top and the options): {exc}") from None
        return model

    params = [inspect.Parameter("weights", inspect.Parameter.KEYWORD_ONLY, default=None)]
    own = inspect.signature(Wav2Vec2.__init__).parameters
    for key, parameter in own.items():
        if key in ("self", "architecture"):
            continue
        default = registered if key == "name" else parameter.default
        params.append(parameter.replace(default=default))
    params += [inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=value)
               for key, value in defaults.items()]
    builder.__signature__ = inspect.Signature(params)
    builder.__name__ = builder.__qualname__ = registered
    builder.__doc__ = f"""{summary}

    A `Wav2Vec2` with this configuration (every option of `Wav2Vec2` and
    `Wav2Vec2Encoder` can be overridden). `weights` is None (random), a `.weights.h5`
    file, or a Hugging Face checkpoint directory (architecture and weights from it,
    offline; see `Wav2Vec2.from_huggingface`).

    Example:
    ```python
    model = kerasaudio.create_model("{registered}")                 # encoder, random
    model = kerasaudio.create_model("{registered}", weights="/models/hf-dir")
    embed = kerasaudio.create_model("{registered}", pooling="avg", padding_mask=True)
    ```

    Reference:
        Baevski et al., "wav2vec 2.0", NeurIPS 2020.
    """
    return builder


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

