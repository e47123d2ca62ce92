"""BatchNormalization: Keras' BatchNormalization, trained with the fused TF kernel."""

import keras
import numpy as np
import pytest

import kerasaudio
from kerasaudio.layers import BatchNormalization

SHAPES = {  # input shape, axis
    "conv1d": ((4, 50, 8), -1),
    "conv2d": ((3, 10, 12, 6), -1),
    "channels_first": ((4, 5, 30), 1),
    "dense": ((16, 7), -1),
}


def pair(shape, axis, **options):
    """A Keras BatchNormalization and a fused one with the same (non-trivial) weights."""
    rng = np.random.default_rng(0)
    reference = keras.layers.BatchNormalization(axis=axis, momentum=0.9, **options)
    fused = BatchNormalization(axis=axis, momentum=0.9, **options)
    reference.build(shape)
    fused.build(shape)
    weights = [rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in reference.weights]
    reference.set_weights(weights)
    fused.set_weights(weights)
    x = (rng.normal(size=shape) * 3 + 1).astype("float32")
    return reference, fused, x


@pytest.mark.jax
@pytest.mark.parametrize("case", SHAPES)
@pytest.mark.parametrize("options", [{}, {"center": False, "scale": False}])
def test_training_pass_matches_keras(case, options):
    shape, axis = SHAPES[case]
    reference, fused, x = pair(shape, axis, **options)
    initial = keras.ops.convert_to_numpy(fused.moving_variance).copy()
    expected = keras.ops.convert_to_numpy(reference(x, training=True))
    got = keras.ops.convert_to_numpy(fused(x, training=True))
    np.testing.assert_allclose(got, expected, atol=2e-5)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(fused.moving_mean),
        keras.ops.convert_to_numpy(reference.moving_mean), atol=1e-5)
    fused_var = keras.ops.convert_to_numpy(fused.moving_variance)
    if keras.backend.backend() == "tensorflow":
        # The unbiased batch variance (PyTorch's convention) enters the moving average.
        channels_last = np.moveaxis(x.astype("float64"), axis, -1).reshape(-1, shape[axis])
        unbiased = channels_last.var(axis=0, ddof=1)
        np.testing.assert_allclose(fused_var, 0.9 * initial + 0.1 * unbiased, rtol=1e-5)
    else:  # Keras' own layer on JAX
        np.testing.assert_allclose(
            fused_var, keras.ops.convert_to_numpy(reference.moving_variance), rtol=1e-6)


@pytest.mark.parametrize("case", SHAPES)
def test_gradients_match_keras(case):
    import tensorflow as tf

    shape, axis = SHAPES[case]
    reference, fused, x = pair(shape, axis)
    x = tf.constant(x)
    target = tf.constant(np.random.default_rng(1).normal(size=shape).astype("float32"))
    grads = []
    for layer in (reference, fused):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum((layer(x, training=True) - target) ** 2)
        grads.append(tape.gradient(loss, [x, layer.gamma, layer.beta]))
    for got, expected in zip(grads[1], grads[0], strict=True):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.jax
@pytest.mark.parametrize("training", [False, None])
def test_inference_is_keras_own(training):
    reference, fused, x = pair((4, 50, 8), -1)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(fused(x, training=training)),
        keras.ops.convert_to_numpy(reference(x, training=training)))


def test_frozen_layer_uses_moving_statistics():
    reference, fused, x = pair((4, 50, 8), -1)
    fused.trainable = False
    reference.trainable = False
    before = keras.ops.convert_to_numpy(fused.moving_mean).copy()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fused(x, training=True)),
                               keras.ops.convert_to_numpy(reference(x, training=True)),
                               atol=1e-6)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(fused.moving_mean), before)


def test_config_weights_and_keras_file_round_trip(tmp_path):
    layer = BatchNormalization(axis=1, momentum=0.8, epsilon=1e-5, center=False)
    config = layer.get_config()
    assert (config["axis"], config["momentum"], config["epsilon"], config["center"]) == (
        1, 0.8, 1e-5, False)
    assert BatchNormalization.from_config(config).get_config() == config
    inputs = keras.Input((20, 3))
    model = keras.Model(inputs, BatchNormalization(name="bn")(inputs))
    x = np.random.default_rng(2).normal(size=(5, 20, 3)).astype("float32")
    model(x, training=True)
    path = tmp_path / "bn.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(loaded.get_layer("bn"), BatchNormalization)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_m5_trains_with_the_fused_layer_and_loads_keras_batchnorm_weights(tmp_path):
    model = kerasaudio.create_model("m5", input_shape=(8000, 1), classes=10, n_channel=32)
    norms = [la for la in model.layers if isinstance(la, keras.layers.BatchNormalization)]
    assert len(norms) == 4 and all(isinstance(la, BatchNormalization) for la in norms)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert (trainable, model.count_params()) == (25_290, 25_674)  # + 2 x 192 moving stats
    # The same model with Keras' own layer: checkpoints are interchangeable both ways.
    plain = keras.models.clone_model(model, clone_function=lambda la: (
        keras.layers.BatchNormalization.from_config(la.get_config())
        if isinstance(la, BatchNormalization) else la.__class__.from_config(la.get_config())))
    rng = np.random.default_rng(3)
    plain.set_weights([rng.normal(size=w.shape).astype("float32") ** 2
                       for w in plain.get_weights()])
    plain.save_weights(tmp_path / "plain.weights.h5")
    model.load_weights(tmp_path / "plain.weights.h5")
    x = rng.normal(size=(4, 8000, 1)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), plain.predict(x, verbose=0),
                               atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x, training=True)),
                               keras.ops.convert_to_numpy(plain(x, training=True)), atol=1e-4)


