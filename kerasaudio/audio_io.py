"""Audio files: probe, decode and resample them, without TensorFlow.

`load_audio` equals `librosa.load` (soundfile decoding, soxr "HQ" resampling with
librosa's length rule). `probe` checks a file cheaply (size, header, frame count; the
samples of float files for NaN/Inf) and says which decoder suits it; `load` decodes a
probed file and `resample` resamples a waveform. TensorFlow is imported only to decode
16-bit PCM WAV in `load_audio` (the same samples as soundfile); `probe`, `load(...,
use_tf=False)`, `resample` and `windows`, which `kerasaudio.runtime` uses, never import it.
"""

from __future__ import annotations

import math
import numbers
import os
import stat
import struct
import warnings
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr

from kerasaudio.errors import AudioFileError, AudioFileNotFoundError, InvalidOptionError

__all__ = ["AudioFileInfo", "load", "load_audio", "probe", "resample", "windows"]

#: soundfile subtypes that can hold NaN or Inf.
_FLOAT_SUBTYPES = frozenset({"FLOAT", "DOUBLE"})
#: Chunks `tf.audio.decode_wav` skips when they come before "fmt " (any other fails).
_TF_CHUNKS_BEFORE_FMT = frozenset(
    {b"JUNK", b"bext", b"iXML", b"qlty", b"mext", b"levl", b"link", b"axml"}
)
#: libsndfile's limit on channels per file.
_MAX_CHANNELS = 1024


# ----------------------------------------------------------------------------- probing


@dataclass(frozen=True)
class _WavLayout:
    """What the RIFF chunk walk of a WAV file found (headers only, no sample data)."""

    tf_readable: bool  # tf.audio.decode_wav decodes it to what soundfile reads
    truncated: bool  # the data chunk declares more bytes than the file holds
    declared_frames: int
    channels: int | None = None  # from the fmt chunk, if there is one
    sample_rate: int | None = None
    data_offset: int = 0  # byte offset of the first sample (the data chunk's body)


@dataclass(frozen=True)
class AudioFileInfo:
    """What `probe` found out about one audio file (headers only, no decoding).

    `tf_readable`: `tf.audio.decode_wav` decodes it to the samples soundfile reads (a
    plain 16-bit PCM WAV); `warning`: a problem `load` works around (a truncated data
    chunk), or None.

    Example:
    ```python
    info = kerasaudio.audio_io.probe("7_jackson_32.wav")
    info.sample_rate, info.channels, info.frames  # (8000, 1, 4301)
    ```
    """

    path: str
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str
    tf_readable: bool
    warning: str | None
    data_offset: int = 0  # where the 16-bit samples start, for tf_readable files


def _walk_wav_chunks(fh, size: int) -> _WavLayout:
    """Walk the chunks of a RIFF/WAVE file, reading 8-byte chunk headers only.

    Decides whether `tf.audio.decode_wav` can read the file (it only takes PCM (format
    1), 16-bit, a 16- or 18-byte fmt chunk, a few known chunks before fmt, even chunk
    sizes and a complete data chunk) and whether the data chunk is cut short.
    """
    readable = True
    fmt_seen = False
    block_align = 0
    channels = rate = None
    data_start = data_size = None
    pos = 12
    while pos + 8 <= size:
        fh.seek(pos)
        chunk_id, chunk_size = struct.unpack("<4sI", fh.read(8))
        body = pos + 8
        if chunk_id == b"fmt ":
            fields = fh.read(16)
            if len(fields) < 16:
                return _WavLayout(False, False, 0, channels, rate)
            tag, channels, rate, byte_rate, block_align, bits = struct.unpack(
                "<HHIIHH", fields
            )
            readable &= (
                not fmt_seen
                and chunk_size in (16, 18)
                and tag == 1
                and bits == 16
                and channels >= 1
                and block_align == 2 * channels
                and byte_rate == block_align * rate
            )
            fmt_seen = True
        elif chunk_id == b"data":
            readable &= fmt_seen and data_start is None
            if data_start is None:
                data_start, data_size = body, chunk_size
        elif not fmt_seen and chunk_id not in _TF_CHUNKS_BEFORE_FMT:
            readable = False
        if chunk_size % 2 or chunk_size > 0x7FFFFFFF:
            readable = False  # decode_wav ignores RIFF pad bytes and int32 overflows
        pos = body + chunk_size + chunk_size % 2
    if data_start is None or block_align == 0:
        return _WavLayout(False, False, 0, channels, rate)
    if pos < size:
        readable = False  # trailing bytes shorter than a chunk header
    declared_frames = data_size // block_align
    if data_size % block_align:
        readable = False
    if data_size in (0, 0xFFFFFFFF):
        # Streaming writers leave the size unset; libsndfile reads to the end of file.
        return _WavLayout(False, False, declared_frames, channels, rate)
    truncated = data_start + data_size > size
    return _WavLayout(readable and not truncated, truncated, declared_frames, channels, rate,
                      data_start)


