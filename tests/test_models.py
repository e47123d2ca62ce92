"""Every registered model: builds, trains, saves, converts to TFLite, rejects bad arguments.

Family-specific checks (exact parameter counts, layer behaviour) live in each family's
own test file; this file holds what must be true of every model in the registry.
"""

import keras
import numpy as np
import pytest

import kerasaudio
from kerasaudio import export
from kerasaudio.errors import InvalidOptionError

#: wav2vec 2.0 shrunk to CPU size (each name keeps its norm variants).
WAV2VEC2_SMALL = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                      intermediate_size=48, conv_dim=(16, 16, 16), conv_kernel=(10, 3, 3),
                      conv_stride=(5, 2, 2), num_conv_pos_embeddings=16,
                      num_conv_pos_embedding_groups=4)
#: PANNs CNN14 shrunk to CPU size; softmax so the harness's probability checks apply, and
#: without PANNs' training dropout (0.5 on a 16-wide embedding makes 6 steps pure noise).
PANNS_SMALL = dict(sample_rate=8000, filters=(4, 8, 8, 8, 8, 16), embedding_dim=16,
                   classifier_activation="softmax", dropout=False)
#: AST shrunk to CPU size: 4,000 samples give 23 filter-bank frames, padded to 32 (2 x 12
#: patches); softmax so the harness's probability checks apply.
AST_SMALL = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                 intermediate_size=48, max_length=32)
# A small configuration of each model (fast on CPU) and the raw-audio length its default
# front end takes. Every registered model must have an entry (checked below).
CONFIGS = {
    "m3": dict(input_shape=(8000, 1), classes=5),
    "m5": dict(input_shape=(8000, 1), classes=5),
    "m11": dict(input_shape=(8000, 1), classes=5),
    "m18": dict(input_shape=(8000, 1), classes=5),
    "m34_res": dict(input_shape=(8000, 1), classes=5),
    "bilstm_attention": dict(input_shape=(64, 40), classes=5, lstm_units=16, dense_units=24),
    "complex_cnn": dict(input_shape=(64, 65, 2), classes=5),
    "vggvox_v1": dict(input_shape=(512, 100, 1), classes=5),
    "vggvox_v2": dict(input_shape=(257, 100, 1), classes=5),
    "deep_speaker": dict(input_shape=(100, 64, 1), classes=5),
    # PANNs at 8 kHz with narrow blocks: 2,560 samples give 33 log-mel frames, one step.
    "panns_cnn14": dict(input_shape=(2560,), classes=5, **PANNS_SMALL),
    "panns_cnn14_decision_level_max": dict(input_shape=(2560,), classes=5,
                                           outputs="clipwise", **PANNS_SMALL),
    **{name: dict(input_shape=(4000,), classes=5, include_top=True, **WAV2VEC2_SMALL)
       for name in ("wav2vec2_base", "wav2vec2_large", "wav2vec2_large_lv60", "hubert_base",
                    "hubert_large", "wavlm_base", "wavlm_large")},
    "ast": dict(input_shape=(4000,), classes=5, **AST_SMALL),
    # ECAPA-TDNN with SpeechBrain's 16 kHz filter bank: 4,000 samples give 26 frames.
    "ecapa_tdnn": dict(input_shape=(4000,), classes=5, n_mels=24,
                       channels=(16, 16, 16, 16, 48), attention_channels=8, se_channels=8,
                       embedding_dim=12),
    "stack": dict(members=[
        {"architecture": "m3", "config": {"input_shape": [8000, 1], "classes": 5}},
        {"architecture": "m5", "config": {"input_shape": [8000, 1], "classes": 5,
                                          "n_channel": 8}}],
        class_names=list("abcde"), sample_rate=8000, classes=5),
}
AUDIO_SAMPLES = {
    "m3": 8000, "m5": 8000, "m11": 8000, "m18": 8000, "m34_res": 8000,
    "bilstm_attention": 22050, "complex_cnn": 16000, "vggvox_v1": 16000,
    "vggvox_v2": 16000, "deep_speaker": 16000, "wav2vec2_base": 4000, "wav2vec2_large": 4000,
    "wav2vec2_large_lv60": 4000, "hubert_base": 4000, "hubert_large": 4000,
    "wavlm_base": 4000, "wavlm_large": 4000, "stack": 8000, "panns_cnn14": 2560,
    "panns_cnn14_decision_level_max": 2560, "ast": 4000, "ecapa_tdnn": 4000,
}
NAMES = kerasaudio.list_models()
#: Shrunk to CONFIGS size, wav2vec2_large is wav2vec2_base exactly (the same group-norm
#: encoder and post-norm layers; only the default sizes differ), so the harness runs it
#: once; tests/test_wav2vec2.py checks the large sizes and both norm variants. HuBERT and
#: WavLM are `Wav2Vec2` with other class attributes (WavLM: another attention), so one
#: size of each runs here (hubert_large: the pre-norm layers; wavlm_base: the post-norm
#: ones); tests/test_hubert_wavlm.py checks both norm placements of both against
#: transformers.
#: Silero VAD is one fixed network with shipped weights (no `keras.applications`
#: arguments: classes, include_top, pooling, front end): tests/test_silero_vad.py tests its
#: build, forward pass against the reference, `.keras` round trip and TFLite files; its
#: registry parameter count is checked below with the others.
NOT_CLASSIFIERS = {"silero_vad", "silero_vad_streaming"}
TESTED = [name for name in NAMES
          if name not in ("wav2vec2_large", "hubert_base", "wavlm_large", *NOT_CLASSIFIERS)]
