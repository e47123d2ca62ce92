"""TFLite: front ends convert with builtin ops only and match Keras in LiteRT."""

import keras
import numpy as np
import pytest
from conftest import db_error

import kerasaudio
from kerasaudio import export, layers


def model_of(*chain, samples=8000):
    inp = keras.Input((samples,))
    x = inp
    for layer in chain:
        x = layer(x)
    return keras.Model(inp, x)


def audio(clips, n=8000):
    return np.stack([np.resize(c, n) for c in clips]).astype("float32")


@pytest.mark.export
@pytest.mark.parametrize("n_fft", [256, 400, 401, 512, 2048, 2560])
@pytest.mark.parametrize("batch_size", [1, None])
def test_log_mel_converts_to_builtins_and_matches(clips, n_fft, batch_size):
    """A power-of-two FFT is RFFT2D; 400 = 20 x 20 and 2560 = 64 x 40 are two matrix
    products per frame (far smaller than the DFT convolution); a prime 401 is the
    convolution."""
    def chain(dft="auto"):
        return model_of(
            layers.MelSpectrogram(sample_rate=8000, n_fft=n_fft, hop_length=n_fft // 4,
                                  n_mels=40, fmin=20, dft=dft),
            layers.PowerToDb(ref="max"))

    model = chain()
    flatbuffer = export.convert(model, batch_size=batch_size)
    ops = export.op_names(flatbuffer)
    assert not [op for op in ops if "flex" in op.lower() or op == "CUSTOM"]
    power_of_two = n_fft & (n_fft - 1) == 0
    assert ("RFFT2D" in ops) == power_of_two
    assert ("CONV_2D" in ops) == (n_fft == 401)
    if not power_of_two and n_fft != 401:
        conv = export.convert(chain("conv"), batch_size=batch_size)
        assert len(flatbuffer) < len(conv) / 4 and "FULLY_CONNECTED" in ops
    x = audio(clips) if batch_size is None else audio(clips[:1])
    (lite,) = export.run_tflite(flatbuffer, x)
    keras_out = keras.ops.convert_to_numpy(model(x))
    assert lite.shape == keras_out.shape
    for i in range(len(x)):
        assert db_error(lite[i], keras_out[i].astype(np.float64)) < 1e-3


@pytest.mark.export
@pytest.mark.parametrize(("name", "chain"), [
    ("mfcc", lambda: [layers.MFCC(sample_rate=8000, n_fft=400, hop_length=160, n_mels=40)]),
    ("complex", lambda: [layers.ComplexSpectrogram(n_fft=512, hop_length=160, win_length=480)]),
    ("complex_400", lambda: [layers.STFT(n_fft=400, hop_length=160, mode="complex")]),
    ("magnitude_db", lambda: [layers.STFT(n_fft=2560, hop_length=347, mode="magnitude"),
                              layers.AmplitudeToDb(ref="max"), layers.Standardize()]),
    ("augment", lambda: [layers.MelSpectrogram(sample_rate=8000, n_fft=512), layers.PowerToDb(),
                         layers.SpecAugment()]),
])
def test_other_front_ends_convert(clips, name, chain):
    model = model_of(*chain())
    flatbuffer = export.convert(model, batch_size=1)
    assert not [op for op in export.op_names(flatbuffer) if "flex" in op.lower()]
    if name in ("complex_400", "magnitude_db", "mfcc"):  # n_fft 400 and 2560: two products
        assert "CONV_2D" not in export.op_names(flatbuffer) and len(flatbuffer) < 200_000
    x = audio(clips[:1])
    (lite,) = export.run_tflite(flatbuffer, x)
    ref = keras.ops.convert_to_numpy(model(x))
    scale = np.abs(ref).max()
    assert np.abs(lite - ref).max() <= 1e-4 * max(scale, 1.0)


