"""VGGVox v1 and v2: parameter counts from layer formulas, shapes, embeddings, minimum sizes."""

import keras
import numpy as np
import pytest

import kerasaudio
from kerasaudio.errors import InvalidOptionError
from kerasaudio.models.vggvox import min_input_size

RNG = np.random.default_rng(0)
SMALL_V2 = dict(stage_filters=((8, 8, 16),) * 4)  # a fast trunk for shape tests


def trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def v1_expected(classes, *, embedding_dim=1024, include_top=True, trainable_only=False):
    """Conv/Dense weights + biases; BatchNorm: gamma, beta (+ moving mean, variance)."""
    bn = 2 if trainable_only else 4
    layers = [(7 * 7 * 1, 96), (5 * 5 * 96, 256), (3 * 3 * 256, 384), (3 * 3 * 384, 256),
              (3 * 3 * 256, 256), (9 * 1 * 256, 4096), (4096, embedding_dim)]
    count = sum(fan_in * width + width + bn * width for fan_in, width in layers)
    if include_top:
        count += embedding_dim * classes + classes
    return count


def v2_expected(classes, *, filters=((48, 48, 96), (96, 96, 128), (128, 128, 256),
                                     (256, 256, 512)),
                blocks=(2, 3, 3, 3), bottleneck=512, clusters=8, ghosts=2, embedding=512,
                include_top=True, trainable_only=False):
    """Bias-free trunk convs with BN, two biased 7x1 convs, (K+G) x D centres, fc6, head."""
    bn = 2 if trainable_only else 4
    count = 7 * 7 * 1 * 64 + bn * 64
    previous = 64
    for (f1, f2, f3), n in zip(filters, blocks, strict=True):
        for b in range(n):
            count += previous * f1 + 9 * f1 * f2 + f2 * f3 + bn * (f1 + f2 + f3)
            if b == 0:
                count += previous * f3 + bn * f3  # projection shortcut
            previous = f3
    count += 7 * previous * bottleneck + bottleneck                       # x_fc
    count += 7 * previous * (clusters + ghosts) + clusters + ghosts         # assignment
    count += (clusters + ghosts) * bottleneck                               # centres
    count += clusters * bottleneck * embedding + embedding                  # fc6
    if include_top:
        count += embedding * classes                                        # no bias
    return count


@pytest.fixture(scope="module")
def v1_default():
    return kerasaudio.create_model("vggvox_v1", input_shape=(512, 300, 1), classes=1251)


@pytest.fixture(scope="module")
def v2_default():
    return kerasaudio.create_model("vggvox_v2", input_shape=(257, 250, 1), classes=5994)


def test_v1_paper_parameter_count(v1_default):
    assert v1_default.count_params() == v1_expected(1251) == 17_924_003
    assert trainable(v1_default) == v1_expected(1251, trainable_only=True) == 17_911_267
    info = kerasaudio.models.get_model_info("vggvox_v1")
    assert info.parameters == 17_924_003 and info.defaults["classes"] == 1251
    # malaya-speech's vggvox-v1 speaker vector (70.8 MB): the 1024-d fc8 verification head.
    assert round(v1_expected(1024) * 4 / 1e6, 1) == 70.8


def test_v2_paper_parameter_count(v2_default):
    assert v2_default.count_params() == v2_expected(5994) == 10_747_338
    assert trainable(v2_default) == v2_expected(5994, trainable_only=True) == 10_733_322
    info = kerasaudio.models.get_model_info("vggvox_v2")
    assert info.parameters == 10_747_338 and info.defaults["classes"] == 5994
    # malaya-speech: speaker vector 43.2 MB (5,994 speakers), gender model 31.1 MB
    # (3 classes); the float32 weights are 43.0 MB and 30.7 MB.
    assert round(v2_expected(5994) * 4 / 1e6, 1) == 43.0
    assert round(v2_expected(3) * 4 / 1e6, 1) == 30.7


def test_v1_shapes_follow_the_paper_table(v1_default):
    """VoxCeleb Table 4: 512 x 300 -> 254x148, 126x73, 62x36, 30x17, 9x8, fc6 1x8."""
    expected = {"conv1": (254, 148, 96), "mpool1": (126, 73, 96), "conv2": (62, 36, 256),
                "mpool2": (30, 17, 256), "conv5": (30, 17, 256), "mpool5": (9, 8, 256),
                "fc6": (1, 8, 4096), "apool6": (4096,), "fc7": (1024,),
                "predictions": (1251,)}
    for name, shape in expected.items():
        assert v1_default.get_layer(name).output.shape[1:] == shape, name


