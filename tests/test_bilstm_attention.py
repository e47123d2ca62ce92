"""bilstm_attention: the Kaggle kernel's parameter count, attention math, heads, pooling, masks."""

import keras
import numpy as np
import pytest

import kerasaudio
from kerasaudio import export
from kerasaudio.errors import InvalidOptionError
from kerasaudio.models.bilstm_attention import default_frontend

NAME = "bilstm_attention"


def expected_parameters(*, n_mels, classes, units, dense, bias_entries):
    """Counted by hand: Keras LSTM gates (i, f, c, o) with kernel, recurrent kernel, bias."""
    lstm = 2 * 4 * (units * (n_mels + units) + units)
    attention = 2 * units + bias_entries
    top = (2 * units * dense + dense) + (dense * classes + classes)
    return lstm + attention + top


def numpy_attention(h, w, b):
    scores = np.asarray(h, np.float64) @ w + (b[: h.shape[1]] if np.ndim(b) else b)
    a = np.exp(np.tanh(scores))
    a /= a.sum(axis=1, keepdims=True)
    return (h * a[..., None]).sum(axis=1)


def numpy_of(x):
    return keras.ops.convert_to_numpy(x)


def features(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_kaggle_kernel_has_1026908_parameters():
    model = kerasaudio.create_model(NAME, input_shape=(636, 128), classes=80,
                                    lstm_units=256, dense_units=400)
    count = expected_parameters(n_mels=128, classes=80, units=256, dense=400,
                                bias_entries=636)
    assert count == 1_026_908
    assert model.count_params() == count
    assert model.get_layer("attention").count_params() == 512 + 636
    assert model.get_layer("bilstm").count_params() == 788_480
    assert kerasaudio.models.get_model_info(NAME).parameters == count


@pytest.mark.parametrize(("kwargs", "bias_entries"), [
    (dict(input_shape=(50, 40)), 50),  # fixed frames: one bias per frame ("auto")
    (dict(input_shape=(None, 40)), 1),  # variable length: one shared bias ("auto")
    (dict(input_shape=(None, 40), attention_bias="per_step", attention_steps=64), 64),
    (dict(input_shape=(50, 40), attention_bias="scalar"), 1),
    (dict(input_shape=(50, 40), attention_bias=None), 0),
])
def test_parameter_count_of_each_attention_bias(kwargs, bias_entries):
    model = kerasaudio.create_model(NAME, classes=7, lstm_units=8, dense_units=12, **kwargs)
    assert model.count_params() == expected_parameters(
        n_mels=40, classes=7, units=8, dense=12, bias_entries=bias_entries)


def test_default_frontend_gives_the_seed_features():
    audio = keras.Input((220_500,))  # 5 s at 44.1 kHz
    x = audio
    for layer in default_frontend():
        x = layer(x)
    assert tuple(x.shape[1:]) == (636, 128)
    model = kerasaudio.create_model(NAME, frontend="default", input_shape=(220_500,),
                                    classes=80, lstm_units=4, dense_units=6)
    assert tuple(model.get_layer("attention").bias.shape) == (636,)
    assert model.count_params() == expected_parameters(n_mels=128, classes=80, units=4,
                                                       dense=6, bias_entries=636)


@pytest.mark.jax
def test_headless_model_is_the_attention_pooled_bilstm_output():
    model = kerasaudio.create_model(NAME, include_top=False, input_shape=(12, 6),
                                    lstm_units=4)
    attention = model.get_layer("attention")
    rng = np.random.default_rng(3)
    attention.set_weights([rng.normal(size=v.shape).astype("float32")
                           for v in attention.weights])
    w, b = (numpy_of(v) for v in attention.weights)
    x = features((3, 12, 6))
    hidden = numpy_of(keras.Model(model.input, model.get_layer("bilstm").output)(x))
    assert hidden.shape == (3, 12, 8)
    np.testing.assert_allclose(numpy_of(model(x)), numpy_attention(hidden, w, b),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pooling", ["avg", pytest.param("max", marks=pytest.mark.jax)])
def test_pooling_replaces_attention(pooling):
    model = kerasaudio.create_model(NAME, include_top=False, pooling=pooling,
                                    input_shape=(12, 6), lstm_units=4)
    assert not any(layer.name == "attention" for layer in model.layers)
    x = features((2, 12, 6))
    hidden = numpy_of(keras.Model(model.input, model.get_layer("bilstm").output)(x))
    reduce = np.mean if pooling == "avg" else np.max
    np.testing.assert_allclose(numpy_of(model(x)), reduce(hidden, axis=1), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.jax
def test_softmax_sigmoid_and_logit_heads():
    config = dict(input_shape=(10, 6), classes=4, lstm_units=4, dense_units=5)
    logits = kerasaudio.create_model(NAME, classifier_activation=None, **config)
    x = features((3, 10, 6))
    z = numpy_of(logits(x)).astype(np.float64)
    for activation, expected in [("softmax", np.exp(z) / np.exp(z).sum(1, keepdims=True)),
                                 ("sigmoid", 1 / (1 + np.exp(-z)))]:
        model = kerasaudio.create_model(NAME, classifier_activation=activation, **config)
        model.set_weights(logits.get_weights())
        np.testing.assert_allclose(numpy_of(model(x)), expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(1 / (1 + np.exp(-z)).sum(1), 1.0)  # sigmoid: independent labels


@pytest.mark.parametrize("kwargs", [
    pytest.param(dict(attention_bias="per_step", attention_steps=9), marks=pytest.mark.jax),
    dict(attention_bias="scalar"),
    dict(include_top=False, pooling="avg"),
    pytest.param(dict(include_top=False, pooling="max"), marks=pytest.mark.jax),
])
def test_zero_padded_frames_are_masked(kwargs):
    # With mask_value=0 a padded batch gives each clip's own output, for any length.
    config = dict(input_shape=(None, 6), classes=3, lstm_units=4, dense_units=5,
                  mask_value=0.0)
    model = kerasaudio.create_model(NAME, **{**config, **kwargs})
    clips = [features((n, 6), seed=n) for n in (9, 5, 2)]
    padded = np.zeros((3, 9, 6), "float32")
    for i, clip in enumerate(clips):
        padded[i, : len(clip)] = clip
    batch = model.predict(padded, verbose=0)
    for i, clip in enumerate(clips):
        np.testing.assert_allclose(batch[i], numpy_of(model(clip[None]))[0], rtol=1e-5,
                                   atol=1e-6)


def test_masked_model_converts_to_tflite_and_matches():
    model = kerasaudio.create_model(NAME, input_shape=(20, 6), classes=3, lstm_units=4,
                                    dense_units=5, mask_value=0.0)
    flatbuffer = export.convert(model, batch_size=1)
    assert not [op for op in export.op_names(flatbuffer) if "flex" in op.lower()]
    x = features((1, 20, 6))
    x[:, 13:] = 0.0
    (lite,) = export.run_tflite(flatbuffer, x)
    np.testing.assert_allclose(lite, numpy_of(model(x)), atol=1e-5)


def test_one_frame_is_enough():
    # A recurrent network has no strides or pools: it accepts any number of frames.
    model = kerasaudio.create_model(NAME, input_shape=(1, 6), classes=3, lstm_units=4,
                                    dense_units=5)
    y = numpy_of(model(features((2, 1, 6))))
    assert y.shape == (2, 3) and np.isfinite(y).all()


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(attention_bias="step"), "attention_bias"),
    (dict(input_shape=(None, 6), attention_bias="per_step"), "attention_steps"),
    (dict(attention_bias="scalar", attention_steps=20), "per_step"),
    (dict(attention_steps=5), "attention_steps=5"),
    (dict(lstm_units=0), "lstm_units"),
    (dict(dense_units=2.5), "dense_units"),
    (dict(dropout=1.0), "dropout"),
    (dict(input_shape=(10, 6, 1)), "input_shape"),
])
def test_bad_options_fail_clearly(kwargs, match):
    config = {**dict(input_shape=(10, 6), classes=3, lstm_units=4), **kwargs}
    with pytest.raises(InvalidOptionError, match=match):
        kerasaudio.create_model(NAME, **config)
