"""The limits every audio file and option is held to, and the checks that apply them.

A header cannot make kerasaudio allocate or resample without bound: decoding stops at
`max_duration` seconds (`MAX_DURATION` by default), native rates outside
`[MIN_SAMPLE_RATE, MAX_SAMPLE_RATE]` are refused, and audio entering a model must be
finite and within `MAX_PEAK`. `check_rate` and `check_seconds` validate the options that
name rates and durations, for every module that takes them.
"""

from __future__ import annotations

import math
import numbers
from typing import Literal, overload

import numpy as np

from kerasaudio.errors import AudioFileError, InvalidAudioError, InvalidOptionError

__all__ = ["BLOCK_FRAMES", "MAX_DURATION", "MAX_PEAK", "MAX_SAMPLE_RATE", "MIN_SAMPLE_RATE",
           "check_peak", "check_rate", "check_seconds"]

#: Longest audio, in seconds, decoded from one file unless `max_duration=` says otherwise
#: (one hour: 14.4 MB per channel at 1 kHz, 691 MB at 48 kHz in float32).
MAX_DURATION = 3600.0
#: Lowest native sample rate accepted by default (`min_sample_rate=`), Hz: a header
#: claiming 1 Hz would make every frame 8,000 samples at 8 kHz.
MIN_SAMPLE_RATE = 1000
#: Highest sample rate accepted, native or asked for, Hz (twice the 384 kHz of studio
#: converters).
MAX_SAMPLE_RATE = 768_000
#: Largest sample magnitude accepted where audio enters a model (`kerasaudio.runtime`,
#: `kerasaudio.data.audio_dataset`): nominal audio is within [-1, 1], and 16-bit values
#: stored unscaled as float (32768) still pass; float32 front ends overflow (power spectra
#: of ~1e17 and beyond become Inf, then NaN) far above it.
MAX_PEAK = 1e6
#: Frames decoded per block.
BLOCK_FRAMES = 1 << 16


def limit_frames(max_duration: float | None, sample_rate: int) -> int | None:
    """The most frames `max_duration` seconds allow at `sample_rate` (None: no limit)."""
    return None if max_duration is None else int(max_duration * sample_rate)


def too_long(path: str, max_duration: float, sample_rate: int, what: str) -> AudioFileError:
    """The `AudioFileError` for a file holding more than `max_duration` seconds; `what`
    says how that was found ("holds", "the header declares N frames (T s),")."""
    return AudioFileError(
        path, f"{what} more than max_duration={max_duration:g} s of audio (over "
        f"{limit_frames(max_duration, sample_rate)} frames at {sample_rate} Hz); pass a "
        "larger max_duration (None: no limit) to load it")


def peak_reason(peak: float, max_peak: float) -> str:
    """Why a peak beyond `max_peak` is refused (the message's reason part)."""
    return (f"peak sample magnitude {peak:.3g} is beyond max_peak={max_peak:g}: audio is "
            "expected within [-1, 1] (float32 front ends overflow to Inf/NaN on such "
            "values); scale it first")


def check_peak(audio: np.ndarray, *, max_peak: float | None = MAX_PEAK,
               what: str = "audio") -> None:
    """Refuse NaN/Inf samples and samples beyond `max_peak` with an `InvalidAudioError`.

    Where audio enters a model: a float file holding 5e29 is finite, but a float32 front
    end squares it to Inf and gives NaN probabilities.

    Args:
        audio: the samples.
        max_peak: the largest magnitude accepted (None: no bound, finiteness only).
        what: names the audio in the message (a file path, "audio").

    Raises:
        InvalidAudioError: non-finite values, or a peak beyond `max_peak`; the message
            names `what` and the peak.

    Example:
    ```python
    kerasaudio.audio_io.check_peak(np.full(8000, 0.5, "float32"))  # fine
    try:
        kerasaudio.audio_io.check_peak(np.full(8000, 5e29, "float32"), what="x.wav")
    except kerasaudio.errors.InvalidAudioError as e:
        print(e)  # x.wav: peak sample magnitude 5e+29 is beyond max_peak=1e+06: ...
    ```
    """
    audio = np.asarray(audio)
    finite = np.isfinite(audio)
    if not finite.all():
        bad = int(audio.size - np.count_nonzero(finite))
        raise InvalidAudioError(f"{what}: contains {bad} NaN or Inf sample values.")
    if max_peak is not None and audio.size:
        peak = float(np.max(np.abs(audio)))
        if peak > max_peak:
            raise InvalidAudioError(f"{what}: {peak_reason(peak, max_peak)}.")


def check_native_rate(path: str, sample_rate: int, min_sample_rate: int) -> None:
    """Refuse (`AudioFileError`) a header's rate outside `[min_sample_rate,
    MAX_SAMPLE_RATE]` Hz."""
    if sample_rate <= 0:
        raise AudioFileError(path, f"invalid sample rate {sample_rate} Hz in the header")
    if sample_rate < min_sample_rate:
        raise AudioFileError(
            path, f"sample rate {sample_rate} Hz in the header is below min_sample_rate="
            f"{min_sample_rate} Hz (pass a lower min_sample_rate to load it)")
    if sample_rate > MAX_SAMPLE_RATE:
        raise AudioFileError(
            path, f"sample rate {sample_rate} Hz in the header is above the "
            f"{MAX_SAMPLE_RATE} Hz kerasaudio reads")


@overload
def check_rate(name: str, value, *, allow_none: Literal[False]) -> int: ...
@overload
def check_rate(name: str, value, *, allow_none: bool) -> int | None: ...
def check_rate(name: str, value, *, allow_none: bool) -> int | None:
    """`value` as a positive integer sample rate (Hz) up to `MAX_SAMPLE_RATE`, or an
    `InvalidOptionError` naming option `name`; None passes through when `allow_none`.

    Example:
    ```python
    kerasaudio.audio_io.check_rate("sample_rate", 16000, allow_none=False)  # 16000
    try:
        kerasaudio.audio_io.check_rate("sample_rate", 0, allow_none=False)
    except kerasaudio.errors.InvalidOptionError as e:
        print(e)  # sample_rate must be a positive integer (Hz), got 0.
    ```
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise InvalidOptionError(f"{name} must be a positive integer (Hz), got {value!r}.")
    rate = int(value)
    if rate > MAX_SAMPLE_RATE:
        raise InvalidOptionError(
            f"{name}={value!r} Hz is above the {MAX_SAMPLE_RATE} Hz kerasaudio supports.")
    return rate


@overload
def check_seconds(name: str, value, *, allow_none: Literal[False],
                  allow_zero: bool) -> float: ...
@overload
def check_seconds(name: str, value, *, allow_none: bool, allow_zero: bool) -> float | None: ...
def check_seconds(name: str, value, *, allow_none: bool, allow_zero: bool) -> float | None:
    """`value` as a finite positive (or, with `allow_zero`, non-negative) number of
    seconds, or an `InvalidOptionError` naming option `name`.

    Example:
    ```python
    kerasaudio.audio_io.check_seconds("offset", 0, allow_none=False, allow_zero=True)  # 0.0
    kerasaudio.audio_io.check_seconds("duration", None, allow_none=True,
                                      allow_zero=False)  # None
    ```
    """
    if value is None and allow_none:
        return None
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        kind = "non-negative" if allow_zero else "positive"
        raise InvalidOptionError(f"{name} must be a {kind} number of seconds, got {value!r}.")
    return float(value)
