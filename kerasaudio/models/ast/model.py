"""The Audio Spectrogram Transformer in Keras: encoder layer, `AST` model, `ast` builder."""

from __future__ import annotations

import inspect
import os

import keras
from keras import ops

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers.kaldi import AUDIOSET_MEAN, AUDIOSET_STD, KaldiFbank
from kerasaudio.models.ast.config import ARCHITECTURE, SAMPLE_RATE, patch_grid
from kerasaudio.models.common import check_arguments
from kerasaudio.models.registry import register_model

__all__ = ["AST", "ASTEncoder", "ast"]

_ACTIVATIONS = {"gelu": lambda x: keras.activations.gelu(x, approximate=False),
                "gelu_new": lambda x: keras.activations.gelu(x, approximate=True),
                "relu": keras.activations.relu}


class _ASTLayer(keras.layers.Layer):
    """One pre-norm ViT layer: x + attention(LN(x)), then x + MLP(LN(x))."""

    #: Name scopes kept float32 in int8 TFLite files
    #: (`kerasaudio.export.convert.int8_float_scopes`), in each transformer layer: the
    #: attention probabilities and their product with the values. int8's softmax output
    #: has steps of 1/256, while over AST's 1,214 tokens most probabilities are far
    #: smaller: in int8 they round to 0 (docs/design.md).
    int8_float_scopes = ("attention_probs",)

    def __init__(self, *, hidden_size: int, num_heads: int, intermediate_size: int,
                 activation: str, epsilon: float, qkv_bias: bool, dropout: float,
                 attention_dropout: float, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self._act = _ACTIVATIONS[activation]
        dense = keras.layers.Dense
        self.query = dense(hidden_size, use_bias=qkv_bias, name="query")
        self.key = dense(hidden_size, use_bias=qkv_bias, name="key")
        self.value = dense(hidden_size, use_bias=qkv_bias, name="value")
        self.attention_output = dense(hidden_size, name="attention_output")
        self.layernorm_before = keras.layers.LayerNormalization(epsilon=epsilon,
                                                                name="layernorm_before")
        self.layernorm_after = keras.layers.LayerNormalization(epsilon=epsilon,
                                                               name="layernorm_after")
        self.intermediate = dense(intermediate_size, name="intermediate")
        self.output_dense = dense(hidden_size, name="output_dense")
        self.dropout = keras.layers.Dropout(dropout)
        self.attention_dropout = keras.layers.Dropout(attention_dropout)

    def build(self, input_shape):
        for layer in (self.query, self.key, self.value, self.attention_output,
                      self.intermediate):
            layer.build(input_shape)
        self.layernorm_before.build(input_shape)
        self.layernorm_after.build(input_shape)
        self.output_dense.build((*input_shape[:-1], self.intermediate.units))

    def _heads(self, x):
        shape = ops.shape(x)
        x = ops.reshape(x, (shape[0], shape[1], self.num_heads, self.head_dim))
        return ops.transpose(x, (0, 2, 1, 3))

    def call(self, x, training=None):
        h = self.layernorm_before(x)
        q = self._heads(self.query(h))
        k = self._heads(self.key(h))
        v = self._heads(self.value(h))
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) * (self.head_dim ** -0.5)
        with keras.name_scope("attention_probs"):  # see `int8_float_scopes`
            weights = self.attention_dropout(ops.softmax(scores, axis=-1), training=training)
            y = ops.matmul(weights, v)
        y = ops.transpose(y, (0, 2, 1, 3))
        shape = ops.shape(x)
        y = self.attention_output(ops.reshape(y, (shape[0], shape[1], shape[2])))
        x = x + self.dropout(y, training=training)
        h = self.output_dense(self._act(self.intermediate(self.layernorm_after(x))))
        return x + self.dropout(h, training=training)


