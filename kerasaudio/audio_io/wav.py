"""The RIFF chunk walk of a WAV file: what its headers declare, read without its samples.

It decides whether `tf.audio.decode_wav` decodes the file to the samples soundfile reads
and whether the data chunk is cut short (`kerasaudio.audio_io.probe` reports both).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

#: Chunks `tf.audio.decode_wav` skips when they come before "fmt " (any other fails).
_TF_CHUNKS_BEFORE_FMT = frozenset(
    {b"JUNK", b"bext", b"iXML", b"qlty", b"mext", b"levl", b"link", b"axml"}
)


@dataclass(frozen=True)
class WavLayout:
    """What the RIFF chunk walk of a WAV file found (headers only, no sample data)."""

    tf_readable: bool  # tf.audio.decode_wav decodes it to what soundfile reads
    truncated: bool  # the data chunk declares more bytes than the file holds
    declared_frames: int
    channels: int | None = None  # from the fmt chunk, if there is one
    sample_rate: int | None = None
    data_offset: int = 0  # byte offset of the first sample (the data chunk's body)



def walk_wav_chunks(fh, size: int) -> WavLayout:
    """Walk the chunks of a RIFF/WAVE file, reading 8-byte chunk headers only.

    Decides whether `tf.audio.decode_wav` can read the file (it only takes PCM (format
    1), 16-bit, a 16- or 18-byte fmt chunk, a few known chunks before fmt, even chunk
    sizes and a complete data chunk) and whether the data chunk is cut short.
    """
    readable = True
    fmt_seen = False
    block_align = 0
    channels: int | None = None
    rate: int | None = None
    data_start: int | None = None
    data_size = 0  # read only once data_start is set (both come from the data chunk)
    pos = 12
    while pos + 8 <= size:
        fh.seek(pos)
        chunk_id, chunk_size = struct.unpack("<4sI", fh.read(8))
        body = pos + 8
        if chunk_id == b"fmt ":
            fields = fh.read(16)
            if len(fields) < 16:
                return WavLayout(False, False, 0, channels, rate)
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
        return WavLayout(False, False, 0, channels, rate)
    if pos < size:
        readable = False  # trailing bytes shorter than a chunk header
    declared_frames = data_size // block_align
    if data_size % block_align:
        readable = False
    if data_size in (0, 0xFFFFFFFF):
        # Streaming writers leave the size unset; libsndfile reads to the end of file.
        return WavLayout(False, False, declared_frames, channels, rate)
    truncated = data_start + data_size > size
    return WavLayout(readable and not truncated, truncated, declared_frames, channels, rate,
                      data_start)
