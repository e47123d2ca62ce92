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


def check_file(flatbuffer: bytes, model, x: np.ndarray) -> list[str]:
    """Assert builtins only and LiteRT == Keras (eager, Keras' own layers) on `x`; the ops."""
    ops = op_codes(flatbuffer)
    assert not [op for op in ops if op.startswith("CUSTOM")], ops
    (lite,) = run_tflite(flatbuffer, x)
    ref = keras.ops.convert_to_numpy(model(x, training=False))
    assert lite.shape == ref.shape
    assert np.isfinite(lite).all()
    assert np.abs(lite - ref).max() <= TOLERANCE * max(1.0, float(np.abs(ref).max()))
    return ops


def check_route(model, route: str, x: np.ndarray) -> list[str]:
    """Convert `model` by `route`, assert builtins only and LiteRT == Keras on `x`; the ops."""
    return check_file(ROUTES[route](model), model, x)


def audio(clips, samples: int) -> np.ndarray:
    return np.stack([np.resize(c, samples) for c in clips[:2]]).astype("float32")


def chain(*stages, samples: int | None = 8000):
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


#: Every family but Silero VAD's, a recurrent network over a whole recording without a
#: `classes` option (`test_silero_vad_whole_recording_routes`; its phone form is the
#: one-chunk streaming model, exported in tests/test_silero_vad.py).
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


@pytest.mark.export
@pytest.mark.parametrize("route", list(ROUTES))
def test_silero_vad_whole_recording_routes(clips, route):
    """Silero VAD's whole-recording model (any length; its LSTM is kerasaudio's): builtin
    ops on every route, its shipped weights, real speech of two lengths."""
    from kerasaudio.models.silero_vad import silero_vad

    model = silero_vad(sample_rate=8000)
    flatbuffer = ROUTES[route](model)
    for samples in (8000, 5000):
        check_file(flatbuffer, model, audio(clips, samples))


#: Variable length (`input_shape=(None,)`, the registry's default with a front end) on
#: every family but the stack, whose members fix their input length.
VARIABLE_FAMILIES = [name for name in FAMILIES if name != "stack"]


@pytest.mark.export
@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("name", VARIABLE_FAMILIES)
def test_zoo_family_routes_variable_length(clips, name, route):
    """Any number of samples in: one file runs clips of two lengths."""
    keras.utils.set_random_seed(0)
    config = dict(CONFIGS[name])
    config.pop("input_shape")
    model = kerasaudio.create_model(name, frontend="default", input_shape=(None,), **config)
    flatbuffer = ROUTES[route](model)
    for samples in (AUDIO_SAMPLES[name], AUDIO_SAMPLES[name] + 1234):
        check_file(flatbuffer, model, audio(clips, samples))


def log_mels(clips, frames: int) -> np.ndarray:
    """Standardised log-mel features of real clips, zero-padded (or cut) to `frames`: a
    padded batch of clips of different lengths, the masking options' use."""
    front = chain(layers.MelSpectrogram(sample_rate=SR, n_fft=512, hop_length=128, n_mels=40),
                  layers.PowerToDb(), layers.Standardize(), samples=None)
    batch = np.zeros((2, frames, 40), "float32")
    for i, clip in enumerate(clips[:2]):
        features = keras.ops.convert_to_numpy(front(clip[None]))[0][: frames - 10 * i]
        batch[i, : len(features)] = features
    return batch


BILSTM = dict(classes=5, lstm_units=16, dense_units=24)
#: bilstm_attention's documented options that change its graph: masking, variable frames,
#: the attention biases, masked pooling without the top.
BILSTM_OPTIONS = {
    "masked_fixed_frames": dict(input_shape=(64, 40), mask_value=0.0),
    "masked_variable_frames": dict(input_shape=(None, 40), mask_value=0.0),
    "variable_frames": dict(input_shape=(None, 40)),
    "variable_per_step_bias": dict(input_shape=(None, 40), attention_bias="per_step",
                                   attention_steps=80, mask_value=0.0),
    "masked_avg_pooling": dict(input_shape=(None, 40), mask_value=0.0, include_top=False,
                               pooling="avg"),
    "masked_max_pooling": dict(input_shape=(64, 40), mask_value=0.0, include_top=False,
                               pooling="max"),
    "masked_raw_audio": dict(input_shape=(None,), frontend="default", mask_value=0.0),
}


