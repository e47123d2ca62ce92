"""kerasaudio.embeddings.extract: every embedding model, padding invariance, resampling."""

import keras
import numpy as np
import pytest

import kerasaudio
from kerasaudio import embeddings
from kerasaudio.audio_io import resample
from kerasaudio.errors import InvalidAudioError, InvalidOptionError
from kerasaudio.models.deep_speaker import embedding_model
from kerasaudio.models.wav2vec2 import frame_lengths

W2V_SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=48, conv_dim=(16,) * 7, num_conv_pos_embeddings=16,
                 num_conv_pos_embedding_groups=4)
TOLERANCE = 1e-4


def _wav2vec2(name, **kwargs):
    keras.utils.set_random_seed(0)
    return kerasaudio.create_model(name, **W2V_SMALL, **kwargs)


SPEAKERS = {
    "vggvox_v1": lambda: kerasaudio.create_model("vggvox_v1", include_top=False,
                                                 frontend="default", embedding_dim=64),
    "vggvox_v2": lambda: kerasaudio.create_model(
        "vggvox_v2", include_top=False, frontend="default", bottleneck_dim=32,
        embedding_dim=32, stage_filters=((8, 8, 16),) * 4, stage_blocks=(1, 1, 1, 1)),
    "deep_speaker": lambda: kerasaudio.create_model(
        "deep_speaker", include_top=False, frontend="default", filters=(8, 16, 32, 64),
        blocks=1, embedding_dim=32),
}


@pytest.fixture(scope="module")
def speech(clips):
    """Real FSDD clips resampled to 16 kHz: 1 s and 0.7 s (VGGVox v1's minimum is 0.65 s;
    a shorter recording is repeated)."""
    long, short = (resample(c, sample_rate=8000, target_sample_rate=16000).astype("float32")
                   for c in clips[:2])
    return np.resize(long, 16000), np.resize(short, 11000)


@pytest.mark.jax
@pytest.mark.parametrize("name", ["wav2vec2_base", "wav2vec2_large_lv60"])
def test_wav2vec2_padding_never_changes_an_embedding(name, speech):
    model = _wav2vec2(name)
    long, short = speech
    states = model.encoder(short[None])[0]  # the plain model on the clip alone
    for layer in (-1, 1):
        frames = keras.ops.convert_to_numpy(states[layer])[0]
        for pooling in ("mean", "max", None):
            alone = embeddings.extract(model, short, pooling=pooling, layer=layer)
            batched = embeddings.extract(model, [long, short], pooling=pooling, layer=layer)
            assert np.abs(batched[1] - alone).max() <= TOLERANCE, (layer, pooling)
            expected = {"mean": frames.mean(0), "max": frames.max(0), None: frames}[pooling]
            assert np.asarray(alone).shape == expected.shape
            assert np.abs(alone - expected).max() <= TOLERANCE, (layer, pooling)
            if pooling is not None:
                assert batched.shape == (2, W2V_SMALL["hidden_size"])
            else:
                assert [b.shape[0] for b in batched] == list(
                    frame_lengths(np.array([16000, 11000])))


def test_wav2vec2_head_model_uses_its_encoder(speech):
    headless = _wav2vec2("wav2vec2_base")
    classifier = _wav2vec2("wav2vec2_base", include_top=True, classes=3)
    classifier.encoder.set_weights(headless.encoder.get_weights())
    np.testing.assert_allclose(embeddings.extract(classifier, speech[1]),
                               embeddings.extract(headless, speech[1]), atol=1e-6)


@pytest.mark.parametrize("name", sorted(SPEAKERS))
def test_speaker_models_are_batch_invariant(name, speech):
    keras.utils.set_random_seed(0)
    model = SPEAKERS[name]()
    long, short = speech
    alone = embeddings.extract(model, short)
    batched = embeddings.extract(model, [long, short, long])
    assert batched.shape == (3, model.outputs[0].shape[-1])
    assert np.abs(batched[1] - alone).max() <= TOLERANCE
    np.testing.assert_allclose(batched[0], batched[2], atol=TOLERANCE)
    direct = keras.ops.convert_to_numpy(model(short[None]))[0]
    assert np.abs(alone - direct).max() <= TOLERANCE
    assert np.abs(batched[0] - batched[1]).max() > 1e-3  # different clips, different vectors
    with pytest.raises(InvalidOptionError, match="inside the network"):
        embeddings.extract(model, short, pooling=None)


