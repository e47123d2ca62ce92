"""Silero VAD: the Keras networks against the TorchScript model of the `silero-vad` package
(real weights), the shipped weights, the streaming model and TFLite file, and
`kerasaudio.vad.split(method="silero")` with its timestamp grouping.

Audio: real FSDD recordings (the bundled sample) joined with silences, at 8 kHz and
resampled to 16 kHz. The reference runs chunk by chunk from a reset state, as its
`get_speech_timestamps` does.
"""

from __future__ import annotations

import math
import shutil

import keras
import numpy as np
import pytest

import kerasaudio
from kerasaudio import vad
from kerasaudio.audio_io import load_audio, resample
from kerasaudio.errors import (
    ChecksumError,
    InvalidOptionError,
    ModelFileError,
    VerificationError,
)
from kerasaudio.models.silero_vad import (
    CONFIGS,
    config_for,
    read_weights,
    silero_vad,
    silero_vad_streaming,
    tensor_shapes,
)

#: |Keras - TorchScript| per chunk probability (float32 rounding in the FFT basis and LSTM).
PARITY = 1e-4
#: Whole-recording model against the streaming model: the same float32 arithmetic in
#: another order (a fused LSTM loop against one cell call per chunk), whose rounding
#: carries through the recurrent state over hundreds of chunks.
SAME = 5e-5
GAP = 0.6  # seconds of silence between clips


@pytest.fixture(scope="module")
def timeline(fsdd_sample):
    """(audio at 8 kHz, [(start, end) of each clip in samples]): eight clips with gaps."""
    parts, spans, at = [], [], 0
    for path in fsdd_sample.path[:8]:
        audio, _ = load_audio(path, sample_rate=8000)
        gap = np.zeros(int(GAP * 8000), np.float32)
        parts += [gap, audio.astype(np.float32)]
        spans.append((at + len(gap), at + len(gap) + len(audio)))
        at += len(gap) + len(audio)
    parts.append(np.zeros(int(GAP * 8000), np.float32))
    return np.concatenate(parts), spans


def _at(audio8: np.ndarray, rate: int) -> np.ndarray:
    if rate == 8000:
        return audio8
    return resample(audio8, sample_rate=8000, target_sample_rate=rate).astype(np.float32)


def _stream(model, audio: np.ndarray, rate: int) -> np.ndarray:
    cfg = config_for(rate)
    audio = np.pad(audio, (0, -len(audio) % cfg.chunk))
    state = np.zeros((1, cfg.state_size), np.float32)
    out = []
    for i in range(0, len(audio), cfg.chunk):
        probability, state = model([audio[None, i:i + cfg.chunk], state])
        out.append(float(np.asarray(probability)[0, 0]))
        state = np.asarray(state)
    return np.array(out)


def test_shipped_weights_are_checked_and_complete(tmp_path):
    tensors = read_weights()
    for rate in CONFIGS:
        for name, shape in tensor_shapes(rate).items():
            assert tensors[name].shape == shape and tensors[name].dtype == np.float32
    tampered = tmp_path / "silero_vad.npz"
    shutil.copy(kerasaudio.models.silero_vad.default_weights_path(), tampered)
    data = bytearray(tampered.read_bytes())
    data[-100] ^= 1
    tampered.write_bytes(bytes(data))
    with pytest.raises(ChecksumError):
        read_weights(tampered, sha256=kerasaudio.models.silero_vad.WEIGHTS_SHA256)


@pytest.mark.integration
@pytest.mark.jax
@pytest.mark.parametrize("rate", [16000, 8000])
def test_whole_recording_equals_streaming(timeline, rate):
    audio = _at(timeline[0], rate)
    whole = np.asarray(kerasaudio.create_model("silero_vad", sample_rate=rate)(audio[None]))[0]
    streamed = _stream(silero_vad_streaming(sample_rate=rate), audio, rate)
    assert whole.shape == (math.ceil(len(audio) / config_for(rate).chunk),)
    np.testing.assert_allclose(whole, streamed, atol=SAME)
    assert whole.max() > 0.9 and whole.min() < 0.1  # speech and silence both seen


def test_model_info_options_and_safe_mode_round_trip(tmp_path):
    model = kerasaudio.create_model("silero_vad", sample_rate=8000)
    info = kerasaudio.info.model_info(model)
    assert info.sample_rate == 8000 and info.class_names == ("speech",)
    assert model.count_params() == 235_137
    path = tmp_path / "vad.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(0).uniform(-0.3, 0.3, (2, 3000)).astype(np.float32)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)
    with pytest.raises(InvalidOptionError, match="8000 and 16000"):
        silero_vad(sample_rate=22050)
    with pytest.raises(InvalidOptionError, match="'silero'"):
        silero_vad(weights="imagenet")
    untrained = silero_vad(weights=None, sample_rate=8000)
    assert not np.allclose(untrained(x), model(x), atol=1e-3)


