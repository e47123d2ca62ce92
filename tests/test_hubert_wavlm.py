"""HuBERT and WavLM: parity of the converted sequence classifiers with transformers'
`HubertForSequenceClassification` and `WavLMForSequenceClassification`, the families'
registration, conversion errors, embeddings and transfer learning.

The reference models are small random configurations of both layer-norm placements
(group-norm feature encoder + post-norm layers as in the base sizes; layer-norm encoder +
pre-norm layers as in the large ones), saved with `save_pretrained` and converted
offline, run on real FSDD recordings resampled to 16 kHz (tests/speech_parity.py).
"""

import json

import keras
import numpy as np
import pytest
from harness import real_audio, run_model_test
from speech_parity import (
    VARIANTS,
    check_classifier,
    check_padded,
    check_weighted_layer_sum,
    reference_classifier,
    speech_16k,
)

import kerasaudio
from kerasaudio.errors import InvalidOptionError
from kerasaudio.models import Hubert, WavLM
from kerasaudio.models.hubert import convert as hubert_convert
from kerasaudio.models.wav2vec2.convert import convert_state_dict, to_state_dict
from kerasaudio.models.wavlm import convert as wavlm_convert

#: Tiny sizes for the tests that need no reference (Keras only).
TINY = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
            conv_dim=(8,) * 7, num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2)
#: WavLM's buckets scaled to the test clips' lengths (about 60 frames): exact, then
#: logarithmic, then clipped distances all occur.
WAVLM_BUCKETS = dict(num_buckets=16, max_bucket_distance=20)


def _families(transformers):
    return {
        "hubert": (transformers.HubertConfig, transformers.HubertForSequenceClassification,
                   hubert_convert, {}),
        "wavlm": (transformers.WavLMConfig, transformers.WavLMForSequenceClassification,
                  wavlm_convert, WAVLM_BUCKETS),
    }


@pytest.fixture(scope="module")
def hf():
    """(torch, transformers), or the module's reference tests skip."""
    return pytest.importorskip("torch"), pytest.importorskip("transformers")


@pytest.fixture(scope="module", params=[f"{f}-{v}" for f in ("hubert", "wavlm")
                                        for v in sorted(VARIANTS)])
def checkpoint(request, hf, tmp_path_factory):
    """(family convert module, transformers classifier, its save_pretrained directory)."""
    torch, transformers = hf
    family, variant = request.param.split("-")
    config_class, model_class, convert, options = _families(transformers)[family]
    reference = reference_classifier(torch, config_class, model_class, variant, **options)
    directory = tmp_path_factory.mktemp(request.param)
    reference.save_pretrained(directory)
    return request.param, convert, reference, directory


@pytest.mark.parity
@pytest.mark.jax
def test_classifier_logits_and_hidden_states_match_transformers(checkpoint, hf, clips):
    name, convert, reference, directory = checkpoint
    model = check_classifier(hf[0], convert, reference, directory,
                             np.stack(speech_16k(clips[:2], 9000)))
    assert isinstance(model, Hubert if name.startswith("hubert") else WavLM)
    assert isinstance(model, kerasaudio.models.AudioModel)


