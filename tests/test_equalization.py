"""Cross-layer equalization (kerasaudio.export.equalization): same outputs, balanced weights."""

import keras
import numpy as np
import pytest

import kerasaudio
from kerasaudio import export
from kerasaudio.errors import InvalidOptionError
from kerasaudio.export import EqualizedPair, equalization_pairs, equalize_channels


def _uneven(model, seed: int = 0):
    """Give every kernel per-output-channel magnitudes spread over 100x (as trained nets
    have) and every batch norm non-trivial statistics, so equalization has work to do."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if getattr(layer, "kernel", None) is not None:
            kernel = np.asarray(layer.kernel)
            spread = np.exp(rng.uniform(np.log(0.01), 0.0, kernel.shape[-1]))
            layer.kernel.assign((rng.standard_normal(kernel.shape) * spread).astype("float32"))
            if getattr(layer, "use_bias", False):
                layer.bias.assign(rng.normal(0, 0.1, kernel.shape[-1]).astype("float32"))
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.gamma.assign(rng.uniform(0.2, 3.0, n).astype("float32"))
            layer.beta.assign(rng.normal(0, 0.5, n).astype("float32"))
            layer.moving_mean.assign(rng.normal(0, 0.3, n).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.1, 4.0, n).astype("float32"))
    return model


def _conv_bn_pool_two_consumers():
    x = inputs = keras.Input((32, 16, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", use_bias=False, name="a")(x)
    x = keras.layers.BatchNormalization(name="a_bn")(x)
    x = keras.layers.ReLU(name="a_relu")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    y = keras.layers.Conv2D(6, 3, padding="same", name="b")(x)
    z = keras.layers.Conv2D(6, 1, name="c")(x)
    out = keras.layers.Add()([y, z])
    out = keras.layers.GlobalAveragePooling2D()(out)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(out))


def _dense_chain():
    x = inputs = keras.Input((20,))
    x = keras.layers.Dense(16, activation="relu", name="a")(x)
    x = keras.layers.Dropout(0.5, name="drop")(x)
    x = keras.layers.Dense(12, name="b")(x)
    x = keras.layers.LeakyReLU(negative_slope=0.1, name="leaky")(x)
    return keras.Model(inputs, keras.layers.Dense(4, name="c")(x))


def _conv1d_capped_and_added():
    x = inputs = keras.Input((64, 2))
    x = keras.layers.Conv1D(8, 5, name="a")(x)
    x = keras.layers.ReLU(max_value=6.0, name="relu6")(x)  # not homogeneous: a stops here
    x = keras.layers.Conv1D(8, 3, padding="same", name="b")(x)
    skip = x
    x = keras.layers.ReLU(name="b_relu")(x)  # b also feeds the Add: left alone
    x = keras.layers.Conv1D(8, 3, padding="same", name="c")(x)
    x = keras.layers.Add(name="add")([x, skip])
    return keras.Model(inputs, keras.layers.GlobalMaxPooling1D()(x))


def _sequential():
    return keras.Sequential([keras.Input((8,)), keras.layers.Dense(6, activation="relu", name="a"),
                             keras.layers.Dense(3, name="b")])


def _nested():
    inner = _dense_chain()
    inputs = keras.Input((20,))
    return keras.Model(inputs, keras.layers.Softmax()(inner(inputs)))


CASES = {
    "conv_bn_pool_two_consumers": (_conv_bn_pool_two_consumers, (4, 32, 16, 1),
                                   [("a", ["b", "c"], ["a_bn", "a_relu", "pool"])]),
    "dense_chain": (_dense_chain, (4, 20),
                    [("a", ["b"], ["drop"]), ("b", ["c"], ["leaky"])]),
    "conv1d_capped_and_added": (_conv1d_capped_and_added, (4, 64, 2), []),
    "nested": (_nested, (4, 20), [("a", ["b"], ["drop"]), ("b", ["c"], ["leaky"])]),
    "sequential": (_sequential, (4, 8), [("a", ["b"], [])]),
}


@pytest.mark.jax
@pytest.mark.parametrize("case", sorted(CASES))
def test_pairs_are_found_and_outputs_do_not_change(case):
    build, shape, expected = CASES[case]
    keras.utils.set_random_seed(0)
    model = _uneven(build()) if case != "nested" else build()
    if case == "nested":
        _uneven(model.layers[1])
    x = np.random.default_rng(1).standard_normal(shape).astype("float32")
    before = [np.array(w) for w in model.get_weights()]
    reference = np.asarray(model(x))
    found = [(p.producer, p.consumers, p.through) for p in equalization_pairs(model)]
    assert found == expected
    equalized, pairs = equalize_channels(model)
    assert [p.producer for p in pairs] == [e[0] for e in expected]
    out = np.asarray(equalized(x))
    scale = np.abs(reference).max()
    assert np.abs(out - reference).max() <= 2e-6 * scale + 1e-7
    for w, b in zip(model.get_weights(), before, strict=True):  # the input model is intact
        np.testing.assert_array_equal(w, b)
    if expected:
        assert any(np.abs(a - b).max() > 1e-3 for a, b in
                   zip(equalized.get_weights(), before, strict=True))


@pytest.mark.jax
def test_one_pass_gives_both_layers_the_same_per_channel_range():
    """Nagel et al.'s choice s_i = sqrt(r2_i / r1_i): afterwards r1_i == r2_i, the batch
    norm folded into the producer and the consumer's own batch norm into the consumer."""
    model = _uneven(_conv_bn_pool_two_consumers())
    equalized, (pair,) = equalize_channels(model, iterations=1)
    layer = {layer.name: layer for layer in equalized.layers}
    bn = layer["a_bn"]
    fold = np.asarray(bn.gamma) / np.sqrt(np.asarray(bn.moving_variance) + bn.epsilon)
    r1 = np.abs(np.asarray(layer["a"].kernel)).reshape(-1, 8).max(0) * np.abs(fold)
    r2 = np.maximum(*(np.abs(np.moveaxis(np.asarray(layer[n].kernel), -2, 0))
                      .reshape(8, -1).max(1) for n in ("b", "c")))
    np.testing.assert_allclose(r1, r2, rtol=1e-5)
    assert pair.balance_after > pair.balance_before
    assert isinstance(pair, EqualizedPair)