#: The stack combines whole classifiers: no include_top=False, pooling, front end or input
#: length of its own (tests/test_stack.py checks what it does instead).
APPLICATIONS = [name for name in TESTED if name != "stack"]
#: Deep Speaker's reference head feeds 2,048 unnormalised, all-positive averages into its
#: affine layer; Adam at 1e-3 overshoots on a batch of 8 random inputs.
LEARNING_RATES = {"deep_speaker": 1e-4}


def features_for(model, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    shape = [batch] + [d for d in model.inputs[0].shape[1:]]
    return rng.normal(size=shape).astype("float32")


def test_every_model_has_a_test_config():
    assert sorted(CONFIGS) == sorted(set(NAMES) - NOT_CLASSIFIERS)


@pytest.mark.jax
@pytest.mark.parametrize("name", TESTED)
def test_builds_and_runs_forward(name):
    model = kerasaudio.create_model(name, **CONFIGS[name])
    x = features_for(model, batch=2)
    y = keras.ops.convert_to_numpy(model(x))
    assert y.shape == (2, CONFIGS[name]["classes"])
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", APPLICATIONS)
def test_builds_with_default_frontend_on_raw_audio(name, clips):
    config = {k: v for k, v in CONFIGS[name].items() if k != "input_shape"}
    samples = AUDIO_SAMPLES[name]
    model = kerasaudio.create_model(name, frontend="default", input_shape=(samples,),
                                    **config)
    assert model.inputs[0].shape[1:] == (samples,)
    audio = np.stack([np.resize(c, samples) for c in clips[:2]]).astype("float32")
    y = keras.ops.convert_to_numpy(model(audio))
    assert y.shape == (2, config["classes"]) and np.isfinite(y).all()


@pytest.mark.slow
@pytest.mark.jax
@pytest.mark.parametrize("name", TESTED)
def test_training_steps_lower_the_loss(name):
    keras.utils.set_random_seed(0)
    model = kerasaudio.create_model(name, **CONFIGS[name])
    x = features_for(model, batch=8)
    y = np.arange(8) % CONFIGS[name]["classes"]
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATES.get(name, 1e-3)),
                  loss="sparse_categorical_crossentropy")
    losses = [float(model.train_on_batch(x, y)) for _ in range(6)]
    assert np.isfinite(losses).all()
    assert min(losses[1:]) < losses[0]


@pytest.mark.parametrize("name", TESTED)
def test_keras_file_roundtrip_in_safe_mode(name, tmp_path):
    model = kerasaudio.create_model(name, **CONFIGS[name])
    x = features_for(model, batch=2)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)),
                                  keras.ops.convert_to_numpy(model(x)))


