"""Properties every front-end layer must have: batch invariance, serialization, tf.data."""

import keras
import numpy as np
import pytest

from kerasaudio import layers

N = 8000  # one second at 8 kHz

FRONT_ENDS = {
    "stft_complex": lambda: [layers.STFT(n_fft=400, hop_length=100, mode="complex")],
    "stft_magnitude_db": lambda: [layers.STFT(n_fft=512, hop_length=128, mode="magnitude"),
                                  layers.AmplitudeToDb(ref="max")],
    "complex_spectrogram": lambda: [layers.ComplexSpectrogram(n_fft=256, hop_length=80,
                                                              win_length=240)],
    "mel_db": lambda: [layers.MelSpectrogram(sample_rate=8000, n_fft=2560, hop_length=347,
                                             n_mels=64, fmin=20),
                       layers.PowerToDb(top_db=80.0)],
    "mel_db_max_std": lambda: [layers.MelSpectrogram(sample_rate=8000, n_fft=512,
                                                     hop_length=128, n_mels=40),
                               layers.PowerToDb(ref="max"), layers.Standardize()],
    "mfcc": lambda: [layers.MFCC(sample_rate=8000, n_fft=400, hop_length=160, n_mels=40,
                                 n_mfcc=13)],
    "mel_pcen": lambda: [layers.MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=80,
                                               n_mels=40, power=1.0),
                         layers.PCEN(sample_rate=8000, hop_length=80, input_scale=2.0 ** 31)],
    "mel_specaugment": lambda: [layers.MelSpectrogram(sample_rate=8000, n_fft=256,
                                                      hop_length=64, n_mels=32),
                                layers.PowerToDb(), layers.SpecAugment(seed=1)],
}


def front_end_model(name, samples=N):
    inp = keras.Input((samples,))
    x = inp
    for layer in FRONT_ENDS[name]():
        x = layer(x)
    return keras.Model(inp, x, name=name)


def fixed(y, n=N):
    return np.resize(y, n).astype("float32")


@pytest.fixture(scope="module")
def batch(clips):
    """Our clip, then a louder clip, a quieter clip and silence."""
    return np.stack([fixed(clips[0]), np.clip(fixed(clips[1]) * 30, -1, 1),
                     fixed(clips[2]) * 1e-3, np.zeros(N, "float32")])


@pytest.mark.jax
@pytest.mark.parametrize("name", FRONT_ENDS)
def test_batch_invariance(batch, name):
    model = front_end_model(name)
    alone = keras.ops.convert_to_numpy(model(batch[:1]))
    together = keras.ops.convert_to_numpy(model(batch))
    assert np.isfinite(together).all()
    # Float32 rounding of the output's scale: a matrix product over a batch may sum in
    # another order than over one clip (the matrix FFT of a non-power-of-two n_fft).
    tolerance = 1e-5 * max(1.0, float(np.abs(alone).max()))
    np.testing.assert_allclose(together[:1], alone, rtol=0, atol=tolerance)
    # Order in the batch does not matter either.
    reversed_ = keras.ops.convert_to_numpy(model(batch[::-1].copy()))
    np.testing.assert_allclose(reversed_[-1], alone[0], rtol=0, atol=tolerance)


@pytest.mark.jax
@pytest.mark.parametrize("name", FRONT_ENDS)
def test_keras_file_roundtrip_in_safe_mode(tmp_path, batch, name):
    model = front_end_model(name)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(batch)),
                                  keras.ops.convert_to_numpy(model(batch)))
    for original, restored in zip(model.layers[1:], loaded.layers[1:], strict=True):
        assert type(restored) is type(original)
        assert restored.get_config() == original.get_config()


@pytest.mark.jax
@pytest.mark.parametrize("name", ["mel_db", "mfcc", "stft_complex", "mel_pcen"])
def test_layers_run_inside_tf_data(batch, name):
    """In tf.data the layers switch to TensorFlow ops, whatever the Keras backend."""
    import tensorflow as tf

    model = front_end_model(name)
    chain = model.layers[1:]

    def features(x):
        for layer in chain:
            x = layer(x)
        return x

    ds = tf.data.Dataset.from_tensor_slices(batch).batch(2).map(features)
    out = np.concatenate([x.numpy() for x in ds])
    np.testing.assert_allclose(out, keras.ops.convert_to_numpy(model(batch)), rtol=1e-5, atol=1e-4)


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        layers.MelSpectrogram(8000)
