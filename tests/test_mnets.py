"""The M-nets: exact parameter counts, shapes, options, and a NumPy forward pass."""

import keras
import numpy as np
import pytest
from harness import real_audio, run_export_test, run_model_test

import kerasaudio
from kerasaudio.errors import InvalidOptionError
from kerasaudio.models.mnets import minimum_samples


def trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def conv(kernel, c_in, c_out):
    """Conv1D with bias, then BatchNorm (gamma, beta): trainable parameters."""
    return kernel * c_in * c_out + c_out + 2 * c_out


def expected_trainable(widths, depths, classes, *, residual=False, shortcut="repeat"):
    """Count from the layer formulas: stem conv 80, kernel-3 convs, shortcuts, Dense."""
    count, previous = conv(80, 1, widths[0]), widths[0]
    for width, depth in zip(widths[1:], depths, strict=True):
        for _ in range(depth):
            if residual:
                if previous != width and shortcut == "projection":
                    count += conv(1, previous, width)
                count += conv(3, previous, width) + conv(3, width, width)
            else:
                count += conv(3, previous, width)
            previous = width
    return count + previous * classes + classes


PAPER = {  # name: (widths, convs or blocks per stage, residual, Table 1's count in millions)
    "m3": ((256, 256), (1,), False, 0.2),
    "m5": ((128, 128, 256, 512), (1, 1, 1), False, 0.5),
    "m11": ((64, 64, 128, 256, 512), (2, 2, 3, 2), False, 1.8),
    "m18": ((64, 64, 128, 256, 512), (4, 4, 4, 4), False, 3.7),
    "m34_res": ((48, 48, 96, 192, 384), (3, 4, 6, 3), True, 4.0),
}
# Hand-computed trainable counts (10 classes), written out so a formula slip shows too.
PAPER_TRAINABLE = {"m3": 221_194, "m5": 559_114, "m11": 1_786_442, "m18": 3_683_786,
                   "m34_res": 3_978_490}


@pytest.mark.jax
def test_torchaudio_tutorial_m5_has_25290_trainable_parameters():
    model = kerasaudio.create_model("m5", input_shape=(8000, 1), classes=10, n_channel=32)
    assert trainable(model) == 25_290
    # 80*32+32 + 3*32*32+32 + 3*32*64+64 + 3*64*64+64 convs, 2 per BN channel, 64*10+10.
    assert expected_trainable((32, 32, 64, 64), (1, 1, 1), 10) == 25_290
    assert model.count_params() - trainable(model) == 2 * (32 + 32 + 64 + 64)
    stem = model.get_layer("stem_conv")
    assert (stem.kernel_size, stem.strides, stem.padding) == ((80,), (16,), "valid")
    bn = model.get_layer("stem_bn")  # PyTorch's BatchNorm1d defaults
    assert (bn.momentum, bn.epsilon) == (0.9, 1e-5)
    assert model.get_layer("stage3_pool").output.shape[1:] == (1, 64)


@pytest.mark.parametrize("name", list(PAPER))
def test_paper_configurations_match_the_layer_formulas(name):
    widths, depths, residual, millions = PAPER[name]
    model = run_model_test(name, init_kwargs=dict(input_shape=(None, 1), classes=10),
                           registry_parameters=True, saving=False)
    expected = expected_trainable(widths, depths, 10, residual=residual)
    assert expected == PAPER_TRAINABLE[name]
    assert trainable(model) == expected
    assert abs(expected / 1e6 - millions) < 0.1  # Table 1: 0.2M, 0.5M, 1.8M, 3.7M, 4M
    bn_channels = widths[0] + sum(w * d * (2 if residual else 1)
                                  for w, d in zip(widths[1:], depths, strict=True))
    assert model.count_params() == expected + 2 * bn_channels


@pytest.mark.parametrize(("name", "weight_layers", "pools"),
                         [("m3", 3, 2), ("m5", 5, 4), ("m11", 11, 4), ("m18", 18, 4),
                          ("m34_res", 34, 4)])
