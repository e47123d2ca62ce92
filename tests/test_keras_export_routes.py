"""The standard Keras and TensorFlow routes to TFLite give files with builtin ops only that
run in LiteRT and match Keras, for every zoo family and every front-end layer.

Routes: Keras 3's `model.export(path, format="litert")` (a SavedModel converted with Flex
allowed: a Flex op would slip through silently, so the file's op codes are read),
`tf.lite.TFLiteConverter.from_keras_model` and `from_concrete_functions` on a
`tf.function` of the model (without a trackable object: see `from_concrete_functions`).
Each file runs in LiteRT (`kerasaudio.runtime`, the `ai_edge_litert` interpreter) on a
batch of two real FSDD clips: the routes' default signature has a dynamic batch, and every
model here takes raw audio (the families with their default front end inside).
"""

import tempfile
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_models import AUDIO_SAMPLES, CONFIGS

import kerasaudio
from kerasaudio import export, layers
from kerasaudio.runtime import run_tflite

#: Largest |LiteRT - Keras| accepted, relative to max(1, largest |Keras output|): float32
#: rounding of a different but equivalent op order (the existing export tests' bound).
TOLERANCE = 1e-4


def op_codes(flatbuffer: bytes) -> list[str]:
    """Op names read from the file's op-code table (Flex and custom ops as `CUSTOM:name`),
    without an interpreter, which refuses a file with Flex ops."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAs(flatbuffer, 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        value = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        codes.append(f"CUSTOM:{code.CustomCode().decode()}"
                     if value == schema.BuiltinOperator.CUSTOM else names[value])
    return sorted(set(codes))


def keras_export(model) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.tflite"
        model.export(str(path), format="litert", verbose=False)
        return path.read_bytes()


def from_keras_model(model) -> bytes:
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def from_concrete_functions(model) -> bytes:
    specs = [tf.TensorSpec(t.shape, t.dtype) for t in model.inputs]
    function = tf.function(lambda *x: model(x[0] if len(x) == 1 else list(x), training=False))
    concrete = function.get_concrete_function(*specs)
    # No trackable object: given a Keras 3 model, the converter keeps its variables as
    # VAR_HANDLE/READ_VARIABLE ops that LiteRT runs uninitialised (garbage outputs, any
    # model); without one it freezes the captured values (README says so).
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert()


ROUTES = {"model.export": keras_export, "from_keras_model": from_keras_model,
          "from_concrete_functions": from_concrete_functions}


def check_route(model, route: str, x: np.ndarray) -> list[str]:
    """Convert `model` by `route`, assert builtins only and LiteRT == Keras on `x`; the ops."""
    flatbuffer = ROUTES[route](model)
    ops = op_codes(flatbuffer)
    assert not [op for op in ops if op.startswith("CUSTOM")], ops
    (lite,) = run_tflite(flatbuffer, x)
    ref = keras.ops.convert_to_numpy(model(x, training=False))
    assert lite.shape == ref.shape
    assert np.isfinite(lite).all()
    assert np.abs(lite - ref).max() <= TOLERANCE * max(1.0, float(np.abs(ref).max()))
    return ops


def audio(clips, samples: int) -> np.ndarray:
    return np.stack([np.resize(c, samples) for c in clips[:2]]).astype("float32")


def chain(*stages, samples: int = 8000):
    inp = keras.Input((samples,))
    x = inp
    for stage in stages:
        x = stage(x)
    return keras.Model(inp, x)


SR = 8000
#: Every front-end layer, in the configurations that used to give broken files (n_fft not
#: a power of two) and the plain ones.
FRONT_ENDS = {
    "stft_power_512": lambda: [layers.STFT(n_fft=512, hop_length=128, mode="power")],
    "stft_magnitude_400": lambda: [layers.STFT(n_fft=400, hop_length=160, mode="magnitude")],
    "stft_complex_400": lambda: [layers.STFT(n_fft=400, hop_length=160, mode="complex")],
    "stft_power_401_reflect": lambda: [layers.STFT(n_fft=401, hop_length=160, mode="power",
                                                   pad_mode="reflect")],
    "complex_spectrogram": lambda: [layers.ComplexSpectrogram(n_fft=512, hop_length=160,
                                                              win_length=480)],
    "mel_400_power_to_db": lambda: [
        layers.MelSpectrogram(sample_rate=SR, n_fft=400, hop_length=160, n_mels=40),
        layers.PowerToDb(ref="max")],
    "mel_2560_power_to_db": lambda: [
        layers.MelSpectrogram(sample_rate=SR, n_fft=2560, hop_length=347, n_mels=40),
        layers.PowerToDb()],
    "mel_512_amplitude_to_db": lambda: [
        layers.MelSpectrogram(sample_rate=SR, n_fft=512, power=1.0, n_mels=40),
        layers.AmplitudeToDb(top_db=80.0)],
    "mfcc_400": lambda: [layers.MFCC(sample_rate=SR, n_fft=400, hop_length=160, n_mels=40)],
    "pcen": lambda: [layers.MelSpectrogram(sample_rate=SR, n_fft=512, hop_length=128, n_mels=40),
                     layers.PCEN(sample_rate=SR, hop_length=128)],
    "pcen_learnable_400": lambda: [
        layers.MelSpectrogram(sample_rate=SR, n_fft=400, hop_length=160, n_mels=40),
        layers.PCEN(sample_rate=SR, hop_length=160, learnable=True)],
    "kaldi_fbank": lambda: [layers.KaldiFbank(sample_rate=SR, num_mel_bins=40)],
    "standardize_spec_augment": lambda: [
        layers.MelSpectrogram(sample_rate=SR, n_fft=512, n_mels=40), layers.PowerToDb(),
        layers.Standardize(), layers.SpecAugment()],
    "augmentation_layers": lambda: [
        layers.RandomGain(), layers.AddNoise(), layers.RandomTimeShift(),
        layers.MelSpectrogram(sample_rate=SR, n_fft=256, n_mels=20)],
    "resample_mel_400": lambda: [
        layers.Resample(sample_rate=SR, target_sample_rate=16000),
        layers.MelSpectrogram(sample_rate=16000, n_fft=400, hop_length=160, n_mels=40)],
}


@pytest.mark.export
@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("name", list(FRONT_ENDS))
def test_front_end_layer_routes(clips, name, route):
    check_route(chain(*FRONT_ENDS[name]()), route, audio(clips, SR))


def zoo_model(name: str):
    """The family in its small test configuration, with its default front end inside
    (raw audio in) where it has one."""
    config = dict(CONFIGS[name])
    if name == "stack":
        return kerasaudio.create_model(name, **config)
    config.pop("input_shape")
    return kerasaudio.create_model(name, frontend="default",
                                   input_shape=(AUDIO_SAMPLES[name],), **config)


#: Every family but Silero VAD's, a recurrent network over a whole recording whose phone
#: form is its one-chunk streaming model (tests/test_silero_vad.py exports that one).
FAMILIES = sorted({*kerasaudio.models.list_architectures(), "stack"}
                  - {"silero_vad", "silero_vad_streaming"})


def test_every_family_is_in_the_matrix():
    assert set(FAMILIES) <= set(CONFIGS)


@pytest.mark.export
@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("name", FAMILIES)
def test_zoo_family_routes(clips, name, route):
    keras.utils.set_random_seed(0)
    model = zoo_model(name)
    check_route(model, route, audio(clips, model.inputs[0].shape[1]))


# ----------------------------------------------------------------------------- default tier


def test_model_export_of_mel_400_runs_in_litert(clips):
    """n_fft = 400 on the TensorFlow backend is two matrix products per frame: no RFFT2D,
    which LiteRT refuses for a length that is not a power of two."""
    model = chain(layers.MelSpectrogram(sample_rate=SR, n_fft=400, hop_length=160, n_mels=40),
                  layers.PowerToDb(ref="max"))
    ops = check_route(model, "model.export", audio(clips, SR))
    assert "RFFT2D" not in ops and ("BATCH_MATMUL" in ops or "FULLY_CONNECTED" in ops)


def test_bilstm_converts_without_flex_at_any_batch_size():
    """A dynamic batch (the standard routes' signature) gives a WHILE loop of builtin ops;
    a fixed batch gives the fused LSTM op."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((12, 8))
    out = keras.layers.Bidirectional(layers.LSTM(6, return_sequences=True))(inp)
    model = keras.Model(inp, out)
    x = np.random.default_rng(0).normal(size=(2, 12, 8)).astype("float32")
    ops = check_route(model, "from_keras_model", x)
    assert "WHILE" in ops and "UNIDIRECTIONAL_SEQUENCE_LSTM" not in ops
    with tempfile.TemporaryDirectory() as folder:  # a fixed batch: the fused LSTM op
        path = Path(folder) / "model.tflite"
        model.export(str(path), format="litert", verbose=False,
                     input_signature=[tf.TensorSpec((1, 12, 8), tf.float32)])
        flatbuffer = path.read_bytes()
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in op_codes(flatbuffer)
    assert not [op for op in op_codes(flatbuffer) if op.startswith("CUSTOM")]
    (lite,) = run_tflite(flatbuffer, x[:1])
    ref = keras.ops.convert_to_numpy(model(x[:1]))
    assert np.abs(lite - ref).max() <= TOLERANCE


# ----------------------------------------------------------------------------- int8


@pytest.mark.export
def test_documented_int8_route_keeps_the_front_end_float32(clips):
    """README's int8 route: `kerasaudio.export.to_tflite(quantization="int8")` calibrates on
    real clips, keeps the front end's ops float32 and verifies the file against Keras."""
    keras.utils.set_random_seed(0)
    model = chain(layers.MelSpectrogram(sample_rate=SR, n_fft=400, hop_length=160, n_mels=40),
                  layers.PowerToDb(ref="max"), keras.layers.Reshape((51, 40, 1)),
                  keras.layers.Conv2D(4, 3, activation="relu"),
                  keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3))
    clips8k = np.stack([np.resize(c, SR) for c in clips]).astype("float32")
    report = export.to_tflite(model, quantization="int8", representative_data=clips8k)
    assert report.passed
    assert "LOG" in report.float_ops  # the dB front end was not quantized


def test_tf_data_features_equal_the_model_graph_features(clips):
    """Inside tf.data the layer keeps TensorFlow's FFT op (faster there; never converted);
    in a model it is the matrix form. The two give the same log-mel to float32 rounding."""
    mel = layers.MelSpectrogram(sample_rate=SR, n_fft=400, hop_length=160, n_mels=40)
    db = layers.PowerToDb()
    x = audio(clips, SR)
    piped = np.concatenate([b.numpy() for b in tf.data.Dataset.from_tensor_slices(x)
                            .batch(2).map(lambda v: db(mel(v)))])
    in_model = keras.ops.convert_to_numpy(chain(mel, db)(x))
    assert np.abs(piped - in_model).max() < 1e-2  # dB, of an 80 dB range
