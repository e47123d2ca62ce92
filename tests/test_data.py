"""Tests of kerasaudio.data on real audio (the bundled FSDD sample, and the full FSDD
when /work/shared/data/fsdd or $KERASAUDIO_DATA has it), real TensorFlow, no mocks."""

from __future__ import annotations

import os
import struct
import warnings

import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import tensorflow as tf

from kerasaudio import audio_io, data
from kerasaudio.data import pipeline
from kerasaudio.datasets import fsdd
from kerasaudio.errors import (
    AudioFileError,
    AudioFileNotFoundError,
    InvalidAudioError,
    InvalidOptionError,
    KerasAudioError,
)

SAMPLE = fsdd.load(sample=True)
SAMPLE_PATHS = list(SAMPLE.path)

try:
    FULL = fsdd.load()
except KerasAudioError:
    FULL = None
needs_full = pytest.mark.skipif(FULL is None, reason="the full FSDD is not available")


def _graph_ops(ds: tf.data.Dataset) -> bytes:
    policy = tf.data.experimental.ExternalStatePolicy.IGNORE
    return ds._as_serialized_graph(external_state_policy=policy).numpy()


# ------------------------------------------------------------------------ test files


@pytest.fixture(scope="module")
def formats(tmp_path_factory) -> dict[str, str]:
    """Real speech (two FSDD clips as a stereo pair, 8 kHz) in several formats and rates."""
    root = tmp_path_factory.mktemp("formats")
    a, _ = sf.read(SAMPLE_PATHS[0], dtype="float32")
    b, _ = sf.read(SAMPLE_PATHS[7], dtype="float32")
    n = max(len(a), len(b))
    stereo = np.stack([np.pad(a, (0, n - len(a))), np.pad(b, (0, n - len(b)))], axis=1)
    stereo_44k = librosa.resample(stereo.T, orig_sr=8000, target_sr=44100).T * 0.9
    files = {}
    for name, audio, rate, kwargs in [
        ("pcm16_stereo.wav", stereo, 8000, {"subtype": "PCM_16"}),
        ("pcm24.wav", stereo, 8000, {"subtype": "PCM_24"}),
        ("pcm32.wav", stereo_44k, 44100, {"subtype": "PCM_32"}),
        ("float.wav", stereo, 8000, {"subtype": "FLOAT"}),
        ("wavex16.wav", stereo, 8000, {"format": "WAVEX", "subtype": "PCM_16"}),
        ("speech.flac", stereo_44k, 44100, {}),
        ("speech.ogg", stereo, 8000, {}),
        ("speech.mp3", stereo_44k, 44100, {}),
        ("mono16_44k.wav", stereo_44k[:, 0], 44100, {"subtype": "PCM_16"}),
    ]:
        path = str(root / name)
        sf.write(path, np.clip(audio, -1, 1), rate, **kwargs)
        files[name] = path
    # 16-bit PCM WAVs that tf.audio.decode_wav cannot read: a LIST chunk before "fmt ",
    # an odd-sized chunk (RIFF pad byte), trailing junk shorter than a chunk header.
    raw = open(SAMPLE_PATHS[3], "rb").read()
    assert raw[12:16] == b"fmt " and raw[36:40] == b"data"
    info_chunk = b"LIST" + struct.pack("<I", 16) + b"INFOISFT" + struct.pack("<I", 4) + b"test"
    odd_chunk = b"abcd" + struct.pack("<I", 3) + b"xyz\x00"
    for name, blob in [
        ("list_before_fmt.wav", raw[:12] + info_chunk + raw[12:]),
        ("odd_chunk.wav", raw + odd_chunk),
        ("trailing_bytes.wav", raw + b"\x00\x01\x02"),
    ]:
        blob = bytearray(blob)
        struct.pack_into("<I", blob, 4, len(blob) - 8)
        path = str(root / name)
        with open(path, "wb") as fh:
            fh.write(bytes(blob))
        files[name] = path
    return files


def _good_wav_bytes() -> bytes:
    with open(SAMPLE_PATHS[0], "rb") as fh:
        return fh.read()


def _write(path, blob: bytes) -> str:
    with open(path, "wb") as fh:
        fh.write(blob)
    return str(path)