def test_weight_layers_and_pools_as_named(name, weight_layers, pools):
    model = kerasaudio.create_model(name, input_shape=(None, 1))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv1D") + kinds.count("Dense") == weight_layers
    assert kinds.count("MaxPooling1D") == pools
    # Every convolution is followed by batch norm (kerasaudio's fused-kernel subclass).
    assert kinds.count("BatchNormalization") == kinds.count("Conv1D")


@pytest.mark.parametrize(("name", "options", "steps", "width"), [
    ("m3", {}, 500, 256),                        # 32000 -> 8000 -> 2000 -> 500
    ("m5", {}, 31, 512),                         # ... -> 125 -> 31 (floor pooling)
    ("m11", {}, 31, 512),                        # no pool after the fourth stage
    ("m34_res", {}, 31, 384),
    ("m5", {"n_channel": 32}, 7, 64),            # 1996, 499, 497, 124, 122, 30, 28, 7
    ("m5", {"n_channel": 32, "stride": 4}, 30, 64),
    ("m5", {"n_channel": 32, "padding": "same"}, 7, 64),
    ("m5", {"channels": (8, 8, 16, 24)}, 31, 24),
    ("m11", {"padding": "valid"}, 25, 512),
])
def test_headless_output_shapes(name, options, steps, width):
    model = kerasaudio.create_model(name, include_top=False, input_shape=(32000, 1),
                                    **options)
    assert model.output.shape[1:] == (steps, width)
    pooled = kerasaudio.create_model(name, include_top=False, pooling="max",
                                     input_shape=(32000, 1), **options)
    assert pooled.output.shape[1:] == (width,)


@pytest.mark.parametrize(("name", "options", "least"), [
    ("m3", {}, 61),
    ("m5", {}, 1021),
    ("m5", {"n_channel": 32}, 6848),
    ("m5", {"n_channel": 32, "stride": 4}, 1772),
    ("m11", {"padding": "valid", "stride": 2}, 3566),
    ("m34_res", {}, 1021),
])
def test_minimum_samples_is_the_exact_threshold(name, options, least):
    assert minimum_samples(name, **options, classes=3) == least
    model = kerasaudio.create_model(name, include_top=False, input_shape=(least, 1),
                                    **options)
    assert model.output.shape[1] == 1
    with pytest.raises(InvalidOptionError, match=f"too short.*at least {least}"):
        kerasaudio.create_model(name, input_shape=(least - 1, 1), **options)


def test_minimum_samples_rejects_other_models_and_unknown_options():
    with pytest.raises(InvalidOptionError, match="not an M-net"):
        minimum_samples("complex_cnn")
    with pytest.raises(InvalidOptionError, match="n_channels"):
        minimum_samples("m5", n_channels=32)
    with pytest.raises(InvalidOptionError, match="not both"):
        minimum_samples("m5", n_channel=32, channels=(32, 32, 64, 64))


def test_n_channel_equals_the_tutorial_widths_stride_and_padding():
    explicit = kerasaudio.create_model("m5", input_shape=(8000, 1), channels=(32, 32, 64, 64),
                                       stride=16, padding="valid")
    tutorial = kerasaudio.create_model("m5", input_shape=(8000, 1), n_channel=32)
    assert [w.shape for w in explicit.weights] == [w.shape for w in tutorial.weights]
    assert explicit.get_layer("stem_conv").output.shape == (None, 496, 32)
    assert tutorial.get_layer("stem_conv").output.shape == (None, 496, 32)
    paper_stride = kerasaudio.create_model("m5", input_shape=(8000, 1), n_channel=32, stride=4)
    assert paper_stride.get_layer("stem_conv").output.shape == (None, 1981, 32)
    assert trainable(paper_stride) == 25_290


