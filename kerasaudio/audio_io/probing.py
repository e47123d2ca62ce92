"""`probe`: check one audio file cheaply (size, header, frame count, limits) before it is
decoded, and say which decoder suits it (`AudioFileInfo`)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

import numpy as np

from kerasaudio.audio_io.blocks import UNKNOWN_FRAMES, decode_blocks, open_sf, path_forms
from kerasaudio.audio_io.limits import (
    MIN_SAMPLE_RATE,
    check_native_rate,
    limit_frames,
    peak_reason,
    too_long,
)
from kerasaudio.audio_io.wav import WavLayout, walk_wav_chunks
from kerasaudio.errors import AudioFileError, AudioFileNotFoundError

__all__ = ["AudioFileInfo", "probe"]

#: soundfile subtypes that can hold NaN or Inf.
FLOAT_SUBTYPES = frozenset({"FLOAT", "DOUBLE"})
#: libsndfile's limit on channels per file.
MAX_CHANNELS = 1024


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


def describe_sf_error(error: Exception, head: bytes, layout: WavLayout | None) -> str:
    """Why libsndfile could not open a file, in words: its message, with what the WAV
    header walk (`layout`) or the first bytes (`head`) say is wrong."""
    detail = getattr(error, "error_string", None) or str(error)
    detail = detail.strip().rstrip(".")
    if layout is not None and layout.channels is not None:
        if not 1 <= layout.channels <= MAX_CHANNELS:
            return (f"unsupported channel count {layout.channels} in the WAV header "
                    f"(libsndfile: {detail})")
        if layout.sample_rate == 0:
            return f"invalid sample rate 0 Hz in the WAV header (libsndfile: {detail})"
    if head[:4] == b"RIFF" or head[:4] == b"RIFX" or head[:4] == b"RF64":
        if len(head) < 44:
            return f"truncated WAV header ({len(head)} bytes; libsndfile: {detail})"
        return f"malformed or truncated WAV header (libsndfile: {detail})"
    return f"not a readable audio file: unrecognised or corrupt format (libsndfile: {detail})"


def check_block_finite(path: str, subtype: str, max_peak: float | None):
    """A `decode_blocks` block callback refusing NaN/Inf (and, with `max_peak`, larger peaks)."""
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
                raise AudioFileError(path, peak_reason(peak, max_peak))
    return check


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
    path, opened = path_forms(path)
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
                layout = walk_wav_chunks(fh, st.st_size)
    except OSError as e:
        raise AudioFileError(path, f"cannot be read ({e.strerror or e})") from None
    try:
        with open_sf(path) as f:
            sample_rate, channels, frames = f.samplerate, f.channels, f.frames
            fmt, subtype = f.format, f.subtype
            check_native_rate(path, sample_rate, min_sample_rate)
            if channels < 1:
                raise AudioFileError(path, f"unsupported channel count {channels}")
            limit = limit_frames(max_duration, sample_rate)
            if limit is not None and frames != UNKNOWN_FRAMES and frames > limit:
                assert max_duration is not None  # limit_frames: a limit needs max_duration
                raise too_long(path, max_duration, sample_rate,
                                f"the header declares {frames} frames "
                                f"({frames / sample_rate:.4g} s),")
            if check_finite and subtype in FLOAT_SUBTYPES and frames > 0:
                decode_blocks(f, -1, limit,
                        block=check_block_finite(path, subtype, max_peak))
            elif max_duration is not None and frames == UNKNOWN_FRAMES:
                counted, more = decode_blocks(f, -1, limit, block=lambda samples: None)
                del counted
                if more:
                    raise too_long(path, max_duration, sample_rate,
                                    "the stream (of undeclared length) holds")
    except (RuntimeError, TypeError, ValueError) as e:  # LibsndfileError is a RuntimeError
        if isinstance(e, AudioFileError):
            raise
        raise AudioFileError(path, describe_sf_error(e, head, layout)) from None
    if frames <= 0:
        raise AudioFileError(path, "holds no audio (the header is valid but has 0 frames)")
    warning = None
    if layout is not None and layout.truncated:
        warning = (
            f"the data chunk is truncated: the header declares {layout.declared_frames} "
            f"frames but the file holds {frames}; loading the {frames} frames present"
        )
    tf_readable, data_offset = False, 0
    if layout is not None and layout.tf_readable and fmt == "WAV" and subtype == "PCM_16":
        tf_readable, data_offset = True, layout.data_offset
    return AudioFileInfo(
        path, sample_rate, channels, frames, fmt, subtype, tf_readable, warning, data_offset,
    )
