"""FeedForwardAttention and MaskedGlobalPooling1D against NumPy, with masks and any length."""

import keras
import numpy as np
import pytest

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers.attention import FeedForwardAttention, MaskedGlobalPooling1D


def numpy_attention(h, w, b=None, mask=None):
    """Raffel & Ellis feed-forward attention in float64: (pooled, weights)."""
    h = np.asarray(h, np.float64)
    scores = h @ np.asarray(w, np.float64)
    if b is not None:
        b = np.asarray(b, np.float64)
        scores = scores + (b[: h.shape[1]] if b.ndim else b)
    a = np.exp(np.tanh(scores))
    if mask is not None:
        a = a * mask
    total = a.sum(axis=1, keepdims=True)
    a = np.divide(a, total, out=np.zeros_like(a), where=total > 0)
    return (h * a[..., None]).sum(axis=1), a


def randomize(layer, seed=0):
    """Non-trivial weights (the bias starts at zero)."""
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(size=v.shape).astype("float32") for v in layer.weights])
    return [v.numpy() if hasattr(v, "numpy") else keras.ops.convert_to_numpy(v)
            for v in layer.weights]


def run(layer, x, **kwargs):
    out = layer(x, return_attention_scores=True, **kwargs)
    return [keras.ops.convert_to_numpy(t) for t in out]


@pytest.fixture
def sequences():
    return np.random.default_rng(1).normal(size=(3, 7, 5)).astype("float32")


@pytest.mark.jax
@pytest.mark.parametrize(("bias", "extra"), [("per_step", 7), ("scalar", 1), (None, 0)])
def test_matches_numpy_and_weights_sum_to_one(sequences, bias, extra):
    layer = FeedForwardAttention(bias=bias)
    layer.build(sequences.shape)
    assert layer.count_params() == 5 + extra
    params = randomize(layer)
    pooled, weights = run(layer, sequences)
    ref_pooled, ref_weights = numpy_attention(sequences, *params)
    np.testing.assert_allclose(weights, ref_weights, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(pooled, ref_pooled, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    assert (weights > 0).all()


@pytest.mark.jax
def test_masked_steps_get_zero_weight_and_all_masked_is_finite(sequences):
    layer = FeedForwardAttention(bias="per_step")
    layer.build(sequences.shape)
    params = randomize(layer)
    mask = np.array([[1, 1, 1, 1, 1, 1, 1],
                     [1, 0, 1, 1, 0, 0, 1],
                     [0, 0, 0, 0, 0, 0, 0]], bool)
    pooled, weights = run(layer, sequences, mask=mask)
    ref_pooled, ref_weights = numpy_attention(sequences, *params, mask=mask)
    np.testing.assert_allclose(weights, ref_weights, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(pooled, ref_pooled, rtol=1e-5, atol=1e-6)
    assert (weights[~mask] == 0).all()
    np.testing.assert_allclose(weights[:2].sum(axis=1), 1.0, atol=1e-6)
    assert np.isfinite(pooled).all() and (pooled[2] == 0).all() and (weights[2] == 0).all()


@pytest.mark.jax
def test_masking_layer_and_padding_invariance():
    # A zero-padded batch through Masking pools exactly like each sequence alone.
    rng = np.random.default_rng(2)
    inputs = keras.Input((None, 4))
    layer = FeedForwardAttention(bias="per_step", max_steps=10)
    model = keras.Model(inputs, layer(keras.layers.Masking(0.0)(inputs)))
    params = randomize(layer)
    lengths = [10, 6, 3]
    clips = [rng.normal(size=(n, 4)).astype("float32") for n in lengths]
    padded = np.zeros((3, 10, 4), "float32")
    for i, clip in enumerate(clips):
        padded[i, : len(clip)] = clip
    batch = model.predict(padded, verbose=0)  # compiled (graph / jit) path
    for i, clip in enumerate(clips):
        alone = keras.ops.convert_to_numpy(model(clip[None]))[0]
        np.testing.assert_allclose(batch[i], alone, rtol=1e-5, atol=1e-6)
        # variable length: a clip of n steps uses the first n per-step biases
        np.testing.assert_allclose(alone, numpy_attention(clip[None], *params)[0][0],
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.jax
def test_mask_zero_embedding_reaches_the_layer():
    tokens = np.array([[3, 1, 2, 0, 0], [0, 0, 0, 0, 0]])
    inputs = keras.Input((5,), dtype="int32")
    embedded = keras.layers.Embedding(4, 3, mask_zero=True)(inputs)
    model = keras.Model(inputs, FeedForwardAttention(bias="per_step")(embedded))
    table = keras.ops.convert_to_numpy(model.layers[1].embeddings)
    w, b = [keras.ops.convert_to_numpy(v) for v in model.layers[2].weights]
    out = keras.ops.convert_to_numpy(model(tokens))
    ref, _ = numpy_attention(table[tokens], w, b, mask=tokens != 0)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    assert (out[1] == 0).all()


def test_options_are_checked():
    with pytest.raises(InvalidOptionError, match="bias"):
        FeedForwardAttention(bias="step")
    with pytest.raises(InvalidOptionError, match="max_steps"):
        FeedForwardAttention(bias="scalar", max_steps=5)
    with pytest.raises(InvalidOptionError, match="epsilon"):
        FeedForwardAttention(epsilon=0)
    with pytest.raises(InvalidOptionError, match="fixed number of steps"):
        FeedForwardAttention(bias="per_step")(keras.Input((None, 8)))
    with pytest.raises(InvalidOptionError, match="12 steps"):
        FeedForwardAttention(bias="per_step", max_steps=10)(keras.Input((12, 8)))
    with pytest.raises(InvalidOptionError, match="sequences"):
        FeedForwardAttention()(keras.Input((8,)))
    with pytest.raises(InvalidOptionError, match="mode"):
        MaskedGlobalPooling1D(mode="mean")


def test_config_roundtrip_and_keras_file(tmp_path, sequences):
    layer = FeedForwardAttention(bias="per_step", max_steps=9, epsilon=1e-6,
                                 kernel_regularizer="l2")
    again = FeedForwardAttention.from_config(layer.get_config())
    assert again.get_config() == layer.get_config()
    inputs = keras.Input((None, 5))
    model = keras.Model(inputs, [layer(inputs), MaskedGlobalPooling1D(mode="max")(inputs)])
    randomize(layer)
    model.save(tmp_path / "attention.keras")
    loaded = keras.saving.load_model(tmp_path / "attention.keras", safe_mode=True)
    for a, b in zip(loaded(sequences), model(sequences), strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a),
                                      keras.ops.convert_to_numpy(b))


@pytest.mark.jax
@pytest.mark.parametrize("mode", ["avg", "max"])
def test_masked_pooling_matches_numpy(mode, sequences):
    x = sequences - 3.0  # all negative: a masked (zero) step must never win the max
    mask = np.array([[1, 1, 1, 1, 1, 1, 1], [1, 0, 1, 0, 0, 0, 0], [0] * 7], bool)
    layer = MaskedGlobalPooling1D(mode=mode)
    out = keras.ops.convert_to_numpy(layer(x, mask=mask))
    reduce = np.mean if mode == "avg" else np.max
    for i in range(2):
        np.testing.assert_allclose(out[i], reduce(x[i][mask[i]], axis=0), rtol=1e-6)
    assert (out[2] == 0).all()
    keras_layer = (keras.layers.GlobalAveragePooling1D() if mode == "avg"
                   else keras.layers.GlobalMaxPooling1D())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)),
                               keras.ops.convert_to_numpy(keras_layer(x)), rtol=1e-6)
