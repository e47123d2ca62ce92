"""kerasaudio.runtime returns a TFLite file's outputs in the Keras model's output order.

LiteRT's `get_output_details()` lists a multi-output file's outputs in graph order (a
2-output model comes back as outputs 1, 0); `invoke`, `run_tflite`, `output_details` and
`TFLiteModel` order them by the file's signature. Real small Keras models, converted with
`kerasaudio.export.convert`, run in LiteRT and compared with Keras' own outputs; every
output has its own width, so a swapped pair cannot pass.
"""

import flatbuffers
import keras
import numpy as np
import pytest

import kerasaudio
from kerasaudio import runtime
from kerasaudio.errors import InvalidOptionError

SAMPLES = 800
RATE = 8000


def _heads(count: int) -> keras.Model:
    """A waveform model with `count` outputs of distinct widths: a 10-class softmax, then
    Dense heads of widths 1, 2, ... (10 skipped)."""
    inputs = keras.Input((SAMPLES,), name="audio")
    hidden = keras.layers.Dense(16, activation="tanh")(inputs)
    outputs = [keras.layers.Dense(10, activation="softmax", name="classes")(hidden)]
    widths = [width for width in range(1, count + 1) if width != 10][:count - 1]
    outputs += [keras.layers.Dense(width, name=f"head_{width}")(hidden) for width in widths]
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module", params=[2, 12], ids=["2_outputs", "12_outputs"])
def converted(request):
    keras.utils.set_random_seed(request.param)
    model = _heads(request.param)
    return model, kerasaudio.export.convert(model)


def _clips(count: int) -> np.ndarray:
    rng = np.random.default_rng(count)
    return (0.3 * rng.standard_normal((count, SAMPLES))).astype(np.float32)


def test_run_tflite_returns_the_keras_output_order(converted):
    model, flatbuffer = converted
    x = _clips(1)
    expected = model.predict(x, verbose=0)
    got = runtime.run_tflite(flatbuffer, x)
    assert [g.shape for g in got] == [e.shape for e in expected]
    for lite, reference in zip(got, expected, strict=True):
        np.testing.assert_allclose(lite, reference, atol=1e-5)
    # What the test guards against: LiteRT's own order is not the model's for this file.
    interpreter = runtime.make_interpreter(flatbuffer)
    raw = [int(d["shape"][-1]) for d in interpreter.get_output_details()]
    assert raw != [e.shape[-1] for e in expected]
    assert [int(d["shape"][-1]) for d in runtime.output_details(interpreter)] == \
        [e.shape[-1] for e in expected]


def test_invoke_keeps_the_order_over_repeated_calls(converted):
    model, flatbuffer = converted
    interpreter, allocated = runtime.make_interpreter(flatbuffer), []
    clips = _clips(3)
    for clip in clips:  # allocated once; the order read from the signature is kept
        got = runtime.invoke(interpreter, [clip[None]], allocated=allocated)
        expected = model.predict(clip[None], verbose=0)
        for lite, reference in zip(got, expected, strict=True):
            np.testing.assert_allclose(lite, reference, atol=1e-5)


def test_tflite_model_reads_the_first_keras_output(converted):
    model, flatbuffer = converted
    # The class names fit the Keras model's first output (10 classes), whatever LiteRT's
    # first output is.
    data = kerasaudio.export.add_metadata(
        flatbuffer, sample_rate=RATE, class_names=[str(d) for d in range(10)],
        extra={"input_length": SAMPLES})
    runner = runtime.TFLiteModel(data)
    clips = _clips(2)
    expected = model.predict(clips, verbose=0)[0]
    np.testing.assert_allclose(runner.predict(clips[0]), expected[0], atol=1e-5)
    np.testing.assert_allclose(runner.predict(clips), expected, atol=1e-5)
    assert runner.predict(np.zeros((0, SAMPLES), np.float32)).shape == (0, 10)


