"""Audio files whose headers lie, built from real small files (helpers for the hardening,
fuzz and resource tests; not a test module)."""

from __future__ import annotations

import struct

import numpy as np
import soundfile as sf

#: libsndfile's frame count for a stream of unknown length.
UNKNOWN_FRAMES = 2**63 - 1


def tone(frames: int = 8000, *, amplitude: float = 0.3) -> np.ndarray:
    """A float32 sine of `frames` samples."""
    return (np.sin(np.arange(frames) * 0.05) * amplitude).astype(np.float32)


def flac_claiming(path, total_samples: int, *, frames: int = 8000, rate: int = 8000) -> str:
    """A real FLAC of `frames` frames whose STREAMINFO says `total_samples` (36 bits; 0
    means "unknown", as a streaming encoder leaves it)."""
    sf.write(str(path), tone(frames), rate, format="FLAC", subtype="PCM_16")
    blob = bytearray(open(path, "rb").read())
    assert blob[:4] == b"fLaC" and blob[4] & 0x7F == 0  # STREAMINFO comes first
    # STREAMINFO body at byte 8: 2+2 block sizes, 3+3 frame sizes, then 64 bits of
    # sample rate (20), channels - 1 (3), bits - 1 (5) and total samples (36).
    field = int.from_bytes(blob[18:26], "big")
    field = (field & ~((1 << 36) - 1)) | total_samples
    blob[18:26] = field.to_bytes(8, "big")
    open(path, "wb").write(bytes(blob))
    return str(path)


def mp3_claiming(path, xing_frames: int, *, frames: int = 8000, rate: int = 8000) -> str:
    """A real MP3 whose Xing header claims `xing_frames` MPEG frames."""
    sf.write(str(path), tone(frames), rate, format="MP3", subtype="MPEG_LAYER_III")
    blob = bytearray(open(path, "rb").read())
    at = blob.find(b"Xing")
    if at < 0:
        at = blob.find(b"Info")
    assert at >= 0 and struct.unpack_from(">I", blob, at + 4)[0] & 1  # frames field present
    struct.pack_into(">I", blob, at + 8, xing_frames)
    open(path, "wb").write(bytes(blob))
    return str(path)


def wav_declaring_rate(path, rate: int, *, frames: int = 20000) -> str:
    """A 16-bit PCM WAV of `frames` frames whose header says `rate` Hz (40 kB at 20000)."""
    sf.write(str(path), tone(frames), 8000, subtype="PCM_16")
    blob = bytearray(open(path, "rb").read())
    assert blob[12:16] == b"fmt "
    struct.pack_into("<II", blob, 24, rate, rate * 2)  # sample rate, byte rate
    open(path, "wb").write(bytes(blob))
    return str(path)


def float_wav(path, peak: float, *, frames: int = 8000, rate: int = 8000) -> str:
    """A float WAV of finite samples reaching `peak`."""
    sf.write(str(path), tone(frames, amplitude=1.0) * np.float32(peak), rate,
             subtype="FLOAT")
    return str(path)


def _ogg_crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_OGG_CRC = _ogg_crc_table()


def ogg_crc(page: bytes) -> int:
    """The CRC of an Ogg page (its checksum field zeroed), as libogg checks it."""
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC[((crc >> 24) & 0xFF) ^ byte]
    return crc


def ogg_pages(blob: bytes) -> list[tuple[int, int]]:
    """`(offset, size)` of every page of an Ogg stream."""
    pages, at = [], 0
    while (at := blob.find(b"OggS", at)) >= 0 and at + 27 <= len(blob):
        count = blob[at + 26]
        size = 27 + count + sum(blob[at + 27:at + 27 + count])
        pages.append((at, size))
        at += size
    return pages


def reseal_ogg_page(blob: bytearray, offset: int, size: int) -> None:
    """Recompute one page's CRC in place (after its header was edited)."""
    struct.pack_into("<I", blob, offset + 22, 0)
    struct.pack_into("<I", blob, offset + 22, ogg_crc(bytes(blob[offset:offset + size])))


def tiny_classifier(path, *, nan: bool = False, classes: int = 10) -> str:
    """A small log-mel classifier for 1 s at 8 kHz exported to `path` with kerasaudio's
    metadata (digit class names); `nan`: its output layer's bias is NaN, so every
    prediction is NaN (exported unverified)."""
    import keras

    import kerasaudio

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8000,))
    x = kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=128,
                                         n_mels=16)(inputs)
    x = kerasaudio.layers.PowerToDb()(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    if nan:
        dense = model.layers[-1]
        dense.bias.assign(np.full(classes, np.nan, np.float32))
    clips = np.stack([tone(8000, amplitude=a) for a in (0.1, 0.3, 0.5, 0.7)])
    kerasaudio.export.to_tflite(model, path, representative_data=None if nan else clips,
                                verify=not nan, sample_rate=8000,
                                class_names=[str(d) for d in range(classes)])
    return str(path)
