import keras
import numpy as np
import pytest
from harness import real_audio, run_layer_test

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers import MelSpectrogram, PowerToDb, Standardize


@pytest.mark.jax
def test_per_example_statistics():
    rng = np.random.default_rng(0)
    x = np.stack([rng.normal(3, 5, (100, 40)), rng.normal(-20, 0.1, (100, 40)),
                  np.full((100, 40), 7.0)]).astype("float32")
    y = keras.ops.convert_to_numpy(Standardize()(x))
    np.testing.assert_allclose(y[:2].reshape(2, -1).mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(y[:2].reshape(2, -1).std(axis=1), 1, atol=1e-4)
    np.testing.assert_array_equal(y[2], 0)  # constant example: zeros, not NaN
    expected = (x[0] - x[0].mean()) / x[0].std()
    np.testing.assert_allclose(y[0], expected, atol=1e-5)
    alone = keras.ops.convert_to_numpy(Standardize()(x[:1]))
    np.testing.assert_allclose(alone[0], y[0], atol=1e-6)


@pytest.mark.jax
def test_axis_option_per_bin():
    x = np.random.default_rng(1).normal(2, 3, (2, 100, 10)).astype("float32")
    y = keras.ops.convert_to_numpy(Standardize(axis=1)(x))
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=1), 1, atol=1e-4)


@pytest.mark.jax
@pytest.mark.parametrize("axis", [None, 1, 2])
def test_on_real_log_mel_saves_and_converts(axis):
    """Real dB spectrograms (mean far from zero; silent frames constant): config and .keras
    round trips, TFLite."""
    mel = MelSpectrogram(sample_rate=8000, n_fft=512, hop_length=128, n_mels=40)
    features = keras.ops.convert_to_numpy(PowerToDb()(mel(real_audio(3, 8000))))
    reduce = tuple(range(1, 3)) if axis is None else axis
    expected = ((features - features.mean(axis=reduce, keepdims=True))
                / np.maximum(features.std(axis=reduce, keepdims=True), 1e-6))
    run_layer_test(Standardize, init_kwargs={"axis": axis}, input_data=features,
                   expected_output_shape=features.shape, expected_output=expected,
                   expected_atol=1e-4, tflite=keras.backend.backend() == "tensorflow")


@pytest.mark.parametrize("axis", [0, (0, 1), ()])
def test_batch_axis_rejected(axis):
    with pytest.raises(InvalidOptionError, match="axis"):
        Standardize(axis=axis)
