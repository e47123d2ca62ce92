"""Decibel conversion layers: `PowerToDb` and `AmplitudeToDb` (librosa conventions)."""

from __future__ import annotations

import math

import keras

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers.base import SpectrogramLayer, check_float, in_tflite_mode

__all__ = ["AmplitudeToDb", "PowerToDb", "power_to_db"]

#: dB values above any finite float32 power (10 log10 of the largest float32 is 385.3 dB),
#: and below any finite one (10 log10 of the smallest positive float32 is -458.5 dB);
#: finite, so that no infinite constant enters a graph.
_ABOVE_FINITE, _BELOW_FINITE = 400.0, -1000.0


def power_to_db(ops, x, *, ref, amin: float, top_db: float | None, axes):
    """`10 log10(max(amin, x) / max(amin, ref))`, floored at `max - top_db` per example.

    `ops` is a Keras backend namespace; `ref` a number or `"max"` (per example); `axes`
    the example axes, so that neither `ref="max"` nor `top_db` ever looks across the batch.
    The computation of `PowerToDb` (and of `AmplitudeToDb` on squared magnitudes).

    Non-finite input stays where it is: the maximum that `ref="max"` and `top_db` use is
    taken over the finite values only, so a +Inf or NaN bin comes out +Inf or NaN and
    every other value is what it would be without it (the maximum over every value would
    turn a whole example into +Inf). An example with no finite value, and a batch of 0
    examples, are fine (there is nothing for the floor to raise). Traced for TFLite
    (`tflite_mode`), the maximum is over every value: the converted file then has no
    select (which int16x8 files cannot prepare); `kerasaudio.runtime` checks the audio
    it gives a file.

    Args:
        ops: a Keras backend namespace (`keras.src.backend` or a layer's `self.backend`).
        x: power values, any shape with a leading batch axis.
        ref: the reference power (a number) or `"max"` (each example's maximum).
        amin: floor applied to `x` and `ref` before the log (> 0).
        top_db: dynamic range kept below each example's maximum in dB, or None.
        axes: the example axes (every axis but the batch axis).

    Returns:
        The dB values, shaped like `x`.

    Example:
    ```python
    import numpy as np
    from keras.src import backend
    from kerasaudio.layers.decibels import power_to_db
    power_to_db(backend, np.array([[1.0, 0.1, 1e-12]]), ref=1.0, amin=1e-10,
                top_db=80.0, axes=(1,))  # [[0, -10, -80]]
    ```

    Reference:
        librosa.power_to_db (McFee et al., "librosa: Audio and music signal analysis in
        Python", SciPy 2015).
    """
    scale = 10.0 / math.log(10.0)
    log_spec = ops.numpy.log(ops.numpy.maximum(x, amin)) * scale
    if ref != "max" and top_db is None:
        return log_spec if ref == 1.0 else log_spec - math.log10(max(amin, ref)) * 10.0
    if in_tflite_mode():
        # TFLite files take the maximum of every value: a select ahead of it has no int16
        # kernel for a constant operand (int16x8 files would not prepare), and
        # `kerasaudio.runtime` refuses non-finite audio before it reaches a file.
        peak = ops.numpy.max(log_spec, axis=axes, keepdims=True)
    else:
        # The per-example maximum of the finite values (+Inf and NaN fail the `<`);
        # `initial` gives an empty example (or batch) a maximum too, which the backends
        # otherwise refuse.
        finite = ops.numpy.where(ops.numpy.less(log_spec, _ABOVE_FINITE), log_spec,
                                 _BELOW_FINITE)
        peak = ops.numpy.max(finite, axis=axes, keepdims=True, initial=_BELOW_FINITE)
    if ref == "max":
        # max(amin, peak power) in dB, `amin` rounded as `log_spec`'s floored values are.
        amin_db = ops.numpy.log(ops.numpy.full_like(peak, amin)) * scale
        reference = ops.numpy.maximum(peak, amin_db)
        log_spec, peak = log_spec - reference, peak - reference
    elif ref != 1.0:
        offset = math.log10(max(amin, ref)) * 10.0
        log_spec, peak = log_spec - offset, peak - offset
    if top_db is not None:
        log_spec = ops.numpy.maximum(log_spec, peak - top_db)
    return log_spec


