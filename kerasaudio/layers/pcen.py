"""Per-channel energy normalisation (PCEN), like `librosa.pcen`."""

from __future__ import annotations

import math

import keras
import numpy as np

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers.base import SpectrogramLayer, check_float, check_int, in_tflite_mode

__all__ = ["PCEN", "pcen_smoothing_coefficient"]

#: Frames per block of the smoother's matrix products (see `PCEN._smooth`).
SMOOTH_BLOCK = 128


def pcen_smoothing_coefficient(*, time_constant: float, sample_rate: float,
                               hop_length: int) -> float:
    """The smoother's `b` for a time constant in seconds, as `librosa.pcen` chooses it.

    `b` solves `b**2 + (1 - b) / t - 2 = 0` with `t = time_constant * sample_rate /
    hop_length` frames (the full width at half maximum of the squared frequency response
    of the one-pole low-pass filter).

    Args:
        time_constant: the smoother's time constant, seconds.
        sample_rate: sampling rate of the audio, Hz.
        hop_length: samples between frames.

    Returns:
        The coefficient `b` in (0, 1].

    Example:
    ```python
    import kerasaudio
    kerasaudio.layers.pcen_smoothing_coefficient(
        time_constant=0.4, sample_rate=8000, hop_length=80)  # 0.0247
    ```
    """
    frames = time_constant * sample_rate / float(hop_length)
    return float((math.sqrt(1.0 + 4.0 * frames ** 2) - 1.0) / (2.0 * frames ** 2))


def _decay_matrix(size, decay: float, b: float, ops):
    """`(size, size)`: `b * decay**(i - j)` on and below the diagonal, 0 above."""
    steps = ops.numpy.arange(size, dtype="float32")
    lags = steps[:, None] - steps[None, :]
    weights = b * ops.numpy.exp(ops.numpy.maximum(lags, 0.0) * math.log(decay))
    return ops.numpy.where(lags >= 0, weights, ops.numpy.zeros_like(weights))


