"""Pooling over time that respects Keras masks: feed-forward attention, masked avg/max."""

from __future__ import annotations

import keras
from keras import ops

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers.base import check_choice, check_float, check_int

__all__ = ["FeedForwardAttention", "MaskedGlobalPooling1D"]

_BIASES = ("per_step", "scalar", None)
_MODES = ("avg", "max")


def _check_sequence_shape(layer: keras.layers.Layer, shape) -> None:
    if len(shape) != 3 or shape[-1] is None:
        raise InvalidOptionError(
            f"{type(layer).__name__} takes sequences (batch, steps, features) with a fixed "
            f"number of features; got input shape {tuple(shape)}."
        )


@keras.saving.register_keras_serializable(package="kerasaudio")
class FeedForwardAttention(keras.layers.Layer):
    """Feed-forward attention pooling over time (Raffel & Ellis 2016).

    For a sequence `h` of shape `(batch, steps, features)`:
    `e_t = tanh(h_t . w + b_t)`, `a_t = exp(e_t) / sum_s exp(e_s)` (masked steps
    excluded) and the output is `sum_t a_t h_t`, shape `(batch, features)`. `w` is a
    learned vector of `features` weights; the bias is one of:

    - `"per_step"`: a learned bias for every step, `max_steps` of them (the Kaggle
      Freesound 2019 kernel's layer: 636 bias entries for 636 frames). A sequence of
      `T <= max_steps` steps uses the first `T` entries, so shorter (variable-length)
      input works; longer input is an error.
    - `"scalar"`: one learned bias shared by all steps (any length; the paper's form).
    - None: no bias.

    Because `|e_t| <= 1`, `exp(e_t)` lies in `[1/e, e]`: no overflow, no max-subtraction
    needed. Masked steps (a Keras mask from `Masking`, `mask_zero=True` embeddings, an
    RNN that propagates one, or `mask=` passed explicitly, `(batch, steps)` booleans)
    get weight exactly 0 and the rest are renormalised; the normaliser is
    `max(sum_t exp(e_t) m_t, epsilon)`, so an all-masked sequence gives weights 0 and
    output 0, never NaN. (The Kaggle layer divides by `sum + epsilon` instead; the two
    differ by about `1e-7 / steps` relative.) The output carries no mask.

    Call arguments:
        inputs: `(batch, steps, features)`.
        mask: optional `(batch, steps)` booleans, True for real steps.
        return_attention_scores: also return the weights `a`, `(batch, steps)`.

    Args:
        bias: `"per_step"`, `"scalar"` or None (see above).
        max_steps: number of per-step biases (only with `bias="per_step"`); default: the
            input's number of steps, which must then be fixed when the layer is built.
        epsilon: lower bound of the normaliser (> 0).
        kernel_initializer: initializer of `w` (Glorot uniform, as the Kaggle layer).
        bias_initializer: initializer of the bias (zeros).
        kernel_regularizer: optional regularizer of `w`.
        bias_regularizer: optional regularizer of the bias.

    Example:
    ```python
    import keras, kerasaudio
    frames = keras.Input((636, 128))
    h = keras.layers.Bidirectional(keras.layers.LSTM(256, return_sequences=True))(frames)
    pooled = kerasaudio.layers.FeedForwardAttention(bias="per_step")(h)  # (None, 512)
    # variable length with padding masked out:
    x = keras.Input((None, 40))
    h = keras.layers.LSTM(32, return_sequences=True)(keras.layers.Masking(0.0)(x))
    pooled, weights = kerasaudio.layers.FeedForwardAttention()(
        h, return_attention_scores=True)
    ```

    Reference:
        Raffel & Ellis, "Feed-Forward Networks with Attention Can Solve Some Long-Term
        Memory Problems", ICLR 2016 workshop (arXiv:1512.08756).
    """

    def __init__(self, *, bias: str | None = "scalar", max_steps: int | None = None,
                 epsilon: float = 1e-7, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.bias_mode = check_choice("bias", bias, _BIASES)
        self.max_steps = check_int("max_steps", max_steps, allow_none=True)
        if self.max_steps is not None and self.bias_mode != "per_step":
            raise InvalidOptionError(
                f"max_steps={max_steps} only applies to bias='per_step' (got bias={bias!r})."
            )
        self.epsilon = check_float("epsilon", epsilon)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.supports_masking = True

    def build(self, input_shape):
        _check_sequence_shape(self, input_shape)
        steps = input_shape[1]
        self.kernel = self.add_weight(
            name="kernel", shape=(input_shape[-1],), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer)
        self.bias = None
        if self.bias_mode == "per_step":
            size = self.max_steps if self.max_steps is not None else steps
            if size is None:
                raise InvalidOptionError(
                    "FeedForwardAttention(bias='per_step') needs a fixed number of steps: "
                    f"the input shape {tuple(input_shape)} has a variable time axis. Set "
                    "max_steps (shorter inputs use the first biases), or use bias='scalar'."
                )
            if steps is not None and steps > size:
                raise InvalidOptionError(
                    f"FeedForwardAttention: the input has {steps} steps but max_steps={size} "
                    "per-step biases."
                )
            self.bias = self.add_weight(name="bias", shape=(size,),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer)
        elif self.bias_mode == "scalar":
            self.bias = self.add_weight(name="bias", shape=(),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer)

    def attention_weights(self, inputs, mask=None):
        """The weights `a`, `(batch, steps)`: sum to 1 over unmasked steps, 0 where masked."""
        scores = ops.squeeze(ops.matmul(inputs, ops.expand_dims(self.kernel, -1)), -1)
        if self.bias_mode == "per_step":
            bias = self.bias
            if inputs.shape[1] != bias.shape[0]:
                bias = bias[: ops.shape(inputs)[1]]
            scores = scores + bias
        elif self.bias_mode == "scalar":
            scores = scores + self.bias
        weights = ops.exp(ops.tanh(scores))
        if mask is not None:
            weights = weights * ops.cast(mask, weights.dtype)
        total = ops.sum(weights, axis=1, keepdims=True)
        return weights / ops.maximum(total, self.epsilon)

    def call(self, inputs, mask=None, return_attention_scores=False):
        weights = self.attention_weights(inputs, mask)
        pooled = ops.sum(inputs * ops.expand_dims(weights, -1), axis=1)
        if return_attention_scores:
            return pooled, weights
        return pooled

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def compute_output_spec(self, inputs, mask=None, return_attention_scores=False):
        pooled = keras.KerasTensor((inputs.shape[0], inputs.shape[-1]),
                                   dtype=self.compute_dtype)
        if return_attention_scores:
            return pooled, keras.KerasTensor(tuple(inputs.shape[:2]), dtype=self.compute_dtype)
        return pooled

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {
            **super().get_config(),
            "bias": self.bias_mode,
            "max_steps": self.max_steps,
            "epsilon": self.epsilon,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
        }


@keras.saving.register_keras_serializable(package="kerasaudio")
class MaskedGlobalPooling1D(keras.layers.Layer):
    """Average or maximum over time of `(batch, steps, features)`, skipping masked steps.

    Keras' `GlobalMaxPooling1D` ignores masks (a zero-padded step can win the max, and an
    RNN outputs zeros at masked steps) and `GlobalAveragePooling1D` returns NaN for a
    fully masked sequence. This layer takes the mean or max over the unmasked steps only;
    a sequence with every step masked gives zeros. Without a mask it equals the Keras
    layers.

    Args:
        mode: `"avg"` or `"max"`.

    Example:
    ```python
    import keras, kerasaudio
    x = keras.Input((None, 40))
    h = keras.layers.LSTM(32, return_sequences=True)(keras.layers.Masking(0.0)(x))
    pooled = kerasaudio.layers.MaskedGlobalPooling1D(mode="max")(h)  # (None, 32)
    ```

    Reference:
        Masked mean/max pooling as in `keras.layers.GlobalAveragePooling1D` (Chollet et
        al., Keras, 2015).
    """

    def __init__(self, *, mode: str = "avg", **kwargs):
        super().__init__(**kwargs)
        self.mode = check_choice("mode", mode, _MODES)
        self.supports_masking = True

    def build(self, input_shape):
        _check_sequence_shape(self, input_shape)

    def call(self, inputs, mask=None):
        if mask is None:
            if self.mode == "avg":
                return ops.mean(inputs, axis=1)
            return ops.max(inputs, axis=1)
        valid = ops.cast(mask, inputs.dtype)
        count = ops.sum(valid, axis=1, keepdims=True)
        if self.mode == "avg":
            total = ops.sum(inputs * ops.expand_dims(valid, -1), axis=1)
            return total / ops.maximum(count, 1.0)
        # Fill masked steps with the sequence's minimum: never above a real step's value.
        floor = ops.min(inputs, axis=1, keepdims=True)
        keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
        peak = ops.max(ops.where(keep, inputs, floor), axis=1)
        return ops.where(count > 0, peak, ops.zeros_like(peak))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
