"""AST: parity with transformers' `ASTForAudioClassification` on random weights (offline),
the converter's refusals, labels, and a float TFLite export verified in LiteRT."""

import json

import keras
import numpy as np
import pytest

import kerasaudio
from kerasaudio.audio_io import resample
from kerasaudio.errors import InvalidOptionError
from kerasaudio.models.ast import AST, convert_state_dict, from_huggingface, read_config

pytestmark = pytest.mark.parity

torch = pytest.importorskip("torch", reason="the reference AST is a torch model")
transformers = pytest.importorskip("transformers", reason="the reference AST")

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=48,
            max_length=100, num_mel_bins=128)
LABELS = ["dog", "rain", "speech"]
#: |Keras - reference| relative to the reference's largest magnitude, on the same
#: features and on raw audio through KaldiFbank (its float32 features differ from the
#: float64 reference by up to 3e-4 of their scale, near the log floor only, which the
#: network barely feels: tests/test_kaldi_fbank.py).
FEATURES_TOLERANCE = 1e-4
AUDIO_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    config = transformers.ASTConfig(
        **TINY, num_labels=3, id2label=dict(enumerate(LABELS)),
        label2id={name: i for i, name in enumerate(LABELS)})
    torch.manual_seed(0)
    reference = transformers.ASTForAudioClassification(config).eval()
    directory = tmp_path_factory.mktemp("ast") / "tiny-ast"
    reference.save_pretrained(directory)
    return directory, reference


@pytest.fixture(scope="module")
def features(clips):
    extractor = transformers.ASTFeatureExtractor(max_length=TINY["max_length"])
    audio = [resample(c, sample_rate=8000, target_sample_rate=16000).astype("float32")
             for c in clips]
    batch = extractor(audio, sampling_rate=16000, return_tensors="np")["input_values"]
    return audio, batch


def _reference(model, batch):
    with torch.no_grad():
        out = model(torch.from_numpy(batch), output_hidden_states=True)
    return out.logits.numpy(), [h.numpy() for h in out.hidden_states]


def _close(ours, reference, tolerance):
    ours = keras.ops.convert_to_numpy(ours)
    error = np.abs(ours - reference).max() / np.abs(reference).max()
    assert error <= tolerance, error


@pytest.mark.jax
def test_padded_batch_logits_and_every_hidden_state_match(checkpoint, features):
    directory, reference = checkpoint
    _, batch = features  # three clips of different lengths, padded to 100 frames
    logits, states = _reference(reference, batch)
    model = from_huggingface(directory, frontend=None)
    _close(model(batch), logits, FEATURES_TOLERANCE)
    encoder = from_huggingface(directory, frontend=None, include_top=False,
                                   output_hidden_states=True)
    ours = encoder(batch)
    assert len(ours) == len(states) == TINY["num_hidden_layers"] + 1
    for mine, theirs in zip(ours, states, strict=True):
        _close(mine, theirs, FEATURES_TOLERANCE)
    pooled = from_huggingface(directory, frontend=None, include_top=False,
                                  pooling="avg")(batch)
    with torch.no_grad():
        last = reference.audio_spectrogram_transformer(torch.from_numpy(batch))
    _close(pooled, last.pooler_output.numpy(), FEATURES_TOLERANCE)


@pytest.mark.jax
def test_raw_fsdd_audio_through_the_front_end_matches(checkpoint, features):
    directory, reference = checkpoint
    audio, batch = features
    model = kerasaudio.create_model("ast", weights=str(directory))
    assert model.audio_info.class_names == tuple(LABELS) and model.outputs[0].shape[-1] == 3
    encoder = from_huggingface(directory, include_top=False, output_hidden_states=True)
    for i, clip in enumerate(audio):
        logits, states = _reference(reference, batch[i: i + 1])
        _close(model(clip[None]), logits, AUDIO_TOLERANCE)
        for mine, theirs in zip(encoder(clip[None]), states, strict=True):
            _close(mine, theirs, AUDIO_TOLERANCE)


def test_in_memory_state_dict_and_labels(checkpoint, features):
    directory, reference = checkpoint
    info = read_config(directory)
    assert info["class_names"] == LABELS
    model = AST(**info["architecture"], classes=3, classifier_activation=None,
                frontend=None)
    convert_state_dict(model, {k: v.numpy() for k, v in reference.state_dict().items()})
    logits, _ = _reference(reference, features[1])
    _close(model(features[1]), logits, FEATURES_TOLERANCE)
    # A headless model takes an ASTModel state dict (classifier tensors allowed).
    headless = AST(**info["architecture"], include_top=False, frontend=None)
    convert_state_dict(headless, {k: v.numpy() for k, v in reference.state_dict().items()})


def test_missing_and_unexpected_tensors_are_listed(checkpoint):
    _, reference = checkpoint
    state = {k: v.numpy() for k, v in reference.state_dict().items()}
    model = AST(**TINY, classes=3, frontend=None)
    broken = {k: v for k, v in state.items() if "layers.1.mlp.fc1" not in k}
    broken["audio_spectrogram_transformer.extra.weight"] = np.zeros(3, "float32")
    with pytest.raises(InvalidOptionError, match=r"missing \[.*layer\.1\.intermediate"
                                                 r".*unexpected \[.*extra\.weight"):
        convert_state_dict(model, broken)
    wrong = AST(**{**TINY, "intermediate_size": 40}, classes=3, frontend=None)
    with pytest.raises(InvalidOptionError, match="has shape"):
        convert_state_dict(wrong, state)


def test_config_checks(checkpoint, tmp_path):
    directory, _ = checkpoint
    with pytest.raises(InvalidOptionError, match="disagrees"):
        from_huggingface(directory, hidden_size=64)
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "wav2vec2"}))
    with pytest.raises(InvalidOptionError, match="audio-spectrogram-transformer"):
        read_config(other)
    (other / "config.json").write_text(json.dumps({"model_type":
                                                   "audio-spectrogram-transformer"}))
    with pytest.raises(kerasaudio.errors.ModelFileNotFoundError,
                       match=r"no model\.safetensors"):
        from_huggingface(other)
    with pytest.raises(InvalidOptionError, match=r"\(max_length, num_mel_bins\)"):
        AST(**TINY, frontend=None, input_shape=(50, 128))


def test_default_size_parameter_count_is_transformers():
    with torch.device("meta"):
        reference = transformers.ASTForAudioClassification(
            transformers.ASTConfig(num_labels=527))
    count = sum(p.numel() for p in reference.parameters())
    assert kerasaudio.models.get_model_info("ast").parameters == count


def test_float_tflite_export_verified_in_litert(checkpoint, features):
    directory, _ = checkpoint
    audio, _ = features
    model = from_huggingface(directory, input_shape=(16000,))
    clips = np.stack([np.resize(c, 16000) for c in audio]).astype("float32")
    report = kerasaudio.export.to_tflite(model, None, representative_data=clips)
    assert report.passed and report.max_abs_diff <= 1e-4
    assert not [op for op in report.ops if "flex" in op.lower()]