def _make_bad(kind: str, tmp_path) -> str:
    """One broken file of the given kind in tmp_path; returns its path."""
    good = _good_wav_bytes()
    path = tmp_path / f"bad_{kind}.wav"
    if kind == "missing":
        return str(path)
    if kind == "empty":
        return _write(path, b"")
    if kind == "truncated_header":
        return _write(path, good[:20])
    if kind == "random_bytes":
        return _write(path, np.random.default_rng(0).bytes(6000))
    if kind == "zero_frames":
        blob = bytearray(good[:44])
        struct.pack_into("<I", blob, 40, 0)
        struct.pack_into("<I", blob, 4, 36)
        return _write(path, bytes(blob))
    if kind in ("nan", "inf"):
        audio, _ = sf.read(SAMPLE_PATHS[0], dtype="float32")
        audio[len(audio) // 2] = np.nan if kind == "nan" else np.inf
        sf.write(str(path), audio, 8000, subtype="FLOAT")
        return str(path)
    if kind == "zero_channels":
        blob = bytearray(good)
        struct.pack_into("<H", blob, 22, 0)
        return _write(path, bytes(blob))
    if kind == "directory":
        path.mkdir()
        return str(path)
    raise AssertionError(kind)


BAD_KINDS = {
    # kind: (exception class, words the message must contain)
    "missing": (AudioFileNotFoundError, "no such file"),
    "empty": (AudioFileError, "empty (0 bytes)"),
    "truncated_header": (AudioFileError, "truncated WAV header"),
    "random_bytes": (AudioFileError, "not a readable audio file"),
    "zero_frames": (AudioFileError, "0 frames"),
    "nan": (AudioFileError, "NaN or Inf"),
    "inf": (AudioFileError, "NaN or Inf"),
    "zero_channels": (AudioFileError, "unsupported channel count 0"),
    "directory": (AudioFileError, "is a directory"),
}


# ------------------------------------------------------------------------ load_audio


LOAD_CASES = [
    {},
    {"offset": 0.1, "duration": 0.25},
    {"duration": 0.3},
    {"sample_rate": 16000},
    {"sample_rate": 22050, "offset": 0.05, "duration": 0.3},
    {"sample_rate": 4000},
]


@pytest.mark.parametrize("kwargs", LOAD_CASES, ids=str)
def test_load_audio_matches_librosa_on_fsdd(kwargs):
    worst = 0.0
    for path in SAMPLE_PATHS[::3]:
        audio, sr = data.load_audio(path, **kwargs)
        ref, ref_sr = librosa.load(path, sr=kwargs.get("sample_rate"),
                                   offset=kwargs.get("offset", 0.0),
                                   duration=kwargs.get("duration"))
        assert sr == ref_sr == kwargs.get("sample_rate", 8000)
        assert audio.dtype == np.float32 and audio.shape == ref.shape
        worst = max(worst, float(np.max(np.abs(audio - ref))))
    # Measured: 0.0 (identical) for native rate and for soxr resampling alike.
    assert worst <= 1e-6


@pytest.mark.parametrize("name", ["pcm16_stereo.wav", "pcm24.wav", "pcm32.wav", "float.wav",
                                  "wavex16.wav", "speech.flac", "speech.ogg", "speech.mp3"])
@pytest.mark.parametrize("kwargs", [
    {"mono": False},
    {"mono": True},
    {"mono": False, "sample_rate": 16000},
    {"mono": True, "sample_rate": 22050, "offset": 0.1, "duration": 0.2},
], ids=str)
def test_load_audio_matches_librosa_on_other_formats(formats, name, kwargs):
    audio, sr = data.load_audio(formats[name], **kwargs)
    ref, ref_sr = librosa.load(formats[name], sr=kwargs.get("sample_rate"),
                               mono=kwargs["mono"], offset=kwargs.get("offset", 0.0),
                               duration=kwargs.get("duration"))
    assert sr == ref_sr
    if not kwargs["mono"]:
        ref = ref.T  # librosa is channels-first, kerasaudio channels-last
        assert audio.shape[1] == 2
    assert audio.dtype == np.float32 and audio.shape == ref.shape
    assert float(np.max(np.abs(audio - ref))) <= 1e-6  # same decoder and resampler


def test_load_audio_layout_is_channels_last():
    audio, sr = data.load_audio(SAMPLE_PATHS[0], mono=False)
    mono, _ = data.load_audio(SAMPLE_PATHS[0])
    assert sr == 8000 and audio.ndim == 2 and audio.shape[1] == 1
    np.testing.assert_array_equal(audio[:, 0], mono)
    assert -1.0 <= mono.min() and mono.max() <= 1.0


def test_load_audio_decode_route(formats):
    # 16-bit PCM WAVs go through tf.audio.decode_wav; others and odd layouts soundfile.
    assert audio_io.probe(SAMPLE_PATHS[0], check_finite=True).tf_readable
    assert audio_io.probe(formats["pcm16_stereo.wav"], check_finite=True).tf_readable
    for name in ["pcm24.wav", "float.wav", "wavex16.wav", "speech.flac",
                 "list_before_fmt.wav", "odd_chunk.wav", "trailing_bytes.wav"]:
        assert not audio_io.probe(formats[name], check_finite=True).tf_readable, name


@pytest.mark.parametrize("name", ["list_before_fmt.wav", "odd_chunk.wav",
                                  "trailing_bytes.wav", "wavex16.wav"])
def test_wavs_that_decode_wav_rejects_still_load(formats, name):
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.audio.decode_wav(tf.io.read_file(formats[name]))
    audio, _ = data.load_audio(formats[name], mono=False)
    ref, _ = sf.read(formats[name], dtype="float32", always_2d=True)
    np.testing.assert_array_equal(audio, ref)


@pytest.mark.parametrize("kind", sorted(BAD_KINDS))
def test_load_audio_bad_files(kind, tmp_path):
    path = _make_bad(kind, tmp_path)
    cls, words = BAD_KINDS[kind]
    with pytest.raises(cls) as info:
        data.load_audio(path)
    assert isinstance(info.value, ValueError)
    assert info.value.path == path
    assert path in str(info.value) and words in str(info.value)


def test_load_audio_truncated_data_chunk_loads_what_is_there(tmp_path):
    good = _good_wav_bytes()
    path = _write(tmp_path / "cut.wav", good[:44 + 2001])  # header + 1000.5 frames
    with pytest.warns(UserWarning, match="truncated") as record:
        audio, sr = data.load_audio(path)
    assert path in str(record[0].message)
    assert "declares" in str(record[0].message) and "holds 1000" in str(record[0].message)
    full, _ = data.load_audio(SAMPLE_PATHS[0])
    assert sr == 8000 and audio.shape == (1000,)
    np.testing.assert_array_equal(audio, full[:1000])
    assert not audio_io.probe(path, check_finite=True).tf_readable


@pytest.mark.parametrize("kwargs, words", [
    ({"sample_rate": 0}, "sample_rate"),
    ({"sample_rate": 8000.5}, "sample_rate"),
    ({"offset": -1.0}, "offset"),
    ({"duration": 0}, "duration"),
    ({"duration": float("nan")}, "duration"),
])
def test_load_audio_bad_options(kwargs, words):
    with pytest.raises(InvalidOptionError, match=words):
        data.load_audio(SAMPLE_PATHS[0], **kwargs)


def test_load_audio_offset_past_end():
    frames = sf.info(SAMPLE_PATHS[0]).frames
    with pytest.raises(AudioFileError, match="past the end") as info:
        data.load_audio(SAMPLE_PATHS[0], offset=frames / 8000 + 0.01)
    assert SAMPLE_PATHS[0] in str(info.value)


# ------------------------------------------------------------------------------ trim


@pytest.mark.parametrize("top_db, frame_length, hop_length",
                         [(60, 2048, 512), (30, 2048, 512), (20, 512, 128), (40, 256, 64)])
def test_trim_matches_librosa_on_fsdd_sample(top_db, frame_length, hop_length):
    for path in SAMPLE_PATHS:
        audio, _ = data.load_audio(path)
        ours, interval = data.trim(audio, top_db=top_db, frame_length=frame_length,
                                   hop_length=hop_length)
        ref, ref_interval = librosa.effects.trim(audio, top_db=top_db,
                                                 frame_length=frame_length,
                                                 hop_length=hop_length)
        assert isinstance(ours, np.ndarray) and ours.dtype == np.float32
        np.testing.assert_array_equal(interval, ref_interval)
        np.testing.assert_array_equal(ours, ref)


@needs_full
def test_trim_matches_librosa_on_full_fsdd():
    mismatches = 0
    paths = list(FULL.path[::5])
    for path in paths:
        audio, _ = sf.read(path, dtype="float32")
        _, interval = data.trim(audio, top_db=25)
        _, ref = librosa.effects.trim(audio, top_db=25)
        mismatches += not np.array_equal(interval, ref)
    assert len(paths) == 600 and mismatches == 0  # every fifth file keeps the test short


def test_trim_multichannel_matches_librosa():
    a, _ = data.load_audio(SAMPLE_PATHS[10])
    b, _ = data.load_audio(SAMPLE_PATHS[11])
    n = 12000
    stereo = np.zeros((n, 2), np.float32)
    stereo[1000:1000 + len(a), 0] = a
    stereo[5000:5000 + len(b), 1] = b * 0.05  # quieter channel, later
    ours, interval = data.trim(stereo, top_db=30)
    ref, ref_interval = librosa.effects.trim(stereo.T, top_db=30)
    np.testing.assert_array_equal(interval, ref_interval)
    np.testing.assert_array_equal(ours, ref.T)
    assert ours.shape[1] == 2


def test_trim_edge_cases_match_librosa():
    for audio in [np.zeros(5000, np.float32), np.zeros(0, np.float32),
                  np.ones(10, np.float32), np.zeros(3000, np.float64)]:
        ours, interval = data.trim(audio)
        ref, ref_interval = librosa.effects.trim(audio)
        np.testing.assert_array_equal(interval, ref_interval)
        assert ours.dtype == audio.dtype and ours.shape == ref.shape


def test_trim_on_tensors_in_graph():
    audio, _ = data.load_audio(SAMPLE_PATHS[5])
    ref, ref_interval = librosa.effects.trim(audio, top_db=20)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def trim_graph(x):
        return data.trim(x, top_db=20)

    trimmed, interval = trim_graph(tf.constant(audio))
    assert tf.is_tensor(trimmed) and interval.dtype == tf.int64
    np.testing.assert_array_equal(interval.numpy(), ref_interval)
    np.testing.assert_array_equal(trimmed.numpy(), ref)
    eager, eager_interval = data.trim(tf.constant(audio), top_db=20)
    assert tf.is_tensor(eager)
    np.testing.assert_array_equal(eager_interval.numpy(), ref_interval)


# ------------------------------------------------------------------------ fix_length


@pytest.mark.parametrize("n, length, mode, expected", [
    (10, 6, "left", [0, 1, 2, 3, 4, 5]),
    (10, 6, "center", [2, 3, 4, 5, 6, 7]),
    (9, 6, "center", [1, 2, 3, 4, 5, 6]),
    (5, 8, "left", [0, 1, 2, 3, 4, -1, -1, -1]),
    (5, 8, "center", [-1, 0, 1, 2, 3, 4, -1, -1]),  # 3 pad samples: 1 before, 2 after
    (5, 9, "center", [-1, -1, 0, 1, 2, 3, 4, -1, -1]),
    (6, 6, "center", [0, 1, 2, 3, 4, 5]),
    (6, 6, "random", [0, 1, 2, 3, 4, 5]),
])
def test_fix_length_exact(n, length, mode, expected):
    audio = np.arange(1, n + 1, dtype=np.float32)  # 0 marks padding below
    out = data.fix_length(audio, length, mode=mode, seed=0)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array(expected, np.float32) + 1)