def test_dynamic_batch_conv_front_end(clips):
    """Any n_fft, any batch size: the DFT convolution path."""
    model = model_of(layers.STFT(n_fft=400, hop_length=160, mode="power", dft="conv"))
    flatbuffer = export.convert(model, batch_size=None)
    for n in (1, 3):
        x = audio(clips[:n])
        (lite,) = export.run_tflite(flatbuffer, x)
        ref = keras.ops.convert_to_numpy(model(x))
        assert np.abs(lite - ref).max() <= 1e-5 * np.abs(ref).max()


def test_non_builtin_graph_raises_conversion_error():
    """Forcing the FFT at a prime n_fft (401: no matrix-product split): the converter
    emits RFFT2D, which LiteRT cannot prepare (powers of two only). `convert` says so
    instead of returning a dead file."""
    model = model_of(layers.STFT(n_fft=401, hop_length=160, mode="power", dft="fft"))
    with pytest.raises(export.ConversionError, match="IsPowerOfTwo"):
        export.convert(model)


# ----------------------------------------------------------------------------- to_tflite


@pytest.fixture(scope="module")
def m5_and_clips(clips, fsdd_sample):
    import soundfile as sf

    keras.utils.set_random_seed(0)
    model = kerasaudio.create_model("m5", frontend="default", input_shape=(8000,),
                                    classes=10, n_channel=32)
    paths = list(fsdd_sample.path[:24])
    audio = np.stack([np.resize(sf.read(p, dtype="float32")[0], 8000) for p in paths])
    return model, audio


@pytest.mark.export
@pytest.mark.parametrize(("quantization", "max_ratio"), [(None, 1.01), ("float16", 0.6),
                                                         ("dynamic", 0.4), ("int8", 0.4),
                                                         ("int16x8", 0.45)])
def test_to_tflite_modes_verify_and_write(tmp_path, m5_and_clips, quantization, max_ratio):
    model, audio = m5_and_clips
    float_size = len(export.convert(model))
    path = tmp_path / "m5.tflite"
    report = export.to_tflite(model, path, quantization=quantization,
                              representative_data=audio, labels=np.zeros(len(audio), int))
    assert report.passed and path.exists()
    assert report.size_bytes == path.stat().st_size <= max_ratio * float_size
    assert report.max_abs_diff <= export.DEFAULT_TOLERANCE[quantization]
    assert report.clips == len(audio) and report.litert_ms > 0 and report.keras_ms > 0
    assert report.tflite_accuracy is not None
    assert not [op for op in report.ops if "flex" in op.lower()]
    (lite,) = export.run_tflite(path.read_bytes(), audio[:1])
    assert lite.shape == (1, 10)
    if quantization in export.CALIBRATED:
        assert report.float_ops == []  # a conv-only model is fully integer
    assert "PASSED" in str(report)


@pytest.mark.export
@pytest.mark.parametrize("quantization", [None, "dynamic"])
def test_preset_with_the_callers_clips_still_carries_its_metadata(quantization, fsdd_sample,
                                                                  tmp_path):
    """Before 2026-11-27 a preset exported with representative_data= lost its sample rate
    and class names (so TFLiteModel and MediaPipe could not read the file)."""
    import soundfile as sf

    from kerasaudio.data import fix_length

    model = kerasaudio.create_model("m5_fsdd_digits")
    clips = np.stack([fix_length(sf.read(p, dtype="float32")[0], 8000)
                      for p in fsdd_sample.path[:12]])
    export.to_tflite(model, tmp_path / "m5.tflite", quantization=quantization,
                     representative_data=clips)
    lite = export.TFLiteModel(tmp_path / "m5.tflite")
    assert lite.sample_rate == 8000 and lite.class_names == [str(d) for d in range(10)]
    np.testing.assert_allclose(lite.predict(clips[0]), model.predict(clips[:1], verbose=0)[0],
                               atol=0.05)


