"""Energy-based voice activity detection: find the speech in a long recording.

The recording is cut into fixed frames (30 ms by default, as in malaya-speech's
pipeline), each frame's RMS level in dB is compared with a threshold, and the speech
frames are grouped into segments: silences shorter than `min_silence` inside speech are
bridged (the closure of a stop consonant is not a pause), segments shorter than
`min_speech` are dropped (clicks), and each segment is padded by `pad` on both sides.

The default threshold adapts to the recording: `max(noise floor + snr_db, loudest frame
- range_db)`, with the noise floor the 10th percentile of the frame levels; it suits
recordings with pauses between utterances. Pass `threshold_db` to fix it instead.

NumPy only; no model. `split(audio, sample_rate)` returns `Segment`s.

Example:
```python
clip = kerasaudio.datasets.fsdd.load(sample=True).path[0]  # or any long recording
audio, sr = kerasaudio.audio_io.load_audio(clip)
for segment in kerasaudio.vad.split(audio, sr):
    print(f"{segment.start_s:.2f}-{segment.end_s:.2f} s")
    clip = segment.slice(audio)
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kerasaudio.errors import InvalidAudioError, InvalidOptionError

__all__ = ["Segment", "frame_levels", "group_frames", "speech_frames", "split"]

#: Level given to an all-zero frame (dB re full scale 1.0).
FLOOR_DB = -120.0


@dataclass(frozen=True)
class Segment:
    """A stretch of speech: samples `[start, end)` of a recording at `sample_rate` Hz.

    Example:
    ```python
    segment = kerasaudio.vad.Segment(start=800, end=4800, sample_rate=8000)
    segment.start_s, segment.end_s, segment.duration  # (0.1, 0.6, 0.5)
    audio = np.zeros(8000, "float32")
    segment.slice(audio)  # audio[800:4800]
    ```
    """

    start: int
    end: int
    sample_rate: int

    @property
    def start_s(self) -> float:
        """Start in seconds."""
        return self.start / self.sample_rate

    @property
    def end_s(self) -> float:
        """End in seconds."""
        return self.end / self.sample_rate

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return (self.end - self.start) / self.sample_rate

    def slice(self, audio: np.ndarray) -> np.ndarray:
        """The segment's samples of `audio`."""
        return audio[self.start:self.end]


def _check_audio(audio) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise InvalidAudioError(f"expected mono audio (samples,); got shape {audio.shape}.")
    if audio.dtype.kind != "f":
        raise InvalidAudioError(
            f"expected floating-point audio in [-1, 1]; got dtype {audio.dtype} (scale "
            "int16 PCM by 1/32768 first).")
    return audio.astype(np.float64)


def _frame_length(sample_rate: int, frame_ms: float) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or \
            sample_rate < 1:
        raise InvalidOptionError(f"sample_rate={sample_rate!r}: must be an integer >= 1.")
    if not (isinstance(frame_ms, (int, float)) and math.isfinite(frame_ms) and frame_ms > 0):
        raise InvalidOptionError(f"frame_ms={frame_ms!r}: must be a number > 0.")
    length = round(sample_rate * frame_ms / 1000)
    if length < 1:
        raise InvalidOptionError(f"frame_ms={frame_ms} is shorter than one sample.")
    return length


def frame_levels(audio, sample_rate: int, *, frame_ms: float = 30.0) -> np.ndarray:
    """RMS level in dB (re 1.0) of every non-overlapping frame; a last partial frame counts
    over its own samples.

    Args:
        audio: mono float audio `(samples,)`.
        sample_rate: Hz.
        frame_ms: frame length in milliseconds.

    Returns:
        `(frames,)` float64, `20 log10(rms)`, at least -120 dB.

    Example:
    ```python
    t = np.arange(8000) / 8000
    kerasaudio.vad.frame_levels(0.5 * np.sin(2 * np.pi * 440 * t), 8000)[:2]
    # about -9.03 dB (the RMS of a 0.5 sine is 0.354)
    ```
    """
    audio = _check_audio(audio)
    length = _frame_length(sample_rate, frame_ms)
    frames = math.ceil(len(audio) / length)
    if frames == 0:
        return np.zeros(0)
    padded = np.zeros(frames * length)
    padded[:len(audio)] = audio
    power = (padded.reshape(frames, length) ** 2).sum(1)
    counts = np.full(frames, length, float)
    counts[-1] = len(audio) - (frames - 1) * length
    rms = np.sqrt(power / counts)
    with np.errstate(divide="ignore"):
        return np.maximum(20 * np.log10(rms), FLOOR_DB)