def test_fix_length_left_matches_librosa():
    audio, _ = data.load_audio(SAMPLE_PATHS[0])
    for length in [100, len(audio), len(audio) + 777]:
        np.testing.assert_array_equal(
            data.fix_length(audio, length, mode="left"),
            librosa.util.fix_length(audio, size=length),
        )


def test_fix_length_random_is_seeded_and_contiguous():
    audio = np.arange(1, 101, dtype=np.float32)
    crops = [data.fix_length(audio, 30, mode="random", seed=s) for s in range(20)]
    for crop in crops:
        assert crop.shape == (30,)
        np.testing.assert_array_equal(np.diff(crop), np.ones(29, np.float32))
    starts = {int(c[0]) for c in crops}
    assert len(starts) > 5  # offsets vary with the seed
    np.testing.assert_array_equal(crops[3], data.fix_length(audio, 30, mode="random", seed=3))
    pads = [data.fix_length(audio[:10], 25, mode="random", seed=s) for s in range(20)]
    befores = {int(np.argmax(p > 0)) for p in pads}
    assert len(befores) > 5 and all(0 <= b <= 15 for b in befores)
    for p in pads:
        np.testing.assert_array_equal(p[p > 0], audio[:10])


def test_fix_length_multichannel_and_tensors():
    stereo = np.stack([np.arange(10.0), -np.arange(10.0)], axis=1)
    out = data.fix_length(stereo, 4)
    assert out.dtype == np.float64 and out.shape == (4, 2)
    np.testing.assert_array_equal(out[:, 0], [3, 4, 5, 6])
    tensor = data.fix_length(tf.constant(stereo, tf.float32), 13, mode="left")
    assert tf.is_tensor(tensor) and tensor.shape == (13, 2)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32), tf.TensorSpec([2], tf.int64)])
    def crop(x, seed):
        return data.fix_length(x, 8000, mode="random", seed=seed)

    x = tf.range(20000, dtype=tf.float32)
    a, b = crop(x, tf.constant([1, 2], tf.int64)), crop(x, tf.constant([1, 2], tf.int64))
    assert a.shape == (8000,)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