@keras.saving.register_keras_serializable(package="kerasaudio")
class ASTEncoder(keras.layers.Layer):
    """The network of transformers' `ASTModel`: normalised filter bank in, hidden states out.

    `(batch, max_length, num_mel_bins)` features become 16 x 16 patches (a strided
    convolution over frequency x time, flattened frequency-major), prefixed with the
    class and distillation tokens, plus learned position embeddings, then
    `num_hidden_layers` pre-norm transformer layers.

    Args:
        **architecture: the keys of `ARCHITECTURE` (transformers' `ASTConfig` names).

    Returns (when called):
        `(hidden_states, last_hidden_state)`: the list of `num_hidden_layers + 1` states
        `(batch, patches + 2, hidden_size)` (embeddings, then each layer's output, as
        transformers' `output_hidden_states`) and the final layer-normalised state.

    Example:
    ```python
    from kerasaudio.models.ast import ASTEncoder
    encoder = ASTEncoder(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=48, max_length=100)
    states, last = encoder(np.zeros((1, 100, 128), "float32"))
    ```

    Reference:
        Gong, Chung, Glass, "AST: Audio Spectrogram Transformer", Interspeech 2021.
    """

    def __init__(self, **architecture):
        own = {k: architecture.pop(k) for k in list(architecture) if k in ARCHITECTURE}
        super().__init__(**architecture)
        c = self.config_ = {**ARCHITECTURE, **own}
        if c["hidden_act"] not in _ACTIVATIONS:
            raise InvalidOptionError(f"hidden_act={c['hidden_act']!r}: use one of "
                                     f"{sorted(_ACTIVATIONS)}.")
        if c["hidden_size"] % c["num_attention_heads"]:
            raise InvalidOptionError(
                f"hidden_size={c['hidden_size']} is not a multiple of num_attention_heads="
                f"{c['num_attention_heads']}.")
        self.grid = patch_grid(**{k: c[k] for k in ("patch_size", "frequency_stride",
                                                     "time_stride", "max_length",
                                                     "num_mel_bins")})
        if min(self.grid) < 1:
            raise InvalidOptionError(
                f"input too short: max_length={c['max_length']} frames x num_mel_bins="
                f"{c['num_mel_bins']} holds no {c['patch_size']} x {c['patch_size']} patch.")
        self.patch_embeddings = keras.layers.Conv2D(
            c["hidden_size"], c["patch_size"],
            strides=(c["frequency_stride"], c["time_stride"]), name="patch_embeddings")
        self.embedding_dropout = keras.layers.Dropout(c["hidden_dropout_prob"])
        self.transformer_layers = [
            _ASTLayer(hidden_size=c["hidden_size"], num_heads=c["num_attention_heads"],
                      intermediate_size=c["intermediate_size"], activation=c["hidden_act"],
                      epsilon=c["layer_norm_eps"], qkv_bias=c["qkv_bias"],
                      dropout=c["hidden_dropout_prob"],
                      attention_dropout=c["attention_probs_dropout_prob"], name=f"layer_{i}")
            for i in range(c["num_hidden_layers"])]
        self.layernorm = keras.layers.LayerNormalization(epsilon=c["layer_norm_eps"],
                                                         name="layernorm")

    def build(self, input_shape):
        c = self.config_
        hidden = c["hidden_size"]
        self.cls_token = self.add_weight(shape=(1, 1, hidden), initializer="zeros",
                                         name="cls_token")
        self.distillation_token = self.add_weight(shape=(1, 1, hidden),
                                                  initializer="zeros",
                                                  name="distillation_token")
        tokens = self.grid[0] * self.grid[1] + 2
        self.position_embeddings = self.add_weight(
            shape=(1, tokens, hidden), initializer=keras.initializers.TruncatedNormal(
                stddev=0.02), name="position_embeddings")
        self.patch_embeddings.build((None, c["num_mel_bins"], c["max_length"], 1))
        for layer in self.transformer_layers:
            layer.build((None, tokens, hidden))
        self.layernorm.build((None, tokens, hidden))
        self.built = True

    def call(self, features, training=None):
        c = self.config_
        # (batch, time, freq) -> (batch, freq, time, 1): the reference's conv layout.
        x = ops.expand_dims(ops.transpose(ops.cast(features, "float32"), (0, 2, 1)), -1)
        x = self.patch_embeddings(x)
        batch = ops.shape(x)[0]
        x = ops.reshape(x, (batch, self.grid[0] * self.grid[1], c["hidden_size"]))
        tokens = ops.concatenate([self.cls_token, self.distillation_token], axis=1)
        tokens = ops.broadcast_to(tokens, (batch, 2, c["hidden_size"]))
        x = ops.concatenate([tokens, x], axis=1) + self.position_embeddings
        x = self.embedding_dropout(x, training=training)
        states = [x]
        for layer in self.transformer_layers:
            x = layer(x, training=training)
            states.append(x)
        return states, self.layernorm(x)

    def compute_output_spec(self, features, training=None):
        shape = (features.shape[0], self.grid[0] * self.grid[1] + 2,
                 self.config_["hidden_size"])
        state = keras.KerasTensor(shape, dtype="float32")
        return ([keras.KerasTensor(shape, dtype="float32")
                 for _ in range(self.config_["num_hidden_layers"] + 1)], state)

    def get_config(self):
        return {**super().get_config(), **self.config_}