@pytest.mark.export
@pytest.mark.parametrize("name", ["m5_fsdd_digits", "complex_cnn_fsdd_digits"])
def test_standardised_amplitude_models_quantize_to_int8_at_any_level(name, fsdd_sample):
    """Raw-waveform and complex-spectrogram activations scale with the input level; one
    int8 range per tensor left the quietest clips a few levels (max difference 0.47 and
    0.42 before the presets standardised each clip). The presets now standardise each
    clip in float32 first: int8 follows Keras at the clips' level and 30 dB down."""
    import soundfile as sf

    from kerasaudio.data import fix_length

    model = kerasaudio.create_model(name)
    assert any(isinstance(layer, layers.Standardize) for layer in model.layers)
    clips = np.stack([fix_length(sf.read(p, dtype="float32")[0], 8000)
                      for p in fsdd_sample.path])
    expected = model.predict(clips, verbose=0)
    flatbuffer = export.convert(model, quantization="int8", representative_data=clips)
    assert "CONV_2D" not in export.float_ops(flatbuffer)
    for gain in (1.0, 10 ** (-30 / 20)):
        lite = np.concatenate([export.run_tflite(flatbuffer, c[None] * gain)[0]
                               for c in clips])
        assert np.abs(lite - expected).max() <= export.DEFAULT_TOLERANCE["int8"], gain
        assert (lite.argmax(1) == expected.argmax(1)).mean() >= 0.95


@pytest.mark.export
@pytest.mark.parametrize("quantization", ["dynamic", "int8"])
def test_per_tensor_and_stripped_files_are_smaller_and_verified(tmp_path, m5_and_clips,
                                                                 quantization):
    """per_channel=False: one scale per weight tensor (12 bytes less per channel);
    strip_names=True: no tensor names but the input's and output's. Both still verify,
    and the runner still reads the metadata."""
    from ai_edge_litert.interpreter import Interpreter

    model, audio = m5_and_clips
    sizes, scales = {}, {}
    for per_channel, strip in ((True, False), (False, False), (False, True)):
        path = tmp_path / f"m5_{per_channel}_{strip}.tflite"
        report = export.to_tflite(model, path, quantization=quantization,
                                  representative_data=audio, sample_rate=8000,
                                  class_names=list("0123456789"), per_channel=per_channel,
                                  strip_names=strip)
        assert report.passed and report.max_abs_diff <= export.DEFAULT_TOLERANCE[quantization]
        sizes[per_channel, strip] = path.stat().st_size
        interpreter = Interpreter(model_path=str(path))
        details = interpreter.get_tensor_details()
        scales[per_channel] = max(len(d["quantization_parameters"]["scales"])
                                  for d in details)
        names = [d["name"] for d in details if d["name"]]
        io = {d["name"] for d in (*interpreter.get_input_details(),
                                  *interpreter.get_output_details())}
        assert set(names) == io if strip else len(names) > len(io)
        assert export.TFLiteModel(path).class_names == list("0123456789")
    assert scales[True] == 64 and scales[False] == 1  # M5's widest layer: 64 channels
    channels = sum(w.shape[-1] for w in model.weights if len(w.shape) >= 2)
    assert sizes[True, False] - sizes[False, False] >= 8 * channels
    assert sizes[False, True] < sizes[False, False] - 1000


@pytest.mark.parametrize("option", ["per_channel", "float16_constants"])
def test_size_options_need_a_quantized_file(m5_and_clips, option):
    model, audio = m5_and_clips
    value = {"per_channel": False, "float16_constants": True}[option]
    for quantization in (None, "float16"):
        with pytest.raises(export.InvalidOptionError, match=f"{option}="):
            export.to_tflite(model, None, quantization=quantization,
                             representative_data=audio, **{option: value})


@pytest.mark.export
def test_smallest_int8_deep_speaker_file():
    """Per-tensor scales, no names and a float16 filterbank: Deep Speaker's int8 file
    shrinks by about 60 kB and still verifies against Keras."""
    model = kerasaudio.create_model("deep_speaker_fsdd_speakers")
    default = export.to_tflite(model, None, quantization="int8")
    small = export.to_tflite(model, None, quantization="int8", per_channel=False,
                             strip_names=True, float16_constants=True)
    assert default.passed and small.passed
    assert default.size_bytes - small.size_bytes > 50_000
    assert small.tflite_accuracy >= default.tflite_accuracy - 0.01


