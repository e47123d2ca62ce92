"""Flatbuffer rewrites of converted files: clipped-ReLU fusion in int8 files."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasaudio
from kerasaudio import export
from kerasaudio.export.graph import (
    fuse_clipped_relu,
    halve_float_constants,
    strip_tensor_names,
)


def raw_int8(model, data):
    """The converter's own full-int8 file (no kerasaudio rewrite), float32 in and out."""
    spec = tf.TensorSpec((1, *model.input_shape[1:]), tf.float32)
    holder = tf.Module()
    holder.variables_ = [v.value for v in model.variables]
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None]] for x in data)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()


def run(flatbuffer, data):
    return np.concatenate([export.run_tflite(flatbuffer, x[None])[0] for x in data])


def partitions(flatbuffer) -> int:
    """Number of XNNPACK-delegated pieces the graph is cut into in LiteRT."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer, num_threads=1)
    interpreter.allocate_tensors()
    return sum(op["op_name"] == "DELEGATE" for op in interpreter._get_ops_details())


def count(flatbuffer, name: str) -> int:
    """Number of ops of one kind in the main graph."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(flatbuffer)
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    code = getattr(schema.BuiltinOperator, name)
    return sum(codes[op.opcodeIndex] == code for op in model.subgraphs[0].operators)


def clipped_relu_net(max_value, *, branch=False):
    inp = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(8, 3, padding="same")(inp)
    y = keras.layers.ReLU(max_value=max_value)(x)
    if branch:  # the convolution's output feeds a second op: nothing to fuse
        y = keras.layers.Concatenate()([y, keras.layers.Activation("tanh")(x)])
    for _ in range(3):
        y = keras.layers.ReLU(max_value=max_value)(keras.layers.Conv2D(8, 3, padding="same")(y))
    out = keras.layers.Dense(4, activation="softmax")(keras.layers.GlobalAveragePooling2D()(y))
    return keras.Model(inp, out)


@pytest.mark.parametrize(("max_value", "scale"), [(20.0, 1.0), (0.5, 4.0)])
def test_clipped_relu_fuses_into_the_convolution(max_value, scale):
    """Clip far above the calibrated range (saturated constant) and clip inside it (the
    output's range ends at the clip): both fuse, the outputs agree to int8 rounding."""
    keras.utils.set_random_seed(0)
    model = clipped_relu_net(max_value)
    data = scale * np.random.default_rng(0).standard_normal((64, 16, 16, 1)).astype("float32")
    raw = raw_int8(model, data)
    assert "MINIMUM" in export.op_names(raw)
    fused = fuse_clipped_relu(raw)
    assert not {"MINIMUM", "RELU"} & set(export.op_names(fused))
    assert partitions(fused) <= 2 < 5 <= partitions(raw)  # MINIMUM: no int8 XNNPACK kernel
    keras_out = model.predict(data, verbose=0)
    raw_out, fused_out = run(raw, data), run(fused, data)
    assert np.abs(fused_out - raw_out).max() <= 3 / 256  # a few output levels (1/256 each)
    assert np.abs(fused_out - keras_out).max() <= np.abs(raw_out - keras_out).max() + 2 / 256
    assert fuse_clipped_relu(fused) == fused  # nothing left to do


def test_clipped_relu_with_a_shared_producer_is_left_alone():
    keras.utils.set_random_seed(0)
    model = clipped_relu_net(20.0, branch=True)
    data = np.random.default_rng(1).standard_normal((32, 16, 16, 1)).astype("float32")
    raw = raw_int8(model, data)
    fused = fuse_clipped_relu(raw)
    # The three later blocks fuse; the first, whose convolution also feeds tanh, does not.
    assert count(raw, "MINIMUM") == 4 and count(fused, "MINIMUM") == 1
    assert np.abs(run(fused, data) - run(raw, data)).max() <= 3 / 256


def test_float_files_are_unchanged():
    keras.utils.set_random_seed(0)
    flatbuffer = export.convert(clipped_relu_net(20.0))
    assert "MINIMUM" in export.op_names(flatbuffer)
    assert fuse_clipped_relu(flatbuffer) == flatbuffer


@pytest.mark.export
def test_deep_speaker_int8_runs_in_one_xnnpack_piece(fsdd_sample):
    """Deep Speaker's 28 clipped ReLUs cut its int8 graph into 32 XNNPACK pieces (2.2x
    slower than float32); fused, the int8 network is one piece after the float front end."""
    import soundfile as sf

    from kerasaudio.data import fix_length

    model = kerasaudio.create_model("deep_speaker_fsdd_speakers")
    clips = np.stack([fix_length(sf.read(p, dtype="float32")[0], 8000)
                      for p in fsdd_sample.path])
    flatbuffer = export.convert(model, quantization="int8", representative_data=clips)
    assert not {"MINIMUM", "RELU"} & set(export.op_names(flatbuffer))
    assert partitions(flatbuffer) <= 4  # pieces of the float front end + the network
    lite, expected = run(flatbuffer, clips), model.predict(clips, verbose=0)
    assert np.abs(lite - expected).max() < 0.1
    assert (lite.argmax(1) == expected.argmax(1)).mean() == 1.0