def test_v2_shapes(v2_default):
    """257 rows -> 128 (2x2 pool), 64, 32, 16 (stride-2 stages), 7 (3x1/2x1 pool), 1."""
    expected = {"mpool1": (128, 125, 64), "conv2_b_relu": (128, 125, 96),
                "conv3_c_relu": (64, 63, 128), "conv4_c_relu": (32, 32, 256),
                "conv5_c_relu": (16, 16, 512), "mpool2": (7, 16, 512), "x_fc": (1, 16, 512),
                "gvlad_center_assignment": (1, 16, 10), "gvlad_pool": (4096,),
                "fc6": (512,), "predictions": (5994,)}
    for name, shape in expected.items():
        assert v2_default.get_layer(name).output.shape[1:] == shape, name
    assert not v2_default.get_layer("predictions").use_bias


@pytest.mark.parametrize(("name", "kwargs", "expected"), [
    ("vggvox_v1", dict(classes=7, embedding_dim=256), v1_expected(7, embedding_dim=256)),
    ("vggvox_v1", dict(include_top=False), v1_expected(0, include_top=False)),
    ("vggvox_v2", dict(classes=3), v2_expected(3)),
    ("vggvox_v2", dict(classes=4, ghost_clusters=0, vlad_clusters=4, bottleneck_dim=64,
                       embedding_dim=32, stage_filters=((8, 8, 16), (16, 16, 32)),
                       stage_blocks=(1, 2)),
     v2_expected(4, filters=((8, 8, 16), (16, 16, 32)), blocks=(1, 2), bottleneck=64,
                 clusters=4, ghosts=0, embedding=32)),
    ("vggvox_v2", dict(include_top=False, bottleneck_dim=16, **SMALL_V2),
     v2_expected(0, include_top=False, bottleneck=16, filters=SMALL_V2["stage_filters"])),
])
def test_options_change_the_count_as_the_formula_says(name, kwargs, expected):
    model = kerasaudio.create_model(name, **kwargs)
    assert model.count_params() == expected


@pytest.mark.parametrize("frames", [65, 100, 301])
def test_v1_any_utterance_length(frames):
    model = kerasaudio.create_model("vggvox_v1", classes=3, embedding_dim=64)
    assert model.inputs[0].shape[1:] == (512, None, 1)
    x = RNG.normal(size=(2, 512, frames, 1)).astype("float32")
    y = keras.ops.convert_to_numpy(model(x))
    assert y.shape == (2, 3)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("frames", [2, 37, 250])
def test_v2_any_utterance_length(frames):
    model = kerasaudio.create_model("vggvox_v2", classes=3, bottleneck_dim=32,
                                    embedding_dim=16, **SMALL_V2)
    x = RNG.normal(size=(2, 257, frames, 1)).astype("float32")
    y = keras.ops.convert_to_numpy(model(x))
    assert y.shape == (2, 3)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(("name", "kwargs", "dim"), [
    ("vggvox_v1", dict(pooling=None), 1024),
    ("vggvox_v1", dict(embedding_dim=128, pooling="max", normalize_embedding=True), 128),
    ("vggvox_v2", dict(pooling=None, **SMALL_V2), 512),
    ("vggvox_v2", dict(pooling="avg", normalize_embedding=True, **SMALL_V2), 512),
    ("vggvox_v2", dict(embedding_dim=64, pooling="max", **SMALL_V2), 64),
])
def test_headless_embeddings(name, kwargs, dim):
    """include_top=False: the (already pooled) embedding, whatever `pooling` says."""
    model = kerasaudio.create_model(name, include_top=False, **kwargs)
    rows = 512 if name == "vggvox_v1" else 257
    x = RNG.normal(size=(2, rows, 80, 1)).astype("float32")
    y = keras.ops.convert_to_numpy(model(x))
    assert y.shape == (2, dim)
    assert (y >= 0).all()  # ReLU embedding
    if kwargs.get("normalize_embedding"):
        np.testing.assert_allclose(np.linalg.norm(y, axis=1), 1.0, atol=1e-5)
        assert model.layers[-1].name == "norm"


def test_normalized_embedding_feeds_the_classifier():
    model = kerasaudio.create_model("vggvox_v2", classes=3, normalize_embedding=True,
                                    **SMALL_V2)
    assert model.get_layer("predictions").input.shape[1:] == (512,)
    assert model.layers[-2].name == "norm"


def test_v2_netvlad_variant():
    model = kerasaudio.create_model("vggvox_v2", classes=2, ghost_clusters=0, bottleneck_dim=32,
                                    **SMALL_V2)
    vlad = model.get_layer("vlad_pool")
    assert vlad.ghost_clusters == 0 and vlad.centers.shape == (8, 32)
    assert model.get_layer("vlad_center_assignment").filters == 8


