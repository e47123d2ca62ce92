"""The WavLM network as one Keras layer, `WavLMEncoder`: wav2vec 2.0's with gated
relative position bias in every attention layer.

Everything but the attention scores is `Wav2Vec2Encoder`'s (feature encoder, projection,
convolutional positional embedding, post- or pre-norm layers, padding masks). The first
layer holds a table of `num_buckets` learned biases per head, indexed by the bucketed
relative distance between frames (exact up to `num_buckets // 4` frames, then
logarithmic up to `max_bucket_distance`, per direction); every layer scales that bias,
per head and query frame, by a gate computed from its attention input.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from kerasaudio.errors import InvalidOptionError
from kerasaudio.models.wav2vec2.encoder import Wav2Vec2Encoder, _TransformerLayer

__all__ = ["WavLMEncoder", "relative_position_buckets"]


def relative_position_buckets(steps, *, num_buckets: int = 320,
                              max_distance: int = 800):
    """Bucket index of each (query, key) frame pair, `(steps, steps)` int32.

    Half the buckets for keys after the query, half for the others; distances below a
    quarter of `num_buckets` get a bucket each, longer ones share logarithmic buckets up
    to `max_distance` (transformers' `WavLMAttention._relative_positions_bucket`).

    Args:
        steps: number of frames (an int or a scalar tensor).
        num_buckets: buckets in all (>= 4).
        max_distance: the distance at which the logarithmic buckets end.

    Returns:
        An int32 tensor `(steps, steps)`: entry `[i, j]` is the bucket of key `j` seen
        from query `i`.

    Example:
    ```python
    from kerasaudio.models.wavlm.encoder import relative_position_buckets
    buckets = relative_position_buckets(5, num_buckets=8, max_distance=16)
    keras.ops.convert_to_numpy(buckets)[0]  # [0, 5, 6, 6, 6]
    ```
    """
    positions = ops.arange(steps, dtype="int32")
    relative = positions[None, :] - positions[:, None]
    half = num_buckets // 2
    exact = half // 2
    buckets = ops.cast(relative > 0, "int32") * half
    distance = ops.abs(relative)
    # log of at least 1: the short distances take the exact branch below anyway.
    scaled = ops.log(ops.cast(ops.maximum(distance, 1), "float32") / exact)
    scaled = scaled / math.log(max_distance / exact) * (half - exact)
    far = ops.minimum(ops.cast(exact + scaled, "int32"), half - 1)
    return buckets + ops.where(distance < exact, distance, far)


class _GatedRelativeLayer(_TransformerLayer):
    """A transformer layer whose attention adds a gated relative position bias."""

    def __init__(self, *, relative_bias: bool, num_buckets: int, max_distance: int,
                 **kwargs):
        super().__init__(**kwargs)
        self.relative_bias = relative_bias
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.gru_rel_pos_linear = keras.layers.Dense(8, name="gru_rel_pos_linear")

    def build(self, input_shape):
        super().build(input_shape)
        self.gru_rel_pos_linear.build((None, None, None, self.head_dim))
        self.gru_rel_pos_const = self.add_weight(shape=(self.num_heads,), initializer="ones",
                                                 name="gru_rel_pos_const")
        if self.relative_bias:
            self.rel_attn_embed = self.add_weight(
                shape=(self.num_buckets, self.num_heads), initializer="random_normal",
                name="rel_attn_embed")

    def position_bias(self, steps):
        """The ungated bias `(1, heads, steps, steps)` (first layer only)."""
        buckets = relative_position_buckets(steps, num_buckets=self.num_buckets,
                                            max_distance=self.max_distance)
        values = ops.take(self.rel_attn_embed, buckets, axis=0)  # (steps, steps, heads)
        return ops.expand_dims(ops.transpose(values, (2, 0, 1)), 0)

    def _score_bias(self, x, position_bias=None):
        projected = self.gru_rel_pos_linear(self._heads(x))  # (batch, heads, steps, 8)
        shape = ops.shape(projected)
        gates = ops.sigmoid(ops.sum(ops.reshape(
            projected, (shape[0], shape[1], shape[2], 2, 4)), axis=-1))
        constant = ops.reshape(self.gru_rel_pos_const, (1, -1, 1, 1))
        gate = gates[..., :1] * (gates[..., 1:] * constant - 1.0) + 2.0
        return gate * position_bias


@keras.saving.register_keras_serializable(package="kerasaudio")
class WavLMEncoder(Wav2Vec2Encoder):
    """The whole WavLM network as one layer: audio in, every hidden state out.

    `Wav2Vec2Encoder` (same options, inputs and outputs: `call(audio,
    padding_mask=None)` returns `(hidden_states, frame_mask)`) whose attention layers add
    WavLM's gated relative position bias to their scores (transformers' `WavLMModel`).

    Args:
        num_buckets: relative-distance buckets of the position bias (320 in WavLM).
        max_bucket_distance: the distance (frames) where the logarithmic buckets end.
        **kwargs: `Wav2Vec2Encoder` options.

    Example:
    ```python
    from kerasaudio.models.wavlm import WavLMEncoder
    layer = WavLMEncoder(num_buckets=32, max_bucket_distance=100, hidden_size=16,
                         num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                         conv_dim=(16,) * 7, num_conv_pos_embedding_groups=2)
    audio = np.zeros((1, 24000), "float32")
    mask = np.ones_like(audio)
    mask[:, 16000:] = 0.0                                # 1 s of audio, then padding
    hidden, valid = layer(audio, mask)
    hidden[-1].shape, int(np.sum(valid))  # (1, 74, 16), 49
    ```

    Reference:
        Chen et al., "WavLM: Large-Scale Self-Supervised Pre-Training for Full Stack
        Speech Processing", IEEE JSTSP 2022.
    """

    def __init__(self, *, num_buckets: int = 320, max_bucket_distance: int = 800,
                 **kwargs):
        for key, value, least in (("num_buckets", num_buckets, 4),
                                  ("max_bucket_distance", max_bucket_distance, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise InvalidOptionError(f"{key}={value!r} must be an integer >= {least}.")
        if max_bucket_distance <= num_buckets // 4:
            raise InvalidOptionError(
                f"max_bucket_distance={max_bucket_distance} must exceed num_buckets // 4 "
                f"= {num_buckets // 4} (the exactly bucketed distances).")
        # Set before the base class creates the layers (`_transformer_layer` reads them).
        self.num_buckets = num_buckets
        self.max_bucket_distance = max_bucket_distance
        super().__init__(**kwargs)

    def _transformer_layer(self, i: int) -> keras.layers.Layer:
        return _GatedRelativeLayer(relative_bias=i == 0, num_buckets=self.num_buckets,
                                   max_distance=self.max_bucket_distance,
                                   **self._layer_options(i))

    def _attention_inputs(self, x) -> dict:
        return {"position_bias": self.transformer_layers[0].position_bias(ops.shape(x)[1])}

    def get_config(self):
        return {**super().get_config(), "num_buckets": self.num_buckets,
                "max_bucket_distance": self.max_bucket_distance}