@pytest.mark.parametrize(("name", "options", "match"), [
    ("m5", {"n_channel": 32, "channels": (32, 32, 64, 64)}, "not both"),
    ("m5", {"n_channel": 0}, "n_channel=0"),
    ("m5", {"n_channel": 2.5}, "n_channel=2.5"),
    ("m5", {"n_channel": True}, "n_channel=True"),
    ("m5", {"channels": (32, 32, 64)}, "must list 4 widths"),
    ("m11", {"channels": "64"}, "sequence of 5"),
    ("m18", {"channels": (64, 64, 128, -1, 512)}, r"channels\[3\]=-1"),
    ("m3", {"stride": 0}, "stride=0"),
    ("m3", {"padding": "causal"}, "padding='causal'"),
    ("m34_res", {"shortcut": "zeros"}, "shortcut='zeros'"),
    ("m34_res", {"channels": (48, 48, 72, 144, 288)}, "multiple of"),
    ("m3", {"n_channel": 32}, "no option"),        # the tutorial option is M5's only
    ("m34_res", {"padding": "valid"}, "no option"),  # residual convs are always "same"
])
def test_bad_family_options_fail_clearly(name, options, match):
    with pytest.raises(InvalidOptionError, match=match):
        kerasaudio.create_model(name, input_shape=(8000, 1), **options)


def test_residual_block_structure():
    model = kerasaudio.create_model("m34_res", input_shape=(None, 1))
    adds = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Add)]
    assert len(adds) == 3 + 4 + 6 + 3
    repeats = [layer.name for layer in model.layers
               if isinstance(layer, keras.layers.Concatenate)]
    assert repeats == [f"stage{s}_block1_shortcut_repeat" for s in (2, 3, 4)]
    block = model.get_layer("stage2_block1_add")
    assert [t.shape for t in block.input] == [(None, None, 96)] * 2
    projected = kerasaudio.create_model("m34_res", input_shape=(None, 1), shortcut="projection")
    names = {layer.name for layer in projected.layers}
    assert {f"stage{s}_block1_shortcut_conv" for s in (2, 3, 4)} <= names
    assert not any("repeat" in n for n in names)
    assert trainable(projected) == expected_trainable(*PAPER["m34_res"][:2], 10, residual=True,
                                                      shortcut="projection")
    assert trainable(projected) - trainable(model) == 98_784


def test_repeat_shortcut_from_the_first_stage():
    model = kerasaudio.create_model("m34_res", input_shape=(None, 1),
                                    channels=(8, 16, 32, 64, 64))
    assert model.get_layer("stage1_block1_shortcut_repeat").output.shape[-1] == 16
    assert trainable(model) == expected_trainable((8, 16, 32, 64, 64), (3, 4, 6, 3), 10,
                                                  residual=True)


# --------------------------------------------------------------- NumPy forward passes


