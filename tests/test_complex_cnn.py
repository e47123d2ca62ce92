import keras
import numpy as np
import pytest

import kerasaudio
from kerasaudio.errors import InvalidOptionError


def trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def expected_trainable(filters, in_channels, dense_units, classes):
    """Conv2D(3x3)+bias and BatchNorm(gamma, beta) per block, Dense+BN, Dense head."""
    count, previous = 0, in_channels
    for width in filters:
        count += 9 * previous * width + width + 2 * width
        previous = width
    count += previous * dense_units + dense_units + 2 * dense_units
    return count + dense_units * classes + classes


def test_seed_parameter_count():
    """The torch for R tutorial's model: (257, 101, 2) input, 30 classes -> 1,849,342 trainable."""
    model = kerasaudio.create_model("complex_cnn", input_shape=(257, 101, 2), classes=30)
    assert trainable(model) == 1_849_342
    assert expected_trainable((32, 64, 128, 256, 512), 2, 512, 30) == 1_849_342
    # BatchNorm moving statistics: 2 per channel of 5 conv blocks and the dense layer.
    assert model.count_params() - trainable(model) == 2 * (32 + 64 + 128 + 256 + 512 + 512)


@pytest.mark.parametrize(("filters", "dense_units", "classes"),
                         [((16, 32), 64, 10), ((8, 8, 8), 32, 2)])
def test_options_change_the_count_as_the_formula_says(filters, dense_units, classes):
    model = kerasaudio.create_model("complex_cnn", input_shape=(64, 64, 2), classes=classes,
                                    filters=filters, dense_units=dense_units)
    assert trainable(model) == expected_trainable(filters, 2, dense_units, classes)


def test_frontend_default_takes_one_second_at_16k():
    model = kerasaudio.create_model("complex_cnn", frontend="default", input_shape=(16000,),
                                    classes=30)
    spectrogram = model.get_layer(index=1)
    assert spectrogram.output.shape[1:] == (101, 257, 2)
    assert trainable(model) == 1_849_342


@pytest.mark.parametrize(("pooling", "shape"), [(None, (2, 4, 4, 512)), ("avg", (2, 512)),
                                                ("max", (2, 512))])
def test_headless(pooling, shape):
    model = kerasaudio.create_model("complex_cnn", include_top=False, pooling=pooling,
                                    input_shape=(64, 64, 2))
    x = np.random.default_rng(0).normal(size=(2, 64, 64, 2)).astype("float32")
    assert tuple(keras.ops.convert_to_numpy(model(x)).shape) == shape


def test_sigmoid_head_for_multi_label():
    model = kerasaudio.create_model("complex_cnn", input_shape=(32, 32, 2), classes=4,
                                    classifier_activation="sigmoid")
    y = keras.ops.convert_to_numpy(model(np.zeros((1, 32, 32, 2), "float32")))
    assert ((y > 0) & (y < 1)).all() and not np.isclose(y.sum(), 1.0)


def test_too_short_for_four_pools():
    with pytest.raises(InvalidOptionError, match="at least 16"):
        kerasaudio.create_model("complex_cnn", input_shape=(15, 257, 2))
    with pytest.raises(InvalidOptionError, match="too short"):
        kerasaudio.create_model("complex_cnn", frontend="default", input_shape=(2000,))


@pytest.mark.parametrize("residual", [0.0, 0.1])
def test_residual_norm_option_adds_weightless_layers(residual):
    options = dict(input_shape=(101, 40, 1), classes=10, filters=[8, 16, 32, 64, 128],
                   dense_units=128)
    plain = kerasaudio.create_model("complex_cnn", **options)
    normed = kerasaudio.create_model("complex_cnn", residual_norm=residual, **options)
    assert normed.count_params() == plain.count_params() == 117_546
    names = [layer.name for layer in normed.layers if "resnorm" in layer.name]
    assert names == [f"block{i}_resnorm" for i in range(1, 6)]
    normed.set_weights(plain.get_weights())  # same weights, same order
    x = np.random.default_rng(0).normal(size=(2, 101, 40, 1)).astype("float32")
    assert not np.allclose(keras.ops.convert_to_numpy(normed(x)),
                           keras.ops.convert_to_numpy(plain(x)))


def test_residual_norm_must_be_non_negative():
    with pytest.raises(InvalidOptionError, match="residual_norm"):
        kerasaudio.create_model("complex_cnn", input_shape=(101, 40, 1), residual_norm=-1.0)
