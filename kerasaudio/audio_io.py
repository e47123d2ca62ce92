"""Audio files: probe, decode and resample them, without TensorFlow.

`load_audio` equals `librosa.load` (soundfile decoding, soxr "HQ" resampling with
librosa's length rule). `probe` checks a file cheaply (size, header, frame count; the
samples of float files for NaN/Inf) and says which decoder suits it; `load` decodes a
probed file and `resample` resamples a waveform. TensorFlow is imported only to decode
16-bit PCM WAV in `load_audio` (the same samples as soundfile); `probe`, `load(...,
use_tf=False)`, `resample` and `windows`, which `kerasaudio.runtime` uses, never import it.

Limits (every one an option, see README "Limits and errors"): a file is decoded in blocks
of `BLOCK_FRAMES` frames until the stream ends, never by allocating the frame count its
header declares (a 5 kB FLAC may declare 2^36 frames); at most `max_duration` seconds are
decoded (`MAX_DURATION` by default); native sample rates below `min_sample_rate`
(`MIN_SAMPLE_RATE`) or above `MAX_SAMPLE_RATE` are refused, so a header cannot turn a few
frames into hours of resampled audio. Paths may be `str`, `bytes` or `os.PathLike`; a file
name that is not valid UTF-8 loads (its `str` form uses the file system's surrogate
escapes), and a NUL byte in a path is an `AudioFileError`.
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

from kerasaudio.errors import (
    AudioFileError,
    AudioFileNotFoundError,
    InvalidAudioError,
    InvalidOptionError,
)

__all__ = [
    "BLOCK_FRAMES",
    "MAX_DURATION",
    "MAX_PEAK",
    "MAX_SAMPLE_RATE",
    "MIN_SAMPLE_RATE",
    "AudioFileInfo",
    "check_peak",
    "load",
    "load_audio",
    "probe",
    "resample",
    "windows",
]

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
#: libsndfile's frame count for a stream of unknown length (SF_COUNT_MAX).
_UNKNOWN_FRAMES = 2**63 - 1

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
    import soundfile as sf
    sf.write("tone.wav", np.zeros(4301, "float32"), 8000, subtype="PCM_16")
    info = kerasaudio.audio_io.probe("tone.wav")
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


def _path_forms(path) -> tuple[str, str | bytes]:
    """`(shown, opened)`: the path as `str` (surrogate escapes for bytes that are not
    UTF-8) and the form handed to the OS and libsndfile (bytes on POSIX, so a file name
    that is not UTF-8 opens). Raises `AudioFileError` for a NUL byte or a non-path."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise InvalidOptionError(
            f"path must be a str, bytes or os.PathLike, got {type(path).__name__}.")
    raw = os.fspath(path)
    shown = os.fsdecode(raw)
    if "\x00" in shown:
        raise AudioFileError(shown.replace("\x00", "\\x00"),
                             "the path contains a NUL byte, which no file name can hold")
    return shown, (shown if os.name == "nt" else os.fsencode(raw))


def _open_sf(info_or_path):
    """A `soundfile.SoundFile` for reading an `AudioFileInfo`'s file, or a path's."""
    path = info_or_path.path if isinstance(info_or_path, AudioFileInfo) else info_or_path
    return sf.SoundFile(path if os.name == "nt" else os.fsencode(path))


def _readf(f: sf.SoundFile, out: np.ndarray) -> int:
    """Decode up to `len(out)` frames into the float32 `(frames, channels)` array `out`.

    Returns the frames decoded (0 at the end of the stream). libsndfile's own read call:
    `SoundFile.read` asks for the header's frame count, and after a short read seeks to
    where it stopped, which fails on a stream that ends before its header says.
    """
    snd = getattr(sf, "_snd", None)
    ffi = getattr(sf, "_ffi", None)
    handle = getattr(f, "_file", None)
    if snd is None or ffi is None or handle is None:  # a soundfile without them
        return len(f.read(frames=len(out), dtype="float32", always_2d=True, out=out))
    count = int(snd.sf_readf_float(handle, ffi.cast("float *", out.ctypes.data), len(out)))
    code = snd.sf_error(handle)
    if code:
        raise sf.LibsndfileError(code)
    return count