def speech_frames(levels: np.ndarray, *, threshold_db: float | None = None,
                  snr_db: float = 12.0, range_db: float = 40.0) -> np.ndarray:
    """Which frames are speech: `levels >= threshold` (bool array).

    Args:
        levels: frame levels in dB (`frame_levels`).
        threshold_db: a fixed threshold; None for the adaptive one,
            `max(10th percentile + snr_db, max - range_db)`.
        snr_db: how far above the noise floor speech must be (adaptive threshold).
        range_db: how far below the loudest frame speech may be (adaptive threshold).

    Returns:
        A bool array shaped like `levels`: True for speech frames.

    Example:
    ```python
    t = np.arange(16000) / 8000
    audio = np.where(t < 1, 0.5 * np.sin(2 * np.pi * 440 * t), 0.001)  # 1 s tone, 1 s hiss
    flags = kerasaudio.vad.speech_frames(kerasaudio.vad.frame_levels(audio, 8000))
    ```
    """
    levels = np.asarray(levels, float)
    if levels.size == 0:
        return np.zeros(0, bool)
    if threshold_db is None:
        threshold_db = max(np.percentile(levels, 10) + snr_db, levels.max() - range_db)
    return levels >= threshold_db


def group_frames(flags, *, min_silence: int = 7, min_speech: int = 3,
                 pad: int = 1) -> list[tuple[int, int]]:
    """Group speech frames into `(first, end)` frame ranges (end exclusive).

    Runs of speech separated by fewer than `min_silence` non-speech frames are merged;
    merged runs shorter than `min_speech` frames are dropped; the rest grow by `pad`
    frames on both sides (within the recording; padded neighbours that touch are merged).

    Args:
        flags: one bool (or 0/1) per frame: speech or not (`speech_frames`).
        min_silence: fewest non-speech frames that separate two segments.
        min_speech: fewest frames a segment keeps.
        pad: frames added on both sides of each segment.

    Returns:
        `(first, end)` frame ranges in order, end exclusive.

    Raises:
        InvalidOptionError: a negative or non-integer option.

    Example:
    ```python
    kerasaudio.vad.group_frames([0, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                                min_silence=3, min_speech=2, pad=0)
    # [(1, 7)]: the one-frame gap is bridged, the lone last frame dropped
    ```
    """
    flags = np.asarray(flags, bool)
    for name, value in (("min_silence", min_silence), ("min_speech", min_speech),
                        ("pad", pad)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise InvalidOptionError(f"{name}={value!r}: must be an integer >= 0.")
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    runs = list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(),
                    strict=True))
    merged: list[list[int]] = []
    for start, end in runs:
        if merged and start - merged[-1][1] < min_silence:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    out: list[tuple[int, int]] = []
    for start, end in merged:
        if end - start < max(min_speech, 1):
            continue
        start, end = max(0, start - pad), min(len(flags), end + pad)
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def split(audio, sample_rate: int, *, frame_ms: float = 30.0, threshold_db: float | None = None,
          snr_db: float = 12.0, range_db: float = 40.0, min_silence: float = 0.2,
          min_speech: float = 0.09, pad: float = 0.03) -> list[Segment]:
    """Speech segments of a recording (energy VAD on `frame_ms` frames, then grouping).

    Args:
        audio: mono float audio `(samples,)`.
        sample_rate: Hz.
        frame_ms: frame length in ms (30, as malaya-speech).
        threshold_db, snr_db, range_db: see `speech_frames`.
        min_silence: seconds of non-speech that end a segment (shorter gaps are bridged).
        min_speech: shortest segment kept, in seconds.
        pad: seconds added before and after each segment.

    Returns:
        `Segment`s in time order, sample-exact (ends clipped to the recording).

    Example:
    ```python
    t = np.arange(16000) / 8000
    audio = np.where(t < 1, 0.5 * np.sin(2 * np.pi * 440 * t), 0.001)  # 1 s tone, 1 s hiss
    segments = kerasaudio.vad.split(audio, 8000)
    [(round(s.start_s, 2), round(s.end_s, 2)) for s in segments]
    ```
    """
    audio = _check_audio(audio)
    length = _frame_length(sample_rate, frame_ms)
    flags = speech_frames(frame_levels(audio, sample_rate, frame_ms=frame_ms),
                          threshold_db=threshold_db, snr_db=snr_db, range_db=range_db)
    seconds = length / sample_rate
    groups = group_frames(flags, min_silence=max(1, round(min_silence / seconds)),
                          min_speech=max(1, round(min_speech / seconds)),
                          pad=round(pad / seconds))
    return [Segment(first * length, min(end * length, len(audio)), int(sample_rate))
            for first, end in groups]