BAD_ARRAYS = {
    "int16": (np.zeros(100, np.int16), "integer dtype int16; scale it to float"),
    "int32": (np.zeros(100, np.int32), "integer dtype int32; scale it to float"),
    "uint8": (np.zeros(100, np.uint8), "integer dtype uint8; scale it to float"),
    "int_tensor": (tf.zeros([100], tf.int16), "integer dtype int16; scale it to float"),
    "bool": (np.zeros(100, bool), "must be a float array"),
    "complex": (np.zeros(100, np.complex64), "must be a float array"),
    "rank3": (np.zeros((10, 2, 2), np.float32), "(samples, channels)"),
    "rank0": (np.float32(1.0), "(samples, channels)"),
    "zero_channels": (np.zeros((100, 0), np.float32), "unsupported channel count 0"),
}


@pytest.mark.parametrize("kind", sorted(BAD_ARRAYS))
@pytest.mark.parametrize("function", ["trim", "fix_length"])
def test_trim_and_fix_length_reject_bad_arrays(kind, function):
    audio, words = BAD_ARRAYS[kind]
    with pytest.raises(InvalidAudioError) as info:
        if function == "trim":
            data.trim(audio)
        else:
            data.fix_length(audio, 10)
    assert words in str(info.value) and str(info.value).startswith(function)


