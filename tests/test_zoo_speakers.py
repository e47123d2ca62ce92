"""kerasaudio.training.speakers: the speaker-recognition recipes (VGGVox v2, Deep Speaker)
on FSDD.

Real models trained for a few steps on the bundled 120-clip FSDD sample (takes 0 and 5 of
every digit and speaker) under the default strategy; the EER is recomputed independently
from the saved weights (WAV files read with scipy, centred by hand, every pair scored with
`itertools.combinations`).
"""

from __future__ import annotations

import itertools
import json
from math import comb

import keras
import numpy as np
import pytest
from scipy.io import wavfile

from kerasaudio.datasets import fsdd
from kerasaudio.errors import InvalidOptionError
from kerasaudio.metrics.eer import eer
from kerasaudio.training import speakers
from kerasaudio.training.build import build_from_config
from kerasaudio.training.recipe import load_recipe
from zoo.train import publish_run

QUICK = ["training.epochs=1", "training.batch_size=16"]


def _recipe(name: str):
    return load_recipe(f"{name}_fsdd_speakers", QUICK)


@pytest.fixture(scope="module")
def deep_speaker_run(tmp_path_factory):
    """Deep Speaker: official split and the unseen-speaker fold holding out theo, 2 steps."""
    recipe = _recipe("deep_speaker")
    out = tmp_path_factory.mktemp("deep_speaker_speakers")
    metrics = speakers.run(recipe, protocols=("official", "unseen"), folds=["theo"],
                           out=out, sample=True, max_steps=2, log=lambda line: None)
    return recipe, out, metrics


def _centred(path: str, samples: int) -> np.ndarray:
    rate, audio = wavfile.read(path)
    assert rate == fsdd.SAMPLE_RATE and audio.dtype == np.int16
    audio = audio.astype("float32") / 32768.0
    if len(audio) >= samples:
        start = (len(audio) - samples) // 2
        return audio[start:start + samples]
    before = (samples - len(audio)) // 2
    return np.pad(audio, (before, samples - len(audio) - before))


@pytest.mark.parametrize(("labels", "involving", "target", "nontarget"), [
    (["a", "a", "b"], None, 1, 2),
    (["a"] * 10 + ["b"] * 10 + ["c"] * 10, None, 3 * comb(10, 2), comb(30, 2) - 3 * comb(10, 2)),
    # Trials involving the first speaker: its own pairs and its pairs with the others.
    (["a"] * 10 + ["b"] * 5 + ["c"] * 5, [True] * 10 + [False] * 10, comb(10, 2), 10 * 10),
])
def test_trials_counts(labels, involving, target, nontarget):
    i, j, is_target = speakers.trials(labels, involving=involving)
    assert (i < j).all()
    assert len(set(zip(i.tolist(), j.tolist(), strict=True))) == len(i)
    assert int(is_target.sum()) == target and int((~is_target).sum()) == nontarget
    labels = np.asarray(labels)
    assert (is_target == (labels[i] == labels[j])).all()
    if involving is not None:
        mask = np.asarray(involving)
        assert (mask[i] | mask[j]).all()


@pytest.mark.parametrize("speaker", fsdd.SPEAKERS)
def test_unseen_split_is_speaker_disjoint(speaker):
    index = fsdd.load(sample=True)
    train_df, test_df = speakers.unseen_split(index, speaker)
    assert speaker not in set(train_df["speaker"])
    assert set(train_df["speaker"]) == set(fsdd.SPEAKERS) - {speaker}
    assert set(train_df["path"]).isdisjoint(test_df["path"])
    assert (train_df["take"] >= 5).all()
    # Sample: take 5 of 5 speakers x 10 digits; test: the held-out speaker's 20 clips
    # and take 0 of the other five.
    assert len(train_df) == 50
    assert (test_df["speaker"] == speaker).sum() == 20 and len(test_df) == 70


@pytest.mark.slow
def test_official_run_metrics_and_trial_counts(deep_speaker_run):
    _, out, metrics = deep_speaker_run
    official = metrics["official"]
    assert official["total"] == 60 and official["train_clips"] == 60
    assert official["steps"] == 2 and official["replicas"] == 1
    assert np.asarray(official["confusion"]).shape == (6, 6)
    assert np.asarray(official["confusion"]).sum() == 60
    assert official["correct"] == np.trace(official["confusion"])
    # 60 held-out clips, 10 per speaker: 6 * C(10, 2) target pairs of C(60, 2).
    v = official["verification"]
    assert v["target_trials"] == 270 and v["nontarget_trials"] == comb(60, 2) - 270
    assert 0.0 <= v["eer"] <= 1.0
    assert official["embedding_dim"] == 128
    assert (out / official["weights"]).stat().st_size == official["weights_bytes"]
    written = json.loads((out / "metrics.json").read_text())
    assert written["official"]["verification"] == v and written["task"] == "speakers"


@pytest.mark.slow
def test_unseen_fold_trial_counts(deep_speaker_run):
    _, _, metrics = deep_speaker_run
    unseen = metrics["unseen"]
    assert unseen["speakers"] == ["theo"] and unseen["complete"] is False
    fold = unseen["per_speaker"]["theo"]
    assert fold["train_clips"] == 50 and fold["held_out_clips"] == 20
    # Held-out speaker (20 clips) among themselves, and against 50 clips of the others.
    assert fold["target_trials"] == comb(20, 2) and fold["nontarget_trials"] == 20 * 50
    assert unseen["mean_eer"] == fold["eer"]


