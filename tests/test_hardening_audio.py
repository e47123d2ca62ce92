"""Audio files that lie or misbehave: every one a clear kerasaudio error or correct
behaviour, in bounded memory (issue 20). The files are real ones with patched headers."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import soundfile as sf
from crafted_audio import (
    UNKNOWN_FRAMES,
    flac_claiming,
    float_wav,
    mp3_claiming,
    tone,
    wav_declaring_rate,
)

from kerasaudio import audio_io, data, runtime
from kerasaudio.errors import AudioFileError, InvalidAudioError, KerasAudioError


def test_flac_claiming_2_36_frames_loads_the_frames_present(tmp_path):
    path = flac_claiming(tmp_path / "lie.flac", 2**36 - 1)
    assert os.path.getsize(path) < 5000 and sf.info(path).frames == 2**36 - 1
    with pytest.warns(UserWarning, match="declares 68719476735 frames") as record:
        audio, rate = data.load_audio(path)
    assert path in str(record[0].message)
    assert rate == 8000 and audio.shape == (8000,)
    np.testing.assert_allclose(audio, tone(8000), atol=1 / 32768)  # 16-bit FLAC


@pytest.mark.parametrize("kind", ["flac-unknown-length", "flac-short", "mp3-xing"])
def test_every_container_decodes_what_is_there_not_what_the_header_says(kind, tmp_path):
    if kind == "flac-unknown-length":  # a streaming encoder's "unknown": SF_COUNT_MAX
        path, declared = flac_claiming(tmp_path / "a.flac", 0), UNKNOWN_FRAMES
    elif kind == "flac-short":
        path, declared = flac_claiming(tmp_path / "a.flac", 10_000_000), 10_000_000
    else:
        path = mp3_claiming(tmp_path / "a.mp3", 0xFFFFFFF0)
        declared = sf.info(path).frames
    assert sf.info(path).frames == declared > 1_000_000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        audio, _ = data.load_audio(path, sample_rate=16000)
        tail, _ = data.load_audio(path, offset=0.5)
    assert 15_000 < audio.shape[0] < 17_000 and np.isfinite(audio).all()
    assert 3_900 < tail.shape[0] < 4_200


def test_audio_dataset_skips_a_lying_file_up_front_and_iterates(tmp_path):
    good = [str(p) for p in (tmp_path / "a.wav", tmp_path / "b.wav")]
    for p in good:
        sf.write(p, tone(8000), 8000, subtype="PCM_16")
    lie = flac_claiming(tmp_path / "lie.flac", 2**36 - 1)
    with pytest.warns(UserWarning, match="skipped 1 of 3"):
        ds = data.audio_dataset([good[0], lie, good[1]], sample_rate=8000, duration=1.0,
                                on_error="skip", batch_size=8)
    assert [path for path, _ in ds.skipped] == [lie]
    assert "max_duration" in ds.skipped[0][1] and "68719476735" in ds.skipped[0][1]
    (batch,) = list(ds)
    assert batch.shape == (2, 8000)
    with pytest.raises(AudioFileError, match="max_duration"):
        data.audio_dataset([good[0], lie], sample_rate=8000)


def test_absurd_native_rates_are_refused(tmp_path):
    one_hz = wav_declaring_rate(tmp_path / "one_hz.wav", 1, frames=2000)
    with pytest.raises(AudioFileError, match=r"1 Hz.*min_sample_rate=1000") as info:
        data.load_audio(one_hz, sample_rate=8000)
    assert info.value.path == one_hz
    # The option lowers the bound; max_duration still bounds what gets decoded.
    with pytest.raises(AudioFileError, match="max_duration=60"):
        data.load_audio(one_hz, sample_rate=8000, min_sample_rate=1, max_duration=60)
    audio, _ = data.load_audio(one_hz, sample_rate=2, min_sample_rate=1)
    assert audio.shape == (4000,)
    fast = wav_declaring_rate(tmp_path / "fast.wav", 4_000_000, frames=200)
    with pytest.raises(AudioFileError, match="above the 768000 Hz"):
        data.load_audio(fast)
    with pytest.raises(AudioFileError, match="min_sample_rate"):
        data.audio_dataset([one_hz], sample_rate=8000)


def test_max_duration_bounds_what_is_decoded(tmp_path):
    path = str(tmp_path / "two_seconds.flac")
    sf.write(path, tone(16000), 8000, format="FLAC")
    with pytest.raises(AudioFileError, match="max_duration=1 s") as info:
        data.load_audio(path, max_duration=1.0)
    assert info.value.path == path
    audio, _ = data.load_audio(path, max_duration=1.0, offset=1.0)  # 1 s left
    assert audio.shape == (8000,)
    audio, _ = data.load_audio(path, max_duration=1.0, duration=0.5)
    assert audio.shape == (4000,)
    assert data.load_audio(path, max_duration=None)[0].shape == (16000,)
    with pytest.raises(KerasAudioError, match="max_duration"):
        data.load_audio(path, max_duration=float("nan"))
    with pytest.raises(AudioFileError, match="max_duration"):
        data.audio_dataset([path], sample_rate=8000, max_duration=1.5)


@pytest.mark.parametrize("fmt, subtype", [("FLAC", "PCM_16"), ("OGG", "VORBIS"),
                                          ("WAV", "PCM_24"), ("WAV", "FLOAT")])
def test_block_decoding_equals_soundfile_across_blocks(fmt, subtype, tmp_path):
    frames = audio_io.BLOCK_FRAMES * 2 + 1234
    stereo = np.stack([tone(frames), tone(frames, amplitude=0.1)], axis=1)
    path = str(tmp_path / f"long.{fmt.lower()}")
    sf.write(path, stereo, 44100, format=fmt, subtype=subtype)
    for offset, duration in [(0.0, None), (1.2, None), (0.5, 1.8)]:
        ours, _ = data.load_audio(path, mono=False, offset=offset, duration=duration)
        with sf.SoundFile(path) as f:
            f.seek(int(offset * 44100))
            ref = f.read(-1 if duration is None else int(duration * 44100),
                         dtype="float32", always_2d=True)
        np.testing.assert_array_equal(ours, ref)


def test_bytes_paths_and_file_names_that_are_not_utf8(tmp_path):
    name = os.fsencode(str(tmp_path)) + b"/\xff\xfe.wav"
    sf.write(str(tmp_path / "ok.wav"), tone(8000), 8000, subtype="PCM_16")
    os.rename(tmp_path / "ok.wav", name)
    reference = tone(8000)
    for path in (name, os.fsdecode(name)):
        audio, rate = data.load_audio(path)
        assert rate == 8000
        np.testing.assert_allclose(audio, reference, atol=1 / 32768)
        assert audio_io.probe(path).frames == 8000
    flac = str(tmp_path / "ok.flac")
    sf.write(flac, reference, 8000, format="FLAC")  # soundfile route
    assert data.load_audio(os.fsencode(flac))[0].shape == (8000,)
    ds = data.audio_dataset([name, os.fsencode(flac)], sample_rate=8000, duration=1.0)
    assert next(iter(ds)).shape == (2, 8000)
    assert runtime.load_waveform(name, model_sample_rate=16000).shape == (16000,)


@pytest.mark.parametrize("path", ["a\x00b.wav", b"a\x00b.wav"])
def test_a_nul_byte_in_a_path_is_an_audio_file_error(path):
    with pytest.raises(AudioFileError, match="NUL byte"):
        data.load_audio(path)
    with pytest.raises(AudioFileError, match="NUL byte"):
        data.audio_dataset([path], sample_rate=8000)


def test_directories_and_fifos_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    code = ("import sys\nfrom kerasaudio import audio_io\n"
            "for path in sys.argv[1:]:\n"
            "    try:\n        audio_io.load_audio(path)\n"
            "    except audio_io.AudioFileError as e:\n        print(e.reason)\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path), str(fifo)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["is a directory, not an audio file",
                                        "is not a regular file (a device, pipe or socket)"]


def test_samples_beyond_the_front_ends_range_are_refused_where_they_enter(tmp_path):
    huge = float_wav(tmp_path / "huge.wav", 5e29)
    assert np.isfinite(sf.read(huge)[0]).all()
    with pytest.raises(InvalidAudioError, match="peak sample magnitude 5e\\+29") as info:
        runtime.load_waveform(huge, model_sample_rate=8000)
    assert huge in str(info.value)
    with pytest.raises(InvalidAudioError, match="peak"):
        runtime.load_waveform(np.full(100, 1e7, np.float32), model_sample_rate=8000)
    with pytest.raises(InvalidAudioError, match="NaN or Inf"):
        runtime.load_waveform(np.array([0.0, np.inf], np.float32), model_sample_rate=8000)
    # 16-bit values stored unscaled as float still pass; the bound is an option.
    loud = float_wav(tmp_path / "loud.wav", 32767.0)
    assert runtime.load_waveform(loud, model_sample_rate=8000).shape == (8000,)
    assert runtime.load_waveform(huge, model_sample_rate=8000, max_peak=None).shape == (8000,)
    with pytest.warns(UserWarning, match="skipped 1 of 2"):
        ds = data.audio_dataset([huge, loud], sample_rate=8000, on_error="skip")
    assert ds.skipped[0][0] == huge and "max_peak" in ds.skipped[0][1]
    audio_io.check_peak(np.full(10, 0.5, np.float32))


def test_sample_rate_options_are_bounded():
    with pytest.raises(KerasAudioError, match="768000"):
        data.load_audio("x.wav", sample_rate=10**9)
    with pytest.raises(KerasAudioError, match="768000"):
        data.audio_dataset(["x.wav"], sample_rate=10**9)