def test_dict_outputs_come_in_model_outputs_order():
    inputs = keras.Input((8,), name="x")
    model = keras.Model(inputs, {"zeta": keras.layers.Dense(3)(inputs),
                                 "alpha": keras.layers.Dense(1)(inputs),
                                 "mid": keras.layers.Dense(2)(inputs)})
    x = _clips(1)[:, :8]
    expected = keras.Model(inputs, model.outputs).predict(x, verbose=0)  # keys sorted
    got = runtime.run_tflite(kerasaudio.export.convert(model), x)
    assert [g.shape[-1] for g in got] == [1, 2, 3]
    for lite, reference in zip(got, expected, strict=True):
        np.testing.assert_allclose(lite, reference, atol=1e-5)


def test_inputs_by_signature_name():
    names = ["zeta", "alpha", "mid"]
    inputs = [keras.Input((4 + i,), name=name) for i, name in enumerate(names)]
    joined = keras.layers.Concatenate()(inputs)
    model = keras.Model(inputs, [keras.layers.Dense(5)(joined), keras.layers.Dense(2)(joined)])
    flatbuffer = kerasaudio.export.convert(model)
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((1, 4 + i)).astype(np.float32) for i in range(3)]
    expected = model.predict(arrays, verbose=0)
    got = runtime.run_tflite(flatbuffer, dict(zip(names, arrays, strict=True)))
    for lite, reference in zip(got, expected, strict=True):
        np.testing.assert_allclose(lite, reference, atol=1e-5)
    with pytest.raises(InvalidOptionError, match="inputs are"):
        runtime.run_tflite(flatbuffer, {"zeta": arrays[0], "alpha": arrays[1]})


def _without_signature(flatbuffer: bytes) -> bytes:
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    model.signatureDefs = []
    builder = flatbuffers.Builder(len(flatbuffer) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_a_file_without_signature_keeps_litert_order(converted):
    model, flatbuffer = converted
    bare = _without_signature(flatbuffer)
    interpreter = runtime.make_interpreter(bare)
    assert interpreter.get_signature_list() == {}
    x = _clips(1)
    got = runtime.invoke(interpreter, [x])
    assert [g.shape for g in got] == [tuple(d["shape"]) for d in
                                      interpreter.get_output_details()]
    by_width = {e.shape[-1]: e for e in model.predict(x, verbose=0)}
    for lite in got:  # the same values, in LiteRT's order
        np.testing.assert_allclose(lite, by_width[lite.shape[-1]], atol=1e-5)
    with pytest.raises(InvalidOptionError, match="one signature"):
        runtime.invoke(interpreter, {"audio": x})


def test_to_tflite_verifies_every_output_of_a_multi_output_model():
    """`to_tflite` compares every output (largest difference and smallest cosine over all
    of them), not only the first; top-1 agreement is the first output's."""
    keras.utils.set_random_seed(3)
    model = _heads(3)  # softmax over 10, then heads of widths 1 and 2
    sample, _ = kerasaudio.datasets.fsdd.sample_clips()
    clips = np.ascontiguousarray(sample[:8, 3000:3000 + SAMPLES])
    for quantization in (None, "int8"):
        report = kerasaudio.export.to_tflite(model, None, quantization=quantization,
                                             representative_data=clips, tolerance=1.0,
                                             keep_float=[])
        flatbuffer = kerasaudio.export.convert(model, quantization=quantization,
                                               representative_data=clips)
        lite = [runtime.run_tflite(flatbuffer, clip[None]) for clip in clips]
        keras_out = [model.predict(clip[None], verbose=0) for clip in clips]
        per_output = [max(float(np.abs(got[k] - ref[k]).max())
                          for got, ref in zip(lite, keras_out, strict=True))
                      for k in range(3)]
        assert report.passed
        if quantization is None:  # random weights: int8 may swap near-equal classes
            assert report.top1_agreement == 1.0
        np.testing.assert_allclose(report.max_abs_diff, max(per_output), rtol=1e-3,
                                   atol=1e-6)