@pytest.mark.export
def test_forced_mismatch_refuses_to_write(tmp_path, m5_and_clips):
    model, audio = m5_and_clips
    path = tmp_path / "m5_int8.tflite"
    with pytest.raises(export.VerificationError, match="nothing was written") as info:
        export.to_tflite(model, path, quantization="int8", representative_data=audio,
                         tolerance=1e-9)
    assert not path.exists() and not list(tmp_path.iterdir())
    assert info.value.report.max_abs_diff > 1e-9 and not info.value.report.passed


@pytest.mark.export
def test_converter_crash_is_isolated():
    """Full int8 of a Keras 3 LSTM kills the converter (SIGSEGV): an error, not a dead test."""
    inp = keras.Input((20, 8))
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(
        keras.layers.LSTM(8)(inp)))
    data = np.random.default_rng(0).normal(size=(4, 20, 8)).astype("float32")
    with pytest.raises(export.ConversionError, match="crashed"):
        export.to_tflite(model, None, quantization="int8", representative_data=data)


def test_int8_needs_real_data(m5_and_clips):
    model, _ = m5_and_clips
    with pytest.raises(export.InvalidOptionError, match="representative_data"):
        export.to_tflite(model, None, quantization="int8")
    with pytest.raises(export.InvalidOptionError, match="quantization"):
        export.to_tflite(model, None, quantization="int4")


@pytest.mark.export
def test_representative_data_forms_and_float_ops(clips):
    """A generator of (clip, label) pairs of any length, fixed to input_length; int8 leaves
    the log-mel front end's RFFT2D and LOG in float (reported)."""
    import tensorflow as tf

    inp = keras.Input((None,))
    x = layers.MelSpectrogram(sample_rate=8000, n_fft=512, hop_length=128, n_mels=40)(inp)
    x = layers.PowerToDb()(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inp, keras.layers.Dense(4, activation="softmax")(x))
    pairs = ((np.resize(c, 6000 + 500 * i), i) for i, c in enumerate(clips))
    report = export.to_tflite(model, None, quantization="int8", representative_data=pairs,
                              input_length=8000, tolerance=0.5)
    assert report.clips == len(clips)
    assert "RFFT2D" in report.float_ops  # no int8 FFT kernel
    ds = tf.data.Dataset.from_tensor_slices(np.stack([np.resize(c, 8000) for c in clips]))
    report = export.to_tflite(model, None, representative_data=ds.batch(2), input_length=8000)
    assert report.passed and report.max_abs_diff < 1e-4


# ----------------------------------------------------------------------------- every zoo model

#: Each classifier of the zoo, end to end from raw audio with its default front end, in a
#: small configuration: (samples of audio, builder options). wav2vec2 (an encoder without a
#: classifier head) has its own export tests.
ZOO_EXPORTS = {
    "m3": (8000, dict(classes=5)),
    "m5": (8000, dict(classes=5, n_channel=32)),
    "m11": (8000, dict(classes=5)),
    "m18": (8000, dict(classes=5)),
    "m34_res": (8000, dict(classes=5)),
    "bilstm_attention": (22050, dict(classes=5, lstm_units=16, dense_units=24)),
    "complex_cnn": (16000, dict(classes=5, filters=(16, 32, 64, 128, 256), dense_units=128)),
    "vggvox_v1": (16000, dict(classes=5, embedding_dim=128)),
    "vggvox_v2": (16000, dict(classes=5, stage_filters=((16, 16, 32), (32, 32, 64),
                                                        (64, 64, 128), (128, 128, 256)),
                              bottleneck_dim=128, embedding_dim=128)),
    "deep_speaker": (16000, dict(classes=5, filters=(16, 32, 64, 128))),
    # Members at 8 and 16 kHz (resampled in the graph), a recurrent one among them.
    "stack": (16000, dict(members=[
        {"architecture": "m5", "sample_rate": 8000, "config": {
            "frontend": "default", "input_shape": [8000], "classes": 5, "n_channel": 32}},
        {"architecture": "bilstm_attention", "config": {
            "input_shape": [16000], "classes": 5, "lstm_units": 16, "dense_units": 24,
            "frontend": [{"class_name": "MelSpectrogram", "module": "kerasaudio.layers.mel",
                          "registered_name": "kerasaudio>MelSpectrogram",
                          "config": {"sample_rate": 16000, "n_fft": 512,
                                     "hop_length": 256, "n_mels": 40}},
                         {"class_name": "PowerToDb", "module": "kerasaudio.layers.decibels",
                          "registered_name": "kerasaudio>PowerToDb", "config": {}}]}}],
        class_names=list("abcde"), sample_rate=16000)),
}

