"""A 1-D convolution whose strided form converts to a fast TFLite convolution."""

from __future__ import annotations

import keras
from keras import ops

from kerasaudio.layers.base import in_tflite_mode

__all__ = ["Conv1D"]

# The class keeps Keras' name on purpose, as kerasaudio.layers.BatchNormalization does: a
# `.weights.h5` file addresses a functional model's layers by their class name, so models
# built with this layer and with `keras.layers.Conv1D` share checkpoints (the zoo's M5).


@keras.saving.register_keras_serializable(package="kerasaudio")
class Conv1D(keras.layers.Conv1D):
    """Keras' `Conv1D`; in TFLite files a strided convolution becomes an unstrided one.

    A raw-waveform stem such as M5's (80 taps, stride 16, one input channel) is a strided
    convolution of a single input channel, a shape XNNPACK's int8 convolution kernel runs
    poorly: it can make an int8 TFLite file slower than its float32 one. Traced in
    `kerasaudio.layers.tflite_mode()` (as `kerasaudio.export` traces), a convolution with
    stride `s` dividing its kernel `k` is computed on the input regrouped into blocks of
    `s` samples: `(time, channels)` is reshaped to `(time / s, s * channels)` and
    convolved with stride 1 and `k / s` taps, the kernel reshaped the same way. The
    result is the same numbers (the same products, summed in another order), and the
    convolution now has `s * channels` input channels and stride 1, the form XNNPACK's
    int8 kernel runs fast (BENCHMARKS.md: M5's int8 latency before and after). Training,
    Keras inference and the weights are Keras' own layer's.

    Args:
        filters: number of output channels.
        kernel_size: taps (an int or a 1-tuple).
        strides: stride (an int or a 1-tuple).
        padding: `"valid"`, `"same"` or `"causal"` (causal and dilated convolutions
            keep Keras' form in TFLite too).
        **kwargs: every other `keras.layers.Conv1D` option.

    Example:
    ```python
    import numpy as np, keras, kerasaudio
    conv = kerasaudio.layers.Conv1D(32, 80, strides=16)
    x = np.random.randn(2, 8000, 1).astype("float32")
    y = conv(x)                                 # (2, 496, 32), Keras' Conv1D
    with kerasaudio.layers.tflite_mode():
        blocked = conv(x)                       # the same values, as a stride-1 conv
    ```

    Reference:
        Dai et al., "Very Deep Convolutional Neural Networks for Raw Waveforms", ICASSP
        2017 (the M-net stems); the regrouping is the polyphase (space-to-depth) form of a
        strided convolution.
    """

    def __init__(self, filters: int, kernel_size, *, strides=1, padding: str = "valid",
                 **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, **kwargs)

    def _blocked(self, length) -> bool:
        stride, kernel = self.strides[0], self.kernel_size[0]
        return (in_tflite_mode() and stride > 1 and kernel % stride == 0
                and self.dilation_rate[0] == 1 and self.groups == 1
                and self.data_format == "channels_last"
                and self.padding in ("valid", "same") and length is not None
                and length >= kernel)

    def call(self, inputs):
        length = inputs.shape[1]
        if not self._blocked(length):
            return super().call(inputs)
        stride, kernel = self.strides[0], self.kernel_size[0]
        channels = inputs.shape[-1]
        x = inputs
        if self.padding == "same":  # Keras' (TensorFlow's) split: the extra sample last
            outputs = -(-length // stride)
            total = max((outputs - 1) * stride + kernel - length, 0)
            x = ops.pad(x, [[0, 0], [total // 2, total - total // 2], [0, 0]])
        else:
            outputs = (length - kernel) // stride + 1
        used = (outputs - 1) * stride + kernel  # samples the outputs read, a multiple of s
        x = ops.reshape(x[:, :used, :], (-1, used // stride, stride * channels))
        weights = ops.reshape(self.kernel, (kernel // stride, stride * channels, self.filters))
        y = ops.conv(x, weights, strides=1, padding="valid")
        if self.use_bias:
            y = y + self.bias
        return self.activation(y)
