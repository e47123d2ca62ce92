"""Decoding with libsndfile in bounded blocks, whatever a file's header declares.

Samples are read in blocks of `BLOCK_FRAMES` frames until the stream ends or a frame
limit is passed, never by allocating the frame count a header claims (a 5 kB FLAC may
declare 2^36 frames). Paths are opened in the file system's own bytes, so a file name that
is not valid UTF-8 opens.
"""

from __future__ import annotations

import os

import numpy as np
import soundfile as sf

from kerasaudio.audio_io.limits import BLOCK_FRAMES
from kerasaudio.errors import AudioFileError, InvalidOptionError

#: libsndfile's frame count for a stream of unknown length (SF_COUNT_MAX).
UNKNOWN_FRAMES = 2**63 - 1


def path_forms(path) -> tuple[str, str | bytes]:
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


def open_sf(path: str):
    """A `soundfile.SoundFile` reading the file at `path` (its `str` form, as `path_forms`
    gives it)."""
    return sf.SoundFile(path if os.name == "nt" else os.fsencode(path))


def read_block(f: sf.SoundFile, out: np.ndarray) -> int:
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


def decode_blocks(f: sf.SoundFile, count: int, limit: int | None, *, block=None):
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
        got = read_block(f, buf)
        if got <= 0:
            break
        total += got
        if block is not None:
            block(buf[:got])
        else:
            blocks.append(buf[:got] if got < n else buf)
        if got < n:
            break
    excess = 0 if limit is None else max(total - limit, 0)
    more = excess > 0
    if block is not None:
        return np.zeros((0, f.channels), np.float32), more
    if more:
        blocks[-1] = blocks[-1][: len(blocks[-1]) - excess]
    if not blocks:
        return np.zeros((0, f.channels), np.float32), more
    audio = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    return audio, more
