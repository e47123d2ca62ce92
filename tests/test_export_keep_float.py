"""`convert(keep_float=...)` in int8, float16 and dynamic-range files: the kept layers' ops
and weights stay float32, the model's last layer (whose op's output is named after the
graph output) included, and so does a front end that ends the model."""

import keras
import numpy as np
import pytest

import kerasaudio
from kerasaudio import export, layers
from kerasaudio.runtime import make_interpreter


@pytest.fixture(scope="module")
def calibration():
    clips, _ = kerasaudio.datasets.fsdd.sample_clips()
    return clips[::8]  # 15 clips, every speaker and digit


def log_mel(inputs):
    x = layers.MelSpectrogram(sample_rate=8000, n_fft=256, n_mels=16, name="mel")(inputs)
    x = layers.PowerToDb(name="db")(x)
    return layers.Standardize(name="standardize")(x)


def tiny_classifier(*, heads=1):
    """Log-mel, pooling and a softmax Dense `head`, or `heads` linear Dense heads `h0`,
    `h1`, ... of 2, 3, ... units, each a model output."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8000,))
    x = keras.layers.GlobalAveragePooling1D(name="pool")(log_mel(inputs))
    if heads == 1:
        return keras.Model(inputs, keras.layers.Dense(5, activation="softmax", name="head")(x))
    return keras.Model(inputs, [keras.layers.Dense(k + 2, name=f"h{k}")(x)
                                for k in range(heads)])


def dense_ops(flatbuffer):
    """`(units, weight dtype, output dtype, output name)` of each FULLY_CONNECTED op
    reading a 2-D weight matrix (the Dense layers; the mel matrix too). The weight dtype
    is the stored one: float16 for a matrix behind a DEQUANTIZE op."""
    interpreter = make_interpreter(flatbuffer)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()
    dequantized = {op["outputs"][0]: op["inputs"][0] for op in ops
                   if op["op_name"] == "DEQUANTIZE"}
    found = []
    for op in ops:
        if op["op_name"] == "FULLY_CONNECTED":
            weights = tensors[dequantized.get(op["inputs"][1], op["inputs"][1])]
            output = tensors[op["outputs"][0]]
            found.append((int(weights["shape"][0]), weights["dtype"], output["dtype"],
                          output["name"]))
    return found


def max_difference(flatbuffer, model, clips):
    """Largest difference between the file's and the model's outputs on `clips`. The
    file's outputs are read by signature key (`output_<i>`: the i-th model output); the
    interpreter's output list follows another order with several outputs."""
    runner = make_interpreter(flatbuffer).get_signature_runner()
    (name,) = runner.get_input_details()
    lite = [runner(**{name: clip[None]}) for clip in clips]
    reference = model(clips)
    reference = reference if isinstance(reference, list) else [reference]
    return max(float(np.abs(np.concatenate([outputs[f"output_{i}"] for outputs in lite])
                            - keras.ops.convert_to_numpy(expected)).max())
               for i, expected in enumerate(reference))


def test_keep_float_keeps_the_last_layer_float32(calibration):
    """The head's op writes the graph output (`StatefulPartitionedCall:0`), not a name in
    its layer's scope; it is matched through the traced function's output op
    (`head/Softmax`), so the Dense weights and its softmax stay float32."""
    model = tiny_classifier()
    plain = export.convert(model, quantization="int8", representative_data=calibration)
    kept = export.convert(model, quantization="int8", representative_data=calibration,
                          keep_float=["head"])
    # the head (5 units) is int8 by default: the check below can fail
    assert [(w, o) for units, w, o, _ in dense_ops(plain) if units == 5] == [(np.int8,
                                                                             np.int8)]
    assert [(w, o) for units, w, o, _ in dense_ops(kept) if units == 5] == [(np.float32,
                                                                             np.float32)]
    assert len(kept) > len(plain)  # float32 weights take more bytes
    interpreter = make_interpreter(kept)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    (softmax,) = [op for op in interpreter._get_ops_details() if op["op_name"] == "SOFTMAX"]
    assert tensors[softmax["inputs"][0]]["dtype"] == np.float32  # part of `head`: float32
    pooled = [t["dtype"] for t in tensors.values() if "pool" in t["name"]]
    assert pooled == [np.int8]  # the pooling between front end and head stays int8
    tolerance = export.DEFAULT_TOLERANCE["int8"]
    assert max_difference(kept, model, calibration[:6]) < tolerance
    assert max_difference(plain, model, calibration[:6]) < tolerance


def test_keep_float_finds_each_output_head_by_its_signature_key(calibration):
    """The file names graph outputs `StatefulPartitionedCall:<k>` with `k` the position of
    the signature key (`output_10` sorts before `output_2`), not the output's index:
    the heads (whose FULLY_CONNECTED ops write the outputs) are matched by key, so
    exactly the named ones stay float32."""
    model = tiny_classifier(heads=12)
    flatbuffer = export.convert(model, quantization="int8", representative_data=calibration,
                                keep_float=["h2", "h10"])
    float_heads = sorted(units - 2 for units, weights, _, name in dense_ops(flatbuffer)
                         if weights == np.float32 and "mel" not in name)
    assert float_heads == [2, 10]
    assert max_difference(flatbuffer, model, calibration[:3]) < export.DEFAULT_TOLERANCE["int8"]