def np_conv(x, layer, padding):
    """Conv1D of (batch, steps, channels) with the layer's weights, in NumPy (float64)."""
    kernel, bias = (np.asarray(w, np.float64) for w in layer.get_weights())
    k, stride = kernel.shape[0], layer.strides[0]
    if padding == "same":  # TensorFlow's: total padding split with the extra on the right
        out = -(-x.shape[1] // stride)
        total = max((out - 1) * stride + k - x.shape[1], 0)
        x = np.pad(x, ((0, 0), (total // 2, total - total // 2), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, k, axis=1)[:, ::stride]
    return np.einsum("btck,kco->bto", windows, kernel) + bias


def np_bn(x, layer):
    gamma, beta, mean, var = (np.asarray(w, np.float64) for w in layer.get_weights())
    return gamma * (x - mean) / np.sqrt(var + layer.epsilon) + beta


def np_pool(x):
    steps = x.shape[1] // 4
    return x[:, :4 * steps].reshape(x.shape[0], steps, 4, -1).max(axis=2)


def randomize_batchnorm(model, rng):
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.1, c),
                               rng.normal(0, 0.1, c), rng.uniform(0.5, 2.0, c)])


@pytest.mark.jax
def test_tutorial_m5_forward_matches_numpy():
    rng = np.random.default_rng(0)
    model = kerasaudio.create_model("m5", input_shape=(8000, 1), classes=10, n_channel=32)
    randomize_batchnorm(model, rng)
    audio = rng.normal(0, 0.3, (2, 8000, 1)).astype("float32")
    x = audio.astype(np.float64)
    for prefix in ("stem", "stage1", "stage2", "stage3"):
        index = "" if prefix == "stem" else "1"
        x = np_conv(x, model.get_layer(f"{prefix}_conv{index}"), "valid")
        x = np_pool(np.maximum(np_bn(x, model.get_layer(f"{prefix}_bn{index}")), 0))
    dense_w, dense_b = model.get_layer("predictions").get_weights()
    logits = x.mean(axis=1) @ dense_w + dense_b
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    got = keras.ops.convert_to_numpy(model(audio))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.jax
def test_residual_block_forward_matches_numpy():
    """stage2_block1 of a small M34-res: relu(bn(conv(relu(bn(conv(x))))) + [x, x])."""
    rng = np.random.default_rng(1)
    model = kerasaudio.create_model("m34_res", include_top=False, input_shape=(2048, 1),
                                    channels=(4, 4, 8, 8, 16))
    randomize_batchnorm(model, rng)
    block_in = model.get_layer("stage1_pool").output
    block_out = model.get_layer("stage2_block1_relu2").output
    probe = keras.Model(model.inputs[0], [block_in, block_out])
    x, y = (keras.ops.convert_to_numpy(t) for t in probe(rng.normal(size=(2, 2048, 1))))
    h = np.maximum(np_bn(np_conv(x, model.get_layer("stage2_block1_conv1"), "same"),
                         model.get_layer("stage2_block1_bn1")), 0)
    h = np_bn(np_conv(h, model.get_layer("stage2_block1_conv2"), "same"),
              model.get_layer("stage2_block1_bn2"))
    expected = np.maximum(h + np.concatenate([x, x], axis=-1), 0)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.jax
def test_default_frontend_is_the_waveform_with_a_channel_axis():
    raw = kerasaudio.create_model("m5", frontend="default", input_shape=(8000,), n_channel=32)
    plain = kerasaudio.create_model("m5", input_shape=(8000, 1), n_channel=32)
    assert [type(layer).__name__ for layer in raw.layers[:3]] == ["InputLayer", "Reshape",
                                                                   "Conv1D"]
    plain.set_weights(raw.get_weights())
    audio = np.random.default_rng(2).normal(size=(2, 8000)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(raw(audio)),
                                  keras.ops.convert_to_numpy(plain(audio[..., None])))
    anywhere = kerasaudio.create_model("m5", frontend="default", n_channel=32)
    assert anywhere.inputs[0].shape == (None, None)
    with pytest.raises(InvalidOptionError, match="at least 6848"):
        kerasaudio.create_model("m5", frontend="default", input_shape=(4000,), n_channel=32)


@pytest.mark.jax
@pytest.mark.parametrize("samples", [1021, 1023, 1024])
def test_same_padded_strided_stem_matches_numpy(samples):
    model = kerasaudio.create_model("m3", include_top=False, input_shape=(samples, 1),
                                    channels=(8, 8))
    stem = model.get_layer("stem_conv")
    probe = keras.Model(model.inputs[0], stem.output)
    audio = np.random.default_rng(3).normal(size=(2, samples, 1)).astype("float32")
    expected = np_conv(audio.astype(np.float64), stem, "same")
    assert expected.shape[1] == -(-samples // 4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(probe(audio)), expected,
                               rtol=1e-4, atol=1e-5)


def test_tutorial_m5_on_raw_audio_converts_to_builtin_tflite():
    """Also: the .keras round trip in safe mode gives the same probabilities."""
    run_model_test("m5", init_kwargs=dict(frontend="default", input_shape=(8000,),
                                          n_channel=32),
                   input_data=real_audio(2, 8000), expected_output_shape=(2, 10),
                   tflite=True, tflite_atol=1e-5)


@pytest.mark.export
@pytest.mark.parametrize("quantization", [None, "int8"])
def test_tutorial_m5_exports_verified_in_litert(quantization):
    """to_tflite on real clips: float32 within 1e-4 of Keras, int8 within 0.1."""
    keras.utils.set_random_seed(5)
    model = kerasaudio.create_model("m5", frontend="default", input_shape=(8000,),
                                    n_channel=32)
    report = run_export_test(model, real_audio(8, 8000), quantization=quantization)
    assert report.quantization == quantization and report.clips == 8