@pytest.mark.export
@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("option", list(BILSTM_OPTIONS))
def test_bilstm_attention_option_routes(clips, option, route):
    keras.utils.set_random_seed(0)
    config = {**BILSTM, **BILSTM_OPTIONS[option]}
    model = kerasaudio.create_model("bilstm_attention", **config)
    flatbuffer = ROUTES[route](model)
    if option == "masked_raw_audio":
        inputs = [audio(clips, 22050), audio(clips, 30000)]
    elif config["input_shape"][0] is None:
        inputs = [log_mels(clips, 64), log_mels(clips, 50)]
    else:
        inputs = [log_mels(clips, 64)]
    for x in inputs:
        check_file(flatbuffer, model, x)


#: Recurrent layers a user's model may hold, in kerasaudio's builtin-ops form: every
#: option that changes the graph (masks, activations, directions, GRU's two bias forms).
RECURRENT = {
    "lstm_relu_masked": lambda: [keras.layers.Masking(0.0),
                                 layers.LSTM(8, activation="relu", return_sequences=True)],
    "lstm_hard_sigmoid_last": lambda: [layers.LSTM(8, recurrent_activation="hard_sigmoid")],
    "lstm_backwards_no_bias": lambda: [layers.LSTM(8, go_backwards=True, use_bias=False,
                                                   return_sequences=True)],
    "bigru_masked": lambda: [keras.layers.Masking(0.0), keras.layers.Bidirectional(
        layers.GRU(8, return_sequences=True))],
    "gru_reset_before_masked_last": lambda: [keras.layers.Masking(0.0),
                                             layers.GRU(8, reset_after=False)],
    "gru_stack_elu": lambda: [layers.GRU(8, activation="elu", return_sequences=True),
                              layers.GRU(4)],
}


@pytest.mark.export
@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("name", list(RECURRENT))
def test_recurrent_layer_routes(clips, name, route):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 40))
    x = inputs
    for layer in RECURRENT[name]():
        x = layer(x)
    model = keras.Model(inputs, x)
    flatbuffer = ROUTES[route](model)
    assert "WHILE" in op_codes(flatbuffer)
    for frames in (64, 37):
        check_file(flatbuffer, model, log_mels(clips, frames))


# ----------------------------------------------------------------------------- default tier


def test_model_export_of_mel_400_runs_in_litert(clips):
    """n_fft = 400 on the TensorFlow backend is two matrix products per frame: no RFFT2D,
    which LiteRT refuses for a length that is not a power of two."""
    model = chain(layers.MelSpectrogram(sample_rate=SR, n_fft=400, hop_length=160, n_mels=40),
                  layers.PowerToDb(ref="max"))
    ops = check_route(model, "model.export", audio(clips, SR))
    assert "RFFT2D" not in ops and ("BATCH_MATMUL" in ops or "FULLY_CONNECTED" in ops)


