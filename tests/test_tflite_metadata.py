"""TFLite Model Metadata (MediaPipe), kerasaudio's metadata, and the Keras-free runner."""

import io
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest
import soundfile as sf

import kerasaudio
from kerasaudio import export, runtime
from kerasaudio.errors import InvalidAudioError, InvalidOptionError, KerasAudioError
from kerasaudio.export import add_metadata, read_metadata

CLASSES = [f"digit {i}" for i in range(10)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, fsdd_sample):
    keras.utils.set_random_seed(0)
    model = kerasaudio.create_model("m5", frontend="default", input_shape=(8000,),
                                    classes=10, n_channel=16)
    paths = list(fsdd_sample.path[::10])
    audio = np.stack([kerasaudio.data.fix_length(sf.read(p, dtype="float32")[0], 8000)
                      for p in paths])
    path = tmp_path_factory.mktemp("tflite") / "m5.tflite"
    report = export.to_tflite(model, path, representative_data=audio, sample_rate=8000,
                              class_names=CLASSES,
                              metadata={"name": "test m5", "preset": "m5_test"})
    return model, path, audio, paths, report


def tflite_metadata(data: bytes):
    """Parse the TFLITE_METADATA entry with MediaPipe's generated schema module."""
    from ai_edge_litert import schema_py_generated as schema
    from mediapipe.tasks.metadata import metadata_schema_py_generated as ms

    model = schema.Model.GetRootAs(data, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() == b"TFLITE_METADATA":
            raw = model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
            assert ms.ModelMetadata.ModelMetadataBufferHasIdentifier(raw, 0)
            return ms.ModelMetadataT.InitFromPackedBuf(bytearray(raw), 0)
    raise AssertionError("no TFLITE_METADATA")


@pytest.mark.requires("mediapipe")
@pytest.mark.export
def test_metadata_fields_and_labels_file(exported):
    _, path, _, _, report = exported
    data = path.read_bytes()
    meta = tflite_metadata(data)
    assert meta.name == b"test m5" and meta.minParserVersion == b"1.3.0"
    tensor_in = meta.subgraphMetadata[0].inputTensorMetadata[0]
    assert tensor_in.content.contentPropertiesType == 4  # AudioProperties
    assert tensor_in.content.contentProperties.sampleRate == 8000
    assert tensor_in.content.contentProperties.channels == 1
    label_file = meta.subgraphMetadata[0].outputTensorMetadata[0].associatedFiles[0]
    assert label_file.name == b"labels.txt" and label_file.type == 2  # TENSOR_AXIS_LABELS
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("labels.txt").decode().splitlines() == CLASSES
    info = read_metadata(data)
    assert info["sample_rate"] == 8000 and info["input_length"] == 8000
    assert info["class_names"] == CLASSES and info["preset"] == "m5_test"
    assert info["associated_files"] == ["labels.txt"]
    assert report.passed and report.size_bytes == len(data)


@pytest.mark.requires("mediapipe")
@pytest.mark.export
def test_mediapipe_audio_classifier_matches_keras(exported):
    from mediapipe.tasks.python import audio
    from mediapipe.tasks.python.components.containers import audio_data
    from mediapipe.tasks.python.core import base_options

    model, path, clips, _, _ = exported
    options = audio.AudioClassifierOptions(
        base_options=base_options.BaseOptions(model_asset_path=str(path)), max_results=10)
    expected = model.predict(clips, verbose=0)
    with audio.AudioClassifier.create_from_options(options) as classifier:
        for clip, probabilities in zip(clips, expected, strict=True):
            result = classifier.classify(audio_data.AudioData.create_from_array(clip, 8000))
            categories = result[0].classifications[0].categories
            scores = {c.category_name: c.score for c in categories}
            assert sorted(scores) == sorted(CLASSES)
            np.testing.assert_allclose([scores[name] for name in CLASSES], probabilities,
                                       atol=1e-5)


@pytest.mark.requires("mediapipe")
@pytest.mark.export
def test_mediapipe_reads_the_smallest_int8_file(exported, tmp_path):
    """Per-tensor scales, no tensor names, float16 constants: MediaPipe still finds the
    input, the output and the labels (by metadata and index, not by name)."""
    from mediapipe.tasks.python import audio
    from mediapipe.tasks.python.components.containers import audio_data
    from mediapipe.tasks.python.core import base_options

    model, _, clips, _, _ = exported
    path = tmp_path / "m5_small.tflite"
    report = export.to_tflite(model, path, quantization="int8", representative_data=clips,
                              sample_rate=8000, class_names=CLASSES, per_channel=False,
                              strip_names=True, float16_constants=True)
    assert report.passed
    expected = model.predict(clips, verbose=0)
    options = audio.AudioClassifierOptions(
        base_options=base_options.BaseOptions(model_asset_path=str(path)), max_results=10)
    with audio.AudioClassifier.create_from_options(options) as classifier:
        for clip, probabilities in zip(clips, expected, strict=True):
            result = classifier.classify(audio_data.AudioData.create_from_array(clip, 8000))
            scores = {c.category_name: c.score
                      for c in result[0].classifications[0].categories}
            np.testing.assert_allclose([scores[name] for name in CLASSES], probabilities,
                                       atol=export.DEFAULT_TOLERANCE["int8"])


@pytest.mark.integration
def test_runner_matches_keras_on_files_and_windows(exported):
    model, path, clips, paths, _ = exported
    runner = runtime.TFLiteModel(path)
    assert (runner.sample_rate, runner.input_length) == (8000, 8000)
    assert runner.class_names == CLASSES
    expected = model.predict(clips, verbose=0)
    for clip_path, probabilities in zip(paths, expected, strict=True):
        np.testing.assert_allclose(runner.predict(clip_path), probabilities, atol=1e-5)
    # A 16 kHz waveform is resampled; a long one is windowed (hop 4000 samples).
    long = np.concatenate([clips[0], clips[1], clips[2]])
    starts, windows = runner.predict_windows(long)
    np.testing.assert_allclose(starts, [0.0, 0.5, 1.0, 1.5, 2.0])
    np.testing.assert_allclose(windows[0], expected[0], atol=1e-5)
    np.testing.assert_allclose(windows[2], expected[1], atol=1e-5)
    np.testing.assert_allclose(runner.predict(long), windows.mean(axis=0), atol=1e-7)
    resampled = runner.predict(np.repeat(clips[0], 2), sample_rate=16000)
    assert resampled.shape == (10,) and np.isclose(resampled.sum(), 1.0, atol=1e-5)
    with pytest.raises(InvalidOptionError, match="int16"):
        runner.predict((clips[0] * 32767).astype(np.int16))
    with pytest.raises(InvalidAudioError, match="NaN"):
        runner.predict(np.full(8000, np.nan, np.float32))


@pytest.mark.integration
def test_runner_needs_neither_keras_nor_tensorflow(exported):
    _, path, _, paths, _ = exported
    code = (
        "import sys\n"
        "for name in ('keras', 'tensorflow', 'jax'):\n"
        "    sys.modules[name] = None\n"
        "from kerasaudio.runtime import TFLiteModel\n"
        f"p = TFLiteModel({str(path)!r}).predict({paths[0]!r})\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow')"
        " and sys.modules[m] is not None]\n"
        "print(len(p), round(float(p.sum()), 4), loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "10 1.0 []"


@pytest.mark.requires("mediapipe")
@pytest.mark.export
def test_bad_metadata_requests(exported):
    _, path, _, _, _ = exported
    data = path.read_bytes()
    with pytest.raises(InvalidOptionError, match="class names"):
        add_metadata(data, sample_rate=8000, class_names=["a", "b"])
    with pytest.raises(InvalidOptionError, match="sample_rate"):
        add_metadata(data, sample_rate=0)
    bare = export.convert(exported[0])
    with pytest.raises(KerasAudioError, match="no kerasaudio metadata"):
        read_metadata(bare)
    # Re-adding replaces the entries instead of stacking them.
    again = add_metadata(data, sample_rate=16000, class_names=CLASSES)
    assert read_metadata(again)["sample_rate"] == 16000
    assert tflite_metadata(again).subgraphMetadata[0].inputTensorMetadata[0].content \
        .contentProperties.sampleRate == 16000