def _decode(f: sf.SoundFile, count: int, limit: int | None, *, block=None):
    """Decode `count` frames (-1: to the end of the stream) from `f`'s position in blocks
    of `BLOCK_FRAMES`, never allocating the header's frame count.

    Returns `(audio (frames, channels) float32, more)`; `more` is True when the stream
    holds more than `limit` frames (only `limit` are returned then). With `block`, each
    block is passed to `block(samples)` and nothing is kept (returns an empty array).
    """
    blocks, total = [], 0
    want = count if count >= 0 else None
    cap = None if limit is None else limit + 1
    while True:
        n = BLOCK_FRAMES
        if want is not None:
            n = min(n, want - total)
        if cap is not None:
            n = min(n, cap - total)
        if n <= 0:
            break
        buf = np.empty((n, f.channels), np.float32)
        got = _readf(f, buf)
        if got <= 0:
            break
        total += got
        if block is not None:
            block(buf[:got])
        else:
            blocks.append(buf[:got] if got < n else buf)
        if got < n:
            break
    more = limit is not None and total > limit
    if block is not None:
        return np.zeros((0, f.channels), np.float32), more
    if more:
        blocks[-1] = blocks[-1][: len(blocks[-1]) - (total - limit)]
    if not blocks:
        return np.zeros((0, f.channels), np.float32), more
    audio = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    return audio, more


def _limit_frames(max_duration: float | None, sample_rate: int) -> int | None:
    return None if max_duration is None else int(max_duration * sample_rate)


def _too_long(path: str, max_duration: float, sample_rate: int, what: str) -> AudioFileError:
    return AudioFileError(
        path, f"{what} more than max_duration={max_duration:g} s of audio (over "
        f"{_limit_frames(max_duration, sample_rate)} frames at {sample_rate} Hz); pass a "
        "larger max_duration (None: no limit) to load it")


def _check_block_finite(path: str, subtype: str, max_peak: float | None):
    """A `_decode` block callback refusing NaN/Inf (and, with `max_peak`, larger peaks)."""
    def check(samples: np.ndarray) -> None:
        finite = np.isfinite(samples)
        if not finite.all():
            bad = int(samples.size - np.count_nonzero(finite))
            raise AudioFileError(
                path, f"contains NaN or Inf sample values ({bad} in one block of "
                f"{subtype} data)")
        if max_peak is not None and samples.size:
            peak = float(np.max(np.abs(samples)))
            if peak > max_peak:
                raise AudioFileError(path, _peak_reason(peak, max_peak))
    return check


def _peak_reason(peak: float, max_peak: float) -> str:
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
            raise InvalidAudioError(f"{what}: {_peak_reason(peak, max_peak)}.")