@pytest.mark.parametrize("rate", [16000, 8000, 22050])
def test_split_finds_every_clip(timeline, rate):
    audio8, spans = timeline
    audio = _at(audio8, rate)
    segments = vad.split(audio, rate, method="silero")
    assert len(segments) == len(spans)
    for segment, (start, end) in zip(segments, spans, strict=True):
        assert segment.sample_rate == rate
        # Each segment lies on its clip: within the clip widened by the padding (30 ms), one
        # chunk of grouping (32 ms) and the network's lag behind the signal.
        assert segment.start_s >= start / 8000 - 0.2 and segment.end_s <= end / 8000 + 0.2
        assert segment.duration > 0.15


def test_speech_timestamps_rules():
    p = np.r_[np.zeros(10), np.ones(20), np.zeros(10)]
    (segment,) = vad.speech_timestamps(p, sample_rate=16000, chunk=512)
    assert (segment.start, segment.end) == (10 * 512 - 480, 30 * 512 + 480)
    short = np.r_[np.zeros(10), np.ones(3), np.zeros(10)]  # 96 ms < min_speech 250 ms
    assert vad.speech_timestamps(short, sample_rate=16000, chunk=512) == []
    bridged = np.r_[np.ones(20), np.zeros(2), np.ones(20), np.zeros(10)]  # 64 ms pause
    assert len(vad.speech_timestamps(bridged, sample_rate=16000, chunk=512)) == 1
    long = np.r_[np.ones(100), np.zeros(5), np.ones(100), np.zeros(10)]
    cut = vad.speech_timestamps(long, sample_rate=16000, chunk=512, max_speech=4.0,
                                min_silence=1.0)
    assert len(cut) == 2 and cut[0].end <= 105 * 512 + 480
    with pytest.raises(InvalidOptionError):
        vad.speech_timestamps(p, sample_rate=16000, chunk=512, threshold=1.5)
    with pytest.raises(InvalidOptionError, match="method"):
        vad.split(np.zeros(800, np.float32), 8000, method="webrtc")


@pytest.mark.integration
def test_streaming_tflite_float32_runs_without_tensorflow(tmp_path, timeline):
    audio = timeline[0][: 8000 * 3]
    path = tmp_path / "vad8k.tflite"
    report = kerasaudio.export.streaming_vad_tflite(path, sample_rate=8000, audio=audio)
    assert report.max_difference <= 1e-4 and report.agreement == 1.0
    assert not [op for op in kerasaudio.export.op_names(path.read_bytes())
                if op.startswith(("FLEX", "CUSTOM"))]
    runner = kerasaudio.runtime.StreamingVAD(path)
    assert (runner.sample_rate, runner.chunk_size, runner.state_size) == (8000, 256, 288)
    expected = np.asarray(silero_vad(sample_rate=8000)(audio[None]))[0]
    np.testing.assert_allclose(runner.probabilities(audio), expected, atol=1e-4)
    first = runner.process(audio[:256])
    assert first == pytest.approx(expected[0], abs=1e-4)
    with pytest.raises(kerasaudio.errors.InvalidAudioError):
        runner.process(np.zeros(100, np.float32))


def test_streaming_runner_refuses_other_files(tmp_path):
    inp = keras.Input((8000,))
    model = keras.Model(inp, keras.layers.Dense(2)(inp))
    with pytest.raises(ModelFileError, match="streaming VAD"):
        kerasaudio.runtime.StreamingVAD(kerasaudio.export.convert(model))


@pytest.mark.export
@pytest.mark.parametrize("rate", [16000, 8000])
@pytest.mark.parametrize("quantization", [None, "float16", "dynamic"])
def test_streaming_tflite_modes_verify(tmp_path, rate, quantization):
    path = tmp_path / "vad.tflite"
    report = kerasaudio.export.streaming_vad_tflite(path, sample_rate=rate,
                                                    quantization=quantization)
    assert path.stat().st_size == report.size_bytes
    assert report.max_difference <= kerasaudio.export.STREAMING_TOLERANCE[quantization]
    assert report.agreement >= kerasaudio.export.MIN_AGREEMENT
    if quantization is not None:
        float_size = len(kerasaudio.export.convert(silero_vad_streaming(sample_rate=rate,
                                                                        batch_size=1)))
        assert report.size_bytes < 0.6 * float_size