def test_trim_rejects_nan_and_bad_options():
    with pytest.raises(InvalidAudioError, match="NaN or Inf"):
        data.trim(np.array([0.1, np.nan, 0.2], np.float32))
    with pytest.raises(InvalidOptionError, match="top_db"):
        data.trim(np.zeros(10, np.float32), top_db=-1)
    with pytest.raises(InvalidOptionError, match="hop_length"):
        data.trim(np.zeros(10, np.float32), hop_length=0)
    with pytest.raises(InvalidOptionError, match="mode"):
        data.fix_length(np.zeros(10, np.float32), 5, mode="middle")
    with pytest.raises(InvalidOptionError, match="length"):
        data.fix_length(np.zeros(10, np.float32), 0)
    with pytest.raises(InvalidOptionError, match="seed"):
        data.fix_length(np.zeros(10, np.float32), 5, mode="random", seed="a")


# ---------------------------------------------------------------------- audio_dataset


def _collect(ds):
    xs, ys = [], []
    for x, y in ds:
        xs.append(x.numpy())
        ys.append(y.numpy())
    return np.concatenate(xs), np.concatenate(ys)


def test_audio_dataset_labels_shapes_and_waveforms():
    ds = data.audio_dataset(SAMPLE, classes=fsdd.CLASSES, label_column="digit",
                            sample_rate=8000, duration=1.0, batch_size=32)
    assert ds.class_names == list(fsdd.CLASSES)
    assert ds.file_paths == SAMPLE_PATHS and ds.skipped == []
    assert ds.element_spec[0].shape.as_list() == [None, 8000]
    assert ds.element_spec[1].dtype == tf.int32
    sizes = [int(x.shape[0]) for x, _ in ds]
    assert sizes == [32, 32, 32, 24]
    waves, labels = _collect(ds)
    np.testing.assert_array_equal(labels, SAMPLE.digit.to_numpy())
    for i in [0, 17, 63, 119]:
        audio, _ = data.load_audio(SAMPLE_PATHS[i])
        np.testing.assert_array_equal(waves[i], data.fix_length(audio, 8000))
    # 16-bit PCM WAV at the target rate stays in the graph: no numpy_function.
    ops = _graph_ops(ds)
    assert b"DecodeRaw" in ops and b"PyFunc" not in ops


def test_audio_dataset_resampling_matches_librosa():
    paths = SAMPLE_PATHS[::10]
    ds = data.audio_dataset(paths, sample_rate=16000, duration=1.5, length_mode="left",
                            batch_size=4)
    waves = np.concatenate([x.numpy() for x in ds])
    assert waves.shape == (12, 24000)
    for path, wave in zip(paths, waves, strict=True):
        ref, _ = librosa.load(path, sr=16000)
        np.testing.assert_allclose(wave, librosa.util.fix_length(ref, size=24000), atol=1e-6)
    assert b"PyFunc" in _graph_ops(ds)


def test_audio_dataset_mixed_formats_in_order(formats):
    names = ["pcm16_stereo.wav", "speech.flac", "pcm24.wav", "mono16_44k.wav",
             "speech.mp3", "odd_chunk.wav"]
    paths = [formats[n] for n in names] + SAMPLE_PATHS[:2]
    ds = data.audio_dataset(paths, sample_rate=8000, batch_size=3)
    clips = [row for x in ds for row in x.numpy()]
    assert len(clips) == len(paths)
    for path, clip in zip(paths, clips, strict=True):
        ref, _ = librosa.load(path, sr=8000)
        np.testing.assert_allclose(clip[:len(ref)], ref, atol=1e-6)
        assert not np.any(clip[len(ref):])


