"""ECAPA-TDNN: the Keras network and front end against SpeechBrain 1.1's own code, the
checkpoint conversion and its report, embeddings and TFLite export.

The reference (`speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN`, `Fbank`,
`InputNormalization`) runs in a child process (`tests/speechbrain_reference.py`) from the
private directory `make test-parity` fills (`speechbrain-reference/` in the environment:
SpeechBrain and the pure-Python part of torchaudio, whose CUDA libraries are removed), so
torchaudio never becomes importable in the test process. Weights are random, with random
batch-norm statistics; audio is real FSDD speech resampled to 16 kHz.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from harness import run_export_test, run_with_speechbrain_reference

import kerasaudio
from kerasaudio import filters
from kerasaudio.audio_io import load_audio
from kerasaudio.errors import InvalidOptionError
from kerasaudio.models.ecapa_tdnn import (
    VOXCELEB,
    EcapaConfig,
    config_from_state,
    convert_state_dict,
    from_speechbrain,
    to_state_dict,
)

#: |Keras - SpeechBrain| relative to the reference's largest magnitude (float32 rounding
#: through 20 convolutions, the dB step and the statistics pooling).
PARITY = 1e-4
TINY = dict(n_mels=24, channels=(16, 16, 16, 16, 48), attention_channels=8, se_channels=8,
            embedding_dim=12)
SCRIPT = Path(__file__).with_name("speechbrain_reference.py")


# ----------------------------------------------------------------------------- default tier


@pytest.fixture(scope="module")
def tiny():
    """A tiny embedding model (random weights), shared by the default-tier tests."""
    return kerasaudio.create_model("ecapa_tdnn", include_top=False, **TINY)


def test_tiny_model_builds_and_counts_as_pytorch(tiny):
    model = tiny
    config = EcapaConfig(**TINY)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == config.parameters()
    audio = np.random.default_rng(0).normal(0, 0.1, (2, 8000)).astype("float32")
    assert np.asarray(model(audio)).shape == (2, 12)
    classifier = kerasaudio.create_model("ecapa_tdnn", classes=3, **TINY)
    out = np.asarray(classifier(audio))
    assert out.shape == (2, 3) and np.allclose(out.sum(axis=1), 1.0, atol=1e-5)
    assert kerasaudio.info.model_info(model).sample_rate == 16000


def test_default_sizes_are_speechbrains():
    assert VOXCELEB.parameters() == 20_767_552          # spkrec-ecapa-voxceleb
    assert EcapaConfig().parameters() == 6_194_048      # ECAPA_TDNN(80) defaults (C=512)


def test_symmetric_filters_are_speechbrains_triangles():
    bank = filters.mel(sample_rate=16000, n_fft=400, n_mels=80, htk=True, norm=None,
                       symmetric=True)
    edges = filters.mel_frequencies(82, fmin=0, fmax=8000, htk=True)
    freqs = np.linspace(0, 8000, 201)
    width = np.diff(edges)[:-1, None]
    slope = (freqs[None, :] - edges[1:-1, None]) / width
    np.testing.assert_allclose(bank, np.maximum(0, np.minimum(slope + 1, 1 - slope)),
                               atol=1e-12)


def test_lengths_of_one_change_nothing(tiny):
    plain = tiny
    masked = kerasaudio.create_model("ecapa_tdnn", include_top=False, lengths=True, **TINY)
    convert_state_dict(masked, to_state_dict(plain))
    audio = np.random.default_rng(1).normal(0, 0.1, (2, 6000)).astype("float32")
    want = np.asarray(plain(audio))
    got = np.asarray(masked([audio, np.ones(2, "float32")]))
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_conversion_reports_every_problem_and_assigns_nothing(tiny):
    source = tiny
    target = kerasaudio.create_model("ecapa_tdnn", include_top=False, **TINY)
    state = to_state_dict(source)
    assert config_from_state(state) == {
        "n_mels": 24, "channels": (16, 16, 16, 16, 48), "kernel_sizes": (5, 3, 3, 3, 1),
        "attention_channels": 8, "res2net_scale": 8, "se_channels": 8,
        "global_context": True, "embedding_dim": 12}
    state["blocks.1.tdnn1.norm.norm.num_batches_tracked"] = np.array(3)  # ignored
    del state["fc.conv.bias"]
    state["mfa.conv.conv.weight"] = state["mfa.conv.conv.weight"][:, :-1]
    state["classifier.weight"] = np.zeros((5, 12), "float32")
    before = [w.copy() for w in target.get_weights()]
    with pytest.raises(InvalidOptionError) as error:
        convert_state_dict(target, state, source="embedding_model.ckpt")
    message = str(error.value)
    assert "missing (1): ['fc.conv.bias']" in message
    assert "unexpected (1): ['classifier.weight']" in message
    assert "mis-shaped (1): ['mfa.conv.conv.weight (48, 47, 1) (expected (48, 48, 1))']" \
        in message
    assert all(np.array_equal(a, b) for a, b in zip(before, target.get_weights(),
                                                    strict=True))
    with pytest.raises(InvalidOptionError, match="not an ECAPA-TDNN"):
        config_from_state({"weight": np.zeros(3)})
    with pytest.raises(InvalidOptionError, match="not an ECAPA-TDNN model"):
        convert_state_dict(kerasaudio.create_model("m5", classes=2), state)


def test_too_short_input_is_refused_before_building():
    with pytest.raises(InvalidOptionError, match="too short"):
        kerasaudio.create_model("ecapa_tdnn", input_shape=(480,), **TINY)


# ----------------------------------------------------------------------------- parity


def _fsdd_16k(fsdd_sample, count: int) -> list[np.ndarray]:
    paths = fsdd_sample.drop_duplicates("speaker").path[:count]
    return [load_audio(p, sample_rate=16000)[0].astype("float32") for p in paths]


def _reference(tmp_path, audio, lengths, options) -> tuple[dict, Path]:
    """Run SpeechBrain's pipeline in a child process; `(outputs, checkpoint path)`."""
    pytest.importorskip("torch")
    source, target = tmp_path / "in.npz", tmp_path / "out.npz"
    checkpoint = tmp_path / "embedding_model.ckpt"
    np.savez(source, audio=audio, lengths=lengths)
    run_with_speechbrain_reference([str(SCRIPT), str(source), str(target), str(checkpoint),
                                    json.dumps(options)])
    with np.load(target) as data:
        return {k: data[k] for k in data.files}, checkpoint


