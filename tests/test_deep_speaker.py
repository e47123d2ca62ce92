"""Deep Speaker (ResCNN): parameter counts, structure, embedding, front end, PreEmphasis."""

import keras
import librosa
import numpy as np
import pytest
from harness import real_audio, run_layer_test, run_model_test

import kerasaudio
from kerasaudio.errors import InvalidOptionError
from kerasaudio.models.deep_speaker import PreEmphasis, default_frontend, embedding_model

SMALL = dict(filters=(8, 16, 32, 64), embedding_dim=32)


def trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def expected_trainable(filters=(64, 128, 256, 512), bands=64, blocks=3, embedding=512,
                       head=None):
    """Conv 5x5 s2 + BN per stage, `blocks` x 2 (conv 3x3 + BN), affine; optional head."""
    count, previous = 0, 1
    for width in filters:
        count += 25 * previous * width + width + 2 * width
        count += blocks * 2 * (9 * width * width + width + 2 * width)
        previous = width
    rows = -(-bands // 2 ** len(filters))
    count += rows * filters[-1] * embedding + embedding
    if head is not None:  # Dense(classes)
        count += embedding * head + head
    return count


def features(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_default_parameter_count():
    """(160, 64, 1) -> 512-d embedding: 24,185,728 parameters = malaya's 96.7 MB float."""
    model = run_model_test("deep_speaker",
                           init_kwargs=dict(include_top=False, input_shape=(160, 64, 1)),
                           expected_parameters=24_185_728, registry_parameters=True,
                           saving=False)
    assert expected_trainable() == trainable(model) == 24_172_288
    # BatchNorm moving mean and variance: 7 BN layers per stage.
    assert model.count_params() - trainable(model) == 2 * 7 * (64 + 128 + 256 + 512)
    assert model.count_params() * 4 / 1e6 == pytest.approx(96.7, abs=0.05)


def test_count_independent_of_frames_and_layer_layout():
    model = kerasaudio.create_model("deep_speaker", include_top=False, input_shape=(None, 64, 1))
    assert model.count_params() == 24_185_728
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 4 * (1 + 3 * 2)
    assert [c.kernel_size for c in convs[:2]] == [(5, 5), (3, 3)]
    assert [c.strides for c in convs if c.kernel_size == (5, 5)] == [(2, 2)] * 4
    assert {round(float(c.kernel_regularizer.l2), 8) for c in convs} == {1e-4}
    relus = [layer for layer in model.layers if isinstance(layer, keras.layers.ReLU)]
    assert {r.max_value for r in relus} == {20.0}
    assert len(relus) == 4 * (1 + 3 * 3)
    assert model.get_layer("reshape").output.shape[1:] == (None, 2048)


@pytest.mark.parametrize(("options", "bands", "classes"), [
    ({}, 64, 3),
    (dict(filters=(16, 32, 64, 128), embedding_dim=128), 64, 6),
    (dict(filters=(8, 16, 32), blocks=1, embedding_dim=16), 40, 2),
])
def test_head_and_options_follow_the_formula(options, bands, classes):
    model = kerasaudio.create_model("deep_speaker", input_shape=(None, bands, 1),
                                    classes=classes, **options)
    opts = {"filters": options.get("filters", (64, 128, 256, 512)),
            "blocks": options.get("blocks", 3), "embedding": options.get("embedding_dim", 512)}
    assert trainable(model) == expected_trainable(bands=bands, head=classes, **opts)
    normed = kerasaudio.create_model("deep_speaker", input_shape=(None, bands, 1),
                                     classes=classes, top_batchnorm=True, **options)
    assert trainable(normed) - trainable(model) == 2 * opts["embedding"]  # gamma, beta


@pytest.mark.jax
def test_embedding_is_the_normalised_time_average_through_affine():
    model = kerasaudio.create_model("deep_speaker", include_top=False,
                                    input_shape=(48, 64, 1), **SMALL)
    x = features((3, 48, 64, 1))
    frames = keras.Model(model.input, model.get_layer("reshape").output)
    frame_map = keras.ops.convert_to_numpy(frames(x)).astype(np.float64)
    assert frame_map.shape == (3, 3, 4 * 64)  # 48 / 16 frames, 64 / 16 bands x 64 channels
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in model.get_layer("affine").weights)
    affine = frame_map.mean(axis=1) @ kernel + bias
    expected = affine / np.linalg.norm(affine, axis=1, keepdims=True)
    got = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)


@pytest.mark.jax
def test_identity_block_is_clipped_residual():
    model = kerasaudio.create_model("deep_speaker", include_top=False,
                                    input_shape=(32, 64, 1), **SMALL)
    block_in = model.get_layer("clipped_relu_0").output  # stage 1 conv output
    bn_2b = model.get_layer("res1_0_2b_bn").output
    block_out = model.get_layer("clipped_relu_3").output
    probe = keras.Model(model.input, [block_in, bn_2b, block_out])
    x = features((2, 32, 64, 1)) * 30.0  # large inputs, so the clip at 20 bites
    a, b, out = (keras.ops.convert_to_numpy(t) for t in probe(x))
    np.testing.assert_allclose(out, np.clip(np.clip(b, 0, 20) + a, 0, 20), atol=1e-5)
    assert out.max() == pytest.approx(20.0)