@pytest.mark.slow
def test_eer_recomputed_independently(deep_speaker_run):
    """Rebuild from config.json + weights, embed by hand, score every pair, compare."""
    recipe, out, metrics = deep_speaker_run
    config = json.loads((out / "config.json").read_text())
    assert config["class_names"] == list(fsdd.SPEAKERS) and config["kwargs"]["classes"] == 6
    model = build_from_config(config, weights=out / metrics["official"]["weights"])
    _, test_df = fsdd.official_split(fsdd.load(sample=True))
    audio = np.stack([_centred(p, recipe.samples) for p in test_df["path"]])
    head = model.get_layer("predictions")
    embedder = keras.Model(model.inputs, head.input)
    embeddings = keras.ops.convert_to_numpy(embedder([audio], training=False))
    probs = keras.ops.convert_to_numpy(model([audio], training=False))

    _, ours = speakers.embed(model, recipe, test_df)
    np.testing.assert_allclose(ours, embeddings, rtol=1e-4, atol=1e-5)

    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    names = list(test_df["speaker"])
    labels, scores = [], []
    for a, b in itertools.combinations(range(len(names)), 2):
        labels.append(int(names[a] == names[b]))
        scores.append(float(unit[a] @ unit[b]))
    expected, _ = eer(labels, scores)
    v = metrics["official"]["verification"]
    assert v["eer"] == pytest.approx(expected, abs=1e-4)
    assert (sum(labels), len(labels) - sum(labels)) == (v["target_trials"],
                                                         v["nontarget_trials"])
    truth = np.array([fsdd.SPEAKERS.index(s) for s in names])
    accuracy = float((probs.argmax(1) == truth).mean())
    assert metrics["official"]["identification_accuracy"] == pytest.approx(accuracy, abs=1e-5)


@pytest.mark.slow
def test_merge_unseen_adds_folds_of_parallel_runs(deep_speaker_run, tmp_path):
    recipe, out, _ = deep_speaker_run
    original = (out / "metrics.json").read_text()
    target = tmp_path / "main"
    target.mkdir()
    (target / "metrics.json").write_text(original)
    # A second run of the same recipe whose fold is renamed, as if it had held out lucas.
    other = tmp_path / "other"
    other.mkdir()
    theirs = json.loads(original)
    fold = dict(theirs["unseen"]["per_speaker"]["theo"], eer=0.25)
    theirs["unseen"]["per_speaker"] = {"lucas": fold}
    (other / "metrics.json").write_text(json.dumps(theirs))
    merged = speakers.merge_unseen(target, [other])["unseen"]
    assert merged["speakers"] == ["lucas", "theo"] and merged["complete"] is False
    theo = json.loads(original)["unseen"]["per_speaker"]["theo"]["eer"]
    assert merged["mean_eer"] == pytest.approx((theo + 0.25) / 2, abs=1e-5)
    assert json.loads((target / "metrics.json").read_text())["unseen"] == merged
    theirs["recipe"]["seed"] = 1
    (other / "metrics.json").write_text(json.dumps(theirs))
    with pytest.raises(InvalidOptionError, match="different recipe"):
        speakers.merge_unseen(target, [other])
    with pytest.raises(InvalidOptionError, match="sample"):
        publish_run(recipe, out)


@pytest.mark.slow
def test_vggvox_v2_recipe_trains_and_rebuilds(tmp_path):
    recipe = _recipe("vggvox_v2")
    metrics = speakers.run(recipe, protocols=("official",), out=tmp_path, sample=True,
                           max_steps=2, log=lambda line: None)
    official = metrics["official"]
    assert official["verification"]["target_trials"] == 270
    assert official["embedding_dim"] == 128
    config = json.loads((tmp_path / "config.json").read_text())
    model = build_from_config(config, weights=tmp_path / official["weights"])
    assert model.output_shape == (None, 6)
    assert model.count_params() == official["parameters"]


def test_bad_protocol_and_fold():
    recipe = _recipe("deep_speaker")
    with pytest.raises(InvalidOptionError, match="protocols"):
        speakers.run(recipe, out="unused", protocols=("loso",), sample=True)
    with pytest.raises(InvalidOptionError, match="folds"):
        speakers.run(recipe, out="unused", protocols=("unseen",), folds=["alice"],
                     sample=True)
    with pytest.raises(InvalidOptionError, match="digits recipe"):
        speakers.run(load_recipe("m5_fsdd_digits"), out="unused", sample=True)


@pytest.mark.parametrize("option", ["training.swa_epochs=1", "training.ema_momentum=0.9",
                                    'adversary={"factor": 0.1}',
                                    'distill={"teachers": ["zoo/runs/x"]}',
                                    'data.synthetic={"takes": 1}'])
def test_digit_only_training_options_are_refused(option):
    with pytest.raises(InvalidOptionError, match="does not take"):
        load_recipe("deep_speaker_fsdd_speakers", [*QUICK, option])