def test_audio_dataset_pads_batches_to_longest_clip():
    ds = data.audio_dataset(SAMPLE_PATHS[:20], sample_rate=8000, batch_size=8)
    lengths = [sf.info(p).frames for p in SAMPLE_PATHS[:20]]
    for i, batch in enumerate(ds):
        chunk = lengths[8 * i:8 * i + 8]
        assert batch.shape == (len(chunk), max(chunk))
        for row, n in zip(batch.numpy(), chunk, strict=True):
            assert not np.any(row[n:])


def test_audio_dataset_trim():
    paths = SAMPLE_PATHS[:12]
    ds = data.audio_dataset(paths, sample_rate=8000, trim_db=20, batch_size=12)
    batch = next(iter(ds)).numpy()
    lengths = []
    for path, row in zip(paths, batch, strict=True):
        ref, _ = librosa.effects.trim(librosa.load(path, sr=None)[0], top_db=20)
        lengths.append(len(ref))
        np.testing.assert_array_equal(row[:len(ref)], ref)
    assert batch.shape[1] == max(lengths)


def _crop_dataset(seed, **kwargs):
    return data.audio_dataset(SAMPLE, classes=fsdd.CLASSES, label_column="digit",
                              sample_rate=8000, duration=0.25, length_mode="random",
                              shuffle=True, seed=seed, deterministic=True, batch_size=40,
                              **kwargs)


@pytest.mark.parametrize("cache", [False, True])
def test_audio_dataset_seeded_runs_are_identical(cache):
    first = _crop_dataset(7, cache=cache)
    second = _crop_dataset(7, cache=cache)
    x1, y1 = _collect(first)
    x2, y2 = _collect(second)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(x1, x2)
    assert not np.array_equal(y1, SAMPLE.digit.to_numpy())  # shuffled
    assert sorted(y1.tolist()) == sorted(SAMPLE.digit.tolist())
    _, y3 = _collect(_crop_dataset(8, cache=cache))
    assert not np.array_equal(y1, y3)
    # A new epoch reshuffles and re-crops, deterministically.
    x1b, y1b = _collect(first)
    x2b, _ = _collect(second)
    np.testing.assert_array_equal(x1b, x2b)
    assert not np.array_equal(y1, y1b)


def test_audio_dataset_cache_file(tmp_path):
    cache = str(tmp_path / "waves.cache")
    ds = data.audio_dataset(SAMPLE_PATHS[:10], sample_rate=8000, duration=0.5,
                            cache=cache, batch_size=5)
    first = np.concatenate([x.numpy() for x in ds])
    assert any(name.startswith("waves.cache") for name in os.listdir(tmp_path))
    second = np.concatenate([x.numpy() for x in ds])
    plain = np.concatenate([x.numpy() for x in data.audio_dataset(
        SAMPLE_PATHS[:10], sample_rate=8000, duration=0.5, batch_size=5)])
    np.testing.assert_array_equal(first, plain)
    np.testing.assert_array_equal(second, plain)


def test_audio_dataset_multi_label_dataframe():
    paths = SAMPLE_PATHS[:4]
    frame = pd.DataFrame({"fname": paths,
                          "labels": ["Bark,Dog", "Cat", "Dog, Bark ,Cat", "Cat"]})
    ds = data.audio_dataset(frame, path_column="fname", label_column="labels",
                            multi_label=True, sample_rate=8000, duration=0.1, batch_size=4)
    assert ds.class_names == ["Bark", "Cat", "Dog"]
    _, y = next(iter(ds))
    assert y.dtype == tf.float32
    np.testing.assert_array_equal(y.numpy(), [[1, 0, 1], [0, 1, 0], [1, 1, 1], [0, 1, 0]])
    ordered = data.audio_dataset(frame, path_column="fname", label_column="labels",
                                 multi_label=True, classes=["Dog", "Cat", "Bark", "Bird"],
                                 sample_rate=8000, duration=0.1, batch_size=4)
    _, y = next(iter(ordered))
    np.testing.assert_array_equal(y.numpy()[0], [1, 0, 1, 0])


def test_audio_dataset_label_forms():
    paths = SAMPLE_PATHS[:6]
    ds = data.audio_dataset(paths, [10, 2, 2, 10, 1, 2], sample_rate=8000, duration=0.1)
    assert ds.class_names == ["1", "2", "10"]  # numbers sort numerically
    _, y = next(iter(ds))
    np.testing.assert_array_equal(y.numpy(), [2, 1, 1, 2, 0, 1])
    ds = data.audio_dataset(paths, ["b", "a", "c", "a", "b", "c"], sample_rate=8000,
                            duration=0.1)
    assert ds.class_names == ["a", "b", "c"]


