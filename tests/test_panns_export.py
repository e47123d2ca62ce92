"""PANNs CNN14 through `kerasaudio.export.to_tflite`: every quantization mode, builtin ops
only, verified in LiteRT, with AudioSet's 527 class names as TFLite metadata that
MediaPipe's `AudioClassifier` reads.

The models are narrow CNN14s (`filters=`, `embedding_dim=`: the same layers and code
paths, CPU-cheap) with random weights, at PANNs' 16 kHz and 8 kHz configurations. The
representative clips are real FSDD recordings (8 kHz) resampled to the model's rate and
cut or padded to 1 s. The full-size conversions are measured in
`benchmarks/checkpoints.py`.
"""

from __future__ import annotations

import io
import zipfile

import keras
import numpy as np
import pytest
from harness import assert_mediapipe_scores

import kerasaudio
from kerasaudio import export
from kerasaudio.audio_io import load_audio
from kerasaudio.data import fix_length
from kerasaudio.datasets import audioset

#: Narrow CNN14: the six blocks and `fc1` at a fraction of their width.
NARROW = {"filters": (8, 16, 16, 32, 32, 64), "embedding_dim": 32}
MODES = (None, "float16", "dynamic", "int8")


def fsdd_clips(fsdd_sample, sample_rate: int, count: int = 12) -> np.ndarray:
    """`(count, sample_rate)`: FSDD recordings of every speaker, resampled, 1 s each."""
    paths = list(fsdd_sample.path[::max(1, len(fsdd_sample) // count)])[:count]
    return np.stack([fix_length(load_audio(p, sample_rate=sample_rate)[0], sample_rate)
                     for p in paths]).astype("float32")


@pytest.fixture(scope="module")
def tagger(fsdd_sample):
    """A narrow 16 kHz `panns_cnn14` on 1 s inputs, and its calibration clips."""
    keras.utils.set_random_seed(0)
    model = kerasaudio.create_model("panns_cnn14", sample_rate=16000,
                                    input_shape=(16000,), **NARROW)
    return model, fsdd_clips(fsdd_sample, 16000)


@pytest.fixture(scope="module")
def int8_file(tagger, tmp_path_factory):
    model, clips = tagger
    path = tmp_path_factory.mktemp("panns") / "cnn14_int8.tflite"
    report = export.to_tflite(model, path, quantization="int8", representative_data=clips,
                              sample_rate=16000, class_names=audioset.class_names(),
                              metadata={"name": "narrow panns_cnn14 16 kHz"})
    return path, report


def check_report(report, quantization) -> None:
    assert report.passed
    assert report.quantization == quantization
    assert not [op for op in report.ops if "flex" in op.lower() or "custom" in op.lower()]
    assert report.max_abs_diff <= export.DEFAULT_TOLERANCE[quantization]


def labels_in(path) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        return archive.read("labels.txt").decode().splitlines()


@pytest.mark.slow
def test_float32_export_is_exact_and_carries_the_audioset_labels(tagger, tmp_path):
    model, clips = tagger
    path = tmp_path / "cnn14.tflite"
    report = export.to_tflite(model, path, representative_data=clips, sample_rate=16000,
                              class_names=audioset.class_names())
    check_report(report, None)
    assert report.max_abs_diff <= 1e-5
    assert labels_in(path) == audioset.class_names()
    info = export.read_metadata(path.read_bytes())
    assert (info["sample_rate"], info["input_length"]) == (16000, 16000)
    assert len(info["class_names"]) == 527


@pytest.mark.integration
def test_int8_export_is_verified_small_and_integer(int8_file):
    path, report = int8_file
    check_report(report, "int8")
    # The convolutions run in int8; the front end (RFFT2D, LOG) stays float32.
    assert "CONV_2D" in report.ops and "RFFT2D" in report.float_ops
    assert "CONV_2D" not in report.float_ops
    assert report.size_bytes == path.stat().st_size


@pytest.mark.export
@pytest.mark.requires("mediapipe")
def test_mediapipe_audio_classifier_loads_the_int8_file(tagger, int8_file):
    model, clips = tagger
    path, _ = int8_file
    assert_mediapipe_scores(path, clips[:3], model.predict(clips[:3], verbose=0),
                            sample_rate=16000, class_names=audioset.class_names(),
                            atol=export.DEFAULT_TOLERANCE["int8"])


@pytest.mark.slow
@pytest.mark.parametrize("quantization", ["float16", "dynamic"])
def test_float16_and_dynamic_exports_are_verified(tagger, tmp_path, quantization):
    model, clips = tagger
    path = tmp_path / f"cnn14_{quantization}.tflite"
    report = export.to_tflite(model, path, quantization=quantization,
                              representative_data=clips, sample_rate=16000,
                              class_names=audioset.class_names())
    check_report(report, quantization)
    assert labels_in(path) == audioset.class_names()


@pytest.mark.slow
@pytest.mark.parametrize("quantization", MODES)
@pytest.mark.parametrize("outputs", ["framewise", "clipwise"])
def test_sed_variant_exports_in_every_mode(fsdd_sample, tmp_path, quantization, outputs):
    """`panns_cnn14_decision_level_max` at 8 kHz: 1 s gives 101 frames of 10 ms."""
    keras.utils.set_random_seed(1)
    model = kerasaudio.create_model("panns_cnn14_decision_level_max", sample_rate=8000,
                                    input_shape=(8000,), outputs=outputs, **NARROW)
    clips = fsdd_clips(fsdd_sample, 8000)
    kwargs = {"sample_rate": 8000, "class_names": audioset.class_names()} \
        if outputs == "clipwise" else {}
    report = export.to_tflite(model, tmp_path / "sed.tflite", quantization=quantization,
                              representative_data=clips, **kwargs)
    check_report(report, quantization)
    (lite,) = export.run_tflite((tmp_path / "sed.tflite").read_bytes(), clips[:1])
    assert lite.shape == ((1, 101, 527) if outputs == "framewise" else (1, 527))


@pytest.mark.slow
def test_framewise_tflite_matches_keras_frame_by_frame(fsdd_sample, tmp_path):
    """The SED variant's float file: one row per hop (100 frames/s), equal to Keras."""
    keras.utils.set_random_seed(2)
    model = kerasaudio.create_model("panns_cnn14_decision_level_max", sample_rate=8000,
                                    input_shape=(16000,), outputs="framewise", **NARROW)
    clips = fsdd_clips(fsdd_sample, 8000, count=4)
    clips = np.concatenate([clips[:2], clips[2:]], axis=1)  # 2 s
    report = export.to_tflite(model, tmp_path / "sed.tflite", representative_data=clips)
    check_report(report, None)
    (lite,) = export.run_tflite((tmp_path / "sed.tflite").read_bytes(), clips[:1])
    assert lite.shape == (1, 1 + 16000 // 80, 527)
    np.testing.assert_allclose(lite, model.predict(clips[:1], verbose=0), atol=1e-5)
