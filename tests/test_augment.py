"""Augmentation layers: exact formulas against NumPy, ranges, seeding, tf.data, export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasaudio import export
from kerasaudio.errors import InvalidAudioError, InvalidOptionError
from kerasaudio.layers import MelSpectrogram
from kerasaudio.layers.augment import (
    AddNoise,
    FrequencyWarp,
    MixUp,
    RandomGain,
    RandomTimeShift,
    SpeedPerturbation,
)

WAVEFORM_LAYERS = [
    lambda seed=0: RandomGain(min_db=-12, max_db=12, seed=seed),
    lambda seed=0: AddNoise(min_snr_db=5, max_snr_db=30, seed=seed),
    lambda seed=0: RandomTimeShift(max_shift=300, seed=seed),
    lambda seed=0: SpeedPerturbation(min_factor=0.8, max_factor=1.2, seed=seed),
]
WAVEFORM_IDS = ["gain", "noise", "shift", "speed"]


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.fixture(scope="module")
def audio(clips):
    """Eight real FSDD clips (three recordings, resized) of 4,000 samples."""
    return np.stack([np.resize(clips[i % 3], 4000) * (1 + i) for i in range(8)]).astype(
        "float32")


@pytest.mark.jax
@pytest.mark.parametrize("make", WAVEFORM_LAYERS, ids=WAVEFORM_IDS)
def test_waveform_layers_are_identity_outside_training(make, audio):
    layer = make()
    np.testing.assert_array_equal(to_numpy(layer(audio)), audio)
    np.testing.assert_array_equal(to_numpy(layer(audio, training=False)), audio)
    changed = to_numpy(layer(audio, training=True))
    assert changed.shape == audio.shape and not np.array_equal(changed, audio)


@pytest.mark.jax
@pytest.mark.parametrize("make", WAVEFORM_LAYERS, ids=WAVEFORM_IDS)
def test_seeded_draws_are_reproducible(make, audio):
    a = to_numpy(make(seed=3)(audio, training=True))
    b = to_numpy(make(seed=3)(audio, training=True))
    c = to_numpy(make(seed=4)(audio, training=True))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.jax
def test_random_gain_is_one_gain_per_example_within_range(audio):
    y = to_numpy(RandomGain(min_db=-12, max_db=6, seed=0)(audio, training=True))
    gain = y[:, 100] / audio[:, 100]
    np.testing.assert_allclose(y, audio * gain[:, None], rtol=1e-5)
    db = 20 * np.log10(gain)
    assert (db >= -12 - 1e-4).all() and (db <= 6 + 1e-4).all()
    assert len(np.unique(db.round(4))) == len(db)  # every example draws its own


@pytest.mark.jax
def test_add_noise_hits_the_drawn_snr_exactly(audio):
    x = audio.copy()
    x[3] = 0.0  # a silent example stays silent
    y = to_numpy(AddNoise(min_snr_db=5, max_snr_db=30, seed=1)(x, training=True))
    noise = y - x
    loud = [i for i in range(len(x)) if i != 3]
    snr = 10 * np.log10(np.mean(x[loud] ** 2, axis=1) / np.mean(noise[loud] ** 2, axis=1))
    assert (snr >= 5 - 1e-3).all() and (snr <= 30 + 1e-3).all()
    assert snr.std() > 1  # drawn per example
    np.testing.assert_array_equal(y[3], 0.0)
    # White: the noise is uncorrelated with the clip and has a flat spectrum.
    assert abs(np.corrcoef(noise[0], x[0])[0, 1]) < 0.1


@pytest.mark.jax
@pytest.mark.parametrize("mode", ["zeros", "wrap"])
def test_time_shift_is_a_whole_sample_shift(audio, mode):
    max_shift = 300
    y = to_numpy(RandomTimeShift(max_shift=max_shift, mode=mode, seed=2)(audio, training=True))
    shifts = []
    for row, out in zip(audio, y, strict=True):
        found = []
        for k in range(-max_shift, max_shift + 1):
            ref = np.roll(row, k)
            if mode == "zeros":
                if k > 0:
                    ref[:k] = 0
                elif k < 0:
                    ref[k:] = 0
            if np.array_equal(ref, out):
                found.append(k)
        assert len(found) == 1
        shifts.append(found[0])
    assert len(set(shifts)) > 4


def speed_reference(x: np.ndarray, factor: float) -> np.ndarray:
    """y[n] = x(c + (n - c) * factor), linear interpolation, 0 outside (NumPy).

    Positions in float32 as the layer computes them (near sample 4,000 float32 resolves
    2.4e-4 of a sample), the interpolation in float64.
    """
    n = np.arange(len(x))
    centre = np.float32((len(x) - 1) / 2)
    position = centre + (n.astype(np.float32) - centre) * np.float32(factor)
    return np.interp(position.astype(np.float64), n, x.astype(np.float64), left=0, right=0)


@pytest.mark.jax
@pytest.mark.parametrize("factor", [0.9, 1.0, 1.13])
def test_speed_perturbation_matches_numpy_interpolation(audio, factor):
    layer = SpeedPerturbation(min_factor=factor, max_factor=factor, seed=0)
    y = to_numpy(layer(audio, training=True))
    for row, out in zip(audio, y, strict=True):
        np.testing.assert_allclose(out, speed_reference(row, factor), atol=2e-6 * abs(row).max())
    if factor == 1.0:
        np.testing.assert_array_equal(y, audio)


@pytest.mark.jax
def test_speed_perturbation_moves_a_tone_by_the_factor():
    rate, n = 8000, 8000
    tone = np.sin(2 * np.pi * 500 * np.arange(n) / rate).astype("float32")
    y = to_numpy(SpeedPerturbation(min_factor=0.9, max_factor=1.1, seed=5)(
        np.tile(tone, (16, 1)), training=True))
    # Frequency of the peak in the middle half (no zero edges), Hz.
    middle = y[:, n // 4: 3 * n // 4] * np.hanning(n // 2)
    spectrum = np.abs(np.fft.rfft(middle, 16 * n, axis=1))
    peak = spectrum.argmax(axis=1) * rate / (16 * n)
    ratio = peak / 500
    assert (ratio > 0.9 - 2e-3).all() and (ratio < 1.1 + 2e-3).all()
    assert ratio.std() > 0.02


@pytest.mark.jax
@pytest.mark.parametrize("make", [WAVEFORM_LAYERS[0], WAVEFORM_LAYERS[2], WAVEFORM_LAYERS[3]],
                         ids=["gain", "shift", "speed"])
def test_channels_share_the_draws(make, audio):
    stereo = np.stack([audio, audio], axis=-1)
    y = to_numpy(make()(stereo, training=True))
    assert y.shape == stereo.shape
    np.testing.assert_array_equal(y[..., 0], y[..., 1])
    np.testing.assert_array_equal(y[..., 0], to_numpy(make()(audio, training=True)))


def warp_reference(features: np.ndarray, factor: float, boundary: float) -> np.ndarray:
    """Piecewise-linear VTLP warp of the last axis, written out independently."""
    bins = features.shape[-1]
    top = bins - 1
    knee_in = boundary * top * min(factor, 1.0) / factor  # input position of the knee
    # Forward map of input position f to output position: f * a below the knee, then a
    # straight line to (top, top). Output bin g reads the inverse of that map.
    def forward(f):
        if f <= knee_in:
            return f * factor
        return knee_in * factor + (f - knee_in) * (top - knee_in * factor) / (top - knee_in)

    grid = np.linspace(0, top, 200001)
    out_positions = np.array([forward(f) for f in grid])
    source = np.interp(np.arange(bins), out_positions, grid)
    index = np.arange(bins)
    return np.apply_along_axis(lambda row: np.interp(source, index, row), -1, features)


@pytest.mark.jax
@pytest.mark.parametrize("factor", [0.87, 1.0, 1.1])
def test_frequency_warp_matches_the_vtlp_formula(factor):
    x = np.random.default_rng(0).normal(size=(3, 7, 40)).astype("float32")
    layer = FrequencyWarp(min_factor=factor, max_factor=factor, boundary=0.8, seed=0)
    y = to_numpy(layer(x, training=True))
    np.testing.assert_allclose(y, warp_reference(x, factor, 0.8), atol=1e-4)
    np.testing.assert_allclose(y[..., 0], x[..., 0], atol=1e-6)   # DC stays
    np.testing.assert_allclose(y[..., -1], x[..., -1], atol=1e-5)  # so does the top
    np.testing.assert_array_equal(to_numpy(layer(x)), x)


@pytest.mark.jax
def test_frequency_warp_draws_per_example_and_shares_channels():
    x = np.random.default_rng(1).normal(size=(6, 5, 32)).astype("float32")
    y = to_numpy(FrequencyWarp(min_factor=0.8, max_factor=1.2, seed=0)(
        np.stack([x, x], -1), training=True))
    np.testing.assert_array_equal(y[..., 0], y[..., 1])
    diffs = {round(float(np.abs(y[i, ..., 0] - x[i]).mean()), 4) for i in range(6)}
    assert len(diffs) == 6


def one_hot(labels, classes=10):
    return np.eye(classes, dtype="float32")[labels]


@pytest.mark.jax
def test_mixup_mixes_data_and_labels_with_the_same_weights(audio):
    labels = np.arange(8)
    x, y = MixUp(alpha=0.4, seed=0)((audio, one_hot(labels)), training=True)
    x, y = to_numpy(x), to_numpy(y)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
    partners = []
    for i in range(8):
        lam = y[i, i] if y[i].max() < 1 else 1.0
        others = [j for j in np.flatnonzero(y[i] > 0) if j != i]
        partner = others[0] if others else i
        partners.append(partner)
        np.testing.assert_allclose(x[i], lam * audio[i] + (1 - lam) * audio[partner],
                                   atol=1e-5 * np.abs(audio).max())
    # The partners are a permutation of the batch (an example may pair with itself).
    assert sorted(partners) == list(range(8))
    assert sum(p != i for i, p in enumerate(partners)) >= 2
    outside = MixUp(alpha=0.4, seed=0)((audio, one_hot(labels)))
    np.testing.assert_array_equal(to_numpy(outside[0]), audio)


@pytest.mark.jax
@pytest.mark.parametrize("make", [*WAVEFORM_LAYERS, lambda seed=0: MixUp(seed=seed)],
                         ids=[*WAVEFORM_IDS, "mixup"])
def test_layers_run_in_tf_data_and_repeat_with_the_seed(make, audio):
    """In a (sequential) tf.data map, on TensorFlow ops whatever the Keras backend."""
    labels = one_hot(np.arange(8))

    def pipeline():
        layer = make(seed=7)
        ds = tf.data.Dataset.from_tensor_slices((audio, labels)).batch(4)
        if isinstance(layer, MixUp):
            return ds.map(lambda x, y: layer((x, y), training=True))
        return ds.map(lambda x, y: (layer(x, training=True), y))

    first = [x.numpy() for x, _ in pipeline()]
    again = [x.numpy() for x, _ in pipeline()]
    assert all(isinstance(a, np.ndarray) and a.shape == (4, 4000) for a in first)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(np.concatenate(first), audio)


def all_layers():
    return [RandomGain(min_db=-3, max_db=3, seed=1), AddNoise(min_snr_db=20, seed=2),
            RandomTimeShift(max_shift=100, mode="wrap", seed=3),
            SpeedPerturbation(min_factor=0.95, max_factor=1.05, seed=4)]


def test_config_roundtrip_and_keras_file_in_safe_mode(tmp_path, audio):
    for layer in [*all_layers(), FrequencyWarp(boundary=0.7, seed=5), MixUp(alpha=0.3, seed=6)]:
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config
    inputs = keras.Input((4000,))
    x = inputs
    for layer in all_layers():
        x = layer(x)
    x = MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=80, n_mels=32)(x)
    x = FrequencyWarp(seed=5)(x)
    outputs = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling1D()(x))
    model = keras.Model(inputs, outputs)
    path = tmp_path / "augmented.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(to_numpy(loaded(audio)), to_numpy(model(audio)))
    assert [type(layer).__name__ for layer in loaded.layers[1:6]] == [
        "RandomGain", "AddNoise", "RandomTimeShift", "SpeedPerturbation", "MelSpectrogram"]


def test_augmented_model_exports_to_tflite_as_the_plain_model(audio):
    """Outside training the layers vanish: the TFLite model computes the plain front end."""
    inputs = keras.Input((4000,))
    x = inputs
    for layer in all_layers():
        x = layer(x)
    mel = MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=80, n_mels=32)
    x = FrequencyWarp(seed=5)(mel(x))
    model = keras.Model(inputs, x)
    flatbuffer = export.convert(model, batch_size=1)
    assert not [op for op in export.op_names(flatbuffer) if "flex" in op.lower()]
    (lite,) = export.run_tflite(flatbuffer, audio[:1])
    np.testing.assert_allclose(lite, to_numpy(mel(audio[:1])), rtol=1e-4, atol=1e-4)


def test_layers_train_inside_a_model(audio):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4000,))
    x = inputs
    for layer in all_layers():
        x = layer(x)
    x = FrequencyWarp(seed=5)(MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=80,
                                             n_mels=32)(x))
    outputs = keras.layers.Dense(4, activation="softmax")(
        keras.layers.GlobalAveragePooling1D()(keras.layers.Dense(8)(x)))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(audio, np.arange(8) % 4, epochs=2, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize(("make", "match"), [
    (lambda: RandomGain(min_db=6, max_db=-6), "min_db"),
    (lambda: RandomGain(max_db=float("inf")), "max_db"),
    (lambda: AddNoise(min_snr_db=40, max_snr_db=10), "min_snr_db"),
    (lambda: RandomTimeShift(max_shift=-1), "max_shift"),
    (lambda: RandomTimeShift(max_shift=1.5), "max_shift"),
    (lambda: RandomTimeShift(mode="reflect"), "mode"),
    (lambda: SpeedPerturbation(min_factor=0.0), "min_factor"),
    (lambda: SpeedPerturbation(min_factor=1.2, max_factor=1.1), "min_factor"),
    (lambda: FrequencyWarp(boundary=1.5), "boundary"),
    (lambda: FrequencyWarp(max_factor=-1.0), "max_factor"),
    (lambda: MixUp(alpha=0.0), "alpha"),
    (lambda: RandomGain(seed=-1), "seed"),
    (lambda: MixUp(seed=1.5), "seed"),
])
def test_invalid_options_fail_clearly(make, match):
    with pytest.raises(InvalidOptionError, match=match):
        make()


def test_invalid_inputs_fail_clearly(audio):
    with pytest.raises(InvalidAudioError, match="batch, samples"):
        RandomGain()(np.zeros((2, 3, 4, 5), "float32"))
    with pytest.raises(InvalidAudioError, match="floating-point"):
        SpeedPerturbation()(np.zeros((2, 100), "int16"))
    with pytest.raises(InvalidAudioError, match="frames, bins"):
        FrequencyWarp()(np.zeros((2, 100), "float32"))
    with pytest.raises(InvalidOptionError, match="pair"):
        MixUp()(audio, training=True)
    with pytest.raises(InvalidOptionError, match="one-hot"):
        MixUp()((audio, np.arange(8)), training=True)