def test_audio_dataset_augment_and_features():
    paths = SAMPLE_PATHS[:8]
    plain = next(iter(data.audio_dataset(paths, sample_rate=8000, duration=0.5,
                                         batch_size=8))).numpy()
    seen = []

    def augment(x):
        seen.append(x.shape.as_list())
        return x * 0.5

    ds = data.audio_dataset(paths, list(range(8)), sample_rate=8000, duration=0.5,
                            batch_size=8, augment=augment,
                            features=lambda x: tf.signal.frame(x, 400, 400))
    x, y = next(iter(ds))
    assert x.shape == (8, 10, 400)
    np.testing.assert_array_equal(y.numpy(), np.arange(8))
    assert [None, 4000] in seen  # called on batches, not single clips
    np.testing.assert_array_equal(x.numpy().reshape(8, -1), plain * 0.5)


@pytest.mark.jax
def test_audio_dataset_with_kerasaudio_mel_features():
    import keras

    from kerasaudio import layers

    mel = layers.MelSpectrogram(sample_rate=8000, n_fft=512, hop_length=128, n_mels=40)
    ds = data.audio_dataset(SAMPLE, classes=fsdd.CLASSES, label_column="digit",
                            sample_rate=8000, duration=1.0, batch_size=16, features=mel)
    x, y = next(iter(ds))
    assert x.shape == (16, 63, 40) and y.shape == (16,)
    waves = next(iter(data.audio_dataset(SAMPLE_PATHS[:16], sample_rate=8000, duration=1.0,
                                         batch_size=16)))
    ref = keras.ops.convert_to_numpy(mel(waves.numpy()))
    np.testing.assert_allclose(x.numpy(), ref, rtol=1e-4, atol=1e-4)
    audio = waves.numpy()[3]
    ref_librosa = librosa.feature.melspectrogram(y=audio, sr=8000, n_fft=512,
                                                 hop_length=128, n_mels=40).T
    np.testing.assert_allclose(x.numpy()[3], ref_librosa, rtol=1e-3, atol=1e-3)


def test_audio_dataset_xla_compiles_keras_features_or_falls_back():
    import keras

    from kerasaudio import layers

    mel = layers.MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=64, n_mels=20)
    mel(tf.zeros([1, 4000]))
    assert pipeline._compile_features(mel, [4, 4000]) is not mel  # a jit_compile tf.function

    class NumpyGain(keras.layers.Layer):  # tf.numpy_function: XLA cannot compile it
        def call(self, x):
            y = tf.numpy_function(lambda a: a * np.float32(2), [x], tf.float32)
            return tf.ensure_shape(y, x.shape)

    gain = NumpyGain()
    assert pipeline._compile_features(gain, [4, 4000]) is gain
    plain = next(iter(data.audio_dataset(SAMPLE_PATHS[:4], sample_rate=8000, duration=0.5,
                                         batch_size=4)))
    doubled = next(iter(data.audio_dataset(SAMPLE_PATHS[:4], sample_rate=8000, duration=0.5,
                                           batch_size=4, features=gain)))
    np.testing.assert_array_equal(doubled.numpy(), plain.numpy() * 2)


@pytest.mark.parametrize("kind", sorted(BAD_KINDS))
def test_audio_dataset_raises_on_bad_file_at_construction(kind, tmp_path):
    bad = _make_bad(kind, tmp_path)
    cls, words = BAD_KINDS[kind]
    with pytest.raises(cls) as info:
        data.audio_dataset([SAMPLE_PATHS[0], bad, SAMPLE_PATHS[1]], sample_rate=8000)
    assert info.value.path == bad and bad in str(info.value) and words in str(info.value)


def test_audio_dataset_skips_bad_files(tmp_path):
    bad = [_make_bad(kind, tmp_path) for kind in sorted(BAD_KINDS)]
    paths = SAMPLE_PATHS[:5] + bad + SAMPLE_PATHS[5:8]
    labels = list(range(len(paths)))
    with pytest.warns(UserWarning, match=f"skipped {len(bad)} of {len(paths)} files") as rec:
        ds = data.audio_dataset(paths, labels, on_error="skip", sample_rate=8000,
                                duration=0.5, batch_size=4)
    message = str(rec[0].message)
    assert "no such file" in message and "NaN or Inf" in message
    assert [p for p, _ in ds.skipped] == bad
    assert all(isinstance(reason, str) and reason for _, reason in ds.skipped)
    assert ds.file_paths == SAMPLE_PATHS[:8]
    x, y = _collect(ds)
    assert x.shape == (8, 4000) and np.all(np.isfinite(x))
    good_labels = [i for i, p in enumerate(paths) if p not in bad]
    np.testing.assert_array_equal(y, good_labels)