def test_embedding_model_shares_weights_with_the_softmax_model():
    model = kerasaudio.create_model("deep_speaker", input_shape=(32, 64, 1), classes=4, **SMALL)
    embed = embedding_model(model)
    assert embed.count_params() == model.count_params() - (32 * 4 + 4)
    x = features((2, 32, 64, 1))
    affine = keras.Model(model.input, model.get_layer("affine").output)
    a = keras.ops.convert_to_numpy(affine(x))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(embed(x)),
                               a / np.linalg.norm(a, axis=1, keepdims=True), atol=1e-6)
    # The headless model with the same weights (by layer name) gives the same embedding.
    headless = kerasaudio.create_model("deep_speaker", include_top=False,
                                       input_shape=(32, 64, 1), **SMALL)
    for layer in headless.layers:
        if layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(headless(x)),
                               keras.ops.convert_to_numpy(embed(x)), atol=1e-6)
    with pytest.raises(InvalidOptionError, match="affine"):
        embedding_model(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))


def test_max_pooling_over_time():
    model = kerasaudio.create_model("deep_speaker", include_top=False, pooling="max",
                                    input_shape=(32, 64, 1), **SMALL)
    assert model.get_layer("max") is not None
    assert model(features((2, 32, 64, 1))).shape == (2, 32)


def numpy_fbank(audio, sample_rate, log=False):
    """The reference's python_speech_features fbank with librosa's HTK triangles."""
    win, hop = round(0.025 * sample_rate), round(0.010 * sample_rate)
    x = np.append(audio[0], audio[1:] - 0.97 * audio[:-1]).astype(np.float64)
    n = 1 + (len(x) - 512) // hop
    frames = np.stack([x[i * hop: i * hop + win] for i in range(n)])
    power = np.abs(np.fft.rfft(frames, 512)) ** 2
    mel = librosa.filters.mel(sr=sample_rate, n_fft=512, n_mels=64, htk=True, norm=None)
    energies = power @ mel.T
    if log:
        energies = 10 * np.log10(np.maximum(energies, 1e-10))
        energies = np.maximum(energies, energies.max() - 80.0)
    return ((energies - energies.mean(1, keepdims=True))
            / np.maximum(energies.std(1, keepdims=True), 1e-12))


@pytest.mark.parametrize(("sample_rate", "log"), [(16000, False), (8000, False), (8000, True)])
def test_default_frontend_matches_numpy(clip, sample_rate, log):
    audio = librosa.resample(clip, orig_sr=8000, target_sr=sample_rate) if sample_rate != 8000 \
        else clip
    x = audio[None, :].astype("float32")
    for layer in default_frontend(sample_rate, log=log):
        x = layer(x)
    got = keras.ops.convert_to_numpy(x)[0]
    expected = numpy_fbank(audio, sample_rate, log=log)
    assert got.shape == expected.shape == (1 + (len(audio) - 512) // (sample_rate // 100), 64)
    np.testing.assert_allclose(got, expected, atol=2e-3)
    np.testing.assert_allclose(got.mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(got.std(axis=1), 1.0, atol=1e-4)


@pytest.mark.jax
def test_preemphasis_layer():
    x = real_audio(2, 800)
    y = run_layer_test(PreEmphasis, init_kwargs={"coefficient": 0.9}, input_data=x,
                       expected_output_shape=x.shape)
    np.testing.assert_allclose(y[:, 0], x[:, 0])
    np.testing.assert_allclose(y[:, 1:], x[:, 1:] - 0.9 * x[:, :-1], atol=1e-6)
    layer = PreEmphasis.from_config(PreEmphasis(coefficient=0.5).get_config())
    assert layer.coefficient == 0.5
    with pytest.raises(InvalidOptionError, match="below 1"):
        PreEmphasis(coefficient=1.0)


def test_raw_audio_model_saves_and_converts_to_builtins(clip):
    audio = np.resize(clip, 8000)[None, :].astype("float32")
    # .keras round trip in safe mode (same output within 1e-6), builtin-only TFLite within
    # 1e-4 of Keras.
    model = run_model_test("deep_speaker",
                           init_kwargs=dict(include_top=False, frontend=default_frontend(8000),
                                            input_shape=(8000,), **SMALL),
                           input_data=audio, expected_output_shape=(1, 32), atol=1e-6,
                           tflite=True, tflite_atol=1e-4)
    assert model.get_layer("add_channel").output.shape[1:] == (94, 64, 1)


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(filters=()), "filters"),
    (dict(filters=(8, 0)), "filters"),
    (dict(input_shape=(None, None, 1)), "band axis"),
    (dict(input_shape=(100, 8, 1)), "too short"),
    (dict(dropout=1.0), "dropout"),
    (dict(embedding_dim=0), "embedding_dim"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(InvalidOptionError, match=match):
        kerasaudio.create_model("deep_speaker", **{"input_shape": (100, 64, 1), **kwargs})
