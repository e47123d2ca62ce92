"""Decoding: `load` a probed file and `load_audio` a path, as `librosa.load` does."""

from __future__ import annotations

import os
import warnings

import numpy as np

from kerasaudio.audio_io.blocks import UNKNOWN_FRAMES, decode_blocks, open_sf, path_forms
from kerasaudio.audio_io.limits import (
    MAX_DURATION,
    MIN_SAMPLE_RATE,
    check_rate,
    check_seconds,
    limit_frames,
    too_long,
)
from kerasaudio.audio_io.probing import AudioFileInfo, probe
from kerasaudio.audio_io.resampling import resample
from kerasaudio.errors import AudioFileError

__all__ = ["load", "load_audio"]


def read_frames(info: AudioFileInfo, start: int, count: int, *, use_tf: bool,
                limit: int | None = None) -> tuple[np.ndarray, bool]:
    """Decode frames `[start, start + count)` (count -1: to the end) as (frames, channels).

    Returns `(audio, more)`: `more` when more than `limit` frames were there (only
    `limit` returned). `use_tf=False` reads 16-bit PCM WAV with soundfile too (same
    samples), for calls from inside `tf.numpy_function`, where running eager TensorFlow
    ops is best avoided.
    """
    if info.tf_readable and use_tf:
        import tensorflow as tf

        try:
            with open(path_forms(info.path)[1], "rb") as fh:
                contents = fh.read()
            wav = tf.audio.decode_wav(contents)[0].numpy()
        except (OSError, tf.errors.OpError) as e:
            raise AudioFileError(info.path, f"cannot be decoded: {e}") from None
        stop = None if count < 0 else start + count
        wav = wav[start:stop]
        if limit is not None and len(wav) > limit:
            return wav[:limit], True
        return wav, False
    try:
        with open_sf(info.path) as f:
            if start:
                f.seek(start)
            return decode_blocks(f, count, limit)
    except (RuntimeError, ValueError) as e:
        raise AudioFileError(info.path, f"cannot be decoded: {e}") from None


def load(info: AudioFileInfo, *, sample_rate: int | None = None, mono: bool = True,
         offset: float = 0.0, duration: float | None = None,
         use_tf: bool = True, max_duration: float | None = MAX_DURATION) -> np.ndarray:
    """Decode a probed file, mix it down and resample it: `load_audio`'s samples.

    Options are not validated here (`load_audio` does that). The file is decoded in
    blocks until its stream ends: a header declaring more frames than the file holds
    loads the frames present, with a warning.

    Args:
        info: the file, from `probe`.
        sample_rate: target rate in Hz; None keeps the file's own.
        mono: mix the channels down to one (their mean).
        offset: start this many seconds into the file.
        duration: read at most this many seconds; None reads to the end.
        use_tf: decode a plain 16-bit PCM WAV with `tf.audio.decode_wav` (the same
            samples); False reads every file with soundfile and never imports
            TensorFlow.
        max_duration: refuse to decode more than this many seconds (None: no limit).

    Returns:
        float32 samples: `(samples,)` when `mono`, else `(samples, channels)`.

    Raises:
        AudioFileError: `offset` is past the end, nothing to read, NaN/Inf samples, or
            more audio than `max_duration`.

    Example:
    ```python
    import soundfile as sf
    sf.write("tone.wav", np.zeros(4301, "float32"), 8000, subtype="PCM_16")
    info = kerasaudio.audio_io.probe("tone.wav")
    kerasaudio.audio_io.load(info, sample_rate=16000, use_tf=False).shape  # (8602,)
    ```
    """
    sr_native = info.sample_rate
    start = int(offset * sr_native)
    count = -1 if duration is None else int(duration * sr_native)
    if start >= info.frames:
        raise AudioFileError(
            info.path,
            f"offset={offset} s is at or past the end of the audio "
            f"({info.frames} frames = {info.frames / sr_native:.6g} s)",
        )
    if count == 0:
        raise AudioFileError(
            info.path, f"duration={duration} s is shorter than one sample at {sr_native} Hz"
        )
    limit = limit_frames(max_duration, sr_native)
    audio, more = read_frames(info, start, count, use_tf=use_tf, limit=limit)
    if more:
        assert max_duration is not None  # `more` needs a limit, set only by max_duration
        raise too_long(info.path, max_duration, sr_native, "holds")
    if audio.shape[0] == 0:
        raise AudioFileError(info.path, "holds no audio frames")
    if info.frames != UNKNOWN_FRAMES:
        declared = info.frames - start if count < 0 else min(count, info.frames - start)
        if audio.shape[0] < declared and not info.warning:
            warnings.warn(
                f"{info.path}: the header declares {info.frames} frames but the stream "
                f"ends after {start + audio.shape[0]}; loading the frames present",
                UserWarning, stacklevel=3)
    if not np.all(np.isfinite(audio)):
        bad = int(audio.size - np.count_nonzero(np.isfinite(audio)))
        raise AudioFileError(
            info.path, f"contains {bad} NaN or Inf sample values ({info.subtype} data)"
        )
    if mono:
        audio = audio[:, 0] if audio.shape[1] == 1 else audio.mean(axis=1)
    if sample_rate is not None and sample_rate != sr_native:
        audio = resample(audio, sample_rate=sr_native, target_sample_rate=sample_rate)
    return np.ascontiguousarray(audio, dtype=np.float32)