@pytest.mark.export
@pytest.mark.parametrize("name", TESTED)
def test_float_tflite_builtins_match_keras(name):
    model = kerasaudio.create_model(name, **CONFIGS[name])
    flatbuffer = export.convert(model, batch_size=1)
    assert not [op for op in export.op_names(flatbuffer) if "flex" in op.lower()]
    x = features_for(model, batch=1)
    (lite,) = export.run_tflite(flatbuffer, x)
    np.testing.assert_allclose(lite, keras.ops.convert_to_numpy(model(x)), atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("name", TESTED)
def test_weights_file_roundtrip_and_class_mismatch(name, tmp_path):
    model = kerasaudio.create_model(name, **CONFIGS[name])
    path = tmp_path / f"{name}.weights.h5"
    model.save_weights(path)
    again = kerasaudio.create_model(name, weights=str(path), **CONFIGS[name])
    x = features_for(model, batch=2)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(again(x)),
                                  keras.ops.convert_to_numpy(model(x)))
    wrong = {**CONFIGS[name], "classes": CONFIGS[name]["classes"] + 1}
    with pytest.raises(InvalidOptionError, match=r"does not fit|but the members have"):
        kerasaudio.create_model(name, weights=str(path), **wrong)


@pytest.mark.parametrize("name", TESTED)
@pytest.mark.parametrize(("kwargs", "match"), [
    ({"weights": "imagenet"}, "imagenet"),
    ({"weights": "/nonexistent/model.weights.h5"}, "does not exist"),
    ({"classes": 0}, "classes"),
    ({"pooling": "mean"}, "pooling"),
    ({"classifier_activation": "softmaxx"}, "classifier_activation"),
    ({"frontend": "mel"}, "frontend"),
    ({"no_such_option": 1}, "no_such_option"),
])
def test_bad_arguments_fail_clearly(name, kwargs, match):
    config = {**CONFIGS[name], **kwargs}
    with pytest.raises(InvalidOptionError, match=match):
        kerasaudio.create_model(name, **config)


#: Recurrent models with attention pooling have no strides or pools: any length works
#: (their own tests run a 1-frame input).
NO_MINIMUM_LENGTH = {"bilstm_attention"}


@pytest.mark.parametrize("name", sorted(set(APPLICATIONS) - NO_MINIMUM_LENGTH))
def test_input_too_short_for_pooling_fails_before_building(name):
    shape = list(CONFIGS[name]["input_shape"])
    shape[0] = 2  # far too few frames/samples for any of the networks
    with pytest.raises(InvalidOptionError, match="too short"):
        kerasaudio.create_model(name, **{**CONFIGS[name], "input_shape": tuple(shape)})


#: Defaults too big to build in the fast suite (315 M parameters, ~30 s each on 2 cores).
SLOW_DEFAULTS = {"wav2vec2_large", "wav2vec2_large_lv60", "hubert_large", "wavlm_large"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow)
                                  if n in SLOW_DEFAULTS else n for n in NAMES])
def test_registry_parameter_count_matches_the_built_default(name):
    info = kerasaudio.models.get_model_info(name)
    model = info.builder(**info.defaults)
    assert model.count_params() == info.parameters
    table = kerasaudio.available_models()
    assert table.loc[name, "parameters"] == info.parameters
    assert table.loc[name, "size_mb"] == pytest.approx(info.parameters * 4 / 1e6, abs=0.01)


@pytest.mark.parametrize("name", APPLICATIONS)
def test_headless_models_expose_features(name):
    config = {k: v for k, v in CONFIGS[name].items() if k not in ("classes", "include_top")}
    model = kerasaudio.create_model(name, include_top=False, pooling="avg", **config)
    out = model(features_for(model, batch=2))
    assert len(out.shape) == 2 and out.shape[0] == 2


def test_list_models_patterns():
    assert kerasaudio.list_models("m*") == ["m11", "m18", "m3", "m34_res", "m5"]
    assert kerasaudio.list_models("vggvox_*") == ["vggvox_v1", "vggvox_v2"]
    assert kerasaudio.list_models("nothing*") == []
    with pytest.raises(InvalidOptionError, match="no model named"):
        kerasaudio.create_model("m6")