@pytest.mark.parametrize("name", ["vggvox_v2", "deep_speaker"])
def test_classifier_gives_its_penultimate_embedding(name, speech):
    keras.utils.set_random_seed(0)
    options = {"vggvox_v2": dict(bottleneck_dim=32, embedding_dim=24,
                                 stage_filters=((8, 8, 16),) * 4, stage_blocks=(1,) * 4),
               "deep_speaker": dict(filters=(8, 16, 32, 64), blocks=1, embedding_dim=24)}
    model = kerasaudio.create_model(name, frontend="default", classes=4, **options[name])
    got = embeddings.extract(model, list(speech))
    if name == "deep_speaker":  # the reference embedding: L2-normalised affine output
        expected = embedding_model(model).predict_on_batch(speech[1][None])[0]
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)
    else:
        inner = keras.Model(model.inputs, model.get_layer("fc6").output)
        expected = inner.predict_on_batch(speech[1][None])[0]
    assert got.shape == (2, 24)
    assert np.abs(got[1] - expected).max() <= TOLERANCE


def test_fixed_length_models_crop_or_pad_each_clip(speech):
    keras.utils.set_random_seed(0)
    model = kerasaudio.create_model("deep_speaker", include_top=False, frontend="default",
                                    input_shape=(12000,), filters=(8, 16, 32, 64), blocks=1,
                                    embedding_dim=16)
    long, short = speech
    got = embeddings.extract(model, [long, short])
    from kerasaudio.data import fix_length

    for row, clip in enumerate((long, short)):
        fitted = np.asarray(fix_length(clip, 12000, mode="center"))
        expected = keras.ops.convert_to_numpy(model(fitted[None]))[0]
        assert np.abs(got[row] - expected).max() <= TOLERANCE


def test_resampling_to_the_model_rate(clips):
    model = _wav2vec2("wav2vec2_base")
    clip = clips[1]  # a real 8 kHz recording
    got = embeddings.extract(model, clip, sample_rate=8000)
    expected = embeddings.extract(model, resample(clip, sample_rate=8000,
                                                      target_sample_rate=16000)
                                             .astype("float32"))
    np.testing.assert_allclose(got, expected, atol=1e-6)
    unresampled = embeddings.extract(model, clip)
    assert np.abs(got - unresampled).max() > 1e-3
    assert embeddings.model_sample_rate(model) == 16000


def test_bad_inputs_fail_clearly(speech):
    model = _wav2vec2("wav2vec2_base")
    with pytest.raises(InvalidOptionError, match="pooling"):
        embeddings.extract(model, speech[1], pooling="median")
    with pytest.raises(InvalidOptionError, match="layer"):
        embeddings.extract(model, speech[1], layer=3)
    with pytest.raises(InvalidAudioError, match="at least 400"):
        embeddings.extract(model, np.zeros(300, "float32"))
    with pytest.raises(InvalidAudioError, match="1-D"):
        embeddings.extract(model, [np.zeros((2, 500))])
    features = kerasaudio.create_model("deep_speaker", include_top=False,
                                       input_shape=(100, 64, 1), filters=(8, 16, 32, 64))
    with pytest.raises(InvalidOptionError, match="frontend"):
        embeddings.extract(features, speech[1])


AST_TINY = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=48, max_length=100)


def test_ast_embeddings_and_transfer_learning(speech):
    """AST built by create_model records its filter bank's 16 kHz (so audio at another
    rate is resampled); its pooled embedding (headless `pooling="avg"`, or a classifier's
    normalised token mean) is the model's own output for each clip alone."""
    keras.utils.set_random_seed(0)
    headless = kerasaudio.create_model("ast", include_top=False, pooling="avg", **AST_TINY)
    assert embeddings.model_sample_rate(headless) == 16000
    got = embeddings.extract(headless, list(speech))
    for row, clip in enumerate(speech):
        expected = keras.ops.convert_to_numpy(headless(clip[None]))[0]
        assert np.abs(got[row] - expected).max() <= TOLERANCE
    classifier = kerasaudio.create_model("ast", classes=3, **AST_TINY)
    inner = keras.Model(classifier.inputs, classifier.get_layer("head_layernorm").output)
    got = embeddings.extract(classifier, speech[0])
    assert got.shape == (32,)
    assert np.abs(got - inner.predict_on_batch(speech[0][None])[0]).max() <= TOLERANCE


@pytest.mark.slow
def test_panns_sed_embeddings_pool_over_time(speech):
    keras.utils.set_random_seed(0)
    small = dict(filters=(4, 8, 8, 8, 8, 16), embedding_dim=16, sample_rate=16000)
    model = kerasaudio.create_model("panns_cnn14_decision_level_max", include_top=False,
                                    pooling="max", **small)
    got = embeddings.extract(model, list(speech))
    for row, clip in enumerate(speech):
        expected = keras.ops.convert_to_numpy(model(clip[None]))[0]
        assert got.shape == (2, 16) and np.abs(got[row] - expected).max() <= TOLERANCE