class _TokenMean(keras.layers.Layer):
    """The AST pooler: the mean of the class and distillation tokens."""

    def call(self, x):
        return (x[:, 0] + x[:, 1]) / 2.0

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


keras.saving.register_keras_serializable(package="kerasaudio", name="ASTTokenMean")(
    _TokenMean)


@keras.saving.register_keras_serializable(package="kerasaudio")
class AST(keras.Model):
    """Audio Spectrogram Transformer: 16 kHz audio (or AST features) to classes or states.

    A functional model: `KaldiFbank` front end (`frontend="default"`, the default; AST's
    `ASTFeatureExtractor` inside the model, padded/cut to `max_length` frames) or none
    (`frontend=None`: normalised `(max_length, num_mel_bins)` features in), then
    `ASTEncoder` (the network of transformers' `ASTModel`). Outputs, by option:

    - `include_top=True` (default): the AST head: mean of the class and distillation
      tokens of the final normalised state, LayerNorm, Dense(classes,
      classifier_activation) (transformers' `ASTForAudioClassification`).
    - `include_top=False`: the final normalised state `(batch, patches + 2,
      hidden_size)`; `pooling="avg"`: the mean of the two tokens (transformers'
      `pooler_output`, the clip embedding); `pooling="max"`: the maximum over all tokens.
    - `output_hidden_states=True` (with `include_top=False`): the list of
      `num_hidden_layers + 1` states before the final norm (transformers'
      `hidden_states`), pooled by `pooling` when given.

    Args:
        include_top: add the classification head.
        weights: None or a `.weights.h5` file (a transformers checkpoint loads with
            `kerasaudio.models.ast.from_huggingface`, or `create_model("hf://ORG/NAME")`
            / `create_model("ast", weights=<directory>)`).
        input_shape: `(samples,)` with the front end (default `(None,)`: any length of at
            least 400 samples), or `(max_length, num_mel_bins)` without.
        classes: outputs of the head (527 for AudioSet).
        pooling: None, `"avg"` or `"max"` (with `include_top=False`).
        classifier_activation: activation of the head's output layer (None: logits).
        frontend: `"default"` (the Kaldi filter bank and AST normalisation) or None.
        output_hidden_states: output every layer's state (see above).
        class_names: optional label names of the head's outputs (a converted
            checkpoint's `id2label`), kept in the model's config.
        mean, std, do_normalize: the front end's normalisation,
            `(fbank - mean) / (2 * std)` (`ASTFeatureExtractor`'s options; AudioSet's
            statistics by default; a checkpoint's `preprocessor_config.json` may differ).
        name: model name.
        **architecture: `ARCHITECTURE` options (`hidden_size`, `num_hidden_layers`, ...).

    Example:
    ```python
    from kerasaudio.models.ast import AST
    model = AST(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=48, max_length=100, classes=3)   # a tiny random AST
    model(np.zeros((1, 16000), "float32")).shape                   # (1, 3)
    embedder = AST(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                   intermediate_size=48, max_length=100, include_top=False,
                   pooling="avg")
    embedder(np.zeros((1, 16000), "float32")).shape                # (1, 32)
    ```

    Reference:
        Gong, Chung, Glass, "AST: Audio Spectrogram Transformer", Interspeech 2021.
    """

    def __init__(self, *, include_top: bool = True, input_shape=None, classes: int = 527,
                 pooling: str | None = None, classifier_activation="softmax",
                 frontend="default", output_hidden_states: bool = False,
                 class_names: list[str] | None = None, mean: float = AUDIOSET_MEAN,
                 std: float = AUDIOSET_STD, do_normalize: bool = True, name: str = "ast",
                 **architecture):
        check_arguments(name, include_top=include_top, weights=None, classes=classes,
                        pooling=pooling, classifier_activation=classifier_activation)
        if frontend not in (None, "default"):
            raise InvalidOptionError(
                f"{name}: frontend={frontend!r}; AST takes its Kaldi filter bank: use "
                "'default' (16 kHz audio in) or None (normalised filter-bank features in).")
        unknown = sorted(set(architecture) - set(ARCHITECTURE))
        if unknown:
            raise InvalidOptionError(f"{name} has no option(s) {unknown}.")
        arch = {**ARCHITECTURE, **architecture}
        if class_names is not None:
            class_names = [str(c) for c in class_names]
            if include_top and len(class_names) != classes:
                raise InvalidOptionError(f"{name}: {len(class_names)} class_names for "
                                         f"{classes} classes.")
        encoder = ASTEncoder(**arch, name="audio_spectrogram_transformer")
        shape = _input_shape(name, input_shape, arch, frontend)
        inputs = keras.Input(shape, name="audio" if frontend else "features")
        x = inputs
        if frontend == "default":
            x = KaldiFbank(sample_rate=SAMPLE_RATE, num_mel_bins=arch["num_mel_bins"],
                           max_length=arch["max_length"], normalize=do_normalize,
                           mean=mean, std=std, name="fbank")(x)
        states, last = encoder(x)
        if include_top:
            x = _TokenMean(name="token_mean")(last)
            x = keras.layers.LayerNormalization(epsilon=arch["layer_norm_eps"],
                                                name="head_layernorm")(x)
            outputs = keras.layers.Dense(classes, activation=classifier_activation,
                                         name="predictions")(x)
        else:
            outs = states if output_hidden_states else [last]
            if pooling == "avg":
                pool = _TokenMean(name="token_mean")
                outs = [pool(s) for s in outs]
            elif pooling == "max":
                pool = keras.layers.GlobalMaxPooling1D(name="max_pool")
                outs = [pool(s) for s in outs]
            outputs = outs if output_hidden_states else outs[0]
        super().__init__(inputs=inputs, outputs=outputs, name=name)
        self.include_top = include_top
        self.input_shape_ = None if input_shape is None else list(shape)
        self.classes = classes
        self.pooling = pooling
        self.classifier_activation = classifier_activation
        self.frontend = frontend
        self.output_hidden_states = bool(output_hidden_states)
        self.class_names = class_names
        self.normalization = {"mean": float(mean), "std": float(std),
                              "do_normalize": bool(do_normalize)}
        self.architecture = dict(arch)

    @property
    def encoder(self) -> ASTEncoder:
        """The `ASTEncoder` layer holding the network."""
        return self.get_layer("audio_spectrogram_transformer")

    @property
    def sample_rate(self) -> int:
        """16000: the rate of AST's filter bank."""
        return SAMPLE_RATE

    def get_config(self):
        return {"include_top": self.include_top, "input_shape": self.input_shape_,
                "classes": self.classes, "pooling": self.pooling,
                "classifier_activation": self.classifier_activation,
                "frontend": self.frontend, "output_hidden_states": self.output_hidden_states,
                "class_names": self.class_names, **self.normalization, "name": self.name,
                **self.architecture}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _input_shape(name: str, input_shape, arch: dict, frontend) -> tuple:
    if frontend == "default":
        shape = (None,) if input_shape is None else tuple(input_shape)
        if len(shape) != 1:
            raise InvalidOptionError(f"{name}: input_shape={shape} must be (samples,) with "
                                     "the front end (16 kHz audio).")
        if shape[0] is not None:
            KaldiFbank(num_mel_bins=arch["num_mel_bins"]).check_samples(shape[0], name=name)
        return shape
    expected = (arch["max_length"], arch["num_mel_bins"])
    shape = expected if input_shape is None else tuple(input_shape)
    if len(shape) == 2 and shape[0] is not None and shape[0] < arch["patch_size"]:
        raise InvalidOptionError(f"{name}: input too short: {shape[0]} frames; a patch "
                                 f"needs {arch['patch_size']}.")
    if shape != expected:
        raise InvalidOptionError(
            f"{name}: input_shape={shape}; without the front end AST takes "
            f"(max_length, num_mel_bins) = {expected} features (position embeddings fix it).")
    return shape