def test_published_m5_weights_load_into_the_fused_model():
    model = kerasaudio.create_model("m5_fsdd_digits")  # trained with Keras' own layer
    assert sum(isinstance(la, BatchNormalization) for la in model.layers) == 4


# ----------------------------------------------------------------------------- ResNorm


def resnorm_reference(x, residual, axis, epsilon=1e-5):
    axes = tuple(a for a in range(1, x.ndim) if a != axis)
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axes, keepdims=True)
    var = ((x64 - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x64 - mean) / np.sqrt(var + epsilon) + residual * x64


@pytest.mark.jax
@pytest.mark.parametrize(("shape", "axis"), [((2, 20, 8, 3), 2), ((2, 20, 8), 2),
                                             ((2, 8, 20, 3), 1)])
@pytest.mark.parametrize("residual", [0.0, 0.1, 0.5])
def test_residual_normalization_values(shape, axis, residual):
    from kerasaudio.layers import ResidualNormalization

    x = (np.random.default_rng(1).normal(size=shape) * 4 + 2).astype("float32")
    out = keras.ops.convert_to_numpy(ResidualNormalization(residual=residual, axis=axis)(x))
    np.testing.assert_allclose(out, resnorm_reference(x, residual, axis), atol=2e-5)


@pytest.mark.jax
def test_residual_normalization_removes_a_per_bin_colouring_and_is_per_example():
    """A constant offset per frequency bin (a channel's colouring of log features) moves
    the output by `residual` times the offset only; batch-mates change nothing."""
    from kerasaudio.layers import ResidualNormalization

    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 30, 16, 4)).astype("float32")
    colour = rng.normal(size=(1, 1, 16, 1)).astype("float32") * 5
    layer = ResidualNormalization(residual=0.1)
    moved = keras.ops.convert_to_numpy(layer(x + colour) - layer(x))
    np.testing.assert_allclose(moved, np.broadcast_to(0.1 * colour, moved.shape), atol=1e-4)
    alone = keras.ops.convert_to_numpy(layer(x[:1]))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x))[:1], alone, atol=1e-6)


def test_residual_normalization_converts_and_round_trips(tmp_path):
    from kerasaudio import export
    from kerasaudio.layers import ResidualNormalization

    inputs = keras.Input((30, 16, 4))
    model = keras.Model(inputs, ResidualNormalization(residual=0.25)(inputs))
    x = np.random.default_rng(3).normal(size=(1, 30, 16, 4)).astype("float32")
    flatbuffer = export.convert(model, batch_size=1)
    assert not [op for op in export.op_names(flatbuffer) if "flex" in op.lower()]
    (lite,) = export.run_tflite(flatbuffer, x)
    np.testing.assert_allclose(lite, keras.ops.convert_to_numpy(model(x)), atol=1e-5)
    model.save(tmp_path / "resnorm.keras")
    loaded = keras.saving.load_model(tmp_path / "resnorm.keras", safe_mode=True)
    assert loaded.layers[1].get_config() == model.layers[1].get_config()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)),
                                  keras.ops.convert_to_numpy(model(x)))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"residual": -0.1}, "residual"), ({"axis": 0}, "axis"), ({"epsilon": 0.0}, "epsilon"),
])
def test_residual_normalization_bad_options(kwargs, match):
    from kerasaudio.errors import InvalidOptionError
    from kerasaudio.layers import ResidualNormalization

    with pytest.raises(InvalidOptionError, match=match):
        ResidualNormalization(**kwargs)


def test_residual_normalization_axis_must_exist():
    from kerasaudio.errors import InvalidOptionError
    from kerasaudio.layers import ResidualNormalization

    with pytest.raises(InvalidOptionError, match="no such axis"):
        ResidualNormalization(axis=3)(keras.Input((10, 8)))