def probe(path: str | bytes | os.PathLike, *, check_finite: bool = False,
          min_sample_rate: int = MIN_SAMPLE_RATE, max_duration: float | None = None,
          max_peak: float | None = None) -> AudioFileInfo:
    """Check one audio file cheaply: it exists, is not empty, has a readable header, a
    plausible sample rate and at least one frame.

    Args:
        path: the audio file (`str`, `bytes` or `os.PathLike`).
        check_finite: also decode the samples of a float file (FLOAT, DOUBLE subtypes)
            and refuse NaN or Inf (integer files cannot hold them), block by block.
        min_sample_rate: the lowest native rate accepted, Hz (rates above
            `MAX_SAMPLE_RATE` are always refused).
        max_duration: refuse a file longer than this many seconds. A header's frame
            count is compared; a stream of unknown length is decoded (up to the limit)
            to count its frames. None: no check.
        max_peak: with `check_finite`, also refuse float samples beyond this magnitude.

    Returns:
        An `AudioFileInfo` (rate, channels, frames, format, which decoder suits it).

    Raises:
        AudioFileNotFoundError: the file does not exist.
        AudioFileError: anything else that keeps it from loading; the message names the
            file and the problem.

    Example:
    ```python
    import soundfile as sf
    sf.write("tone.flac", np.zeros(4301, "float32"), 8000)
    info = kerasaudio.audio_io.probe("tone.flac")
    audio = kerasaudio.audio_io.load(info, sample_rate=16000)
    ```
    """
    path, opened = _path_forms(path)
    try:
        st = os.stat(opened)
    except FileNotFoundError:
        raise AudioFileNotFoundError(path, "no such file") from None
    except OSError as e:
        raise AudioFileError(path, f"cannot be accessed ({e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioFileError(path, "is a directory, not an audio file")
    if not stat.S_ISREG(st.st_mode):
        raise AudioFileError(path, "is not a regular file (a device, pipe or socket)")
    if st.st_size == 0:
        raise AudioFileError(path, "is empty (0 bytes)")
    layout = None
    try:
        with open(opened, "rb") as fh:
            head = fh.read(64)
            if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
                layout = _walk_wav_chunks(fh, st.st_size)
    except OSError as e:
        raise AudioFileError(path, f"cannot be read ({e.strerror or e})") from None
    try:
        with _open_sf(path) as f:
            sample_rate, channels, frames = f.samplerate, f.channels, f.frames
            fmt, subtype = f.format, f.subtype
            _check_native_rate(path, sample_rate, min_sample_rate)
            if channels < 1:
                raise AudioFileError(path, f"unsupported channel count {channels}")
            limit = _limit_frames(max_duration, sample_rate)
            if limit is not None and frames != _UNKNOWN_FRAMES and frames > limit:
                raise _too_long(path, max_duration, sample_rate,
                                f"the header declares {frames} frames "
                                f"({frames / sample_rate:.4g} s),")
            if check_finite and subtype in _FLOAT_SUBTYPES and frames > 0:
                _decode(f, -1, limit,
                        block=_check_block_finite(path, subtype, max_peak))
            elif limit is not None and frames == _UNKNOWN_FRAMES:
                counted, more = _decode(f, -1, limit, block=lambda samples: None)
                del counted
                if more:
                    raise _too_long(path, max_duration, sample_rate,
                                    "the stream (of undeclared length) holds")
    except (RuntimeError, TypeError, ValueError) as e:  # LibsndfileError is a RuntimeError
        if isinstance(e, AudioFileError):
            raise
        raise AudioFileError(path, _describe_sf_error(e, head, layout)) from None
    if frames <= 0:
        raise AudioFileError(path, "holds no audio (the header is valid but has 0 frames)")
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


def _check_native_rate(path: str, sample_rate: int, min_sample_rate: int) -> None:
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


# ----------------------------------------------------------------------------- loading


def check_rate(name: str, value, *, allow_none: bool) -> int | None:
    """`value` as a positive integer sample rate (Hz) up to `MAX_SAMPLE_RATE`, or an
    `InvalidOptionError` naming option `name`; None passes through when `allow_none`."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise InvalidOptionError(f"{name} must be a positive integer (Hz), got {value!r}.")
    if value > MAX_SAMPLE_RATE:
        raise InvalidOptionError(
            f"{name}={value!r} Hz is above the {MAX_SAMPLE_RATE} Hz kerasaudio supports.")
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


def _read_frames(info: AudioFileInfo, start: int, count: int, *, use_tf: bool,
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
            with open(_path_forms(info.path)[1], "rb") as fh:
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
        with _open_sf(info) as f:
            if start:
                f.seek(start)
            return _decode(f, count, limit)
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
    limit = _limit_frames(max_duration, sr_native)
    audio, more = _read_frames(info, start, count, use_tf=use_tf, limit=limit)
    if more:
        raise _too_long(info.path, max_duration, sr_native, "holds")
    if audio.shape[0] == 0:
        raise AudioFileError(info.path, "holds no audio frames")
    if info.frames != _UNKNOWN_FRAMES:
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
    audio, sr = kerasaudio.data.load_audio("7_jackson_32.wav", sample_rate=16000)
    audio.shape, audio.dtype, sr  # ((8602,), dtype('float32'), 16000): 4301 at 8 kHz
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
