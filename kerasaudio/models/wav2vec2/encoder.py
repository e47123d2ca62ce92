"""The wav2vec 2.0 network as one Keras layer, `Wav2Vec2Encoder`, and its sub-layers.

The layers of transformers' `Wav2Vec2Model` written with `keras.ops` (TensorFlow and JAX):
the convolutional feature encoder, feature projection, convolutional positional
embedding and transformer encoder. Padding masks reach every statistic, so an
utterance's hidden states do not depend on what it was batched with.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from kerasaudio.models.wav2vec2.config import (
    ARCHITECTURE,
    activation_function,
    check_architecture,
    frame_lengths,
    receptive_field,
)

__all__ = ["Wav2Vec2Encoder"]

#: Attention bias of padded frames (exp() of it is 0 in float32).
_NEG_INF = -1e9


# ----------------------------------------------------------------------------- sub-layers


class _ChannelGroupNorm(keras.layers.Layer):
    """GroupNorm with one group per channel over `(batch, time, channels)`, maskable."""

    def __init__(self, *, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = input_shape[-1]
        self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")

    def call(self, x, valid=None):
        if valid is None:
            mean = ops.mean(x, axis=1, keepdims=True)
            var = ops.mean(ops.square(x - mean), axis=1, keepdims=True)
        else:
            valid = ops.expand_dims(ops.cast(valid, x.dtype), -1)
            count = ops.maximum(ops.sum(valid, axis=1, keepdims=True), 1.0)
            mean = ops.sum(x * valid, axis=1, keepdims=True) / count
            var = ops.sum(ops.square(x - mean) * valid, axis=1, keepdims=True) / count
        return (x - mean) * ops.rsqrt(var + self.epsilon) * self.gamma + self.beta


class _PositionalConv(keras.layers.Layer):
    """Grouped, weight-normalised convolution over time ("same" length), then GELU.

    The kernel is `g * v / ||v||` with one norm per kernel tap (PyTorch's
    `weight_norm(conv, dim=2)`); `g` and `v` are the trained variables.
    """

    def __init__(self, *, kernel_size: int, groups: int, activation: str = "gelu",
                 **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = kernel_size
        self.groups = groups
        self.activation = activation
        self._act = activation_function(activation, "feat_extract_activation")

    def build(self, input_shape):
        channels = input_shape[-1]
        k = self.kernel_size
        self.weight_v = self.add_weight(shape=(k, channels // self.groups, channels),
                                        initializer="glorot_uniform", name="weight_v")
        self.weight_g = self.add_weight(shape=(k,), initializer="ones", name="weight_g")
        self.bias = self.add_weight(shape=(channels,), initializer="zeros", name="bias")

    def call(self, x):
        v = self.weight_v
        norm = ops.sqrt(ops.sum(ops.square(v), axis=(1, 2), keepdims=True))
        kernel = v * (ops.reshape(self.weight_g, (-1, 1, 1)) / norm)
        pad = self.kernel_size // 2
        y = ops.conv(ops.pad(x, ((0, 0), (pad, pad), (0, 0))), kernel, padding="valid")
        if self.kernel_size % 2 == 0:  # transformers' Wav2Vec2SamePadLayer
            y = y[:, :-1]
        return self._act(y + self.bias)


class _TransformerLayer(keras.layers.Layer):
    """One encoder layer: self-attention and feed-forward, post-norm or pre-norm."""

    def __init__(self, *, hidden_size: int, num_heads: int, intermediate_size: int,
                 pre_norm: bool, epsilon: float, activation: str, attention_dropout: float,
                 hidden_dropout: float, activation_dropout: float, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.pre_norm = pre_norm
        self._act = activation_function(activation, "hidden_act")
        dense = keras.layers.Dense
        self.q_proj = dense(hidden_size, name="q_proj")
        self.k_proj = dense(hidden_size, name="k_proj")
        self.v_proj = dense(hidden_size, name="v_proj")
        self.out_proj = dense(hidden_size, name="out_proj")
        self.layer_norm = keras.layers.LayerNormalization(epsilon=epsilon, name="layer_norm")
        self.intermediate_dense = dense(intermediate_size, name="intermediate_dense")
        self.output_dense = dense(hidden_size, name="output_dense")
        self.final_layer_norm = keras.layers.LayerNormalization(epsilon=epsilon,
                                                                name="final_layer_norm")
        self.attention_dropout = keras.layers.Dropout(attention_dropout)
        self.hidden_dropout = keras.layers.Dropout(hidden_dropout)
        self.activation_dropout = keras.layers.Dropout(activation_dropout)

    def build(self, input_shape):
        for layer in (self.q_proj, self.k_proj, self.v_proj, self.out_proj):
            layer.build(input_shape)
        self.layer_norm.build(input_shape)
        self.final_layer_norm.build(input_shape)
        self.intermediate_dense.build(input_shape)
        self.output_dense.build((*input_shape[:-1], self.intermediate_dense.units))

    def _heads(self, x):
        shape = ops.shape(x)
        x = ops.reshape(x, (shape[0], shape[1], self.num_heads, self.head_dim))
        return ops.transpose(x, (0, 2, 1, 3))

    def _attention(self, x, bias, training, **attention):
        """Self-attention; `bias` (added to the scores) masks padded keys.

        Subclasses add more terms to the scores through `_score_bias(x, **attention)`.
        """
        extra = self._score_bias(x, **attention)
        if extra is not None:
            bias = extra if bias is None else bias + extra
        q = self._heads(self.q_proj(x) * (self.head_dim ** -0.5))
        k = self._heads(self.k_proj(x))
        v = self._heads(self.v_proj(x))
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2)))
        if bias is not None:
            scores = scores + bias
        weights = self.attention_dropout(ops.softmax(scores, axis=-1), training=training)
        y = ops.transpose(ops.matmul(weights, v), (0, 2, 1, 3))
        shape = ops.shape(x)
        return self.out_proj(ops.reshape(y, (shape[0], shape[1], shape[2])))

    def _score_bias(self, x, **attention):
        """More attention-score terms computed from the attention input `x` (None here)."""
        return None

    def _feed_forward(self, x, training):
        x = self.activation_dropout(self._act(self.intermediate_dense(x)), training=training)
        return self.hidden_dropout(self.output_dense(x), training=training)

    def call(self, x, bias=None, training=None, **attention):
        if self.pre_norm:
            y = self._attention(self.layer_norm(x), bias, training, **attention)
            x = x + self.hidden_dropout(y, training=training)
            return x + self._feed_forward(self.final_layer_norm(x), training)
        y = self._attention(x, bias, training, **attention)
        x = self.layer_norm(x + self.hidden_dropout(y, training=training))
        return self.final_layer_norm(x + self._feed_forward(x, training))


# ----------------------------------------------------------------------------- the network


@keras.saving.register_keras_serializable(package="kerasaudio")
class Wav2Vec2Encoder(keras.layers.Layer):
    """The whole wav2vec 2.0 network as one layer: audio in, every hidden state out.

    `call(audio, padding_mask=None)` takes `(batch, samples)` 16 kHz audio (and
    optionally its padding mask, 1 for audio and 0 for padding) and returns
    `(hidden_states, frame_mask)`: a list of `num_hidden_layers + 1` tensors
    `(batch, frames, hidden_size)` (the transformer input, then the output of each
    layer; the last one is the final output, after the closing layer norm of pre-norm
    models: `last_hidden_state` in transformers; with `final_norm=False` the last
    layer's output before that norm, transformers 5's last `hidden_states` entry) and
    the `(batch, frames)` boolean mask of frames computed from audio alone. `Wav2Vec2`
    wraps it in a model.

    Args:
        conv_dim, conv_kernel, conv_stride, conv_bias: the feature encoder's
            convolutions (channels, kernel sizes, strides, biases).
        feat_extract_norm: `"group"` (group norm after the first convolution only:
            base, large) or `"layer"` (layer norm after each: large-lv60).
        feat_extract_activation: activation of the feature encoder and positional conv.
        hidden_size, num_hidden_layers, num_attention_heads, intermediate_size: the
            transformer's sizes.
        hidden_act: feed-forward activation (`"gelu"` is the exact, erf GELU).
        num_conv_pos_embeddings, num_conv_pos_embedding_groups: kernel size and
            groups of the positional convolution.
        do_stable_layer_norm: pre-norm ("stable layer norm") transformer layers, a
            layer norm after the last one; False: post-norm, a layer norm before the
            first.
        layer_norm_eps: epsilon of the projection and transformer layer norms.
        hidden_dropout, attention_dropout, activation_dropout, feat_proj_dropout:
            dropout rates (training only).
        feat_proj_layer_norm: a layer norm on the feature encoder's output before the
            projection (every wav2vec 2.0 and WavLM checkpoint; HuBERT's config may
            omit it).
        normalize_audio: standardise each utterance (zero mean, unit variance over its
            unpadded samples, epsilon 1e-7), as `Wav2Vec2FeatureExtractor` does with
            `do_normalize=True`, inside the layer.

    Example:
    ```python
    from kerasaudio.models.wav2vec2 import Wav2Vec2Encoder
    encoder = Wav2Vec2Encoder(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                              intermediate_size=64, conv_dim=(32,) * 7,
                              num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    states, frame_mask = encoder(np.zeros((2, 16000), "float32"))
    len(states), states[-1].shape  # 3, (2, 49, 32)
    ```

    Reference:
        Baevski, Zhou, Mohamed, Auli, "wav2vec 2.0: A Framework for Self-Supervised
        Learning of Speech Representations", NeurIPS 2020; Wolf et al., transformers
        (`Wav2Vec2Model`), EMNLP 2020 demos.
    """

    #: Name scopes of `call` whose ops int8 TFLite files keep float32
    #: (`kerasaudio.export.convert.int8_float_scopes`): the feature encoder, from the
    #: audio to the projection's layer norm. Its first convolution reads the raw
    #: waveform, whose level int8 resolves coarsely on quiet clips; the group norm after it
    #: and the projection's layer norm then scale that error up (docs/design.md).
    int8_float_scopes = ("feature_encoder",)

    def __init__(self, *, conv_dim: Sequence[int] = ARCHITECTURE["conv_dim"],
                 conv_kernel: Sequence[int] = ARCHITECTURE["conv_kernel"],
                 conv_stride: Sequence[int] = ARCHITECTURE["conv_stride"],
                 conv_bias: bool = False, feat_extract_norm: str = "group",
                 feat_extract_activation: str = "gelu", hidden_size: int = 768,
                 num_hidden_layers: int = 12, num_attention_heads: int = 12,
                 intermediate_size: int = 3072, hidden_act: str = "gelu",
                 num_conv_pos_embeddings: int = 128, num_conv_pos_embedding_groups: int = 16,
                 do_stable_layer_norm: bool = False, layer_norm_eps: float = 1e-5,
                 hidden_dropout: float = 0.1, attention_dropout: float = 0.1,
                 activation_dropout: float = 0.0, feat_proj_dropout: float = 0.1,
                 feat_proj_layer_norm: bool = True, normalize_audio: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        self.config_ = check_architecture(dict(
            conv_dim=conv_dim, conv_kernel=conv_kernel, conv_stride=conv_stride,
            conv_bias=conv_bias, feat_extract_norm=feat_extract_norm,
            feat_extract_activation=feat_extract_activation, hidden_size=hidden_size,
            num_hidden_layers=num_hidden_layers, num_attention_heads=num_attention_heads,
            intermediate_size=intermediate_size, hidden_act=hidden_act,
            num_conv_pos_embeddings=num_conv_pos_embeddings,
            num_conv_pos_embedding_groups=num_conv_pos_embedding_groups,
            do_stable_layer_norm=do_stable_layer_norm, layer_norm_eps=layer_norm_eps,
            hidden_dropout=hidden_dropout, attention_dropout=attention_dropout,
            activation_dropout=activation_dropout, feat_proj_dropout=feat_proj_dropout))
        self.normalize_audio = bool(normalize_audio)
        self.feat_proj_layer_norm = bool(feat_proj_layer_norm)
        c = self.config_
        self._feat_act = activation_function(c["feat_extract_activation"],
                                             "feat_extract_activation")
        self.conv_layers = [
            keras.layers.Conv1D(dim, kernel, strides=stride, use_bias=c["conv_bias"],
                                name=f"conv_{i}")
            for i, (dim, kernel, stride) in enumerate(zip(
                c["conv_dim"], c["conv_kernel"], c["conv_stride"], strict=True))]
        if c["feat_extract_norm"] == "group":
            self.conv_norms = [_ChannelGroupNorm(epsilon=1e-5, name="conv_norm_0")]
        else:
            self.conv_norms = [keras.layers.LayerNormalization(epsilon=1e-5,
                                                               name=f"conv_norm_{i}")
                               for i in range(len(c["conv_dim"]))]
        eps = c["layer_norm_eps"]
        self.projection_norm = (keras.layers.LayerNormalization(epsilon=eps,
                                                                name="projection_norm")
                                if self.feat_proj_layer_norm else None)
        self.projection = keras.layers.Dense(c["hidden_size"], name="projection")
        self.projection_dropout = keras.layers.Dropout(c["feat_proj_dropout"])
        self.pos_conv = _PositionalConv(kernel_size=c["num_conv_pos_embeddings"],
                                        groups=c["num_conv_pos_embedding_groups"],
                                        activation=c["feat_extract_activation"],
                                        name="pos_conv")
        self.encoder_norm = keras.layers.LayerNormalization(epsilon=eps, name="encoder_norm")
        self.encoder_dropout = keras.layers.Dropout(c["hidden_dropout"])
        self.transformer_layers = [self._transformer_layer(i)
                                   for i in range(c["num_hidden_layers"])]

    def _layer_options(self, i: int) -> dict:
        """The options of transformer layer `i` (`_TransformerLayer` arguments)."""
        c = self.config_
        return dict(hidden_size=c["hidden_size"], num_heads=c["num_attention_heads"],
                    intermediate_size=c["intermediate_size"],
                    pre_norm=c["do_stable_layer_norm"], epsilon=c["layer_norm_eps"],
                    activation=c["hidden_act"], attention_dropout=c["attention_dropout"],
                    hidden_dropout=c["hidden_dropout"],
                    activation_dropout=c["activation_dropout"], name=f"layer_{i}")

    def _transformer_layer(self, i: int) -> keras.layers.Layer:
        """Transformer layer `i` (subclasses with other attention override this)."""
        return _TransformerLayer(**self._layer_options(i))

    def _attention_inputs(self, x) -> dict:
        """More inputs every layer's attention takes, computed once from the transformer
        input `x` (none here)."""
        return {}

    def _transformer(self, x, bias, training):
        """The transformer layers' outputs on `x` (`bias` masks padded keys)."""
        extra = self._attention_inputs(x)
        states = []
        for layer in self.transformer_layers:
            x = layer(x, bias, training=training, **extra)
            states.append(x)
        return states

    def build(self, audio_shape, padding_mask_shape=None):
        c = self.config_
        shape = (None, None, 1)
        for i, conv in enumerate(self.conv_layers):
            conv.build(shape)
            shape = (None, None, c["conv_dim"][i])
            if i < len(self.conv_norms):
                self.conv_norms[i].build(shape)
        if self.projection_norm is not None:
            self.projection_norm.build(shape)
        self.projection.build(shape)
        hidden = (None, None, c["hidden_size"])
        self.pos_conv.build(hidden)
        self.encoder_norm.build(hidden)
        for layer in self.transformer_layers:
            layer.build(hidden)
        self.built = True

    @property
    def minimum_samples(self) -> int:
        """Shortest audio that gives one frame (400 samples for the default encoder)."""
        return receptive_field(self.config_["conv_kernel"], self.config_["conv_stride"])

    def frame_lengths(self, lengths):
        """Frames made from `lengths` samples (see `frame_lengths`)."""
        return frame_lengths(lengths, self.config_["conv_kernel"], self.config_["conv_stride"])

    def call(self, audio, padding_mask=None, training=None, final_norm=True):
        c = self.config_
        x = ops.cast(audio, self.compute_dtype)
        if len(x.shape) == 3:
            x = x[..., 0]
        valid = None if padding_mask is None else ops.cast(padding_mask, x.dtype)
        lengths = None if valid is None else ops.cast(ops.sum(valid, axis=1), "int32")
        with keras.name_scope("feature_encoder"):  # see `int8_float_scopes`
            x = self._feature_encoder(x, valid, lengths)
        x = self.projection_dropout(self.projection(x), training=training)
        steps = ops.shape(x)[1]
        if lengths is None:
            frame_mask = ops.ones((ops.shape(x)[0], steps), "bool")
            bias = None
        else:
            frame_mask = _sequence_mask(self.frame_lengths(lengths), steps)
            x = x * ops.expand_dims(ops.cast(frame_mask, x.dtype), -1)
            bias = (1.0 - ops.cast(frame_mask, x.dtype)[:, None, None, :]) * _NEG_INF
        x = x + self.pos_conv(x)
        if not c["do_stable_layer_norm"]:
            x = self.encoder_norm(x)
        x = self.encoder_dropout(x, training=training)
        states = [x, *self._transformer(x, bias, training)]
        if c["do_stable_layer_norm"] and final_norm:
            states[-1] = self.encoder_norm(states[-1])
        return states, frame_mask

    def _feature_encoder(self, x, valid, lengths):
        """Audio `(batch, samples)` to the projection's input `(batch, frames, conv_dim[-1])`:
        the optional standardisation, the convolutions with their norms and activations,
        and the projection's layer norm."""
        c = self.config_
        if valid is not None:
            x = x * valid
        if self.normalize_audio:
            x = _standardize(x, valid)
        x = ops.expand_dims(x, -1)
        for i, conv in enumerate(self.conv_layers):
            x = conv(x)
            if i < len(self.conv_norms):
                if isinstance(self.conv_norms[i], _ChannelGroupNorm) and lengths is not None:
                    frames = frame_lengths(lengths, c["conv_kernel"][:1], c["conv_stride"][:1])
                    x = self.conv_norms[i](x, valid=_sequence_mask(frames, ops.shape(x)[1]))
                else:
                    x = self.conv_norms[i](x)
            x = self._feat_act(x)
        if self.projection_norm is not None:
            x = self.projection_norm(x)
        return x

    def compute_output_spec(self, audio, padding_mask=None, training=None, final_norm=True):
        batch = audio.shape[0]
        samples = audio.shape[1]
        frames = None if samples is None else int(self.frame_lengths(samples))
        shape = (batch, frames, self.config_["hidden_size"])
        return ([keras.KerasTensor(shape, self.compute_dtype)
                 for _ in range(self.config_["num_hidden_layers"] + 1)],
                keras.KerasTensor((batch, frames), "bool"))

    def get_config(self):
        config = {**super().get_config(), **self.config_,
                  "feat_proj_layer_norm": self.feat_proj_layer_norm,
                  "normalize_audio": self.normalize_audio}
        for key in ("conv_dim", "conv_kernel", "conv_stride"):
            config[key] = list(config[key])
        return config


def _sequence_mask(lengths, steps):
    return ops.arange(steps, dtype="int32")[None, :] < ops.cast(lengths, "int32")[:, None]


def _standardize(x, valid):
    """Zero mean, unit variance over each utterance's (unpadded) samples, epsilon 1e-7."""
    if valid is None:
        mean = ops.mean(x, axis=1, keepdims=True)
        var = ops.mean(ops.square(x - mean), axis=1, keepdims=True)
        return (x - mean) / ops.sqrt(var + 1e-7)
    count = ops.maximum(ops.sum(valid, axis=1, keepdims=True), 1.0)
    mean = ops.sum(x * valid, axis=1, keepdims=True) / count
    var = ops.sum(ops.square(x - mean) * valid, axis=1, keepdims=True) / count
    return (x - mean) / ops.sqrt(var + 1e-7) * valid