def ast(*, include_top: bool = True, weights=None, input_shape=None, classes: int = 527,
        pooling: str | None = None, classifier_activation="softmax", frontend="default",
        output_hidden_states: bool = False, class_names: list[str] | None = None,
        mean: float = AUDIOSET_MEAN, std: float = AUDIOSET_STD, do_normalize: bool = True,
        name: str = "ast", **architecture) -> AST:
    """Audio Spectrogram Transformer (transformers' `ASTForAudioClassification`).

    Args:
        include_top, input_shape, classes, pooling, classifier_activation: as `AST`.
        frontend, output_hidden_states, class_names, mean, std, do_normalize, name: as `AST`.
        weights: None (random) or a `.weights.h5` file. A transformers checkpoint
            (a directory or `"hf://ORG/NAME"`) is `kerasaudio.create_model`'s to load
            (`create_model("ast", weights=...)`), with its architecture and labels.
        **architecture: `hidden_size`, `num_hidden_layers`, `num_attention_heads`,
            `intermediate_size`, `patch_size`, `frequency_stride`, `time_stride`,
            `max_length`, `num_mel_bins`, ... (default: the AudioSet AST base).

    Returns:
        An `AST` model.

    Raises:
        InvalidOptionError: an invalid option, a weights file that does not fit, or a
            checkpoint directory given to the builder itself.

    Example:
    ```python
    model = kerasaudio.create_model("ast", classes=10, hidden_size=32, num_hidden_layers=1,
                                    num_attention_heads=2, intermediate_size=48,
                                    max_length=100)    # a tiny random AST
    model.output_shape                                 # (None, 10)
    ```

    Reference:
        Gong, Chung, Glass, "AST: Audio Spectrogram Transformer", Interspeech 2021.
    """
    if weights is not None and (os.path.isdir(os.fspath(weights))
                                or str(weights).startswith("hf://")):
        raise InvalidOptionError(
            f"{name}: weights={os.fspath(weights)!r} is a transformers checkpoint; load it "
            "with kerasaudio.create_model('ast', weights=...) or "
            "kerasaudio.models.ast.from_huggingface(...).")
    check_arguments(name, include_top=True, weights=weights, classes=2, pooling=None,
                    classifier_activation=None)
    model = AST(include_top=include_top, input_shape=input_shape, classes=classes,
                pooling=pooling, classifier_activation=classifier_activation,
                frontend=frontend, output_hidden_states=output_hidden_states,
                class_names=class_names, mean=mean, std=std, do_normalize=do_normalize,
                name=name, **architecture)
    if weights is not None:
        try:
            model.load_weights(os.fspath(weights))
        except ValueError as exc:
            raise InvalidOptionError(
                f"{name}: the weights file {os.fspath(weights)!r} does not fit this model "
                f"(check classes, include_top and the options): {exc}") from None
    return model


_sig = inspect.signature(ast)
ast.__signature__ = _sig.replace(parameters=[  # type: ignore[attr-defined]
    *[p for p in _sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD],
    *[inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v)
      for k, v in ARCHITECTURE.items()]])

ast = register_model(
    "ast", task="audio tagging (AudioSet, ESC-50, Speech Commands checkpoints)",
    input="raw 16 kHz audio (samples,), Kaldi filter bank to 1024 x 128 inside; 527 classes",
    paper="Gong, Chung, Glass, 'AST: Audio Spectrogram Transformer', Interspeech 2021",
    parameters=86_594_063)(ast)
