"""Voice activity detection: find the speech in a long recording.

Two methods, chosen with `split(..., method=)`:

- `"energy"` (default): no model, NumPy only (below).
- `"silero"`: Silero VAD's speech probability per 32 ms chunk
  (`kerasaudio.models.silero_vad`, the weights of the `silero-vad` package), grouped into
  segments by `speech_timestamps`, which follows the reference's `get_speech_timestamps`
  (hysteresis between `threshold` and `neg_threshold`, minimum speech and silence
  durations, padding, and a cut at the longest pause when a segment exceeds `max_speech`).

The energy method:

The recording is cut into fixed frames (30 ms by default, as in malaya-speech's
pipeline), each frame's RMS level in dB is compared with a threshold, and the speech
frames are grouped into segments: silences shorter than `min_silence` inside speech are
bridged (the closure of a stop consonant is not a pause), segments shorter than
`min_speech` are dropped (clicks), and each segment is padded by `pad` on both sides.

The default threshold adapts to the recording: `max(noise floor + snr_db, loudest frame
- range_db)`, with the noise floor the 10th percentile of the frame levels; it suits
recordings with pauses between utterances. Pass `threshold_db` to fix it instead.

`split(audio, sample_rate)` returns `Segment`s.

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

__all__ = ["METHODS", "Segment", "frame_levels", "group_frames", "silero_probabilities",
           "speech_frames", "speech_timestamps", "split"]

#: `split`'s methods.
METHODS = ("energy", "silero")

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


def _check_sample_rate(sample_rate) -> None:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or \
            sample_rate < 1:
        raise InvalidOptionError(f"sample_rate={sample_rate!r}: must be an integer >= 1.")


def _frame_length(sample_rate: int, frame_ms: float) -> int:
    _check_sample_rate(sample_rate)
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


def split(audio, sample_rate: int, *, method: str = "energy", frame_ms: float = 30.0,
          threshold_db: float | None = None, snr_db: float = 12.0, range_db: float = 40.0,
          threshold: float = 0.5, neg_threshold: float | None = None,
          min_silence: float | None = None, min_speech: float | None = None,
          pad: float = 0.03, max_speech: float = math.inf) -> list[Segment]:
    """Speech segments of a recording.

    Args:
        audio: mono float audio `(samples,)`.
        sample_rate: Hz.
        method: `"energy"` (RMS level of `frame_ms` frames against a threshold) or
            `"silero"` (Silero VAD's probabilities, then `speech_timestamps`; any rate: the
            audio is resampled to 16 kHz unless it is at 8 or 16 kHz).
        frame_ms: energy: frame length in ms (30, as malaya-speech).
        threshold_db, snr_db, range_db: energy: see `speech_frames`.
        threshold, neg_threshold: silero: a chunk starts speech at `threshold` and ends it
            below `neg_threshold` (default `threshold - 0.15`, at least 0.01).
        min_silence: seconds of non-speech that end a segment (shorter gaps are bridged);
            default 0.2 (energy) or 0.1 (silero).
        min_speech: shortest segment kept, in seconds; default 0.09 (energy) or 0.25
            (silero).
        pad: seconds added before and after each segment (silero: half the gap each when
            two segments are closer than `2 * pad`).
        max_speech: silero: longest segment in seconds; a longer one is cut at its longest
            pause (of more than 98 ms), else where it reaches the limit.

    Returns:
        `Segment`s in time order, sample-exact (ends clipped to the recording), at
        `sample_rate`.

    Raises:
        InvalidOptionError: an unknown method or a bad option.
        InvalidAudioError: not mono float audio.

    Example:
    ```python
    t = np.arange(16000) / 8000
    audio = np.where(t < 1, 0.5 * np.sin(2 * np.pi * 440 * t), 0.001)  # 1 s tone, 1 s hiss
    segments = kerasaudio.vad.split(audio, 8000)
    [(round(s.start_s, 2), round(s.end_s, 2)) for s in segments]
    speech = kerasaudio.vad.split(audio, 8000, method="silero")  # Silero VAD's view
    ```

    Reference:
        Silero Team, Silero VAD (github.com/snakers4/silero-vad), `get_speech_timestamps`.
    """
    audio = _check_audio(audio)
    if method == "silero":
        return _split_silero(audio, sample_rate, threshold=threshold,
                             neg_threshold=neg_threshold,
                             min_silence=0.1 if min_silence is None else min_silence,
                             min_speech=0.25 if min_speech is None else min_speech,
                             pad=pad, max_speech=max_speech)
    if method != "energy":
        raise InvalidOptionError(f"method={method!r}; use one of {METHODS}.")
    min_silence = 0.2 if min_silence is None else min_silence
    min_speech = 0.09 if min_speech is None else min_speech
    length = _frame_length(sample_rate, frame_ms)
    flags = speech_frames(frame_levels(audio, sample_rate, frame_ms=frame_ms),
                          threshold_db=threshold_db, snr_db=snr_db, range_db=range_db)
    seconds = length / sample_rate
    groups = group_frames(flags, min_silence=max(1, round(min_silence / seconds)),
                          min_speech=max(1, round(min_speech / seconds)),
                          pad=round(pad / seconds))
    return [Segment(first * length, min(end * length, len(audio)), int(sample_rate))
            for first, end in groups]


_SILERO_MODELS: dict = {}


def silero_probabilities(audio, sample_rate: int) -> np.ndarray:
    """Silero VAD's speech probability of every chunk of a recording at 8 or 16 kHz.

    Chunk `i` is samples `[i * chunk, (i + 1) * chunk)` (512 at 16 kHz, 256 at 8 kHz), the
    last one zero-padded. The Keras model is built once per rate and kept.

    Returns:
        `(chunks,)` float32.

    Example:
    ```python
    kerasaudio.vad.silero_probabilities(np.zeros(8000, "float32"), 8000).shape  # (32,)
    ```
    """
    from kerasaudio.models.silero_vad import config_for, silero_vad

    cfg = config_for(sample_rate)
    audio = _check_audio(audio).astype(np.float32)
    if cfg.sample_rate not in _SILERO_MODELS:
        _SILERO_MODELS[cfg.sample_rate] = silero_vad(sample_rate=cfg.sample_rate)
    if len(audio) == 0:
        return np.zeros(0, np.float32)
    # predict_on_batch runs the compiled graph (the LSTM over chunks as one TensorFlow
    # loop, not step by step in eager mode).
    return np.asarray(_SILERO_MODELS[cfg.sample_rate].predict_on_batch(audio[None]))[0]


def _split_silero(audio: np.ndarray, sample_rate: int, **options) -> list[Segment]:
    _check_sample_rate(sample_rate)
    rate = int(sample_rate) if sample_rate in (8000, 16000) else 16000
    if rate != sample_rate:
        from kerasaudio.audio_io import resample

        audio = resample(audio.astype(np.float32), sample_rate=int(sample_rate),
                         target_sample_rate=rate)
    probabilities = silero_probabilities(audio, rate)
    chunk = 512 if rate == 16000 else 256
    segments = speech_timestamps(probabilities, sample_rate=rate, chunk=chunk,
                                 length=len(audio), **options)
    if rate == sample_rate:
        return segments
    scale = sample_rate / rate
    total = math.ceil(len(audio) * scale)
    return [Segment(int(s.start * scale), min(round(s.end * scale), total), int(sample_rate))
            for s in segments]


def _samples(seconds: float, sample_rate: int) -> float:
    """`seconds` in samples, through whole milliseconds where they are whole (so 0.03 s at
    16 kHz is exactly 480, as the reference's millisecond options give)."""
    return sample_rate * round(seconds * 1000, 9) / 1000


def speech_timestamps(probabilities, *, sample_rate: int, chunk: int,
                      length: int | None = None, threshold: float = 0.5,
                      neg_threshold: float | None = None, min_speech: float = 0.25,
                      min_silence: float = 0.1, pad: float = 0.03,
                      max_speech: float = math.inf, min_silence_at_max_speech: float = 0.098,
                      cut_at_longest_silence: bool = True) -> list[Segment]:
    """Speech segments from per-chunk speech probabilities, as Silero's
    `get_speech_timestamps` groups them.

    Speech starts at the first chunk with probability >= `threshold` and ends at the
    first chunk below `neg_threshold` that is followed by at least `min_silence` seconds
    below `threshold`; segments shorter than `min_speech` are dropped; a segment longer
    than `max_speech` is cut at its longest pause longer than `min_silence_at_max_speech`
    (or, with `cut_at_longest_silence=False`, its last such pause), else at the limit;
    finally each segment is padded by `pad` seconds (by half the gap when two are closer
    than `2 * pad`).

    Args:
        probabilities: `(chunks,)` speech probabilities (`silero_probabilities`).
        sample_rate: Hz.
        chunk: samples per probability.
        length: the recording's length in samples (default `chunks * chunk`).
        threshold, neg_threshold: the hysteresis thresholds (probabilities), as above.
        min_speech, min_silence, pad, max_speech: durations in seconds, as above.
        min_silence_at_max_speech, cut_at_longest_silence: the cut of long segments.

    Returns:
        `Segment`s in time order.

    Example:
    ```python
    p = np.r_[np.zeros(10), np.ones(20), np.zeros(10)]
    kerasaudio.vad.speech_timestamps(p, sample_rate=16000, chunk=512)
    # [Segment(start=4640, end=15840, sample_rate=16000)]
    ```

    Reference:
        Silero Team, Silero VAD (github.com/snakers4/silero-vad), `utils_vad.py`.
    """
    probabilities = np.asarray(probabilities, np.float64).reshape(-1)
    if not 0 <= threshold <= 1 or (neg_threshold is not None and not 0 <= neg_threshold <= 1):
        raise InvalidOptionError("threshold and neg_threshold are probabilities in [0, 1].")
    for name, value in (("min_speech", min_speech), ("min_silence", min_silence),
                        ("pad", pad), ("max_speech", max_speech),
                        ("min_silence_at_max_speech", min_silence_at_max_speech)):
        if not value >= 0:
            raise InvalidOptionError(f"{name}={value!r}: must be >= 0 seconds.")
    length = len(probabilities) * chunk if length is None else int(length)
    low = max(threshold - 0.15, 0.01) if neg_threshold is None else neg_threshold
    shortest = _samples(min_speech, sample_rate)
    padding = _samples(pad, sample_rate)
    longest = sample_rate * max_speech - chunk - 2 * padding
    pause = _samples(min_silence, sample_rate)
    cut_pause = _samples(min_silence_at_max_speech, sample_rate)

    found: list[list[int]] = []
    start = None             # the open segment's first sample
    silence_from = 0         # where the current run of low probabilities began (0: none)
    last_cut = next_start = 0
    pauses: list[tuple[int, int]] = []  # (start, length) of pauses inside the open segment

    def close() -> None:
        nonlocal start, silence_from, last_cut, next_start, pauses
        start = None
        silence_from = last_cut = next_start = 0
        pauses = []

    for i, p in enumerate(probabilities):
        at = i * chunk
        if p >= threshold and silence_from:
            if at - silence_from > cut_pause:
                pauses.append((silence_from, at - silence_from))
            silence_from = 0
            if next_start < last_cut:
                next_start = at
        if p >= threshold and start is None:
            start = at
            continue
        if start is not None and at - start > longest:
            if cut_at_longest_silence and pauses:
                cut, gap = max(pauses, key=lambda pause_: pause_[1])
                found.append([start, cut])
                resume = cut + gap
                close()
                if resume < cut + at:
                    start = resume
            elif last_cut:
                found.append([start, last_cut])
                resume, previous = next_start, last_cut
                close()
                if resume >= previous:
                    start = resume
            else:
                found.append([start, at])
                close()
                continue
        if p < low and start is not None:
            if not silence_from:
                silence_from = at
            if not cut_at_longest_silence and at - silence_from > cut_pause:
                last_cut = silence_from
            if at - silence_from < pause:
                continue
            if silence_from - start > shortest:
                found.append([start, silence_from])
            close()
    if start is not None and length - start > shortest:
        found.append([start, length])

    for i, segment in enumerate(found):
        if i == 0:
            segment[0] = int(max(0, segment[0] - padding))
        if i < len(found) - 1:
            following = found[i + 1]
            gap = following[0] - segment[1]
            if gap < 2 * padding:
                segment[1] += int(gap // 2)
                following[0] = int(max(0, following[0] - gap // 2))
            else:
                segment[1] = int(min(length, segment[1] + padding))
                following[0] = int(max(0, following[0] - padding))
        else:
            segment[1] = int(min(length, segment[1] + padding))
    return [Segment(int(a), int(b), int(sample_rate)) for a, b in found]
