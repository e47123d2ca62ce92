"""Shared machinery of the front-end layers: backend switching, input checks, option checks.

Design (see docs/design.md): every front-end layer is a Keras `DataLayer`, the base class
Keras uses for its own audio layers. In a model it runs on the model's backend (TensorFlow
or JAX); inside a `tf.data` pipeline it switches to TensorFlow ops, whatever the Keras
backend is. The layers' math is written against `self.backend`, the dynamic namespace of
Keras backend ops (`numpy`, `math`, `nn`, `random`) that `keras.ops` itself dispatches to.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import threading

import keras
import numpy as np
from keras.src.layers.preprocessing.data_layer import DataLayer

from kerasaudio.audio_io import MAX_SAMPLE_RATE
from kerasaudio.errors import InvalidAudioError, InvalidOptionError

__all__ = ["OPTION_LIMITS", "AudioLayer", "SpectrogramLayer", "in_tflite_mode", "tflite_mode"]

_state = threading.local()


@contextlib.contextmanager
def tflite_mode():
    """Trace front-end layers for TFLite conversion (used by `kerasaudio.export`).

    Inside this context, layers pick graph ops that TFLite runs as builtins and XNNPACK
    runs fast, with the same values: spectral layers with `dft="auto"` compute the FFT
    with the builtin RFFT2D or as two matrix products per frame, and a strided
    convolution with a windowed DFT kernel only for an `n_fft` with neither form (see
    `STFT`); `kerasaudio.layers.Conv1D` regroups a strided convolution into an unstrided
    one; `kerasaudio.layers.LSTM` becomes TFLite's fused LSTM op. Nesting is allowed; the
    state is per thread.

    Returns:
        A context manager; `in_tflite_mode()` is True inside it.

    Example:
    ```python
    import keras, kerasaudio, tensorflow as tf
    model = keras.Sequential([keras.Input((8000,)),
                              kerasaudio.layers.MelSpectrogram(sample_rate=8000)])
    spec = tf.TensorSpec((1, 8000), tf.float32)
    with kerasaudio.layers.tflite_mode():
        concrete = tf.function(model).get_concrete_function(spec)
    ```
    """
    previous = getattr(_state, "tflite", False)
    _state.tflite = True
    try:
        yield
    finally:
        _state.tflite = previous


def in_tflite_mode() -> bool:
    """True while tracing inside `tflite_mode()`.

    Returns:
        Whether the current thread is inside `tflite_mode()`.

    Example:
    ```python
    with kerasaudio.layers.tflite_mode():
        assert kerasaudio.layers.in_tflite_mode()
    ```
    """
    return getattr(_state, "tflite", False)


# ----------------------------------------------------------------------------- options

#: The upper limit of every front-end size option, by option name, and why: `check_int`
#: and `check_float` apply it to the option they check, in every layer alike. Each limit
#: is far beyond what audio models use, and stops one option from asking for memory no
#: model needs (a DFT matrix of `dft="conv"` takes n_fft x (n_fft + 2) float32 values:
#: 1 GiB at n_fft 16384).
OPTION_LIMITS: dict[str, tuple[int, str]] = {
    "sample_rate": (MAX_SAMPLE_RATE, "kerasaudio.audio_io.MAX_SAMPLE_RATE, the highest "
                    "rate a file may have"),
    "target_sample_rate": (MAX_SAMPLE_RATE, "as sample_rate"),
    "n_fft": (16_384, "0.34 s at 48 kHz; the DFT matrix alone would take over 1 GiB"),
    "win_length": (16_384, "the largest n_fft"),
    "hop_length": (262_144, "5.5 s at 48 kHz"),
    "n_mels": (2_048, "mel bands"),
    "num_mel_bins": (2_048, "mel bands"),
    "frame_length": (4_096, "KaldiFbank's frame, sample_rate x frame_length_ms / 1000 "
                     "samples: its frame-to-DFT matrix holds frame_length^2 float64 values"),
    "n_mfcc": (2_048, "at most one per mel band"),
}


def _check_limit(name: str, value):
    """`value` after checking it is within `OPTION_LIMITS[name]` (if `name` has one)."""
    limit = OPTION_LIMITS.get(name)
    if limit is not None and value > limit[0]:
        raise InvalidOptionError(f"{name}={value!r}: must be <= {limit[0]:,} ({limit[1]}; "
                                 "kerasaudio.layers.base.OPTION_LIMITS).")
    return value


def check_int(name: str, value, *, minimum: int = 1, allow_none: bool = False):
    """`value` as an int after checking it is an integer >= `minimum` (bools refused)
    and within the option's upper limit in `OPTION_LIMITS`.

    Args:
        name: the option's name, for the error message.
        value: the value to check.
        minimum: the smallest value accepted.
        allow_none: accept None (and return it).

    Returns:
        `int(value)`, or None.

    Raises:
        InvalidOptionError: not an integer, below `minimum`, or above its limit.

    Example:
    ```python
    from kerasaudio.layers.base import check_int
    check_int("n_fft", 512, minimum=2)  # 512
    ```
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InvalidOptionError(f"{name}={value!r}: must be an integer >= {minimum}.")
    return _check_limit(name, int(value))