#: Families whose exports their own test files cover (checkpoint-sized models need their
#: own narrow configurations): tests/test_panns_export.py, tests/test_ast_export.py,
#: tests/test_speech_export.py (wav2vec2, HuBERT, WavLM), tests/test_silero_vad.py (its
#: streaming file), tests/test_ecapa_tdnn.py (float32 and the FSDD preset's int8).
OWN_EXPORT_TESTS = ("wav2vec2", "hubert", "wavlm", "panns_", "ast", "silero_vad",
                    "ecapa_tdnn")


def test_every_zoo_classifier_has_an_export_config():
    missing = {n for n in kerasaudio.list_models() if not n.startswith(OWN_EXPORT_TESTS)}
    assert missing - set(ZOO_EXPORTS) == set()


def zoo_model_and_audio(name, fsdd_sample):
    import soundfile as sf

    samples, options = ZOO_EXPORTS[name]
    keras.utils.set_random_seed(0)
    if name == "stack":  # its members carry the front ends
        model = kerasaudio.create_model(name, **options)
    else:
        model = kerasaudio.create_model(name, frontend="default", input_shape=(samples,),
                                        **options)
    raw = [sf.read(p, dtype="float32")[0] for p in fsdd_sample.path[:24]]
    return model, np.stack([np.resize(c, samples) for c in raw])


@pytest.mark.export
@pytest.mark.parametrize("name", sorted(ZOO_EXPORTS))
def test_every_zoo_model_exports_to_full_int8_from_raw_audio(name, fsdd_sample):
    """Front end in float32, the network in int8, verified in LiteRT against Keras."""
    model, clips = zoo_model_and_audio(name, fsdd_sample)
    report = export.to_tflite(model, None, quantization="int8", representative_data=clips,
                              keep_float=[])  # no fallback: everything after the front end int8
    assert report.passed and report.max_abs_diff <= export.DEFAULT_TOLERANCE["int8"]
    assert not [op for op in report.ops if "flex" in op.lower()]
    if name in ("bilstm_attention", "stack"):  # the fused LSTM runs in int8
        assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in report.ops
        assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in report.float_ops
    else:
        # The network's convolutions run in int8 (a mel front end's projection is a
        # float FULLY_CONNECTED, so that op name may appear among the float ops; the
        # bilstm's n_fft=2560 front end is a float DFT convolution).
        assert not {"CONV_2D", "DEPTHWISE_CONV_2D"} & set(report.float_ops)
    if name == "vggvox_v2":  # GhostVLAD pooling stays float32 too
        assert "L2_NORMALIZATION" in report.float_ops


@pytest.mark.export
def test_trained_vggvox_v2_int8_keeps_ghostvlad_float(fsdd_sample):
    """The published VGGVox v2 in int8 differed from Keras by 0.77 with its GhostVLAD
    pooling quantized. Kept float32 (with the front end), it follows Keras within about
    0.14 (0.087 on 200 training-split clips: benchmarks/tflite.py) and agrees on the
    bundled clips' speakers."""
    import soundfile as sf

    from kerasaudio.data import fix_length

    model = kerasaudio.create_model("vggvox_v2_fsdd_speakers")
    clips = np.stack([fix_length(sf.read(p, dtype="float32")[0], 8000)
                      for p in fsdd_sample.path])
    expected = model.predict(clips, verbose=0)

    def run(flatbuffer):
        return np.concatenate([export.run_tflite(flatbuffer, c[None])[0] for c in clips])

    kept = export.convert(model, quantization="int8", representative_data=clips)
    assert {"L2_NORMALIZATION", "BATCH_MATMUL"} <= set(export.float_ops(kept))
    assert "CONV_2D" not in export.float_ops(kept)
    lite = run(kept)
    assert np.abs(lite - expected).max() < 0.2
    assert (lite.argmax(1) == expected.argmax(1)).mean() >= 0.95
    whole = run(export.convert(model, quantization="int8", representative_data=clips,
                               float_frontend=False))
    assert np.abs(whole - expected).max() > 0.5