def _close(got, want, what: str) -> None:
    scale = float(np.abs(want).max())
    error = float(np.abs(np.asarray(got) - want).max())
    assert error <= PARITY * scale, f"{what}: {error:.3g} > {PARITY} x {scale:.3g}"


def _intermediates(model, count: int) -> keras.Model:
    names = ["fbank_db", "mean_norm", "blocks_0_norm_norm",
             *[f"blocks_{i}_residual" for i in range(1, count - 1)], "mfa_norm_norm", "asp"]
    return keras.Model(model.inputs[0], [model.get_layer(n).output for n in names])


@pytest.mark.parity
@pytest.mark.jax
def test_voxceleb_model_matches_speechbrain_on_fsdd(tmp_path, fsdd_sample):
    audio = _fsdd_16k(fsdd_sample, 1)[0][None]
    options = {"input_size": 80, "channels": [1024] * 4 + [3072], "lin_neurons": 192}
    ref, checkpoint = _reference(tmp_path, audio, np.ones(1, "float32"), options)
    model = from_speechbrain(checkpoint)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) \
        == int(ref["parameters"]) == 20_767_552
    outputs = [np.asarray(o) for o in _intermediates(model, 5)(audio)]
    for name, got in zip(["fbank", "normalised", "block0", "block1", "block2", "block3",
                          "mfa", "asp"], outputs, strict=True):
        _close(got, ref[name], name)
    _close(np.asarray(model(audio)), ref["embedding"], "embedding")
    _close(kerasaudio.embeddings.extract(model, audio[0]), ref["embedding"][0],
           "embeddings.extract")