def test_audio_dataset_all_files_bad(tmp_path):
    bad = [_make_bad("empty", tmp_path), _make_bad("missing", tmp_path)]
    with pytest.warns(UserWarning, match="skipped 2 of 2"), \
            pytest.raises(InvalidAudioError, match="all 2 files were skipped"):
        data.audio_dataset(bad, sample_rate=8000, on_error="skip")


def test_audio_dataset_truncated_data_chunk(tmp_path):
    cut = _write(tmp_path / "cut.wav", _good_wav_bytes()[:44 + 3000])
    with pytest.warns(UserWarning, match="1 of 3 files have a truncated data chunk") as rec:
        ds = data.audio_dataset([SAMPLE_PATHS[1], cut, SAMPLE_PATHS[2]], sample_rate=8000,
                                batch_size=3)
    assert cut in str(rec[0].message) and ds.skipped == []
    batch = next(iter(ds)).numpy()
    full, _ = data.load_audio(SAMPLE_PATHS[0])
    np.testing.assert_array_equal(batch[1, :1500], full[:1500])
    assert not np.any(batch[1, 1500:])
    assert b"PyFunc" in _graph_ops(ds)  # read through soundfile, not decode_wav


@pytest.mark.parametrize("kwargs, words", [
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": -3}, "batch_size"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"duration": 0}, "duration"),
    ({"duration": -1.0}, "duration"),
    ({"duration": 1e-6}, "shorter than one sample"),
    ({"sample_rate": 0}, "sample_rate"),
    ({"length_mode": "middle"}, "length_mode"),
    ({"on_error": "ignore"}, "on_error"),
    ({"trim_db": -10}, "trim_db"),
    ({"seed": "abc"}, "seed"),
    ({"cache": 3}, "cache"),
    ({"features": "mel"}, "features"),
    ({"augment": 1}, "augment"),
    ({"deterministic": "yes"}, "deterministic"),
    ({"labels": [1, 2]}, "labels has 2 entries but source has 3 files"),
    ({"labels": ["0", "1", "x"], "classes": ["0", "1"]}, "unknown label 'x'"),
    ({"labels": ["0", None, "1"]}, "missing label"),
    ({"labels": [["a"], ["b"], ["a"]]}, "multi_label=True"),
    ({"classes": ["0", "1"]}, "no labels"),
    ({"labels": [0, 1, 0], "classes": ["0", "1", "0"]}, "duplicates"),
])
def test_audio_dataset_bad_options(kwargs, words):
    kwargs = {"sample_rate": 8000, **kwargs}
    with pytest.raises(InvalidOptionError, match=None) as info:
        data.audio_dataset(SAMPLE_PATHS[:3], **kwargs)
    assert words in str(info.value)


def test_audio_dataset_bad_sources():
    with pytest.raises(InvalidOptionError, match="empty"):
        data.audio_dataset([], sample_rate=8000)
    with pytest.raises(InvalidOptionError, match="wrap it in a list"):
        data.audio_dataset(SAMPLE_PATHS[0], sample_rate=8000)
    with pytest.raises(InvalidOptionError, match="no path column 'path'"):
        data.audio_dataset(pd.DataFrame({"file": SAMPLE_PATHS[:2]}), sample_rate=8000)
    with pytest.raises(InvalidOptionError, match="no label column 'labelz'"):
        data.audio_dataset(SAMPLE.head(2), label_column="labelz", sample_rate=8000)
    frame = SAMPLE.head(3).assign(digit=pd.array([1, None, 2], dtype="Int64"))
    with pytest.raises(InvalidOptionError, match="missing label") as info:
        data.audio_dataset(frame, label_column="digit", sample_rate=8000)
    assert frame.path[1] in str(info.value)
    with pytest.raises(InvalidOptionError, match="source\\[1\\]"):
        data.audio_dataset([SAMPLE_PATHS[0], 3], sample_rate=8000)
    with pytest.raises(InvalidOptionError, match="unknown label '11'") as info:
        frame = SAMPLE.head(3).assign(digit=[1, 11, 2])
        data.audio_dataset(frame, label_column="digit", classes=fsdd.CLASSES,
                           sample_rate=8000)
    assert frame.path[1] in str(info.value)


def test_audio_dataset_scan_of_clean_files_warns_nothing():
    # The up-front scan of 120 clean files: no truncation or skip warning, one element per
    # file. (Speed is benchmarked in benchmarks/, never asserted in a test.)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        ds = data.audio_dataset(SAMPLE_PATHS, sample_rate=8000, duration=1.0)
    assert sum(1 for _ in ds.unbatch()) == len(SAMPLE_PATHS)