@pytest.mark.export
@pytest.mark.slow
@pytest.mark.parametrize("quantization", [None, "float16", "dynamic", "int8"])
@pytest.mark.parametrize("name", sorted(ZOO_EXPORTS))
def test_every_zoo_model_exports_in_every_mode(name, quantization, fsdd_sample):
    model, clips = zoo_model_and_audio(name, fsdd_sample)
    # Sizes compared on the same route: to_tflite adds the metadata to both files.
    float_size = export.to_tflite(model, None, representative_data=clips,
                                  verify=False).size_bytes
    report = export.to_tflite(model, None, quantization=quantization,
                              representative_data=clips)
    assert report.passed
    if quantization is not None:
        # Per-tensor overhead (quantization parameters, kept float biases, the float front
        # end) weighs more in the smallest models: M5 with 32 channels is 100 kB in float.
        small = float_size < 1_000_000
        limit = {"float16": 0.6 if small else 0.52, "dynamic": 0.4 if small else 0.3,
                 "int8": 0.4 if small else 0.3}[quantization]
        if name == "bilstm_attention":
            # Its n_fft=2560 front end is a DFT convolution whose 26 MB float32 matrix is
            # nearly all of the file, and every mode keeps the front end float32 by design
            # (the random-weight BiLSTM's dynamic-range file was 0.06-0.13 off with it int8).
            limit = 1.0
        if name == "stack":
            # Its BiLSTM member's 257 x 40 float32 mel filterbank (41 kB, kept float32 in
            # every mode) is a quarter of this 172 kB stack (measured 0.66 / 0.59 / 0.50).
            limit = {"float16": 0.7, "dynamic": 0.65, "int8": 0.55}[quantization]
        assert report.size_bytes < limit * float_size, (report.size_bytes, float_size)


@pytest.mark.export
def test_int8_front_end_stays_float_and_tracks_keras(clips):
    """A log-mel front end quantized to int8 loses the bins more than 48 dB down; kept in
    float32 (the default), the int8 model follows Keras much more closely."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((8000,))
    x = layers.MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=80, n_mels=40)(inp)
    x = layers.PowerToDb(top_db=80.0)(x)
    x = layers.Standardize()(x)
    x = keras.layers.Reshape((101, 40, 1))(x)
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(4)(x))  # logits: no softmax to hide errors
    data = audio(clips * 8)
    data = data * np.linspace(0.05, 1.0, len(data), dtype="float32")[:, None]
    kept = export.to_tflite(model, None, quantization="int8", representative_data=data,
                            verify=False)
    whole = export.to_tflite(model, None, quantization="int8", representative_data=data,
                             verify=False, float_frontend=False)
    assert {"RFFT2D", "LOG", "FULLY_CONNECTED"} <= set(kept.float_ops)
    assert "CONV_2D" not in kept.float_ops
    assert "FULLY_CONNECTED" not in whole.float_ops
    assert kept.max_abs_diff < 0.5 * whole.max_abs_diff


def _float16_constants(flatbuffer: bytes) -> list[int]:
    """Sizes of the float16 constants that the DEQUANTIZE ops of a TFLite file read."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(flatbuffer)
    graph = model.subgraphs[0]
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    return [int(np.prod(graph.tensors[op.inputs[0]].shape)) for op in graph.operators
            if codes[op.opcodeIndex] == schema.BuiltinOperator.DEQUANTIZE
            and graph.tensors[op.inputs[0]].type == schema.TensorType.FLOAT16]