def _check_ref(ref):
    if ref == "max":
        return ref
    if isinstance(ref, str):
        raise InvalidOptionError(f"ref={ref!r}: use a positive number or 'max'.")
    return check_float("ref", ref)


@keras.saving.register_keras_serializable(package="kerasaudio")
class PowerToDb(SpectrogramLayer):
    """Power spectrogram to decibels, like `librosa.power_to_db`, one example at a time.

    `10 * log10(max(amin, S) / max(amin, ref))`, then values more than `top_db` below
    the example's maximum are raised to that floor. `ref="max"` and `top_db` use each
    example's own maximum (over frames, bins and channels), never the batch's: a clip
    gives the same numbers alone or next to louder, quieter or silent clips (unlike
    `keras.layers.MelSpectrogram`, which clamps over the whole batch).

    Args:
        ref: reference power, a positive number or `"max"` (the example's maximum).
        amin: floor applied to `S` and `ref` before the log (> 0).
        top_db: dynamic range kept below each example's maximum; None keeps all.

    Example:
    ```python
    import numpy as np, kerasaudio
    mel = kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=512, n_mels=40)
    db = kerasaudio.layers.PowerToDb(ref="max", top_db=80.0)
    db(mel(np.random.randn(2, 8000).astype("float32"))).shape  # (2, 63, 40)
    ```

    Reference:
        librosa.power_to_db (McFee et al., "librosa: Audio and music signal analysis in
        Python", SciPy 2015).
    """

    def __init__(self, *, ref: float | str = 1.0, amin: float = 1e-10,
                 top_db: float | None = 80.0, **kwargs):
        super().__init__(**kwargs)
        self.ref = _check_ref(ref)
        self.amin = check_float("amin", amin)
        self.top_db = check_float("top_db", top_db, allow_none=True)

    def call(self, inputs):
        x = self.backend.cast(inputs, "float32")
        return power_to_db(self.backend, x, ref=self.ref, amin=self.amin,
                           top_db=self.top_db, axes=self.example_axes(x))

    def get_config(self):
        return {**super().get_config(), "ref": self.ref, "amin": self.amin,
                "top_db": self.top_db}


@keras.saving.register_keras_serializable(package="kerasaudio")
class AmplitudeToDb(PowerToDb):
    """Amplitude (magnitude) spectrogram to decibels, like `librosa.amplitude_to_db`.

    `20 * log10(max(amin, |S|) / max(amin, ref))`, floored at `top_db` below each
    example's own maximum (never the batch's).

    Args:
        ref: reference amplitude, a positive number or `"max"` (the example's maximum).
        amin: floor applied to `|S|` and `ref` before the log (> 0).
        top_db: dynamic range kept below each example's maximum; None keeps all.

    Example:
    ```python
    import numpy as np, kerasaudio
    stft = kerasaudio.layers.STFT(n_fft=512, mode="magnitude")
    db = kerasaudio.layers.AmplitudeToDb(ref="max")
    db(stft(np.random.randn(1, 8000).astype("float32"))).shape  # (1, 63, 257)
    ```

    Reference:
        librosa.amplitude_to_db (McFee et al., SciPy 2015).
    """

    def __init__(self, *, ref: float | str = 1.0, amin: float = 1e-5,
                 top_db: float | None = 80.0, **kwargs):
        super().__init__(ref=ref, amin=amin, top_db=top_db, **kwargs)

    def call(self, inputs):
        ops = self.backend
        x = ops.cast(inputs, "float32")
        power = ops.numpy.square(ops.numpy.abs(x))
        return power_to_db(ops, power, ref=self.ref if self.ref == "max" else self.ref ** 2,
                           amin=self.amin ** 2, top_db=self.top_db,
                           axes=self.example_axes(x))