@pytest.mark.parametrize("iterations", [0, -1, 1.5, True])
def test_bad_iterations_are_refused(iterations):
    with pytest.raises(InvalidOptionError, match="iterations"):
        equalize_channels(_dense_chain(), iterations=iterations)


def test_to_tflite_refuses_a_non_boolean_equalize():
    model = _dense_chain()
    with pytest.raises(InvalidOptionError, match="equalize"):
        export.to_tflite(model, None, quantization="int8", per_channel=False,
                         equalize="yes", representative_data=np.zeros((2, 20), "float32"))


@pytest.mark.export
def test_per_tensor_int8_m5_preset_is_closer_to_keras_when_equalized():
    """The M5 preset, all-int8 with one weight scale per tensor, on its bundled clips
    (calibration and comparison): equalization (the default with per_channel=False)
    brings it closer to the Keras model (mean |difference| 0.0027 -> 0.0024 on the 120
    bundled clips; on the 300 official test clips, calibrated on 200 training clips,
    0.0035 -> 0.0024 and the 99th percentile of the per-clip maximum 0.085 -> 0.065,
    2026-11-27)."""
    from kerasaudio.hub import get_preset, representative_clips

    model = kerasaudio.create_model("m5_fsdd_digits")
    clips, _ = representative_clips(get_preset("m5_fsdd_digits"))
    assert [p.producer for p in equalization_pairs(model)] == [
        "stem_conv", "stage1_conv1", "stage2_conv1", "stage3_conv1"]
    reference = model.predict(clips, verbose=0)
    equalized, _ = equalize_channels(model)
    np.testing.assert_allclose(equalized.predict(clips, verbose=0), reference, atol=2e-6)
    errors = {}
    for equalize in (False, True):
        flatbuffer = export.convert(model, quantization="int8", representative_data=clips,
                                    per_channel=False, keep_float=(), equalize=equalize)
        lite = np.concatenate([export.run_tflite(flatbuffer, c[None])[0] for c in clips])
        errors[equalize] = np.abs(lite - reference).mean()
    assert errors[True] < 0.95 * errors[False], errors