@pytest.mark.parity
def test_padded_batch_with_relative_lengths_matches_speechbrain(tmp_path, fsdd_sample):
    clips = _fsdd_16k(fsdd_sample, 3)
    longest = max(len(c) for c in clips)
    audio = np.zeros((len(clips), longest), "float32")
    for row, clip in enumerate(clips):
        audio[row, :len(clip)] = clip
    lengths = np.array([len(c) / longest for c in clips], "float32")
    assert lengths.min() < 0.9  # real padding
    options = {"input_size": 80, "channels": [512] * 4 + [1536], "lin_neurons": 192,
               "seed": 1}
    ref, checkpoint = _reference(tmp_path, audio, lengths, options)
    model = from_speechbrain(checkpoint, lengths=True)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 6_194_048
    got = np.asarray(model([audio, lengths]))
    for row in range(len(clips)):
        _close(got[row], ref["embedding"][row], f"embedding of clip {row}")
    names = ["mean_norm", "blocks_1_residual", "asp"]
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    for name, value in zip(["normalised", "block1", "asp"], probe([audio, lengths]),
                           strict=True):
        _close(np.asarray(value), ref[name], name)


# ----------------------------------------------------------------------------- export


@pytest.mark.export
def test_float_tflite_export_verified_in_litert(fsdd_sample):
    keras.utils.set_random_seed(0)
    model = kerasaudio.create_model("ecapa_tdnn", include_top=False, input_shape=(8000,),
                                    sample_rate=8000, n_mels=40,
                                    channels=(64, 64, 64, 64, 192), attention_channels=16,
                                    se_channels=16, embedding_dim=32)
    clips = np.stack([np.resize(load_audio(p, sample_rate=8000)[0], 8000)
                      for p in fsdd_sample.path[:8]]).astype("float32")
    report = run_export_test(model, clips)
    assert "MIRROR_PAD" in report.ops


@pytest.mark.export
def test_int8_tflite_export_of_the_fsdd_preset_verifies():
    """The classifier at the default int8 bound (0.1 on every probability), every decision
    kept: the TDNN blocks' batch norms folded before their ReLUs and the attentive
    statistics float32 (BENCHMARKS.md)."""
    model = kerasaudio.create_model("ecapa_tdnn_fsdd_speakers")
    clips, labels = kerasaudio.hub.representative_clips("ecapa_tdnn_fsdd_speakers")
    report = run_export_test(model, clips, quantization="int8", labels=labels)
    assert report.top1_agreement == 1.0
    assert report.tflite_accuracy == report.keras_accuracy
    assert "MIRROR_PAD" in report.ops and "DEQUANTIZE" in report.ops
    assert any("30 batch norms after a ReLU" in note for note in report.notes)


#: Per-clip cosine similarity of int8 and float embeddings required on speakers the
#: calibration never heard. Cosine scoring compares embeddings by angle; at this bound the
#: verification EER over FSDD's unseen speakers moves by less than 0.01 (BENCHMARKS.md).
INT8_EMBEDDING_COSINE = 0.95


@pytest.mark.export
def test_int8_embedding_of_the_fsdd_preset_keeps_its_direction_on_unseen_speakers(tmp_path):
    from kerasaudio.export.verify import cosine_similarity
    from kerasaudio.runtime import run_tflite
    from kerasaudio.training.speakers import embedding_model, verification

    model = kerasaudio.create_model("ecapa_tdnn_fsdd_speakers")
    network = embedding_model(model)
    clips, labels = kerasaudio.hub.representative_clips("ecapa_tdnn_fsdd_speakers")
    names = np.asarray(kerasaudio.info.model_info(model).class_names)[labels]
    heard = np.isin(names, ["george", "jackson", "lucas"])
    report = kerasaudio.export.to_tflite(
        network, tmp_path / "ecapa_int8.tflite", quantization="int8",
        representative_data=clips[heard], min_cosine=INT8_EMBEDDING_COSINE)
    assert report.passed and report.min_cosine >= INT8_EMBEDDING_COSINE
    unseen, speakers = clips[~heard], names[~heard]
    flatbuffer = Path(report.path).read_bytes()
    lite = np.concatenate([run_tflite(flatbuffer, clip[None])[0] for clip in unseen])
    reference = network.predict(unseen, verbose=0)
    assert cosine_similarity(lite, reference).min() >= INT8_EMBEDDING_COSINE
    eers = [verification(e, speakers)["eer"] for e in (reference, lite)]
    # 60 clips, 20 per speaker: the EER moves in steps of about 0.005 here.
    assert abs(eers[1] - eers[0]) <= 0.02, eers
