"""Per-example standardisation of features."""

from __future__ import annotations

import keras

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers.base import SpectrogramLayer, check_float

__all__ = ["Standardize"]


@keras.saving.register_keras_serializable(package="kerasaudio")
class Standardize(SpectrogramLayer):
    """Standardise each example by its own mean and standard deviation.

    `(x - mean) / max(std, epsilon)`, the statistics taken over each example's axes
    (default: every axis but the batch axis), as the Kaggle Freesound Audio Tagging 2019
    BiLSTM + attention kernel normalises each log-mel spectrogram (docs/references.md,
    [S4]). Never uses other examples of the batch; a constant (e.g. silent) example
    becomes all zeros instead of NaN.

    Args:
        axis: non-batch axis or axes to reduce over (e.g. `1` for per-bin statistics over
            time); default all non-batch axes.
        epsilon: lower bound of the standard deviation.
        scale: divide by the standard deviation; False only subtracts the mean (mean
            normalisation, as SpeechBrain's `InputNormalization(norm_type="sentence",
            std_norm=False)` over the time axis with `axis=1`).

    Example:
    ```python
    import numpy as np, kerasaudio
    x = np.random.randn(2, 100, 40).astype("float32") * 5 + 3
    y = kerasaudio.layers.Standardize()(x)  # each example: mean 0, std 1
    z = kerasaudio.layers.Standardize(axis=1, scale=False)(x)  # each band: mean 0 over time
    ```

    Reference:
        The per-spectrogram normalisation of the Kaggle Freesound Audio Tagging 2019
        BiLSTM-attention kernel (docs/references.md [S4]; the challenge: Fonseca et al.,
        "Audio tagging with noisy labels and minimal supervision", DCASE 2019 Workshop).
    """

    def __init__(self, *, axis: int | tuple[int, ...] | None = None, epsilon: float = 1e-6,
                 scale: bool = True, **kwargs):
        super().__init__(**kwargs)
        if axis is not None:
            axes = (axis,) if isinstance(axis, int) else tuple(axis)
            if not axes or any(not isinstance(a, int) or a == 0 for a in axes):
                raise InvalidOptionError(
                    f"axis={axis!r}: give non-batch axes (never 0: statistics are per "
                    "example)."
                )
            axis = tuple(axes)
        self.axis = list(axis) if isinstance(axis, tuple) else axis
        self.epsilon = check_float("epsilon", epsilon)
        self.scale = bool(scale)

    def call(self, inputs):
        ops = self.backend
        x = ops.cast(inputs, "float32")
        axes = self.example_axes(x) if self.axis is None else tuple(self.axis)
        centered = x - ops.numpy.mean(x, axis=axes, keepdims=True)
        # Second pass: removes the float32 rounding of the first mean, which matters when
        # the mean is large against the spread (dB spectrograms: mean -60, std 5).
        centered = centered - ops.numpy.mean(centered, axis=axes, keepdims=True)
        if not self.scale:
            return centered
        # centered * centered, not square(x - mean): TFLite fuses the latter into
        # SQUARED_DIFFERENCE, which has no int16 kernel (16x8 exports).
        variance = ops.numpy.mean(centered * centered, axis=axes, keepdims=True)
        # max(std, eps) == sqrt(max(var, eps**2)); a multiply by RSQRT instead of a DIV keeps
        # full-int8 TFLite exports valid (an int8 DIV fails when its divisor rounds to zero).
        return centered * ops.math.rsqrt(ops.numpy.maximum(variance, self.epsilon ** 2))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "scale": self.scale}
