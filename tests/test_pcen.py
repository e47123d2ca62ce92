import keras
import librosa
import numpy as np
import pytest

from kerasaudio import export, layers
from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers import PCEN, pcen_smoothing_coefficient


@pytest.fixture(scope="module")
def magnitude_mel(clips):
    """Magnitude mel spectrogram `(bins, frames)` of 5 s of real speech (501 frames), scaled
    as librosa's PCEN example scales it (2**31)."""
    audio = np.resize(np.concatenate(clips), 40000).astype(np.float32)
    mel = librosa.feature.melspectrogram(y=audio, sr=8000, n_fft=256, hop_length=80,
                                         n_mels=40, power=1.0)
    return (mel * 2.0 ** 31).astype(np.float32)


def ours(layer, spectrogram):
    return keras.ops.convert_to_numpy(layer(spectrogram.T[None]))[0].T


@pytest.mark.jax
@pytest.mark.parametrize("frames", [1, 50, 128, 129, 401])  # one block, blocks of 128
@pytest.mark.parametrize("options", [
    {}, {"bias": 0.0}, {"power": 0.0}, {"gain": 0.5, "bias": 10.0, "power": 0.25},
    {"time_constant": 0.06}, {"b": 0.3}, {"b": 1.0}, {"eps": 1e-2},
])
def test_matches_librosa(magnitude_mel, frames, options):
    spectrogram = magnitude_mel[:, :frames]
    expected = librosa.pcen(spectrogram.astype(np.float64), sr=8000, hop_length=80, **options)
    result = ours(PCEN(sample_rate=8000, hop_length=80, **options), spectrogram)
    assert result.shape == expected.shape == (40, frames)
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


@pytest.mark.jax
def test_input_scale_is_librosa_on_the_scaled_input(magnitude_mel):
    unscaled = magnitude_mel / 2.0 ** 31
    expected = librosa.pcen(magnitude_mel.astype(np.float64), sr=8000, hop_length=80)
    result = ours(PCEN(sample_rate=8000, hop_length=80, input_scale=2.0 ** 31), unscaled)
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


@pytest.mark.export
def test_int8_file_keeps_pcen_float(clips):
    """In a full-int8 file PCEN (input scaling included) stays in the float32 front end,
    and the file verifies."""
    inp = keras.Input((8000,))
    x = layers.MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=80, n_mels=40,
                              power=1.0)(inp)
    x = PCEN(sample_rate=8000, hop_length=80, input_scale=2.0 ** 31)(x)
    x = layers.Standardize()(x)
    x = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x))
    model = keras.Model(inp, x)
    audio = np.stack([np.resize(c, 8000) for c in clips]).astype(np.float32)
    report = export.to_tflite(model, None, quantization="int8", representative_data=audio)
    assert report.max_abs_diff <= 0.1
    assert {"EXP", "LOG"} <= set(report.float_ops)


def test_coefficient_is_librosas():
    t = 0.4 * 8000 / 80
    assert pcen_smoothing_coefficient(time_constant=0.4, sample_rate=8000,
                                      hop_length=80) == pytest.approx(
        (np.sqrt(1 + 4 * t ** 2) - 1) / (2 * t ** 2), rel=1e-12)
    assert PCEN(b=0.25).coefficient == 0.25


@pytest.mark.jax
def test_channels_and_loudness(magnitude_mel):
    """Channels are filtered separately; a louder copy of a clip gives nearly the same
    output (the gain normalisation), unlike the spectrogram itself."""
    x = magnitude_mel.T[None]  # (1, frames, bins)
    both = np.stack([x[0], x[0] * 100.0], axis=-1)  # (frames, bins, 2): 40 dB louder
    out = keras.ops.convert_to_numpy(PCEN(sample_rate=8000, hop_length=80)(both[None]))[0]
    single = keras.ops.convert_to_numpy(PCEN(sample_rate=8000, hop_length=80)(x))[0]
    np.testing.assert_allclose(out[..., 0], single, rtol=1e-5, atol=1e-5)
    late = slice(100, None)  # after the smoother has followed the level (1 s)
    relative = np.abs(out[late, :, 1] - out[late, :, 0]).mean() / np.abs(out[late, :, 0]).mean()
    # gain 0.98 leaves 100**0.02 = 1.096 of the level, about half of it after power 0.5
    assert relative < 0.1


