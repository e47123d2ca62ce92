"""wav2vec 2.0: parity with transformers.Wav2Vec2Model and
Wav2Vec2ForSequenceClassification, checkpoint conversion, TFLite.

The reference is PyTorch transformers on CPU with random weights of small configurations
of both families (group-norm feature encoder + post-norm layers as in base/large;
layer-norm encoder + pre-norm layers as in large-lv60), saved with `save_pretrained` and
converted offline.
"""

import json

import keras
import numpy as np
import pytest
import speech_parity as parity
from speech_parity import SMALL, TOLERANCE, VARIANTS

import kerasaudio
from kerasaudio import export
from kerasaudio.errors import InvalidOptionError, ModelFileNotFoundError
from kerasaudio.models.wav2vec2 import Wav2Vec2, frame_lengths, receptive_field
from kerasaudio.models.wav2vec2 import convert as wav2vec2_convert

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

# Parity with PyTorch transformers: `make test-parity` (the test-heavy extra).
pytestmark = pytest.mark.parity



def _hf_model(variant: str):
    config = transformers.Wav2Vec2Config(**SMALL, **VARIANTS[variant])
    torch.manual_seed(0)
    model = transformers.Wav2Vec2Model(config).eval()
    # Default init leaves norms at 1/0 and biases at 0: perturb them so a swapped
    # gamma/beta or a dropped bias would show.
    with torch.no_grad():
        for key, parameter in model.named_parameters():
            if "norm" in key or key.endswith("bias"):
                parameter.add_(0.2 * torch.randn_like(parameter))
    return model


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def checkpoint(request, tmp_path_factory):
    """(variant, transformers model, directory saved with save_pretrained)."""
    model = _hf_model(request.param)
    directory = tmp_path_factory.mktemp(request.param)
    model.save_pretrained(directory)
    assert (directory / "model.safetensors").is_file()
    return request.param, model, directory


@pytest.fixture(scope="module")
def speech(clips):
    """Two real FSDD clips (8 kHz recordings used as 16 kHz audio), 6000 samples each
    (the shorter one repeated)."""
    return [np.resize(c, 6000).astype("float32") for c in clips[:2]]


def _reference(model, audio, attention_mask=None):
    with torch.no_grad():
        out = model(torch.from_numpy(np.asarray(audio)), output_hidden_states=True,
                    attention_mask=None if attention_mask is None
                    else torch.from_numpy(attention_mask).long())
    # transformers 4.x ends hidden_states with last_hidden_state; 5.x with the last
    # layer's output before the closing layer norm (pre-norm models). Ours ends with the
    # model's output, last_hidden_state.
    layers = [h.numpy() for h in out.hidden_states[:-1]]
    return [*layers, out.last_hidden_state.numpy()]


def _ours(model, audio, mask=None):
    inputs = audio if mask is None else {"audio": audio, "padding_mask": mask}
    # Compiled: one XLA program on JAX instead of op-by-op eager dispatch.
    return [keras.ops.convert_to_numpy(h) for h in model.predict_on_batch(inputs)]


def _max_diffs(ours, reference, frames=None):
    return [float(np.abs(a[..., :frames, :] - b[..., :frames, :]).max())
            for a, b in zip(ours, reference, strict=True)]


@pytest.mark.jax
def test_every_hidden_state_matches_transformers(checkpoint, speech):
    _, reference_model, directory = checkpoint
    model = Wav2Vec2.from_huggingface(directory, output_hidden_states=True)
    audio = np.stack(speech)
    ours = _ours(model, audio)
    reference = _reference(reference_model, audio)
    assert len(ours) == SMALL["num_hidden_layers"] + 1
    assert ours[-1].shape == (2, int(frame_lengths(6000)), SMALL["hidden_size"])
    diffs = _max_diffs(ours, reference)
    assert max(diffs) <= TOLERANCE, diffs
    # Not trivially equal: the layers really differ from each other.
    assert np.abs(ours[0] - ours[-1]).max() > 0.1