@pytest.mark.export
@pytest.mark.parametrize("quantize", [False, True])
def test_stripped_names_change_nothing_but_the_size(quantize):
    keras.utils.set_random_seed(2)
    model = clipped_relu_net(6.0)
    data = np.random.default_rng(2).normal(size=(8, 16, 16, 1)).astype("float32")
    flatbuffer = raw_int8(model, data) if quantize else export.convert(model)
    stripped = strip_tensor_names(flatbuffer)
    np.testing.assert_array_equal(run(stripped, data), run(flatbuffer, data))
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=stripped)
    named = [d["name"] for d in interpreter.get_tensor_details() if d["name"]]
    io = [d["name"] for d in (*interpreter.get_input_details(),
                              *interpreter.get_output_details())]
    assert sorted(named) == sorted(io) and all(io)
    assert len(stripped) < len(flatbuffer) - 20 * (len(interpreter.get_tensor_details()) - 2)
    assert strip_tensor_names(stripped) == stripped
    from tensorflow.lite.tools import flatbuffer_utils

    before = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    after = flatbuffer_utils.convert_bytearray_to_object(bytearray(stripped))
    filled = [b for b in before.buffers if b.data is not None and len(b.data)]
    assert len(after.buffers) == len(filled) + 1  # one shared empty buffer (index 0)
    assert len(before.buffers) > len(after.buffers)
    for tensor in after.subgraphs[0].tensors:  # no empty quantization tables are left
        assert tensor.quantization is None or tensor.quantization.scale is not None


def float16_constants(flatbuffer) -> int:
    """Number of FLOAT16 constants that a DEQUANTIZE op expands."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(flatbuffer)
    graph = model.subgraphs[0]
    code = [i for i, c in enumerate(model.operatorCodes)
            if c.builtinCode == schema.BuiltinOperator.DEQUANTIZE]
    return sum(op.opcodeIndex in code
               and graph.tensors[op.inputs[0]].type == schema.TensorType.FLOAT16
               and graph.tensors[op.inputs[0]].buffer > 0 for op in graph.operators)


@pytest.mark.export
@pytest.mark.parametrize("n_mels", [40, 64])
def test_front_end_matrices_in_float16(clips, n_mels):
    """The mel filterbank of a float32 front end is stored as float16 behind DEQUANTIZE:
    about half its bytes, log-mel values within 0.01 dB; the edit is idempotent."""
    inp = keras.Input((8000,))
    x = kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=512, hop_length=160,
                                         n_mels=n_mels)(inp)
    model = keras.Model(inp, kerasaudio.layers.PowerToDb(top_db=None)(x))
    flatbuffer = export.convert(model)
    halved = halve_float_constants(flatbuffer)
    assert float16_constants(flatbuffer) == 0 and float16_constants(halved) >= 1
    assert len(flatbuffer) - len(halved) > 1500
    audio = np.stack([np.resize(c, 8000) for c in clips])
    np.testing.assert_allclose(run(halved, audio), run(flatbuffer, audio), atol=0.01)
    assert halve_float_constants(halved) == halved


def test_nothing_to_halve_leaves_the_file_alone():
    keras.utils.set_random_seed(3)
    data = np.random.default_rng(3).normal(size=(8, 16, 16, 1)).astype("float32")
    flatbuffer = raw_int8(clipped_relu_net(6.0), data)  # int8 weights, no float matrices
    assert halve_float_constants(flatbuffer) is flatbuffer


@pytest.mark.export
@pytest.mark.parametrize("dft", ["conv", "auto"])
def test_mixed_sign_matrices_stay_float32(clips, dft):
    """A DFT (n_fft 400: a strided convolution with `dft="conv"`, two matrix products
    with `"auto"`) has both signs: in float16 its rounding would leak loud bins into quiet
    ones, so it stays float32; the mel filterbank after it (non-negative) is halved, and
    the dB values do not move."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    inp = keras.Input((8000,))
    x = kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=400, hop_length=160,
                                         n_mels=40, dft=dft)(inp)
    model = keras.Model(inp, kerasaudio.layers.PowerToDb(top_db=None)(x))
    flatbuffer = export.convert(model)
    assert ("CONV_2D" in export.op_names(flatbuffer)) == (dft == "conv")
    halved = halve_float_constants(flatbuffer)
    assert float16_constants(halved) >= 1
    parsed = flatbuffer_utils.convert_bytearray_to_object(bytearray(halved))
    signs = {schema.TensorType.FLOAT16: [], schema.TensorType.FLOAT32: []}
    for tensor in parsed.subgraphs[0].tensors:
        data = parsed.buffers[tensor.buffer].data if tensor.buffer > 0 else None
        if tensor.type in signs and data is not None and len(data) >= 1024:
            dtype = "<f2" if tensor.type == schema.TensorType.FLOAT16 else "<f4"
            signs[tensor.type].append(np.frombuffer(data.tobytes(), dtype).min() < 0)
    assert signs[schema.TensorType.FLOAT16] and not any(signs[schema.TensorType.FLOAT16])
    assert any(signs[schema.TensorType.FLOAT32])  # the DFT, float32
    if dft == "conv":
        assert len(flatbuffer) - len(halved) < 400 * 402 * 4 / 4  # the kernel was kept
    audio = np.stack([np.resize(c, 8000) for c in clips]) * np.float32(0.01)  # quiet
    np.testing.assert_allclose(run(halved, audio), run(flatbuffer, audio), atol=0.01)