def check_float(name: str, value, *, positive: bool = True, allow_none: bool = False,
                minimum: float | None = None):
    """`value` as a float after checking it is a finite real number (bools refused)
    within the option's upper limit in `OPTION_LIMITS`.

    Args:
        name: the option's name, for the error message.
        value: the value to check.
        positive: require `value > 0`.
        allow_none: accept None (and return it).
        minimum: the smallest value accepted, if any.

    Returns:
        `float(value)`, or None.

    Raises:
        InvalidOptionError: not a finite number, or out of range (or above its limit).

    Example:
    ```python
    from kerasaudio.layers.base import check_float
    check_float("residual", 0.0, positive=False, minimum=0.0)  # 0.0
    ```
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InvalidOptionError(f"{name}={value!r}: must be a finite number.")
    if positive and value <= 0:
        raise InvalidOptionError(f"{name}={value!r}: must be > 0.")
    if minimum is not None and value < minimum:
        raise InvalidOptionError(f"{name}={value!r}: must be >= {minimum}.")
    return _check_limit(name, float(value))


def check_choice(name: str, value, choices):
    """`value` after checking it is one of `choices`.

    Args:
        name: the option's name, for the error message.
        value: the value to check.
        choices: the accepted values.

    Returns:
        `value` unchanged.

    Raises:
        InvalidOptionError: `value` is not one of `choices`.

    Example:
    ```python
    from kerasaudio.layers.base import check_choice
    check_choice("pad_mode", "reflect", ("constant", "reflect"))  # "reflect"
    ```
    """
    if value not in choices:
        raise InvalidOptionError(f"{name}={value!r}: must be one of {sorted(map(repr, choices))}.")
    return value


# ----------------------------------------------------------------------------- layers


class FrontEndLayer(DataLayer):
    """Common base: float32 compute, and a floating-point dtype check on every call.

    Integer input (e.g. int16 PCM) is refused with a hint to scale it to [-1, 1] first;
    `_check_shape` lets subclasses validate the input shape before the call. A batch of
    0 examples (a static batch size of 0) gives an empty batch of the usual output shape
    on every backend.

    Example:
    ```python
    import numpy as np, kerasaudio
    try:
        kerasaudio.layers.STFT(n_fft=64)(np.zeros((1, 256), "int16"))
    except kerasaudio.errors.InvalidAudioError as error:
        print(error)  # STFT expects floating-point audio; got dtype int16. Scale ...
    ```
    """

    #: what the layer takes, for error messages.
    expects = "audio"

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def __call__(self, inputs, *args, **kwargs):
        dtype = getattr(inputs, "dtype", None)
        if dtype is None:
            inputs = np.asarray(inputs)
            dtype = inputs.dtype
        dtype = keras.backend.standardize_dtype(dtype)
        if dtype not in ("float16", "bfloat16", "float32", "float64"):
            hint = (" Scale integer PCM to float in [-1, 1] first, e.g. x.astype('float32') "
                    "/ 32768 for int16." if "int" in dtype else "")
            raise InvalidAudioError(
                f"{type(self).__name__} expects floating-point {self.expects}; "
                f"got dtype {dtype}.{hint}"
            )
        shape = tuple(inputs.shape)
        self._check_shape(shape)
        if shape and shape[0] == 0 and all(d is not None for d in shape[1:]):
            # A batch of 0 clips gives 0 outputs of the shape any other batch gets: one
            # silent example is computed and none kept. TensorFlow's convolutions return
            # a wrong shape for an empty batch (a conv DFT, a resampling filter), which
            # running the layer on the empty batch itself would give.
            one = np.zeros((1, *shape[1:]), dtype)
            return keras.tree.map_structure(lambda t: t[:0],
                                            super().__call__(one, *args, **kwargs))
        return super().__call__(inputs, *args, **kwargs)

    def _check_shape(self, shape: tuple):
        """Hook: validate the input shape (dimensions may be None)."""


class AudioLayer(FrontEndLayer):
    """Base of the layers that take waveforms `(batch, samples)` or `(batch, samples, channels)`.

    Subclasses implement `_compute(x)` on a `(batch', samples)` float32 tensor (channels
    folded into the batch) returning `(batch', frames, bins, ...)`, and `_output_shape`.
    Channels come back out right after the bins axis: `(batch, frames, bins, channels, ...)`.

    Example:
    ```python
    import numpy as np, kerasaudio
    stft = kerasaudio.layers.STFT(n_fft=64, mode="power")   # an AudioLayer
    stft(np.zeros((2, 1000, 2), "float32")).shape            # (2, 63, 33, 2)
    ```
    """

    #: largest channel count accepted (None: any).
    max_channels: int | None = None

    def _check_shape(self, shape: tuple):
        if len(shape) not in (2, 3):
            raise InvalidAudioError(
                f"{type(self).__name__} expects audio shaped (batch, samples) or "
                f"(batch, samples, channels); got shape {shape}."
            )
        if len(shape) == 3 and self.max_channels is not None and shape[-1] is not None:
            if shape[-1] > self.max_channels:
                raise InvalidAudioError(
                    f"{type(self).__name__} takes at most {self.max_channels} channel(s); "
                    f"got input shape {shape} with {shape[-1]} channels. Mix down to mono "
                    "first (e.g. average the channels)."
                )
        self._check_length(shape[1])

    def _check_length(self, samples):
        """Hook: validate a static number of samples (None when dynamic)."""

    def call(self, inputs):
        ops = self.backend
        x = ops.cast(inputs, "float32")
        if len(x.shape) == 2:
            return self._compute(x)
        batch, samples = ops.core.shape(x)[0], ops.core.shape(x)[1]
        channels = x.shape[-1]
        y = self._compute(ops.numpy.reshape(ops.numpy.transpose(x, (0, 2, 1)), (-1, samples)))
        rest = [-1 if d is None else d for d in y.shape[1:]]
        y = ops.numpy.reshape(y, (batch, channels, *rest))
        return ops.numpy.transpose(y, (0, 2, 3, 1, *range(4, len(rest) + 2)))

    def compute_output_shape(self, input_shape):
        per_channel = self._output_shape(tuple(input_shape[:2]))
        if len(input_shape) == 2:
            return per_channel
        return (*per_channel[:3], input_shape[2], *per_channel[3:])


class SpectrogramLayer(FrontEndLayer):
    """Base of the layers that take features `(batch, frames, bins[, channels])`.

    The output has the input's shape; statistics are taken per example, never over the
    batch (`example_axes`).

    Example:
    ```python
    import numpy as np, kerasaudio
    db = kerasaudio.layers.PowerToDb()                       # a SpectrogramLayer
    db(np.ones((2, 10, 40), "float32")).shape                 # (2, 10, 40)
    ```
    """

    expects = "features"

    def _check_shape(self, shape: tuple):
        if len(shape) < 2:
            raise InvalidAudioError(
                f"{type(self).__name__} expects (batch, frames, bins[, channels]); "
                f"got shape {shape}."
            )

    def compute_output_shape(self, input_shape):
        return input_shape

    @staticmethod
    def example_axes(x):
        """All axes but the batch axis: statistics are per example, never over the batch."""
        return tuple(range(1, len(x.shape)))
