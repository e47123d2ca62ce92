"""kerasaudio.layers.Conv1D: Keras' layer, with strided convolutions regrouped in TFLite."""

import keras
import numpy as np
import pytest

import kerasaudio
from kerasaudio import export, layers


def blocked_and_plain(conv, x):
    plain = keras.ops.convert_to_numpy(conv(x))
    with layers.tflite_mode():
        blocked = keras.ops.convert_to_numpy(conv(x))
    return blocked, plain


@pytest.mark.jax
@pytest.mark.parametrize(("kernel", "stride", "padding", "channels", "length"), [
    (80, 16, "valid", 1, 8000),   # M5's stem (tutorial)
    (80, 4, "same", 1, 8000),     # M3/M11/M18's stem (paper)
    (80, 16, "valid", 1, 8013),   # samples left over after the last window
    (9, 3, "same", 2, 100),       # stereo, padding split unevenly
    (4, 2, "same", 8, 31),        # odd length, more channels
    (6, 3, "valid", 3, 6),        # exactly one window
])
def test_blocked_form_gives_keras_numbers(kernel, stride, padding, channels, length):
    keras.utils.set_random_seed(0)
    conv = layers.Conv1D(5, kernel, strides=stride, padding=padding, activation="relu")
    x = np.random.default_rng(1).normal(size=(2, length, channels)).astype("float32")
    blocked, plain = blocked_and_plain(conv, x)
    assert blocked.shape == plain.shape
    np.testing.assert_allclose(blocked, plain, atol=2e-5)


@pytest.mark.parametrize("options", [
    dict(kernel_size=80, strides=16, dilation_rate=1, padding="causal"),
    dict(kernel_size=5, strides=2),     # 2 does not divide 5
    dict(kernel_size=3, strides=1),     # not strided
    dict(kernel_size=3, dilation_rate=2),
])
def test_other_convolutions_keep_keras_form(options):
    conv = layers.Conv1D(4, **options)
    x = np.random.default_rng(0).normal(size=(1, 64, 1)).astype("float32")
    assert not conv._blocked(64) or options.get("strides", 1) > 1
    with layers.tflite_mode():
        assert not conv._blocked(64)
    blocked, plain = blocked_and_plain(conv, x)
    np.testing.assert_array_equal(blocked, plain)


def test_weights_interchange_with_keras_conv1d(tmp_path):
    def build(conv_class):
        inputs = keras.Input((800, 1))
        x = conv_class(8, 80, strides=16, name="stem")(inputs)
        return keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(x))

    keras.utils.set_random_seed(0)
    theirs = build(keras.layers.Conv1D)
    theirs.save_weights(tmp_path / "keras.weights.h5")
    ours = build(layers.Conv1D)
    ours.load_weights(tmp_path / "keras.weights.h5")
    x = np.random.default_rng(0).normal(size=(2, 800, 1)).astype("float32")
    np.testing.assert_array_equal(np.asarray(ours(x)), np.asarray(theirs(x)))
    config = ours.get_layer("stem").get_config()
    again = layers.Conv1D.from_config(config)
    assert again.get_config() == config
    path = tmp_path / "ours.keras"
    ours.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded.get_layer("stem")) is layers.Conv1D


@pytest.mark.export
def test_m5_stem_is_an_unstrided_tflite_convolution_and_int8_verifies():
    """M5's stem reaches TFLite as a stride-1 convolution on 16-sample blocks (one input
    channel made XNNPACK's int8 kernel slow: the int8 file ran 1.2x the float one's time),
    and the preset's int8 file still verifies with the same accuracy."""
    import ai_edge_litert.interpreter as litert

    model = kerasaudio.create_model("m5_fsdd_digits")
    assert type(model.get_layer("stem_conv")) is layers.Conv1D
    flatbuffer = export.convert(model)
    interpreter = litert.Interpreter(model_content=flatbuffer)
    details = {d["index"]: d for d in interpreter.get_tensor_details()}
    first = next(op for op in interpreter._get_ops_details() if op["op_name"] == "CONV_2D")
    image, kernel = (details[i]["shape"] for i in first["inputs"][:2])
    assert list(image[1:]) == [1, 500, 16] and list(kernel) == [64, 1, 5, 16]
    report = export.to_tflite(model, None, quantization="int8")
    assert report.passed and abs(report.tflite_accuracy - report.keras_accuracy) <= 0.03