def test_masked_bilstm_with_variable_frames_converts_to_builtins(clips):
    """Masking, a dynamic batch and a dynamic number of frames: a WHILE loop of builtin
    ops that carries the mask as Keras does (masked steps keep the state)."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((None, 40))
    out = keras.layers.Bidirectional(layers.LSTM(6, return_sequences=True))(
        keras.layers.Masking(0.0)(inp))
    model = keras.Model(inp, out)
    flatbuffer = from_keras_model(model)
    assert "WHILE" in op_codes(flatbuffer)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in op_codes(flatbuffer)
    for frames in (30, 17):
        check_file(flatbuffer, model, log_mels(clips, frames))


def recurrent_model(layer, *, frames=None, masked=False, bidirectional=False,
                    initial_state=False):
    inputs = [keras.Input((frames, 5))]
    x = keras.layers.Masking(0.0)(inputs[0]) if masked else inputs[0]
    if bidirectional:
        layer = keras.layers.Bidirectional(layer)
    if initial_state:
        inputs += [keras.Input((layer.units,)) for _ in range(2 if "LSTM" in
                                                              type(layer).__name__ else 1)]
        out = layer(x, initial_state=inputs[1:])
    else:
        out = layer(x)
    return keras.Model(inputs, out)


RECURRENT_TRACES = {
    "lstm_masked_relu": lambda: recurrent_model(
        layers.LSTM(4, activation="relu", return_sequences=True), masked=True),
    "lstm_return_state_initial_state": lambda: recurrent_model(
        layers.LSTM(4, return_state=True), frames=9, initial_state=True),
    "lstm_zero_output_for_mask": lambda: recurrent_model(
        layers.LSTM(4, return_sequences=True, zero_output_for_mask=True), masked=True),
    "bigru_masked": lambda: recurrent_model(
        layers.GRU(4, return_sequences=True), masked=True, bidirectional=True),
    "gru_reset_before_backwards": lambda: recurrent_model(
        layers.GRU(4, reset_after=False, go_backwards=True, use_bias=False)),
    "gru_initial_state": lambda: recurrent_model(
        layers.GRU(4, return_sequences=True), initial_state=True),
}


@pytest.mark.parametrize("name", list(RECURRENT_TRACES))
def test_recurrent_inference_graph_equals_keras(name):
    """The builtin-ops graph (traced for inference) against Keras' own loop (eager), on a
    padded batch whose rows are masked at different steps."""
    keras.utils.set_random_seed(0)
    model = RECURRENT_TRACES[name]()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 9, 5)).astype("float32")
    x[0, 6:] = 0.0
    x[1, 2:] = 0.0
    inputs = [x] + [rng.normal(size=(3, 4)).astype("float32") for _ in model.inputs[1:]]
    inputs = inputs[0] if len(inputs) == 1 else inputs
    eager = [keras.ops.convert_to_numpy(v) for v in keras.tree.flatten(model(inputs))]
    traced = tf.function(lambda v: model(v, training=False))(inputs)
    for got, ref in zip(keras.tree.flatten(traced), eager, strict=True):
        np.testing.assert_allclose(got.numpy(), ref, atol=1e-6)


def test_recurrent_layers_compile_with_xla():
    """Under `jit_compile` (Keras' default on GPUs) the layers keep Keras' loop: XLA cannot
    compile the builtin loop's growing output."""
    keras.utils.set_random_seed(0)
    model = RECURRENT_TRACES["bigru_masked"]()
    x = np.random.default_rng(0).normal(size=(2, 9, 5)).astype("float32")
    x[1, 5:] = 0.0
    compiled = tf.function(lambda v: model(v, training=False), jit_compile=True)
    np.testing.assert_allclose(compiled(x).numpy(), keras.ops.convert_to_numpy(model(x)),
                               atol=1e-5)


def test_builtin_recurrent_swaps_keras_layers_and_keeps_weights():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 5))
    x = keras.layers.Bidirectional(keras.layers.GRU(4, return_sequences=True))(
        keras.layers.Masking(0.0)(inputs))
    model = keras.Model(inputs, keras.layers.LSTM(3, activation="relu")(x))
    swapped = export.builtin_recurrent(model)
    assert type(swapped.layers[-1]) is layers.LSTM
    assert type(swapped.layers[2].forward_layer) is layers.GRU
    assert type(swapped.layers[2].backward_layer) is layers.GRU
    x = np.random.default_rng(0).normal(size=(2, 7, 5)).astype("float32")
    x[1, 4:] = 0.0
    traced = tf.function(lambda v: swapped(v, training=False))(x).numpy()
    np.testing.assert_allclose(traced, keras.ops.convert_to_numpy(model(x)), atol=1e-6)
    stateful = keras.Sequential([keras.Input((7, 5), batch_size=2),
                                 keras.layers.LSTM(3, stateful=True)])
    with pytest.raises(kerasaudio.errors.InvalidOptionError, match="stateful"):
        export.builtin_recurrent(stateful)


