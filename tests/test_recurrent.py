"""kerasaudio.layers.LSTM: Keras' LSTM, fused by the TFLite converter (int8 works)."""

import keras
import numpy as np
import pytest

import kerasaudio
from kerasaudio import export
from kerasaudio.layers import LSTM


def sequences(n=6, steps=50, features=12, seed=0):
    return np.random.default_rng(seed).normal(size=(n, steps, features)).astype("float32")


@pytest.mark.jax
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_same_as_keras_lstm(go_backwards, return_sequences):
    ours = LSTM(8, go_backwards=go_backwards, return_sequences=return_sequences)
    theirs = keras.layers.LSTM(8, go_backwards=go_backwards,
                               return_sequences=return_sequences)
    x = sequences()
    ours.build(x.shape)
    theirs.build(x.shape)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours(x)),
                                  keras.ops.convert_to_numpy(theirs(x)))


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_fused_tflite_op_matches_keras(go_backwards, return_sequences):
    inp = keras.Input((50, 12))
    model = keras.Model(inp, LSTM(8, go_backwards=go_backwards,
                                  return_sequences=return_sequences)(inp))
    flatbuffer = export.convert(model, batch_size=1)
    ops = export.op_names(flatbuffer)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops and "WHILE" not in ops
    x = sequences()
    lite = np.concatenate([export.run_tflite(flatbuffer, clip[None])[0] for clip in x])
    np.testing.assert_allclose(lite, keras.ops.convert_to_numpy(model(x)), atol=1e-5)


def test_dynamic_batch_converts_to_a_builtin_loop():
    """Fusion needs a fixed batch; with a dynamic batch the sequence is a WHILE loop of
    builtin ops (Keras' own loop keeps TensorList ops, which need Flex)."""
    inp = keras.Input((50, 12))
    model = keras.Model(inp, LSTM(8, return_sequences=True)(inp))
    flatbuffer = export.convert(model, batch_size=None)
    ops = export.op_names(flatbuffer)
    assert "WHILE" in ops and not [op for op in ops if "Flex" in op or op == "CUSTOM"]
    x = sequences(n=3)
    (lite,) = export.run_tflite(flatbuffer, x)
    np.testing.assert_allclose(lite, keras.ops.convert_to_numpy(model(x)), atol=1e-5)


@pytest.mark.parametrize("batch", [None, 6])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_inference_graph_matches_keras_lstm(batch, go_backwards):
    """Traced for inference on TensorFlow (what the converters and `predict` trace) the
    layer computes in the converter's function form (a loop for a dynamic batch, a scan
    for a fixed one); the values are Keras' LSTM's."""
    import tensorflow as tf

    ours = LSTM(8, go_backwards=go_backwards, return_sequences=True)
    theirs = keras.layers.LSTM(8, go_backwards=go_backwards, return_sequences=True)
    x = sequences()
    ours.build(x.shape)
    theirs.build(x.shape)
    theirs.set_weights(ours.get_weights())
    spec = tf.TensorSpec((batch, 50, 12), tf.float32)
    traced = tf.function(lambda v: ours(v, training=False)).get_concrete_function(spec)
    assert "lstm_" in str(traced.graph.as_graph_def().library)  # the converter's form
    np.testing.assert_allclose(traced(tf.constant(x)).numpy(),
                               keras.ops.convert_to_numpy(theirs(x)), atol=1e-6)


@pytest.mark.export
def test_bilstm_attention_exports_full_int8():
    """The converter crashes (SIGSEGV) on full int8 of Keras 3 LSTMs; the fused op does not."""
    keras.utils.set_random_seed(0)
    model = kerasaudio.create_model("bilstm_attention", input_shape=(60, 20), classes=4,
                                    lstm_units=64, dense_units=96)
    x = sequences(n=24, steps=60, features=20)
    float_report = export.to_tflite(model, None, representative_data=x)
    int8 = export.to_tflite(model, None, quantization="int8", representative_data=x)
    assert float_report.max_abs_diff < 1e-5
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in int8.ops and "WHILE" not in int8.ops
    assert int8.size_bytes < 0.35 * float_report.size_bytes
    assert int8.max_abs_diff < 0.05