@pytest.mark.jax
def test_padded_batch_matches_each_utterance_alone(checkpoint, speech):
    variant, reference_model, directory = checkpoint
    model = Wav2Vec2.from_huggingface(directory, output_hidden_states=True,
                                      padding_mask=True)
    long, short = speech[0], speech[1][:3000]
    audio = np.zeros((2, len(long)), "float32")
    mask = np.zeros((2, len(long)), "float32")
    audio[0], audio[1, :len(short)] = long, short
    mask[0], mask[1, :len(short)] = 1, 1
    audio[1, len(short):] = 0.5  # garbage in the padding must not matter
    ours = _ours(model, audio, mask)
    for row, clip in enumerate((long, short)):
        alone = _reference(reference_model, clip[None])
        frames = alone[-1].shape[1]
        diffs = _max_diffs([h[row:row + 1] for h in ours], alone, frames)
        assert max(diffs) <= TOLERANCE, (variant, row, diffs)
    # transformers with its attention mask: the same for the layer-norm encoder; its
    # group norm takes statistics over the padding too (so its processors send no mask).
    padded = _reference(reference_model, audio * mask, mask.astype("int64"))
    frames = int(frame_lengths(len(short)))
    diffs = _max_diffs([h[1:] for h in ours], [h[1:] for h in padded], frames)
    if variant == "layer_prenorm":
        assert max(diffs) <= TOLERANCE, diffs
    else:
        assert max(diffs) > 1e-2


def test_pytorch_model_bin_and_create_model_load_the_same(checkpoint, speech, tmp_path):
    _, reference_model, directory = checkpoint
    (tmp_path / "config.json").write_text((directory / "config.json").read_text())
    torch.save(reference_model.state_dict(), tmp_path / "pytorch_model.bin")
    audio = speech[1][None, :5000]
    from_bin = Wav2Vec2.from_huggingface(tmp_path)
    registered = kerasaudio.create_model("wav2vec2_base", weights=str(directory))
    expected = _reference(reference_model, audio)[-1]
    for model in (from_bin, registered):
        got = keras.ops.convert_to_numpy(model(audio))
        assert np.abs(got - expected).max() <= TOLERANCE


def test_processor_normalisation_from_preprocessor_config(checkpoint, speech):
    _, reference_model, directory = checkpoint
    extractor = transformers.Wav2Vec2FeatureExtractor(do_normalize=True,
                                                      return_attention_mask=True)
    extractor.save_pretrained(directory)
    try:
        model = Wav2Vec2.from_huggingface(directory)  # frontend="auto" reads it
        assert model.frontend == "default"
        clip = 0.05 * speech[1][:5000] + 0.01
        features = extractor(clip, sampling_rate=16000, return_tensors="np").input_values
        expected = _reference(reference_model, features.astype("float32"))[-1]
        got = keras.ops.convert_to_numpy(model(clip[None]))
        assert np.abs(got - expected).max() <= TOLERANCE
    finally:
        (directory / "preprocessor_config.json").unlink()


def test_conversion_errors_are_clear(tmp_path, checkpoint):
    _, _, directory = checkpoint
    with pytest.raises(InvalidOptionError, match=r"config\.json"):
        Wav2Vec2.from_huggingface(tmp_path)
    config = json.loads((directory / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "hubert"}))
    with pytest.raises(InvalidOptionError, match="hubert"):
        Wav2Vec2.from_huggingface(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileNotFoundError, match=r"model\.safetensors"):
        Wav2Vec2.from_huggingface(tmp_path)
    with pytest.raises(InvalidOptionError, match="disagrees"):
        Wav2Vec2.from_huggingface(directory, hidden_size=64)