def cell_counter(frames: int):
    """An LSTM(1) whose cell state counts the sign of its input (input, forget and output
    gates saturated open, candidate tanh(40 x) = sign(x)): +1 for `frames - 15` steps then -1
    for 15, so Keras ends at a cell of `frames - 30`, about tanh(frames - 30) out, while a
    cell clipped at +-10 ends at -5, tanh(-5) out."""
    layer = layers.LSTM(1, return_sequences=True)
    model = keras.Sequential([keras.Input((frames, 1)), layer])
    layer.cell.kernel.assign(np.array([[0.0, 0.0, 40.0, 0.0]], "float32"))
    layer.cell.recurrent_kernel.assign(np.zeros((1, 4), "float32"))
    layer.cell.bias.assign(np.array([30.0, 30.0, 0.0, 30.0], "float32"))
    x = np.where(np.arange(frames) < frames - 15, 1.0, -1.0).astype("float32")
    return model, x[None, :, None]


@pytest.mark.export
def test_standard_routes_never_clip_the_lstm_cell():
    """The converter's fused LSTM clips the cell state at +-10 (the contract has no clip
    argument): a cell that reaches 30 then falls by 15 ends at -5 instead of 15. The
    standard routes use the fused op only up to MAX_UNCLIPPED_FRAMES frames, where the
    cell cannot reach 10; `kerasaudio.export` sets the clip to 0."""
    model, x = cell_counter(45)
    ref = keras.ops.convert_to_numpy(model(x))
    assert ref[0, -1, 0] > 0.99  # tanh(15)
    fixed = [tf.TensorSpec((1, 45, 1), tf.float32)]
    with layers.tflite_mode():  # the fused op as the converter makes it
        concrete = tf.function(lambda v: model(v, training=False)).get_concrete_function(
            *fixed)
    holder = tf.Module()  # the variables tracked as kerasaudio.export.convert does
    holder.variables_ = [v.value for v in model.variables]
    clipped = tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder).convert()
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in op_codes(clipped)
    (lite,) = run_tflite(clipped, x)
    assert lite[0, -1, 0] < -0.99  # tanh(-5): the clip changed the result
    with tempfile.TemporaryDirectory() as folder:  # a fixed batch on a standard route
        path = Path(folder) / "model.tflite"
        model.export(str(path), format="litert", verbose=False, input_signature=fixed)
        standard = path.read_bytes()
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in op_codes(standard)
    check_file(standard, model, x)
    check_file(export.convert(model), model, x)  # fused, unclipped
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in op_codes(export.convert(model))
    short, x = cell_counter(layers.MAX_UNCLIPPED_FRAMES)
    with tempfile.TemporaryDirectory() as folder:  # few frames: the fused op, exact
        path = Path(folder) / "model.tflite"
        short.export(str(path), format="litert", verbose=False,
                     input_signature=[tf.TensorSpec((1, *x.shape[1:]), tf.float32)])
        fused = path.read_bytes()
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in op_codes(fused)
    check_file(fused, short, x)


@pytest.mark.export
def test_check_builtin_ops_names_the_fix_for_keras_recurrent_layers(clips):
    """A user's model with Keras' own LSTM/GRU: `model.export` writes a Flex file without
    a word; `check_builtin_ops` says so and what to do; the swapped model is builtin."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 40))
    x = keras.layers.Bidirectional(keras.layers.GRU(8, return_sequences=True))(inputs)
    model = keras.Model(inputs, keras.layers.LSTM(4)(x))
    flex = keras_export(model)
    assert any(op.startswith("FlexTensorList") for op in export.flex_ops(flex))
    with pytest.raises(kerasaudio.errors.ConversionError,
                       match=r"FlexTensorList.*kerasaudio\.layers\.LSTM.*builtin_recurrent"):
        export.check_builtin_ops(flex)
    with pytest.raises(kerasaudio.errors.ConversionError, match=r"kerasaudio\.layers\.LSTM"):
        export.convert(model, batch_size=None)  # kerasaudio.export: at conversion time
    swapped = keras_export(export.builtin_recurrent(model))
    export.check_builtin_ops(swapped)
    assert export.flex_ops(swapped) == []
    for frames in (40, 23):
        check_file(swapped, model, log_mels(clips, frames))


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