@pytest.mark.parity
@pytest.mark.jax
def test_padded_batch_matches_transformers(checkpoint, hf, clips):
    name, convert, reference, directory = checkpoint
    long, short = speech_16k(clips[:2])
    check_padded(hf[0], convert, reference, directory, [long, short[:len(long) // 2]],
                 masked_reference=name.endswith("layer_prenorm"))


@pytest.mark.parity
@pytest.mark.parametrize("family", ["hubert", "wavlm"])
def test_weighted_layer_sum_matches_transformers(family, hf, clips, tmp_path):
    torch, transformers = hf
    config_class, model_class, convert, options = _families(transformers)[family]
    reference = reference_classifier(torch, config_class, model_class, "layer_prenorm",
                                     use_weighted_layer_sum=True, **options)
    reference.save_pretrained(tmp_path)
    check_weighted_layer_sum(torch, convert, reference, tmp_path,
                             np.stack(speech_16k(clips[:2], 8000)))


@pytest.mark.parity
def test_hubert_without_projection_layer_norm(hf, clips, tmp_path):
    torch, transformers = hf
    reference = reference_classifier(torch, transformers.HubertConfig,
                                     transformers.HubertForSequenceClassification,
                                     "group_postnorm", feat_proj_layer_norm=False)
    reference.save_pretrained(tmp_path)
    model = check_classifier(torch, hubert_convert, reference, tmp_path,
                             np.stack(speech_16k(clips[:2], 8000)))
    assert model.encoder.projection_norm is None


@pytest.mark.parity
@pytest.mark.parametrize("name", ["hubert_base", "hubert_large", "wavlm_base", "wavlm_large"])
def test_registered_sizes_are_the_hub_ones(name, hf):
    """Parameter counts of the registered sizes equal transformers' for their configs."""
    torch, transformers = hf
    family = name.split("_")[0]
    config_class, _, _, _ = _families(transformers)[family]
    module = getattr(kerasaudio.models, family)
    arch = {**module.ARCHITECTURE, **module.CONFIGS[name]}
    base_class = {"hubert": transformers.HubertModel, "wavlm": transformers.WavLMModel}[family]
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        reference = base_class(config_class(**arch))
    count = sum(p.numel() for k, p in reference.named_parameters() if k != "masked_spec_embed")
    assert kerasaudio.models.get_model_info(name).parameters == count


@pytest.mark.parametrize("name", ["hubert_base", "wavlm_base"])
def test_classifier_round_trip_embeddings_and_transfer(name):
    """A tiny classifier of each family saves and loads (.keras, safe mode) with its
    class names; its converted state dict loads back; embeddings and pooling work."""
    model = run_model_test(name, init_kwargs=dict(
        include_top=True, classes=3, class_names=["a", "b", "c"], input_shape=(8000,),
        **TINY, **(WAVLM_BUCKETS if name == "wavlm_base" else {})),
        input_data=real_audio(2, 8000), expected_output_shape=(2, 3))
    assert model.audio_info.class_names == ("a", "b", "c")
    assert model.head == "sequence_classification"
    assert [layer.name for layer in model.layers[-3:]] == ["projector", "pool", "predictions"]
    # The state dict round trip: a second model takes every tensor of the first.
    twin = kerasaudio.create_model(name, include_top=True, classes=3, input_shape=(8000,),
                                   **TINY, **(WAVLM_BUCKETS if name == "wavlm_base" else {}))
    convert_state_dict(twin, to_state_dict(model))
    clips = real_audio(2, 8000)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(twin(clips)),
                               keras.ops.convert_to_numpy(model(clips)), atol=1e-6)
    # Embeddings (any length, 8 kHz resampled to 16 kHz) and transfer-learning pooling.
    emb = kerasaudio.embeddings.extract(model, [clips[0], clips[1][:5000]], sample_rate=8000)
    assert emb.shape == (2, TINY["hidden_size"]) and np.isfinite(emb).all()
    pooled = kerasaudio.create_model(name, include_top=False, pooling="avg", **TINY,
                                     **(WAVLM_BUCKETS if name == "wavlm_base" else {}))
    assert pooled(clips).shape == (2, TINY["hidden_size"])


def test_conversion_errors_list_every_tensor(tmp_path):
    model = Hubert(include_top=True, classes=2, **TINY)
    state = to_state_dict(model)
    bad = dict(state)
    del bad["hubert.encoder.layer_norm.weight"], bad["classifier.bias"]
    bad["hubert.encoder.layers.0.attention.extra.weight"] = np.zeros(3, "float32")
    bad["projector.weight"] = np.zeros((5, 5), "float32")
    with pytest.raises(InvalidOptionError) as error:
        convert_state_dict(model, bad)
    message = str(error.value)
    for part in ("missing (2)", "encoder.layer_norm.weight", "classifier.bias",
                 "unexpected (1)", "attention.extra.weight", "mis-shaped (1)",
                 "projector.weight (5, 5)"):
        assert part in message, (part, message)
    # A HuBERT state dict does not fit WavLM (no gates) and the reverse.
    with pytest.raises(InvalidOptionError, match="gru_rel_pos"):
        convert_state_dict(WavLM(include_top=True, classes=2, **TINY), state)
    # Task heads the model lacks are left out; a config of another family is refused.
    convert_state_dict(Hubert(**TINY), state)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "wavlm"}))
    with pytest.raises(InvalidOptionError, match="'wavlm'"):
        hubert_convert.from_huggingface(tmp_path)
    with pytest.raises(InvalidOptionError, match="conv_pos_batch_norm"):
        hubert_convert.from_huggingface(tmp_path, config={"model_type": "hubert",
                                                          "conv_pos_batch_norm": True})