@pytest.mark.parametrize(("name", "steps", "least"), [
    ("vggvox_v1", [(7, 2, 1), (3, 2, 0), (5, 2, 1), (3, 2, 0), (5, 3, 0), (9, 1, 0)], 481),
    ("vggvox_v1", [(7, 2, 1), (3, 2, 0), (5, 2, 1), (3, 2, 0), (3, 2, 0)], 65),
    ("vggvox_v2", [(2, 2, 0), (1, 2, 0), (1, 2, 0), (1, 2, 0), (3, 2, 0), (7, 1, 0)], 226),
])
def test_min_input_size_inverts_the_output_size_formula(name, steps, least):
    def forward(n):
        for kernel, stride, pad in steps:
            n = (n + 2 * pad - kernel) // stride + 1
        return n

    assert min_input_size(steps) == least
    assert forward(least) == 1 and forward(least - 1) < 1


@pytest.mark.parametrize(("name", "ok", "short", "match"), [
    ("vggvox_v1", (481, 65, 1), (480, 65, 1), "axis 0 has 480 steps.*at least 481"),
    ("vggvox_v1", (481, 65, 1), (512, 64, 1), "axis 1 has 64 steps.*at least 65"),
    ("vggvox_v2", (226, 2, 1), (225, 100, 1), "axis 0 has 225 steps.*at least 226"),
    ("vggvox_v2", (226, 2, 1), (257, 1, 1), "axis 1 has 1 steps.*at least 2"),
])
def test_minimum_input(name, ok, short, match):
    small = SMALL_V2 if name == "vggvox_v2" else {}
    model = kerasaudio.create_model(name, input_shape=ok, classes=2, **small)
    assert model(np.zeros((1, *ok), "float32")).shape == (1, 2)
    with pytest.raises(InvalidOptionError, match=f"too short.*{match}"):
        kerasaudio.create_model(name, input_shape=short, classes=2, **small)


def test_v2_fewer_stages_need_fewer_rows():
    small = dict(stage_filters=((8, 8, 16), (16, 16, 32)), stage_blocks=(1, 1), classes=2)
    kerasaudio.create_model("vggvox_v2", input_shape=(58, 4, 1), **small)
    with pytest.raises(InvalidOptionError, match="at least 58"):
        kerasaudio.create_model("vggvox_v2", input_shape=(57, 4, 1), **small)


def test_v1_default_frontend_three_seconds():
    model = kerasaudio.create_model("vggvox_v1", frontend="default", input_shape=(48000,),
                                    classes=3, embedding_dim=32)
    features = keras.Model(model.inputs[0], model.get_layer("add_channel").output)
    assert features.output.shape[1:] == (512, 301, 1)
    audio = RNG.normal(size=(2, 48000)).astype("float32")
    spec = keras.ops.convert_to_numpy(features(audio))[..., 0]
    # Every frequency bin standardised over time (the paper's normalisation).
    np.testing.assert_allclose(spec.mean(axis=2), 0.0, atol=1e-4)
    np.testing.assert_allclose(spec.std(axis=2), 1.0, atol=1e-3)
    stft = next(layer for layer in model.layers if isinstance(layer, kerasaudio.layers.STFT))
    assert (stft.n_fft, stft.win_length, stft.hop_length, stft.window, stft.mode) == (
        1024, 400, 160, "hamming", "magnitude")
    assert model(audio).shape == (2, 3)


def test_v2_default_frontend_frames_standardised():
    model = kerasaudio.create_model("vggvox_v2", frontend="default", input_shape=(40000,),
                                    classes=3, **SMALL_V2)
    features = keras.Model(model.inputs[0], model.get_layer("add_channel").output)
    assert features.output.shape[1:] == (257, 251, 1)
    audio = RNG.normal(size=(2, 40000)).astype("float32")
    spec = keras.ops.convert_to_numpy(features(audio))[..., 0]
    # Every frame standardised over its 257 bins (the authors' load_data).
    np.testing.assert_allclose(spec.mean(axis=1), 0.0, atol=1e-4)
    np.testing.assert_allclose(spec.std(axis=1), 1.0, atol=1e-3)
    assert model(audio).shape == (2, 3)


def test_too_short_audio_with_default_frontend():
    with pytest.raises(InvalidOptionError, match=r"too short.*axis 1 has 61 steps"):
        kerasaudio.create_model("vggvox_v1", frontend="default", input_shape=(9600,))


@pytest.mark.parametrize(("name", "kwargs", "match"), [
    ("vggvox_v1", {"embedding_dim": 0}, "embedding_dim"),
    ("vggvox_v2", {"embedding_dim": 1.5}, "embedding_dim"),
    ("vggvox_v2", {"vlad_clusters": 0}, "vlad_clusters"),
    ("vggvox_v2", {"ghost_clusters": -1}, "ghost_clusters"),
    ("vggvox_v2", {"stage_blocks": (2, 3)}, "stage_filters"),
    ("vggvox_v2", {"stage_filters": ((8, 8),) * 4}, "stage_filters"),
])
def test_bad_family_options(name, kwargs, match):
    with pytest.raises(InvalidOptionError, match=match):
        kerasaudio.create_model(name, **kwargs)