def test_a_front_end_ending_the_model_stays_float32(calibration):
    """A log-mel model's last op (the dB floor's MAXIMUM) writes the graph output; as part
    of the front end it stays float32 like the rest: no integer tensor in the file."""
    inputs = keras.Input((8000,))
    model = keras.Model(inputs, layers.PowerToDb(name="db")(
        layers.MelSpectrogram(sample_rate=8000, n_fft=256, n_mels=16)(inputs)))
    flatbuffer = export.convert(model, quantization="int8", representative_data=calibration)
    interpreter = make_interpreter(flatbuffer)
    ops = interpreter._get_ops_details()
    assert ops[-1]["op_name"] == "MAXIMUM"
    dtypes = {t["dtype"] for t in interpreter.get_tensor_details()}
    assert np.int8 not in dtypes and "QUANTIZE" not in export.op_names(flatbuffer)
    assert max_difference(flatbuffer, model, calibration[:2]) < 1e-3  # dB


def test_keep_float_of_a_layer_without_ops_is_refused(calibration):
    """A layer whose ops the converter removes (a Dropout at inference) cannot be kept
    float32: named alone, that is an error, not a silently int8 file."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8000,))
    x = keras.layers.GlobalAveragePooling1D(name="pool")(log_mel(inputs))
    x = keras.layers.Dropout(0.5, name="drop")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="head")(x))
    with pytest.raises(kerasaudio.errors.InvalidOptionError, match=r"keep_float.*'drop'"):
        export.convert(model, quantization="int8", representative_data=calibration,
                       keep_float=["drop"])
    # with a layer that has ops, the file keeps that one
    flatbuffer = export.convert(model, quantization="int8", representative_data=calibration,
                                keep_float=["drop", "head"])
    assert [w for units, w, _, _ in dense_ops(flatbuffer) if units == 3] == [np.float32]


def linear_head_model():
    """Log-mel, pooling, a `Dense(96)` named `hidden` and a `Dense(48)` named `head`
    without activation, whose FULLY_CONNECTED op writes the model output (both weight
    matrices are large enough for the dynamic-range quantizer, which leaves matrices
    under 1,024 values float32)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8000,))
    x = keras.layers.GlobalAveragePooling1D(name="pool")(log_mel(inputs))
    x = keras.layers.Dense(96, activation="relu", name="hidden")(x)
    return keras.Model(inputs, keras.layers.Dense(48, name="head")(x))


def stored_weights(flatbuffer):
    """`{units: stored weight dtype}` of the Dense layers' (and the mel matrix's) ops."""
    return {units: weights for units, weights, _, _ in dense_ops(flatbuffer)}


@pytest.mark.parametrize("quantization, stored", [("float16", np.float16),
                                                  ("dynamic", np.int8)])
def test_keep_float_keeps_the_last_layer_float32_in_weight_only_modes(quantization, stored,
                                                                      calibration):
    """float16 and dynamic-range files keep layers float32 by restoring the constants their
    ops read; the head's op, writing the graph output, is found by the traced op's name
    too, so its weight matrix is stored float32, and only it."""
    model = linear_head_model()
    plain = export.convert(model, quantization=quantization)
    kept = export.convert(model, quantization=quantization, keep_float=["head"])
    # the head is quantized by default: the check below can fail
    assert stored_weights(plain) == {16: np.float32, 96: stored, 48: stored}
    assert stored_weights(kept) == {16: np.float32, 96: stored, 48: np.float32}
    assert len(kept) > len(plain)  # float32 weights take more bytes
    tolerance = export.DEFAULT_TOLERANCE[quantization]
    assert max_difference(kept, model, calibration[:6]) < tolerance
    assert max_difference(plain, model, calibration[:6]) < tolerance


@pytest.mark.parametrize("quantization", ["float16", "dynamic"])
def test_a_front_end_ending_the_model_keeps_float32_constants(quantization, calibration):
    """A mel model's last op (the mel matrix product) writes the graph output; as part of
    the front end its mel matrix stays float32 in float16 and dynamic-range files: no op
    reads a float16 or int8 tensor, and the outputs are the float32 file's."""
    inputs = keras.Input((8000,))
    model = keras.Model(inputs, layers.MelSpectrogram(sample_rate=8000, n_fft=256, n_mels=16,
                                                      name="mel")(inputs))
    flatbuffer = export.convert(model, quantization=quantization)
    assert stored_weights(flatbuffer) == {16: np.float32}
    interpreter = make_interpreter(flatbuffer)
    read = {interpreter._get_tensor_details(index, 0)["dtype"]
            for op in interpreter._get_ops_details() for index in op["inputs"] if index >= 0}
    assert not read & {np.float16, np.int8}
    assert "DEQUANTIZE" not in export.op_names(flatbuffer)
    # the float32 file's bound (`DEFAULT_TOLERANCE[None]`), relative to the mel power
    reference = keras.ops.convert_to_numpy(model(calibration[:2]))
    assert (max_difference(flatbuffer, model, calibration[:2])
            < export.DEFAULT_TOLERANCE[None] * np.abs(reference).max())