def test_any_number_of_frames_in_a_graph(magnitude_mel):
    """An unknown frame count (tf.function with None) gives the static result."""
    import tensorflow as tf

    layer = PCEN(sample_rate=8000, hop_length=80)
    graph = tf.function(layer, input_signature=[tf.TensorSpec((None, None, 40))])
    for frames in (7, 128, 300):
        x = magnitude_mel.T[None, :frames]
        np.testing.assert_allclose(graph(x).numpy(), keras.ops.convert_to_numpy(layer(x)),
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("samples", [8000, 24000])
@pytest.mark.parametrize("batch_size", [1, None])
@pytest.mark.parametrize("learnable", [False, True])
def test_converts_to_builtins(clips, samples, batch_size, learnable):
    inp = keras.Input((samples,))
    x = layers.MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=80, n_mels=40,
                              power=1.0)(inp)
    model = keras.Model(inp, PCEN(sample_rate=8000, hop_length=80, input_scale=2.0 ** 31,
                                  learnable=learnable)(x))
    if learnable:  # per-bin values of its own
        model.layers[-1].log_bias.assign(np.linspace(0.0, 1.5, 40).astype(np.float32))
    flatbuffer = export.convert(model, batch_size=batch_size)
    ops = export.op_names(flatbuffer)
    assert not [op for op in ops if "flex" in op.lower() or op == "CUSTOM"]
    audio = np.stack([np.resize(c, samples) for c in clips[:1 if batch_size else 3]])
    (lite,) = export.run_tflite(flatbuffer, audio.astype(np.float32))
    reference = keras.ops.convert_to_numpy(model(audio))
    assert np.abs(lite - reference).max() <= 1e-5 * np.abs(reference).max()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"gain": 1.5}, "gain"), ({"gain": -0.1}, "gain"), ({"bias": -1.0}, "bias"),
    ({"power": -0.5}, "power"), ({"time_constant": 0.0}, "time_constant"),
    ({"eps": 0.0}, "eps"), ({"b": 0.0}, "b"), ({"b": 1.5}, "b"),
    ({"hop_length": 0}, "hop_length"), ({"sample_rate": -8000}, "sample_rate"),
    ({"input_scale": 0.0}, "input_scale"),
])
def test_invalid_options(kwargs, match):
    with pytest.raises(InvalidOptionError, match=match):
        PCEN(**kwargs)


@pytest.mark.jax
def test_learnable_starts_at_librosa_and_trains(magnitude_mel):
    """Per-bin gain, bias and power: at initialisation the fixed layer's output; they
    train (each moves and the loss falls)."""
    x = magnitude_mel.T[None, :200]
    fixed = PCEN(sample_rate=8000, hop_length=80, gain=0.8, bias=3.0, power=0.4)
    learnable = PCEN(sample_rate=8000, hop_length=80, gain=0.8, bias=3.0, power=0.4,
                     learnable=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(learnable(x)),
                               keras.ops.convert_to_numpy(fixed(x)), rtol=1e-5, atol=1e-5)
    assert [w.shape for w in learnable.trainable_weights] == [(40,)] * 3
    inputs = keras.Input((200, 40))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(
        PCEN(sample_rate=8000, hop_length=80, learnable=True)(inputs)))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    target = np.full((1, 40), 1.0, np.float32)
    start = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    before = model.evaluate(x, target, verbose=0)
    model.fit(x, target, epochs=20, verbose=0)
    after = model.evaluate(x, target, verbose=0)
    assert after < 0.5 * before
    for initial, weight in zip(start, model.trainable_weights, strict=True):
        assert np.abs(keras.ops.convert_to_numpy(weight) - initial).max() > 1e-3  # each moved


def test_learnable_round_trip(tmp_path, magnitude_mel):
    x = magnitude_mel.T[None, :200]
    inputs = keras.Input((200, 40, 1))
    model = keras.Model(inputs, PCEN(sample_rate=8000, hop_length=80, learnable=True)(inputs))
    layer = model.layers[1]
    layer.log_power.assign(np.linspace(-1.5, -0.2, 40).astype(np.float32))
    model.save(tmp_path / "pcen.keras")
    loaded = keras.saving.load_model(tmp_path / "pcen.keras", safe_mode=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x[..., None])),
                                  keras.ops.convert_to_numpy(model(x[..., None])))
    assert loaded.layers[1].get_config() == layer.get_config()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"learnable": True, "bias": 0.0}, "bias"), ({"learnable": True, "power": 0.0}, "power"),
    ({"learnable": "yes"}, "learnable"),
])
def test_invalid_learnable_options(kwargs, match):
    with pytest.raises(InvalidOptionError, match=match):
        PCEN(**kwargs)


def test_learnable_needs_known_bins():
    with pytest.raises(InvalidOptionError, match="bins"):
        PCEN(learnable=True)(keras.Input((100, None)))