@pytest.mark.parametrize(("name", "expected"), [
    ("wav2vec2_base", dict(hidden_size=768, num_hidden_layers=12, feat_extract_norm="group",
                           do_stable_layer_norm=False, conv_bias=False)),
    ("wav2vec2_large", dict(hidden_size=1024, num_hidden_layers=24, feat_extract_norm="group",
                            do_stable_layer_norm=False, conv_bias=False)),
    ("wav2vec2_large_lv60", dict(hidden_size=1024, num_hidden_layers=24,
                                 feat_extract_norm="layer", do_stable_layer_norm=True,
                                 conv_bias=True)),
])
def test_registered_configurations_are_the_hub_ones(name, expected):
    """The registered variants and parameter counts are those of transformers' configs."""
    from kerasaudio.models.wav2vec2 import ARCHITECTURE, CONFIGS

    arch = {**ARCHITECTURE, **CONFIGS[name]}
    assert {k: arch[k] for k in expected} == expected
    hf = transformers.Wav2Vec2Config(**{k: v for k, v in arch.items()
                                        if k != "feat_extract_activation"})
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        reference = transformers.Wav2Vec2Model(hf)
    count = sum(p.numel() for k, p in reference.named_parameters() if k != "masked_spec_embed")
    assert kerasaudio.models.get_model_info(name).parameters == count


def test_frame_arithmetic():
    assert receptive_field() == 400
    np.testing.assert_array_equal(frame_lengths(np.array([399, 400, 16000, 80000])),
                                  [0, 1, 49, 249])


@pytest.mark.parametrize("quantization", [None, "dynamic"])
def test_tflite_export_matches_in_litert(quantization, speech):
    keras.utils.set_random_seed(0)
    model = kerasaudio.create_model("wav2vec2_base", input_shape=(4000,), **SMALL)
    clips = np.stack([np.resize(c, 4000) for c in speech])
    report = export.to_tflite(model, None, quantization=quantization,
                              representative_data=clips)
    assert report.passed
    assert not [op for op in report.ops if "flex" in op.lower()]
    assert report.max_abs_diff <= (1e-4 if quantization is None else 5e-2)


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def classifier_checkpoint(request, tmp_path_factory):
    """(variant, transformers Wav2Vec2ForSequenceClassification, its directory)."""
    reference = parity.reference_classifier(
        torch, transformers.Wav2Vec2Config, transformers.Wav2Vec2ForSequenceClassification,
        request.param)
    directory = tmp_path_factory.mktemp(f"classifier_{request.param}")
    reference.save_pretrained(directory)
    return request.param, reference, directory


@pytest.mark.jax
def test_sequence_classifier_matches_transformers(classifier_checkpoint, clips):
    """Logits (with id2label as class names) and every hidden state, FSDD at 16 kHz."""
    _, reference, directory = classifier_checkpoint
    model = parity.check_classifier(torch, wav2vec2_convert, reference, directory,
                                    np.stack(parity.speech_16k(clips[:2], 9000)))
    assert isinstance(model, Wav2Vec2) and model.head == "sequence_classification"
    # The same through the class method and the registered builder (a trailing slash).
    for other in (Wav2Vec2.from_huggingface(directory),
                  kerasaudio.create_model("wav2vec2_base", weights=f"{directory}/")):
        assert other.audio_info.class_names == model.audio_info.class_names
        assert other.classifier_activation is None  # logits, as transformers


@pytest.mark.jax
def test_sequence_classifier_padded_batch(classifier_checkpoint, clips):
    variant, reference, directory = classifier_checkpoint
    long, short = parity.speech_16k(clips[:2])
    parity.check_padded(torch, wav2vec2_convert, reference, directory,
                        [long, short[:len(long) // 2]],
                        masked_reference=variant == "layer_prenorm")


def test_sequence_classifier_weighted_layer_sum(clips, tmp_path):
    reference = parity.reference_classifier(
        torch, transformers.Wav2Vec2Config, transformers.Wav2Vec2ForSequenceClassification,
        "layer_prenorm", use_weighted_layer_sum=True)
    reference.save_pretrained(tmp_path)
    parity.check_weighted_layer_sum(torch, wav2vec2_convert, reference, tmp_path,
                                    np.stack(parity.speech_16k(clips[:2], 8000)))


def test_encoder_checkpoint_keeps_its_head_choice(checkpoint):
    """A checkpoint without a head converts to the encoder; a new head stays random."""
    _, _, directory = checkpoint
    assert not wav2vec2_convert.from_huggingface(directory).include_top
    model = wav2vec2_convert.from_huggingface(directory, include_top=True, classes=4)
    assert model.head == "dense_tanh" and model.audio_info.class_names is None
