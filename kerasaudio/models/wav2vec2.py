"""wav2vec 2.0 in Keras, loadable from Hugging Face checkpoint directories (offline).

`Wav2Vec2` is the network of `transformers.Wav2Vec2Model` (convolutional feature encoder,
feature projection, convolutional positional embedding, transformer encoder), written
with `keras.ops` (TensorFlow and JAX), with an optional utterance-level head (the
fine-tuned variant of the S3 seed: mean pooling, dropout, dense + tanh, dropout, output
layer). `Wav2Vec2.from_huggingface(directory)` reads `config.json` and
`model.safetensors` (or `pytorch_model.bin` through `torch.load(weights_only=True)`);
nothing is downloaded and nothing is unpickled.

Registered configurations (`create_model(name)`; `weights=` a `.weights.h5` file or a
Hugging Face directory):

| name | feature encoder | transformer | parameters |
| --- | --- | --- | --- |
| `wav2vec2_base` | group norm, no conv bias | 12 x 768, post-norm | 94.4 M |
| `wav2vec2_large` | group norm, no conv bias | 24 x 1024, post-norm | 315.4 M |
| `wav2vec2_large_lv60` | layer norm, conv bias | 24 x 1024, pre-norm | 315.5 M |

Padded batches: pass a padding mask (`padding_mask=True` adds the model input
`"padding_mask"`, `(batch, samples)`, 1 for audio and 0 for padding). Frames whose
receptive field reaches into the padding are masked in attention and pooling, and the
group norm of the base/large feature encoder takes its statistics over the unpadded
frames only, so an utterance's hidden states do not depend on what it was batched with.
(transformers' group-norm models include the padding in those statistics, which is why
their processors send no attention mask for them; here the padded result equals the
unpadded one.)
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
from keras import ops

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers.attention import MaskedGlobalPooling1D
from kerasaudio.models.common import check_arguments
from kerasaudio.models.registry import register_model

__all__ = ["Wav2Vec2", "Wav2Vec2Encoder", "wav2vec2_base", "wav2vec2_large",
           "wav2vec2_large_lv60"]

#: Sampling rate every wav2vec 2.0 checkpoint expects.
SAMPLE_RATE = 16000
#: Architecture options and their defaults (those of `facebook/wav2vec2-base`).
ARCHITECTURE = {
    "conv_dim": (512, 512, 512, 512, 512, 512, 512),
    "conv_kernel": (10, 3, 3, 3, 3, 2, 2),
    "conv_stride": (5, 2, 2, 2, 2, 2, 2),
    "conv_bias": False,
    "feat_extract_norm": "group",
    "feat_extract_activation": "gelu",
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "num_conv_pos_embeddings": 128,
    "num_conv_pos_embedding_groups": 16,
    "do_stable_layer_norm": False,
    "layer_norm_eps": 1e-5,
    "hidden_dropout": 0.1,
    "attention_dropout": 0.1,
    "activation_dropout": 0.0,
    "feat_proj_dropout": 0.1,
}
_LARGE = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
          "intermediate_size": 4096}
#: The registered configurations: facebook/wav2vec2-base, -large and -large-lv60.
PRESETS = {
    "wav2vec2_base": {},
    "wav2vec2_large": dict(_LARGE),
    "wav2vec2_large_lv60": {**_LARGE, "feat_extract_norm": "layer", "conv_bias": True,
                            "do_stable_layer_norm": True},
}
_ACTIVATIONS = {
    "gelu": lambda x: keras.activations.gelu(x, approximate=False),
    "gelu_new": lambda x: keras.activations.gelu(x, approximate=True),
    "gelu_pytorch_tanh": lambda x: keras.activations.gelu(x, approximate=True),
    "relu": keras.activations.relu,
    "silu": keras.activations.silu,
    "swish": keras.activations.silu,
}
_NEG_INF = -1e9


def _activation(name: str, option: str):
    if name not in _ACTIVATIONS:
        raise InvalidOptionError(f"{option}={name!r}: use one of {sorted(_ACTIVATIONS)}.")
    return _ACTIVATIONS[name]


def frame_lengths(lengths, conv_kernel: Sequence[int] = ARCHITECTURE["conv_kernel"],
                  conv_stride: Sequence[int] = ARCHITECTURE["conv_stride"]):
    """Frames the feature encoder makes from `lengths` samples (numpy or tensor, >= 0).

    `floor((n - kernel) / stride) + 1` per convolution, as transformers'
    `_get_feat_extract_output_lengths`: the frames whose receptive field lies inside the
    audio (400 samples, hop 320 for the default encoder).

    Example:
    ```python
    from kerasaudio.models.wav2vec2 import frame_lengths
    frame_lengths(np.array([16000, 80000]))  # [49, 249]
    ```
    """
    symbolic = not isinstance(lengths, int | np.integer | np.ndarray)
    if not symbolic:
        lengths = np.asarray(lengths)
    for kernel, stride in zip(conv_kernel, conv_stride, strict=True):
        lengths = (lengths - kernel) // stride + 1
        lengths = ops.maximum(lengths, 0) if symbolic else np.maximum(lengths, 0)
    return lengths


def receptive_field(conv_kernel: Sequence[int] = ARCHITECTURE["conv_kernel"],
                    conv_stride: Sequence[int] = ARCHITECTURE["conv_stride"]) -> int:
    """Samples one output frame of the feature encoder sees (400 for the default)."""
    size = 1
    for kernel, stride in reversed(list(zip(conv_kernel, conv_stride, strict=True))):
        size = (size - 1) * stride + kernel
    return size


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
        self._act = _activation(activation, "feat_extract_activation")

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
        self._act = _activation(activation, "hidden_act")
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

    def _attention(self, x, bias, training):
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

    def _feed_forward(self, x, training):
        x = self.activation_dropout(self._act(self.intermediate_dense(x)), training=training)
        return self.hidden_dropout(self.output_dense(x), training=training)

    def call(self, x, bias=None, training=None):
        if self.pre_norm:
            x = x + self.hidden_dropout(self._attention(self.layer_norm(x), bias, training),
                                        training=training)
            return x + self._feed_forward(self.final_layer_norm(x), training)
        x = self.layer_norm(x + self.hidden_dropout(self._attention(x, bias, training),
                                                    training=training))
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
    models: `last_hidden_state` in transformers) and the `(batch, frames)` boolean mask
    of frames computed from audio alone. `Wav2Vec2` wraps it in a model.

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
                 normalize_audio: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.config_ = _check_architecture(dict(
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
        c = self.config_
        self._feat_act = _activation(c["feat_extract_activation"], "feat_extract_activation")
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
        self.projection_norm = keras.layers.LayerNormalization(epsilon=eps,
                                                               name="projection_norm")
        self.projection = keras.layers.Dense(c["hidden_size"], name="projection")
        self.projection_dropout = keras.layers.Dropout(c["feat_proj_dropout"])
        self.pos_conv = _PositionalConv(kernel_size=c["num_conv_pos_embeddings"],
                                        groups=c["num_conv_pos_embedding_groups"],
                                        activation=c["feat_extract_activation"],
                                        name="pos_conv")
        self.encoder_norm = keras.layers.LayerNormalization(epsilon=eps, name="encoder_norm")
        self.encoder_dropout = keras.layers.Dropout(c["hidden_dropout"])
        self.transformer_layers = [
            _TransformerLayer(hidden_size=c["hidden_size"], num_heads=c["num_attention_heads"],
                              intermediate_size=c["intermediate_size"],
                              pre_norm=c["do_stable_layer_norm"], epsilon=eps,
                              activation=c["hidden_act"],
                              attention_dropout=c["attention_dropout"],
                              hidden_dropout=c["hidden_dropout"],
                              activation_dropout=c["activation_dropout"], name=f"layer_{i}")
            for i in range(c["num_hidden_layers"])]

    def build(self, audio_shape, padding_mask_shape=None):
        c = self.config_
        shape = (None, None, 1)
        for i, conv in enumerate(self.conv_layers):
            conv.build(shape)
            shape = (None, None, c["conv_dim"][i])
            if i < len(self.conv_norms):
                self.conv_norms[i].build(shape)
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

    def call(self, audio, padding_mask=None, training=None):
        c = self.config_
        x = ops.cast(audio, self.compute_dtype)
        if len(x.shape) == 3:
            x = x[..., 0]
        valid = None if padding_mask is None else ops.cast(padding_mask, x.dtype)
        if valid is not None:
            x = x * valid
        if self.normalize_audio:
            x = _standardize(x, valid)
        lengths = None if valid is None else ops.cast(ops.sum(valid, axis=1), "int32")
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
        x = self.projection_dropout(self.projection(self.projection_norm(x)),
                                    training=training)
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
        states = [x]
        for layer in self.transformer_layers:
            x = layer(x, bias, training=training)
            states.append(x)
        if c["do_stable_layer_norm"]:
            states[-1] = self.encoder_norm(x)
        return states, frame_mask

    def compute_output_spec(self, audio, padding_mask=None, training=None):
        batch = audio.shape[0]
        samples = audio.shape[1]
        frames = None if samples is None else int(self.frame_lengths(samples))
        shape = (batch, frames, self.config_["hidden_size"])
        return ([keras.KerasTensor(shape, self.compute_dtype)
                 for _ in range(self.config_["num_hidden_layers"] + 1)],
                keras.KerasTensor((batch, frames), "bool"))

    def get_config(self):
        config = {**super().get_config(), **self.config_, "normalize_audio": self.normalize_audio}
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


def _check_architecture(c: dict) -> dict:
    c = dict(c)
    for key in ("conv_dim", "conv_kernel", "conv_stride"):
        try:
            c[key] = tuple(int(v) for v in c[key])
        except (TypeError, ValueError):
            raise InvalidOptionError(f"{key}={c[key]!r} must be a sequence of ints.") from None
        if not c[key] or min(c[key]) < 1:
            raise InvalidOptionError(f"{key}={c[key]!r} must be non-empty, values >= 1.")
    if not len(c["conv_dim"]) == len(c["conv_kernel"]) == len(c["conv_stride"]):
        raise InvalidOptionError("conv_dim, conv_kernel and conv_stride must have one entry "
                                 "per convolution.")
    if c["feat_extract_norm"] not in ("group", "layer"):
        raise InvalidOptionError(
            f"feat_extract_norm={c['feat_extract_norm']!r}: use 'group' or 'layer'.")
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size", "num_conv_pos_embeddings",
                "num_conv_pos_embedding_groups"):
        value = c[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidOptionError(f"{key}={value!r} must be an integer >= 1.")
    if c["hidden_size"] % c["num_attention_heads"]:
        raise InvalidOptionError(f"hidden_size={c['hidden_size']} is not a multiple of "
                                 f"num_attention_heads={c['num_attention_heads']}.")
    if c["hidden_size"] % c["num_conv_pos_embedding_groups"]:
        raise InvalidOptionError(
            f"hidden_size={c['hidden_size']} is not a multiple of "
            f"num_conv_pos_embedding_groups={c['num_conv_pos_embedding_groups']}.")
    for key in ("feat_extract_activation", "hidden_act"):
        _activation(c[key], key)
    for key in ("hidden_dropout", "attention_dropout", "activation_dropout",
                "feat_proj_dropout"):
        if not 0.0 <= float(c[key]) < 1.0:
            raise InvalidOptionError(f"{key}={c[key]!r} must be in [0, 1).")
        c[key] = float(c[key])
    c["layer_norm_eps"] = float(c["layer_norm_eps"])
    c["conv_bias"] = bool(c["conv_bias"])
    c["do_stable_layer_norm"] = bool(c["do_stable_layer_norm"])
    return c


# ----------------------------------------------------------------------------- the model


@keras.saving.register_keras_serializable(package="kerasaudio")
class Wav2Vec2(keras.Model):
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
        super().__init__(inputs=inputs, outputs=outputs, name=name)
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
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

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
            frontend = "default" if _do_normalize(directory) else None
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


# ----------------------------------------------------------------------------- Hugging Face


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
    return _check_architecture(config)


def _do_normalize(directory: Path) -> bool:
    file = directory / "preprocessor_config.json"
    if not file.is_file():
        return False
    return bool(json.loads(file.read_text()).get("do_normalize", False))


def read_huggingface_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The tensors of a checkpoint directory as float32 numpy arrays, by name.

    `model.safetensors` (or sharded `model-*.safetensors`) through `safetensors`, else
    `pytorch_model.bin` through `torch.load(weights_only=True)`.

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


def load_huggingface_weights(model: Wav2Vec2, path: str | os.PathLike) -> None:
    """Copy a checkpoint directory's weights into `model` (its architecture must match).

    Every weight of the encoder must be in the checkpoint with its shape; a clear error
    names the first missing or mismatched tensor.

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
    encoder = model.encoder if isinstance(model, Wav2Vec2) else model
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


# ----------------------------------------------------------------------------- builders


def _builder(registered: str, summary: str):
    preset = PRESETS[registered]
    defaults = {**ARCHITECTURE, **preset}

    def builder(**kwargs):
        weights = kwargs.pop("weights", None)
        kwargs.setdefault("name", registered)
        if weights is not None and os.path.isdir(os.fspath(weights)):
            return Wav2Vec2.from_huggingface(weights, **kwargs)
        name = kwargs["name"]
        check_arguments(name, include_top=True, weights=weights, classes=2, pooling=None,
                        classifier_activation=None)
        model = Wav2Vec2(**{**preset, **kwargs})
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