@pytest.mark.export
@pytest.mark.parametrize("quantization", ["float16", "dynamic"])
def test_float16_and_dynamic_keep_the_front_end_constants_float(quantization, fsdd_sample):
    """Deep Speaker on clips centred in silence. float16: stored as the converter writes
    them, its small constants (epsilons) round to 0 and a zero input gives NaN; they are
    restored to float32 (front end or not). Dynamic range: an int8 filterbank moves the
    output by 0.1-0.2; kept float32 (the default), the file follows Keras."""
    import soundfile as sf

    from kerasaudio.data import fix_length

    model = kerasaudio.create_model("deep_speaker_fsdd_speakers")
    data = np.stack([fix_length(sf.read(p, dtype="float32")[0], 8000)
                     for p in fsdd_sample.path[:24]])  # zero-padded, as the recipes feed it
    expected = model.predict(data, verbose=0)

    def error(flatbuffer):
        got = np.concatenate([export.run_tflite(flatbuffer, clip[None])[0] for clip in data])
        return np.nan_to_num(np.abs(got - expected), nan=np.inf).max()

    kept = export.convert(model, quantization=quantization)
    whole = export.convert(model, quantization=quantization, float_frontend=False)
    float32_size = len(export.convert(model))
    if quantization == "float16":
        assert error(kept) < 1e-3 and error(whole) < 1e-3
        for flatbuffer in (kept, whole):
            sizes = _float16_constants(flatbuffer)
            assert sizes and min(sizes) >= 64  # the weights are float16, no epsilon is
        assert len(kept) < 0.55 * float32_size
    else:
        assert error(kept) < 0.02 < 0.1 < error(whole)
        assert len(kept) < 0.3 * float32_size  # the network's weights are still int8