def _describe_sf_error(error: Exception, head: bytes, layout: _WavLayout | None) -> str:
    detail = getattr(error, "error_string", None) or str(error)
    detail = detail.strip().rstrip(".")
    if layout is not None and layout.channels is not None:
        if not 1 <= layout.channels <= _MAX_CHANNELS:
            return (f"unsupported channel count {layout.channels} in the WAV header "
                    f"(libsndfile: {detail})")
        if layout.sample_rate == 0:
            return f"invalid sample rate 0 Hz in the WAV header (libsndfile: {detail})"
    if head[:4] == b"RIFF" or head[:4] == b"RIFX" or head[:4] == b"RF64":
        if len(head) < 44:
            return f"truncated WAV header ({len(head)} bytes; libsndfile: {detail})"
        return f"malformed or truncated WAV header (libsndfile: {detail})"
    return f"not a readable audio file: unrecognised or corrupt format (libsndfile: {detail})"


def probe(path: str | os.PathLike, *, check_finite: bool = False) -> AudioFileInfo:
    """Check one audio file cheaply: it exists, is not empty, has a readable header and
    at least one frame.

    Args:
        path: the audio file.
        check_finite: also read the samples of a float file (FLOAT, DOUBLE subtypes) and
            refuse NaN or Inf (integer files cannot hold them).

    Returns:
        An `AudioFileInfo` (rate, channels, frames, format, which decoder suits it).

    Raises:
        AudioFileNotFoundError: the file does not exist.
        AudioFileError: anything else that keeps it from loading; the message names the
            file and the problem.

    Example:
    ```python
    info = kerasaudio.audio_io.probe("7_jackson_32.wav")
    audio = kerasaudio.audio_io.load(info, sample_rate=16000)
    ```
    """
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise AudioFileNotFoundError(path, "no such file") from None
    except OSError as e:
        raise AudioFileError(path, f"cannot be accessed ({e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioFileError(path, "is a directory, not an audio file")
    if st.st_size == 0:
        raise AudioFileError(path, "is empty (0 bytes)")
    layout = None
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
            if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
                layout = _walk_wav_chunks(fh, st.st_size)
    except OSError as e:
        raise AudioFileError(path, f"cannot be read ({e.strerror or e})") from None
    data = None
    try:
        with sf.SoundFile(path) as f:
            sample_rate, channels, frames = f.samplerate, f.channels, f.frames
            fmt, subtype = f.format, f.subtype
            if check_finite and subtype in _FLOAT_SUBTYPES and frames > 0:
                data = f.read(dtype="float32")
    except (RuntimeError, TypeError, ValueError) as e:  # LibsndfileError is a RuntimeError
        raise AudioFileError(path, _describe_sf_error(e, head, layout)) from None
    if channels < 1:
        raise AudioFileError(path, f"unsupported channel count {channels}")
    if sample_rate <= 0:
        raise AudioFileError(path, f"invalid sample rate {sample_rate} Hz in the header")
    if frames <= 0:
        raise AudioFileError(path, "holds no audio (the header is valid but has 0 frames)")
    if data is not None:
        bad = int(data.size - np.count_nonzero(np.isfinite(data)))
        if bad:
            raise AudioFileError(
                path, f"contains {bad} NaN or Inf sample values ({subtype} data)"
            )
    warning = None
    if layout is not None and layout.truncated:
        warning = (
            f"the data chunk is truncated: the header declares {layout.declared_frames} "
            f"frames but the file holds {frames}; loading the {frames} frames present"
        )
    tf_readable = bool(
        layout is not None and layout.tf_readable and fmt == "WAV" and subtype == "PCM_16"
    )
    return AudioFileInfo(
        path, sample_rate, channels, frames, fmt, subtype, tf_readable, warning,
        layout.data_offset if tf_readable else 0,
    )


# ----------------------------------------------------------------------------- loading


def check_rate(name: str, value, *, allow_none: bool) -> int | None:
    """`value` as a positive integer sample rate (Hz), or an `InvalidOptionError` naming
    option `name`; None passes through when `allow_none`."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise InvalidOptionError(f"{name} must be a positive integer (Hz), got {value!r}.")
    return int(value)


def check_seconds(name: str, value, *, allow_none: bool, allow_zero: bool) -> float | None:
    """`value` as a finite positive (or, with `allow_zero`, non-negative) number of
    seconds, or an `InvalidOptionError` naming option `name`."""
    if value is None and allow_none:
        return None
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        kind = "non-negative" if allow_zero else "positive"
        raise InvalidOptionError(f"{name} must be a {kind} number of seconds, got {value!r}.")
    return float(value)


def _read_frames(info: AudioFileInfo, start: int, count: int, *, use_tf: bool) -> np.ndarray:
    """Decode frames `[start, start + count)` (count -1: to the end) as (frames, channels).

    `use_tf=False` reads 16-bit PCM WAV with soundfile too (same samples), for calls from
    inside `tf.numpy_function`, where running eager TensorFlow ops is best avoided.
    """
    if info.tf_readable and use_tf:
        import tensorflow as tf

        try:
            with open(info.path, "rb") as fh:
                contents = fh.read()
            wav = tf.audio.decode_wav(contents)[0].numpy()
        except (OSError, tf.errors.OpError) as e:
            raise AudioFileError(info.path, f"cannot be decoded: {e}") from None
        stop = None if count < 0 else start + count
        return wav[start:stop]
    try:
        with sf.SoundFile(info.path) as f:
            if start:
                f.seek(start)
            return f.read(frames=count, dtype="float32", always_2d=True)
    except (RuntimeError, ValueError) as e:
        raise AudioFileError(info.path, f"cannot be decoded: {e}") from None


def resample(audio: np.ndarray, *, sample_rate: int,
             target_sample_rate: int) -> np.ndarray:
    """Resample along axis 0 (samples) with soxr's "HQ" quality, as `librosa.resample`.

    The length is fixed to `ceil(samples * target_sample_rate / sample_rate)` (cropped or
    zero-padded at the end), librosa's rule; a `(samples, channels)` array is resampled channel by
    channel.

    Args:
        audio: `(samples,)` or `(samples, channels)` samples.
        sample_rate: their rate, Hz.
        target_sample_rate: the rate wanted, Hz.

    Returns:
        float32 samples, C-contiguous.

    Example:
    ```python
    kerasaudio.audio_io.resample(np.zeros(8000, "float32"), sample_rate=8000,
                                target_sample_rate=16000).shape  # (16000,)
    ```

    Reference:
        librosa.resample(res_type="soxr_hq").
    """
    n_out = int(np.ceil(audio.shape[0] * (float(target_sample_rate) / sample_rate)))
    if audio.ndim == 1:
        out = soxr.resample(audio, sample_rate, target_sample_rate, quality="soxr_hq")
    else:  # one channel at a time, as librosa does
        out = np.stack(
            [
                soxr.resample(np.ascontiguousarray(audio[:, c]), sample_rate, target_sample_rate,
                              quality="soxr_hq")
                for c in range(audio.shape[1])
            ],
            axis=1,
        )
    if out.shape[0] > n_out:
        out = out[:n_out]
    elif out.shape[0] < n_out:
        pad = [(0, n_out - out.shape[0])] + [(0, 0)] * (out.ndim - 1)
        out = np.pad(out, pad)
    return np.ascontiguousarray(out, dtype=np.float32)


def load(info: AudioFileInfo, *, sample_rate: int | None = None, mono: bool = True,
         offset: float = 0.0, duration: float | None = None,
         use_tf: bool = True) -> np.ndarray:
    """Decode a probed file, mix it down and resample it: `load_audio`'s samples.

    Options are not validated here (`load_audio` does that).

    Args:
        info: the file, from `probe`.
        sample_rate: target rate in Hz; None keeps the file's own.
        mono: mix the channels down to one (their mean).
        offset: start this many seconds into the file.
        duration: read at most this many seconds; None reads to the end.
        use_tf: decode a plain 16-bit PCM WAV with `tf.audio.decode_wav` (the same
            samples); False reads every file with soundfile and never imports
            TensorFlow.

    Returns:
        float32 samples: `(samples,)` when `mono`, else `(samples, channels)`.

    Raises:
        AudioFileError: `offset` is past the end, nothing to read, or NaN/Inf samples.

    Example:
    ```python
    info = kerasaudio.audio_io.probe("7_jackson_32.wav")
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
    audio = _read_frames(info, start, count, use_tf=use_tf)
    if audio.shape[0] == 0:
        raise AudioFileError(info.path, "holds no audio frames")
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
    path: str | os.PathLike,
    *,
    sample_rate: int | None = None,
    mono: bool = True,
    offset: float = 0.0,
    duration: float | None = None,
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
    A WAV file whose data chunk is cut short loads the frames present, with a warning.

    Args:
        path: the audio file.
        sample_rate: target rate in Hz; None keeps the file's own rate.
        mono: mix the channels down to one (their mean).
        offset: start reading this many seconds into the file.
        duration: read at most this many seconds; None reads to the end.

    Returns:
        `(audio, sample_rate)`: float32 samples (nominally in [-1, 1]; float files are
        returned as stored) and their rate in Hz.

    Raises:
        AudioFileNotFoundError: the file does not exist.
        AudioFileError: the file is empty, not audio, has a broken header, holds no
            frames, contains NaN/Inf, or `offset` is past its end. The message names
            the file and the problem.
        InvalidOptionError: `sample_rate`, `offset` or `duration` is invalid.

    Example:
    ```python
    audio, sr = kerasaudio.data.load_audio("7_jackson_32.wav", sample_rate=16000)
    audio.shape, audio.dtype, sr  # ((8602,), dtype('float32'), 16000): 4301 at 8 kHz
    ```
    """
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidOptionError(f"path must be a str or os.PathLike, got {type(path).__name__}.")
    path = os.fspath(path)
    sample_rate = check_rate("sample_rate", sample_rate, allow_none=True)
    offset = check_seconds("offset", offset, allow_none=False, allow_zero=True)
    duration = check_seconds("duration", duration, allow_none=True, allow_zero=False)
    info = probe(path, check_finite=False)
    if info.warning:
        warnings.warn(f"{path}: {info.warning}", UserWarning, stacklevel=2)
    audio = load(info, sample_rate=sample_rate, mono=bool(mono), offset=offset,
                 duration=duration)
    return audio, (info.sample_rate if sample_rate is None else sample_rate)


# Private names that kerasaudio.data and kerasaudio.embeddings import.


def windows(audio: np.ndarray, length: int, *, hop: int | None = None,
            ) -> tuple[np.ndarray, np.ndarray]:
    """Cut a clip into fixed-length windows: `(start_samples, windows)`.

    A clip of at most `length` samples gives one window, centred and zero-padded (as
    `kerasaudio.data.fix_length(mode="center")`); a longer one gives windows every `hop`
    samples (default `length // 2`), the last one zero-padded at the end.

    Example:
    ```python
    starts, frames = kerasaudio.audio_io.windows(np.zeros(20000, "float32"), 8000)
    starts  # array([    0,  4000,  8000, 12000])
    ```
    """
    audio = np.asarray(audio, np.float32)
    hop = length // 2 if hop is None else int(hop)
    if hop < 1:
        raise InvalidOptionError(f"hop={hop} must be >= 1 sample.")
    if len(audio) <= length:
        total = length - len(audio)
        return np.zeros(1, np.int64), np.pad(audio, (total // 2, total - total // 2))[None]
    count = 1 + int(np.ceil((len(audio) - length) / hop))
    audio = np.pad(audio, (0, (count - 1) * hop + length - len(audio)))
    starts = np.arange(count) * hop
    return starts, np.stack([audio[s:s + length] for s in starts])
