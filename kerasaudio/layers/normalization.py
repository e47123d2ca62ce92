"""Normalisation layers: a batch normalisation whose training pass is one fused kernel on
TensorFlow, and residual frequency-wise instance normalisation (ResNorm)."""

from __future__ import annotations

import keras

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers.base import check_float, check_int

__all__ = ["BatchNormalization", "ResidualNormalization"]

# The class keeps Keras' name on purpose: a `.weights.h5` file addresses a functional model's
# layers by their class name, so the same name keeps checkpoints interchangeable with models
# built from `keras.layers.BatchNormalization` (and the zoo's published weights loadable).


@keras.saving.register_keras_serializable(package="kerasaudio")
class BatchNormalization(keras.layers.BatchNormalization):
    """Keras' `BatchNormalization`, trained with TensorFlow's fused kernel.

    Keras 3 computes batch normalisation in training from separate ops (moments, then scale
    and shift) and differentiates them op by op; on small convolutional audio models such as
    M5 those ops are a large share of a training step on a CPU. On the TensorFlow backend
    this layer computes the training pass with `FusedBatchNormV3` (oneDNN's kernel: one op
    forward, one op backward) instead of one kernel per op (`benchmarks/training.py` and
    BENCHMARKS.md measure M5's training speed with both layers).

    Everything else is Keras' own layer: the same name, options, weights and checkpoints
    (`gamma`, `beta`, `moving_mean`, `moving_variance`: a `.weights.h5` file of a model
    built with `keras.layers.BatchNormalization` loads into the same model built with this
    layer, and back), the same inference, and Keras' implementation on the JAX
    backend, with a mask, when frozen or with `synchronized=True`. One difference: the
    moving variance is updated with the unbiased batch variance (divided by n - 1, as
    PyTorch does) instead of the biased one; over the thousands of values per channel of
    an audio batch the two differ by a fraction of a per mille.

    Args:
        axis: the features axis (default -1, channels last).
        momentum: momentum of the moving averages.
        epsilon: added to the variance before the square root.
        **kwargs: every other `keras.layers.BatchNormalization` option.

    Example:
    ```python
    import numpy as np, keras, kerasaudio
    inputs = keras.Input((8000, 1))
    x = keras.layers.Conv1D(32, 80, strides=16)(inputs)
    x = kerasaudio.layers.BatchNormalization()(x)
    model = keras.Model(inputs, keras.layers.ReLU()(x))
    y = model(np.random.randn(4, 8000, 1).astype("float32"), training=True)
    ```

    Reference:
        Ioffe and Szegedy, "Batch Normalization: Accelerating Deep Network Training by
        Reducing Internal Covariate Shift", ICML 2015.
    """

    def __init__(self, *, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 **kwargs):
        super().__init__(axis=axis, momentum=momentum, epsilon=epsilon, **kwargs)

    def _fused(self, training, mask) -> bool:
        return bool(training and self.trainable and mask is None
                    and keras.backend.backend() == "tensorflow"
                    and not getattr(self, "synchronized", False)
                    and not getattr(self, "renorm", False))

    def call(self, inputs, training=None, mask=None):
        if not self._fused(training, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        rank = len(inputs.shape)
        axis = self.axis % rank
        # Channels last, and every other axis folded into one "width" axis: NHWC with H = 1.
        x = inputs if axis == rank - 1 else tf.experimental.numpy.moveaxis(inputs, axis, -1)
        shape = tf.shape(x)
        channels = x.shape[-1]
        nhwc = tf.reshape(x, [shape[0], 1, -1, channels])
        if nhwc.dtype not in (tf.float16, tf.bfloat16, tf.float32):
            nhwc = tf.cast(nhwc, "float32")
        ones = tf.ones([channels], "float32")
        gamma = ones if self.gamma is None else tf.cast(self.gamma, "float32")
        beta = ones * 0.0 if self.beta is None else tf.cast(self.beta, "float32")
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            nhwc, gamma, beta, epsilon=self.epsilon, data_format="NHWC", is_training=True)
        momentum = self.momentum
        self.moving_mean.assign(self.moving_mean * momentum
                                + tf.cast(mean, self.moving_mean.dtype) * (1.0 - momentum))
        self.moving_variance.assign(
            self.moving_variance * momentum
            + tf.cast(variance, self.moving_variance.dtype) * (1.0 - momentum))
        y = tf.reshape(y, shape)
        if axis != rank - 1:
            y = tf.experimental.numpy.moveaxis(y, -1, axis)
        return tf.cast(y, self.compute_dtype)


@keras.saving.register_keras_serializable(package="kerasaudio")
class ResidualNormalization(keras.layers.Layer):
    """Residual frequency-wise instance normalisation ("ResNorm").

    `IFN(x) + residual * x`, where `IFN` standardises each frequency bin of each example
    by its own mean and standard deviation over time and channels. A recording device
    or a room colours the spectrum by a roughly constant gain per frequency, which the
    per-bin statistics carry; IFN removes it from the feature maps, and the scaled
    shortcut keeps part of what the statistics also hold about the content. Statistics
    are per example (never the batch's), so the layer behaves alike in training and
    inference, has no weights, and converts to TFLite builtins.

    Args:
        residual: weight of the shortcut (`0` gives plain frequency-wise instance
            normalisation).
        axis: the frequency axis of `(batch, frames, bins[, channels])` features (default
            2, kerasaudio's layout); any non-batch axis.
        epsilon: added to the variance.

    Example:
    ```python
    import numpy as np, kerasaudio
    x = np.random.randn(2, 101, 40, 8).astype("float32")
    kerasaudio.layers.ResidualNormalization(residual=0.1)(x).shape  # (2, 101, 40, 8)
    ```

    Reference:
        Kim, Yang, Kim and Chang, "Domain Generalization on Efficient Acoustic Scene
        Classification using Residual Normalization", DCASE 2021 Workshop.
    """

    def __init__(self, *, residual: float = 0.1, axis: int = 2, epsilon: float = 1e-5,
                 **kwargs):
        super().__init__(**kwargs)
        self.residual = check_float("residual", residual, positive=False, minimum=0.0)
        self.axis = check_int("axis", axis, minimum=1)
        self.epsilon = check_float("epsilon", epsilon)

    def build(self, input_shape):
        if self.axis >= len(input_shape):
            raise InvalidOptionError(
                f"ResidualNormalization(axis={self.axis}) on input shape "
                f"{tuple(input_shape)}: no such axis.")

    def call(self, inputs):
        ops = keras.ops
        axes = tuple(a for a in range(1, len(inputs.shape)) if a != self.axis)
        mean = ops.mean(inputs, axis=axes, keepdims=True)
        centered = inputs - mean
        variance = ops.mean(centered * centered, axis=axes, keepdims=True)
        return centered * ops.rsqrt(variance + self.epsilon) + self.residual * inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "residual": self.residual, "axis": self.axis,
                "epsilon": self.epsilon}