@pytest.mark.export
def test_fused_lstm_cells_are_not_clipped(fsdd_sample):
    """The converter clips a fused LSTM's cell state to +-10, Keras never does: the trained
    BiLSTM preset's cells reach 16-21 and its clipped float32 file was 0.003 off (0.75 per
    step inside). Unclipped, float32 verifies at 1e-4."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = kerasaudio.create_model("bilstm_attention_fsdd_digits")
    report = export.to_tflite(model, None)  # the preset's bundled clips, tolerance 1e-4
    assert report.passed and report.max_abs_diff <= export.DEFAULT_TOLERANCE[None]
    flatbuffer = export.convert(model)
    lstms = [op.builtinOptions for graph in flatbuffer_utils.convert_bytearray_to_object(
                 flatbuffer).subgraphs for op in graph.operators
             if isinstance(op.builtinOptions, schema.UnidirectionalSequenceLSTMOptionsT)]
    assert len(lstms) == 2 and all(options.cellClip == 0 for options in lstms)


@pytest.mark.export
def test_int8_falls_back_to_a_float_first_layer_and_says_so():
    """VGGVox v2 reads a standardised linear-magnitude spectrogram: long-tailed, so int8
    resolves its input coarsely (0.136 off on the bundled clips, tolerance 0.1). The
    exporter retries once with the first layer after the front end in float32 (0.07) and
    reports it; `keep_float=[]` turns the fallback off."""
    model = kerasaudio.create_model("vggvox_v2_fsdd_speakers")
    first = export.first_layers_after_frontend(model)  # conv1 and the reshapes before it
    assert len(first) == 3 and first[-1] == "conv1_1_3x3_s1"
    assert first[1] == "add_channel" and first[0].startswith("permute")  # a Keras name
    report = export.to_tflite(model, None, quantization="int8")
    assert report.passed and report.kept_float == first
    assert report.max_abs_diff < 0.09
    assert abs(report.tflite_accuracy - report.keras_accuracy) <= 1 / 120  # one clip
    assert any("int8 file with every layer quantized differed" in note
               for note in report.notes)
    assert "CONV_2D" in report.float_ops  # that one convolution; the others are int8
    with pytest.raises(export.VerificationError, match=r"differs from Keras by up to 0\.1"):
        export.to_tflite(model, None, quantization="int8", keep_float=[])
    with pytest.raises(kerasaudio.errors.InvalidOptionError, match="no layer"):
        export.convert(model, quantization="dynamic", keep_float=["no_such_layer"])


@pytest.mark.export
def test_fallback_keeps_the_layers_between_front_end_and_first_layer_float():
    """M5's `add_channel` reshape sits between its float front end (Standardize) and the
    stem: left int8, it quantized the stem's input anyway (a LOSO fold's fallback file:
    0.107 instead of 0.029, refused). The fallback keeps it float32 with the stem."""
    model = kerasaudio.create_model("m5_fsdd_digits")
    assert export.first_layers_after_frontend(model) == ["add_channel", "stem_conv"]
    stem_only = export.to_tflite(model, None, quantization="int8", keep_float=["stem_conv"],
                                 verify=False)
    both = export.to_tflite(model, None, quantization="int8",
                            keep_float=["add_channel", "stem_conv"], verify=False)
    assert both.max_abs_diff < 0.85 * stem_only.max_abs_diff  # 0.061 against 0.081


@pytest.mark.export
def test_dynamic_range_falls_back_to_a_float_first_layer():
    """Dynamic range quantizes each input of a hybrid kernel to int8 on the fly: M5's
    stem convolution reads the standardised waveform, whose peaks leave the quiet parts
    few levels (0.035 off on the bundled clips; one LOSO fold's model 0.054 > 0.05).
    With the stem float32 the file follows Keras about twice as closely; the fallback
    does that when the file with every layer quantized fails the tolerance."""
    model = kerasaudio.create_model("m5_fsdd_digits")
    plain = export.to_tflite(model, None, quantization="dynamic", keep_float=[])
    assert plain.passed and plain.kept_float == []
    # a tolerance just below the all-quantized file's difference forces the retry
    report = export.to_tflite(model, None, quantization="dynamic",
                              tolerance=plain.max_abs_diff * 0.95)
    assert report.passed and report.kept_float == ["add_channel", "stem_conv"]
    assert report.max_abs_diff < plain.max_abs_diff / 1.5
    assert any("dynamic file with every layer quantized" in note for note in report.notes)
    assert report.size_bytes < 1.3 * plain.size_bytes


@pytest.mark.export
def test_bilstm_int8_quantizes_around_its_lstm():
    """The trained BiLSTM's quantized LSTM is 0.2 off (refused); kept float32 by the
    fallback (fused LSTM ops by type: their tensors carry no layer name), the rest int8,
    it verifies within 0.02, at nearly the float32 size (the LSTM holds most weights)."""
    model = kerasaudio.create_model("bilstm_attention_fsdd_digits")
    report = export.to_tflite(model, None, quantization="int8")
    assert report.passed and report.kept_float == ["bilstm"]
    assert report.max_abs_diff < 0.02
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in report.float_ops
    assert "FULLY_CONNECTED" in report.ops and "QUANTIZE" in report.ops  # the rest is int8
    with pytest.raises(export.VerificationError):
        export.to_tflite(model, None, quantization="int8", keep_float=[])


def test_first_layer_after_frontend_is_a_leaf_layer():
    inp = keras.Input((8000,))
    x = layers.MelSpectrogram(sample_rate=8000, n_fft=256, n_mels=16)(inp)
    x = keras.layers.Permute((2, 1), name="swap")(x)  # no weights: kept with the head
    out = keras.layers.Dense(3, name="head")(keras.layers.GlobalAveragePooling1D(
        name="pool")(x))
    assert export.first_layers_after_frontend(keras.Model(inp, out)) == ["swap", "pool",
                                                                          "head"]
    member = keras.Model(inp, out, name="member")
    outer_in = keras.Input((8000,))
    stacked = keras.Model(outer_in, member(outer_in))
    assert export.first_layers_after_frontend(stacked) == []  # no guessing inside a member