@keras.saving.register_keras_serializable(package="kerasaudio")
class PCEN(SpectrogramLayer):
    """Per-channel energy normalisation of a spectrogram, like `librosa.pcen`.

    Each frequency bin is divided by a running average of its own past (automatic gain
    control over time), then compressed: `M = smooth(S)` with the one-pole low-pass filter
    `M[t] = b S[t] + (1 - b) M[t - 1]` along the frames (started, as librosa starts it,
    from the filter's steady state for an input of 1), then
    `(S / (eps + M)**gain + bias)**power - bias**power`, computed in librosa's stable
    form. Loudness and a stationary colouring of the channel mostly cancel in `S / M`,
    which is why PCEN is used for keyword spotting in far-field and noisy recordings.

    Takes a non-negative spectrogram `(batch, frames, bins[, channels])`. The defaults of
    `eps` and `bias` assume integer-scaled audio (librosa's example takes the magnitude
    mel spectrogram of float audio times `2**31`): `input_scale=2**31` does that
    scaling inside the layer, so that `PCEN(input_scale=c)(S)` is `librosa.pcen(c * S)`
    and the whole computation stays in the float32 front end of quantized TFLite files
    (a separate `Rescaling` layer would be quantized). Each example is filtered on its
    own; frames never mix with other examples' (batch-invariant). The filter runs as
    matrix products over blocks of 128 frames, exactly (no truncated impulse response),
    any number of frames, and converts to TFLite builtins.

    Args:
        sample_rate: sample rate of the audio the spectrogram was computed from.
        hop_length: samples between frames; with `sample_rate` and `time_constant` it
            gives `b` (`pcen_smoothing_coefficient`) unless `b` is given.
        gain: exponent of the gain normalisation (0 to 1; librosa's alpha).
        bias: offset added before the compression (librosa's delta, >= 0).
        power: compression exponent (librosa's r, >= 0; 0 gives `log1p(S / M**gain)`).
        time_constant: smoother time constant in seconds.
        eps: floor added to the smoothed spectrogram (> 0).
        b: smoothing coefficient in (0, 1]; overrides `time_constant`.
        input_scale: factor applied to the input first (e.g. `2**31` for float audio).
        learnable: learn `gain`, `bias` and `power` per frequency bin (the trainable
            front end of Wang et al.), starting from the values given, stored as their
            logarithms so that they stay positive (`gain` is capped at 1); `b` stays
            fixed. Needs `bias > 0` and `power > 0` and a known number of bins.

    Example:
    ```python
    import keras, numpy as np, kerasaudio
    mel = kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=80,
                                           n_mels=40, power=1.0)
    pcen = kerasaudio.layers.PCEN(sample_rate=8000, hop_length=80, input_scale=2.0 ** 31)
    pcen(mel(np.random.randn(2, 8000).astype("float32"))).shape  # (2, 101, 40)
    ```

    Reference:
        Wang, Getreuer, Hughes, Lyon and Saurous, "Trainable frontend for robust and
        far-field keyword spotting", ICASSP 2017; librosa.pcen (McFee et al., SciPy 2015).
    """

    def __init__(self, *, sample_rate: float = 22050, hop_length: int = 512,
                 gain: float = 0.98, bias: float = 2.0, power: float = 0.5,
                 time_constant: float = 0.4, eps: float = 1e-6, b: float | None = None,
                 input_scale: float = 1.0, learnable: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.sample_rate = check_float("sample_rate", sample_rate)
        self.hop_length = check_int("hop_length", hop_length)
        self.gain = check_float("gain", gain, positive=False, minimum=0.0)
        if self.gain > 1.0:
            raise InvalidOptionError(f"gain={gain!r}: must be between 0 and 1.")
        self.bias = check_float("bias", bias, positive=False, minimum=0.0)
        self.power = check_float("power", power, positive=False, minimum=0.0)
        self.time_constant = check_float("time_constant", time_constant)
        self.eps = check_float("eps", eps)
        self.b = check_float("b", b, allow_none=True)
        if self.b is not None and self.b > 1.0:
            raise InvalidOptionError(f"b={b!r}: must be in (0, 1].")
        self.input_scale = check_float("input_scale", input_scale)
        if not isinstance(learnable, bool):
            raise InvalidOptionError(f"learnable={learnable!r}: must be True or False.")
        if learnable and (self.bias == 0.0 or self.power == 0.0 or self.gain == 0.0):
            raise InvalidOptionError(
                "learnable=True learns the logarithms of gain, bias and power: each must "
                f"be > 0 (got gain={gain!r}, bias={bias!r}, power={power!r}).")
        self.learnable = learnable

    def build(self, input_shape):
        if not self.learnable:
            return
        bins = input_shape[2] if len(input_shape) > 2 else None
        if bins is None:
            raise InvalidOptionError(
                f"PCEN(learnable=True) needs a known number of bins; got input shape "
                f"{tuple(input_shape)}.")
        self._extra_axes = len(input_shape) - 3  # channels after the bins

        def weight(name, value):
            return self.add_weight(name=name, shape=(int(bins),), trainable=True,
                                   initializer=keras.initializers.Constant(math.log(value)))

        self.log_gain = weight("log_gain", self.gain)
        self.log_bias = weight("log_bias", self.bias)
        self.log_power = weight("log_power", self.power)

    def _parameters(self):
        """`(gain, bias, power)`: numbers, or per-bin tensors shaped to broadcast."""
        if not self.learnable:
            return self.gain, self.bias, self.power
        ops = self.backend
        shape = (-1,) + (1,) * self._extra_axes

        def value(variable):
            return ops.numpy.reshape(ops.numpy.exp(ops.cast(variable, "float32")), shape)

        return (ops.numpy.minimum(value(self.log_gain), 1.0), value(self.log_bias),
                value(self.log_power))

    @property
    def coefficient(self) -> float:
        """The smoothing coefficient `b` in use."""
        if self.b is not None:
            return self.b
        return pcen_smoothing_coefficient(time_constant=self.time_constant,
                                          sample_rate=self.sample_rate,
                                          hop_length=self.hop_length)

    def _smooth(self, x):
        """`M` of `(batch, frames, features)`, started from 1 as `librosa.pcen` starts it.

        Blocks of `SMOOTH_BLOCK` frames: each block is filtered from zero with one
        `(block, block)` matrix product; the states at the blocks' ends follow from one
        more product with `decay**(block * lag)` between blocks; each frame then adds
        `decay**(i + 1)` times the state its block starts from. Exact for any length,
        and every weight is a power of `decay < 1` (nothing overflows).
        """
        ops = self.backend
        b = self.coefficient
        decay = 1.0 - b
        if decay == 0.0:  # b = 1: no smoothing
            return x
        frames, features = x.shape[1], x.shape[2]
        static = frames is not None
        block = min(frames, SMOOTH_BLOCK) if static else SMOOTH_BLOCK
        n = ops.core.shape(x)[0]
        count = frames if static else ops.core.shape(x)[1]
        blocks = -(-count // block)
        padding = blocks * block - count
        if not static or padding:
            x = ops.numpy.concatenate(
                [x, ops.numpy.zeros((n, padding, features), dtype=x.dtype)], axis=1)
        x = ops.numpy.reshape(x, (n, blocks, block, features))
        within = ops.numpy.matmul(_decay_matrix(block, decay, b, ops), x)  # from zero
        steps = ops.numpy.arange(block, dtype="float32")
        ramp = ops.numpy.exp((steps + 1.0) * math.log(decay))[:, None]  # decay**(i + 1)
        if static and blocks == 1:
            carry = ops.numpy.ones((n, 1, 1, features), dtype=x.dtype)
        else:
            ends = within[:, :, block - 1, :]  # (n, blocks, features)
            across = _decay_matrix(blocks, decay ** block, 1.0, ops)
            start = ops.numpy.exp(
                (ops.numpy.arange(blocks, dtype="float32") + 1.0) * block * math.log(decay))
            states = ops.numpy.matmul(across, ends) + start[:, None]  # at each block's end
            carry = ops.numpy.concatenate(
                [ops.numpy.ones((n, 1, features), dtype=x.dtype), states[:, :-1]], axis=1)
            carry = carry[:, :, None, :]
        smoothed = within + ramp * carry
        smoothed = ops.numpy.reshape(smoothed, (n, blocks * block, features))
        return smoothed if static and not padding else smoothed[:, :count]

    def call(self, inputs):
        ops = self.backend
        x = ops.cast(inputs, "float32")
        if self.input_scale != 1.0:
            x = x * self.input_scale
        shape = ops.core.shape(x)
        rest = [-1 if d is None else d for d in x.shape[2:]]
        features = int(np.prod(rest)) if all(d != -1 for d in rest) else -1
        flat = ops.numpy.reshape(x, (shape[0], -1 if x.shape[1] is None else x.shape[1],
                                     features))
        smoothed = ops.numpy.reshape(self._smooth(flat), shape)
        tflite = in_tflite_mode()  # no LOG1P / EXPM1 builtins: the plain forms
        log1p = (lambda v: ops.numpy.log(1.0 + v)) if tflite else ops.numpy.log1p
        expm1 = (lambda v: ops.numpy.exp(v) - 1.0) if tflite else ops.numpy.expm1
        gain, bias, power = self._parameters()
        # (eps + M)**-gain, in librosa's form: exp(-gain (log eps + log1p(M / eps)))
        agc = ops.numpy.exp(-gain * (math.log(self.eps) + log1p(smoothed / self.eps)))
        if not self.learnable and self.power == 0.0:
            return log1p(x * agc)
        if not self.learnable and self.bias == 0.0:
            return ops.numpy.exp(power * (ops.numpy.log(x) + ops.numpy.log(agc)))
        scale = (ops.numpy.exp(power * ops.numpy.log(bias)) if self.learnable
                 else self.bias ** self.power)  # bias**power
        return scale * expm1(power * log1p(x * agc / bias))

    def get_config(self):
        return {**super().get_config(), "sample_rate": self.sample_rate,
                "hop_length": self.hop_length, "gain": self.gain, "bias": self.bias,
                "power": self.power, "time_constant": self.time_constant, "eps": self.eps,
                "b": self.b, "input_scale": self.input_scale, "learnable": self.learnable}