def load_audio(
    path: str | bytes | os.PathLike,
    *,
    sample_rate: int | None = None,
    mono: bool = True,
    offset: float = 0.0,
    duration: float | None = None,
    max_duration: float | None = MAX_DURATION,
    min_sample_rate: int = MIN_SAMPLE_RATE,
) -> tuple[np.ndarray, int]:
    """Load an audio file as float32, optionally mixed to mono and resampled.

    Matches `librosa.load(path, sr=sample_rate, mono=mono, offset=offset,
    duration=duration)` sample for sample, except for the layout: the result is
    `(samples,)` when `mono`, else `(samples, channels)` (channels last, the Keras
    layout; librosa returns `(channels, samples)` and drops the channel axis of a
    one-channel file, kerasaudio keeps it). 16-bit PCM WAV files are decoded with
    `tf.audio.decode_wav`; other WAV subtypes, FLAC, OGG and MP3 with `soundfile`.
    Mono is the mean of the channels. Resampling is soxr's "HQ" quality with the length
    fixed to `ceil(samples * sample_rate / native_rate)`, as `librosa.resample` does.
    A WAV file whose data chunk is cut short, or any file whose stream ends before its
    header says, loads the frames present, with a warning. Files are decoded in blocks
    (memory follows the audio present, never the header's claims), and at most
    `max_duration` seconds of them.

    Args:
        path: the audio file (`str`, `bytes` or `os.PathLike`).
        sample_rate: target rate in Hz; None keeps the file's own rate.
        mono: mix the channels down to one (their mean).
        offset: start reading this many seconds into the file.
        duration: read at most this many seconds; None reads to the end.
        max_duration: the most audio decoded, seconds (default `MAX_DURATION`, one
            hour); a longer file (after `offset`, within `duration`) is refused. None:
            no limit.
        min_sample_rate: the lowest native rate accepted, Hz (default
            `MIN_SAMPLE_RATE`); rates above `MAX_SAMPLE_RATE` are always refused.

    Returns:
        `(audio, sample_rate)`: float32 samples (nominally in [-1, 1]; float files are
        returned as stored) and their rate in Hz.

    Raises:
        AudioFileNotFoundError: the file does not exist.
        AudioFileError: the file is empty, not audio, has a broken header or an
            unsupported sample rate, holds no frames or more than `max_duration`,
            contains NaN/Inf, or `offset` is past its end; a NUL byte in the path.
            The message names the file and the problem.
        InvalidOptionError: `sample_rate`, `offset`, `duration`, `max_duration` or
            `min_sample_rate` is invalid.

    Example:
    ```python
    clip = kerasaudio.datasets.fsdd.load(sample=True).path[0]  # 0_george_0.wav, 8 kHz
    audio, sr = kerasaudio.audio_io.load_audio(clip, sample_rate=16000)
    audio.shape, audio.dtype, sr  # ((4768,), dtype('float32'), 16000): 2384 at 8 kHz
    ```
    """
    sample_rate = check_rate("sample_rate", sample_rate, allow_none=True)
    offset = check_seconds("offset", offset, allow_none=False, allow_zero=True)
    duration = check_seconds("duration", duration, allow_none=True, allow_zero=False)
    max_duration = check_seconds("max_duration", max_duration, allow_none=True,
                                 allow_zero=False)
    min_sample_rate = check_rate("min_sample_rate", min_sample_rate, allow_none=False)
    info = probe(path, check_finite=False, min_sample_rate=min_sample_rate)
    if info.warning:
        warnings.warn(f"{info.path}: {info.warning}", UserWarning, stacklevel=2)
    audio = load(info, sample_rate=sample_rate, mono=bool(mono), offset=offset,
                 duration=duration, max_duration=max_duration)
    return audio, (info.sample_rate if sample_rate is None else sample_rate)