def test_streaming_export_refuses_int8_and_writes_nothing_on_failure(tmp_path):
    with pytest.raises(InvalidOptionError, match="int8"):
        kerasaudio.export.streaming_vad_tflite(tmp_path / "v.tflite", quantization="int8")
    assert not list(tmp_path.iterdir())
    assert issubclass(VerificationError, kerasaudio.errors.ConversionError)


# --- parity with the reference package (torch + silero-vad) -------------------------------

@pytest.fixture(scope="module")
def reference():
    pytest.importorskip("torch")
    silero = pytest.importorskip("silero_vad")
    return silero.load_silero_vad(onnx=False)


def _reference_probabilities(reference, audio: np.ndarray, rate: int) -> np.ndarray:
    import torch

    chunk = config_for(rate).chunk
    audio = np.pad(audio, (0, -len(audio) % chunk))
    reference.reset_states()
    with torch.no_grad():
        return np.array([reference(torch.from_numpy(audio[i:i + chunk])[None], rate).item()
                         for i in range(0, len(audio), chunk)])


@pytest.mark.parity
@pytest.mark.jax
@pytest.mark.requires("torch", "silero_vad")
@pytest.mark.parametrize("rate", [16000, 8000])
def test_probabilities_match_torchscript(reference, timeline, rate):
    audio = _at(timeline[0], rate)
    expected = _reference_probabilities(reference, audio, rate)
    got = np.asarray(silero_vad(sample_rate=rate)(audio[None]))[0]
    assert np.max(np.abs(got - expected)) <= PARITY
    # A batch of two recordings of different lengths (the shorter zero-padded) keeps each
    # recording's probabilities over its own chunks.
    short = audio[: len(audio) // 3]
    batch = np.stack([audio, np.pad(short, (0, len(audio) - len(short)))])
    both = np.asarray(silero_vad(sample_rate=rate)(batch))
    n = len(_reference_probabilities(reference, short, rate))
    assert np.max(np.abs(both[1, :n] - _reference_probabilities(reference, short, rate))) \
        <= PARITY


@pytest.mark.parity
@pytest.mark.requires("torch", "silero_vad")
def test_shipped_weights_equal_the_installed_packages(reference):
    converted = kerasaudio.models.silero_vad.read_torchscript()
    shipped = read_weights()
    assert set(shipped) == set(converted)
    for name, value in converted.items():
        np.testing.assert_array_equal(shipped[name], value)


@pytest.mark.parity
@pytest.mark.requires("torch", "silero_vad")
def test_speech_timestamps_equal_the_references(reference, timeline):
    from silero_vad.utils_vad import get_speech_timestamps_from_probs

    rng = np.random.default_rng(7)
    real = _reference_probabilities(reference, _at(timeline[0], 16000), 16000)
    cases = [real]
    for _ in range(40):  # random speech/silence runs with noise
        runs = rng.integers(1, 60, 30)
        levels = np.repeat(rng.uniform(0, 1, 30), runs)
        cases.append(np.clip(levels + rng.normal(0, 0.1, len(levels)), 0, 1))
    options = [{}, {"threshold": 0.6, "neg_threshold": 0.2},
               {"min_speech": 0.1, "min_silence": 0.3, "pad": 0.05},
               {"max_speech": 1.5}, {"max_speech": 1.5, "cut_at_longest_silence": False},
               {"max_speech": 0.9, "min_silence": 0.5, "pad": 0.0}]
    for probabilities in cases:
        for option in options:
            length = len(probabilities) * 512 - int(rng.integers(0, 512))
            ours = vad.speech_timestamps(probabilities, sample_rate=16000, chunk=512,
                                         length=length, **option)
            theirs = get_speech_timestamps_from_probs(
                list(probabilities), sampling_rate=16000,
                threshold=option.get("threshold", 0.5),
                neg_threshold=option.get("neg_threshold"),
                min_speech_duration_ms=option.get("min_speech", 0.25) * 1000,
                min_silence_duration_ms=option.get("min_silence", 0.1) * 1000,
                speech_pad_ms=option.get("pad", 0.03) * 1000,
                max_speech_duration_s=option.get("max_speech", float("inf")),
                use_max_poss_sil_at_max_speech=option.get("cut_at_longest_silence", True),
                audio_length_samples=length)
            assert [(s.start, s.end) for s in ours] == \
                [(t["start"], t["end"]) for t in theirs], option
