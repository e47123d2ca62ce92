"""kerasaudio.runtime imports neither Keras nor TensorFlow; `import kerasaudio` still lets
`.keras` files with kerasaudio layers load, whichever of Keras and kerasaudio comes first."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import soundfile as sf

import kerasaudio
from kerasaudio import runtime
from kerasaudio.errors import InvalidOptionError


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_runtime_import_loads_neither_keras_nor_tensorflow_and_is_fast():
    code = (
        "import json, sys, time\n"
        "start = time.perf_counter()\n"
        "from kerasaudio.runtime import TFLiteModel\n"
        "elapsed = time.perf_counter() - start\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow'))\n"
        "print(json.dumps({'elapsed': elapsed, 'heavy': heavy}))\n"
    )
    # The best of three runs: the first pays for cold file caches.
    results = [json.loads(run_python(code)) for _ in range(3)]
    assert all(result["heavy"] == [] for result in results), results
    assert min(result["elapsed"] for result in results) < 1.5, results


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    inp = keras.Input((8000,))
    out = kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=512, n_mels=16)(inp)
    path = tmp_path_factory.mktemp("registration") / "mel.keras"
    keras.Model(inp, out).save(path)
    return path


@pytest.mark.parametrize("imports", ["import kerasaudio\nimport keras",
                                     "import keras\nimport kerasaudio",
                                     "import kerasaudio\nimport tensorflow\nimport keras",
                                     "from kerasaudio import layers\nimport keras"])
@pytest.mark.integration
def test_keras_files_with_kerasaudio_layers_load_after_import_kerasaudio(keras_file, imports):
    code = (
        f"{imports}\n"
        f"model = keras.saving.load_model({str(keras_file)!r}, safe_mode=True)\n"
        "print(type(model.layers[1]).__module__)\n"
    )
    assert run_python(code) == "kerasaudio.layers.mel"


@pytest.mark.integration
def test_package_attributes_load_on_first_use():
    code = (
        "import sys\n"
        "import kerasaudio\n"
        "before = 'keras' in sys.modules\n"
        "names = kerasaudio.list_models()\n"
        "print(before, 'm5' in names, 'kerasaudio.layers' in sys.modules)\n"
    )
    assert run_python(code) == "False True True"


def _recording_predictor():
    """(predict, seen): a batch predictor (mean and std of each window) that records the
    batch shapes it is given."""
    seen = []

    def predict(clips):
        seen.append(clips.shape)
        return np.stack([clips.mean(axis=1), clips.std(axis=1)], axis=1)

    return predict, seen


def test_predict_windows_with_a_batch_predictor():
    """Any callable maps the windows to probabilities; start times are in seconds."""
    predict, seen = _recording_predictor()
    audio = np.linspace(-1, 1, 20000, dtype=np.float32)
    starts, probabilities = runtime.predict_windows(predict, audio, model_sample_rate=8000,
                                                    input_length=8000)
    assert seen == [(4, 8000)] and probabilities.shape == (4, 2)
    np.testing.assert_allclose(starts, [0.0, 0.5, 1.0, 1.5])
    _, resampled = runtime.predict_windows(predict, audio, model_sample_rate=8000,
                                           input_length=8000, sample_rate=16000)
    assert len(resampled) == 2  # 10,000 samples at 8 kHz: two windows
    with pytest.raises(InvalidOptionError, match="one non-empty channel"):
        runtime.predict_windows(predict, np.zeros((2, 8000), np.float32),
                                model_sample_rate=8000, input_length=8000)


def test_predict_windows_classifies_only_the_windows_keep_chooses():
    predict, seen = _recording_predictor()
    audio = np.linspace(-1, 1, 20000, dtype=np.float32)
    everything = runtime.predict_windows(predict, audio, model_sample_rate=8000,
                                         input_length=8000)
    starts, probabilities = runtime.predict_windows(
        predict, audio, model_sample_rate=8000, input_length=8000,
        keep=lambda waveform, starts: starts % 8000 == 0)
    np.testing.assert_allclose(starts, [0.0, 1.0])
    np.testing.assert_array_equal(probabilities, everything[1][[0, 2]])
    assert seen[-1] == (2, 8000)
    starts, probabilities = runtime.predict_windows(
        predict, audio, model_sample_rate=8000, input_length=8000,
        keep=lambda waveform, starts: np.zeros(len(starts), bool))
    assert starts.shape == (0,) and probabilities.shape == (0, 0) and seen[-1] == (2, 8000)
    with pytest.raises(InvalidOptionError, match="one bool per window"):
        runtime.predict_windows(predict, audio, model_sample_rate=8000, input_length=8000,
                                keep=lambda waveform, starts: [True])


@pytest.mark.integration
def test_tflite_predict_takes_a_batch(tmp_path):
    from crafted_audio import tiny_classifier, tone

    runner = runtime.TFLiteModel(tiny_classifier(tmp_path / "tiny.tflite"))
    clips = np.stack([tone(8000, amplitude=a) for a in (0.1, 0.4, 0.8)])
    one_by_one = np.stack([runner.predict(clip) for clip in clips])
    assert one_by_one.shape == (3, 10)
    np.testing.assert_allclose(runner.predict(clips), one_by_one, rtol=1e-6)
    path = str(tmp_path / "tone.wav")
    sf.write(path, clips[1], 8000, subtype="FLOAT")
    np.testing.assert_allclose(runner.predict([path, clips[2]]), one_by_one[1:], rtol=1e-6)
    assert runner.predict(np.zeros((0, 8000), np.float32)).shape == (0, 10)
