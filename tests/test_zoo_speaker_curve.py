"""zoo.speaker_curve: accuracy on an unseen speaker against the number of training
speakers (a few real training steps on the bundled FSDD sample)."""

import json

import pytest

from kerasaudio.datasets import fsdd
from kerasaudio.errors import InvalidOptionError
from kerasaudio.training.recipe import load_recipe
from zoo import speaker_curve

TINY = ["training.epochs=1", "training.batch_size=8", "training.warmup_epochs=0"]


@pytest.mark.parametrize(("size", "count", "expected"), [(1, 9, 5), (2, 3, 3), (4, 9, 5),
                                                         (5, 2, 1)])
def test_subsets_are_distinct_seeded_and_exclude_the_held_out_speaker(size, count, expected):
    chosen = speaker_curve.subsets("nicolas", size, count, seed=0)
    assert len(chosen) == expected == len(set(chosen))
    assert all(len(c) == size and "nicolas" not in c for c in chosen)
    assert chosen == speaker_curve.subsets("nicolas", size, count, seed=0)
    with pytest.raises(InvalidOptionError, match="size"):
        speaker_curve.subsets("nicolas", 6, 1, seed=0)


@pytest.mark.parametrize(("speakers", "design", "clips", "per_speaker"), [
    (("george", "theo"), "all", 0, 20), (("george", "theo"), "fixed", 20, 10),
    (("george", "lucas", "theo", "yweweler"), "fixed", 20, 5),
])
def test_training_frame(speakers, design, clips, per_speaker):
    index = fsdd.load(sample=True)  # 20 clips per speaker
    frame = speaker_curve.training_frame(index, speakers, design, clips, seed=0)
    assert frame["speaker"].value_counts().to_dict() == {s: per_speaker for s in speakers}
    again = speaker_curve.training_frame(index, speakers, design, clips, seed=0)
    assert list(frame["path"]) == list(again["path"])


def test_fixed_design_needs_enough_clips():
    index = fsdd.load(sample=True)
    with pytest.raises(InvalidOptionError, match="clips"):
        speaker_curve.training_frame(index, ("george",), "fixed", 40, seed=0)


@pytest.mark.slow
def test_run_writes_resumable_results_and_a_table(tmp_path):
    recipe = load_recipe("m5_fsdd_digits", TINY)
    kwargs = dict(held_out=["george"], sizes=[1, 2], count=1, designs=["all", "fixed"],
                  clips=10, out=tmp_path, sample=True, max_steps=1)
    lines = []
    results = speaker_curve.run(recipe, log=lines.append, **kwargs)
    assert len(results) == len(lines) == 4
    assert {(r["design"], r["size"], r["train_clips"]) for r in results} == {
        ("all", 1, 20), ("all", 2, 40), ("fixed", 1, 10), ("fixed", 2, 10)}
    assert all(0 <= r["accuracy"] <= 1 and "george" not in r["speakers"] for r in results)
    saved = json.loads((tmp_path / "curve.json").read_text())
    assert saved["results"] == results and saved["recipe"] == recipe.to_dict()
    again = []
    assert speaker_curve.run(recipe, log=again.append, **kwargs) == results and again == []
    text = speaker_curve.table(results)
    assert text.splitlines()[0].startswith("| design | training speakers | george |")
    assert len(text.splitlines()) == 2 + 4
    other = load_recipe("m5_fsdd_digits", [*TINY, "seed=3"])
    with pytest.raises(InvalidOptionError, match="another recipe"):
        speaker_curve.run(other, **kwargs)
    with pytest.raises(InvalidOptionError, match="design"):
        speaker_curve.run(recipe, **{**kwargs, "designs": ["half"]})



@pytest.mark.slow
def test_bagging_trains_every_subset_once_and_averages(tmp_path):
    recipe = load_recipe("m5_fsdd_digits", TINY)
    lines = []
    summary = speaker_curve.bagging(recipe, held_out=["theo"], size=4, out=tmp_path,
                                    sample=True, max_steps=1, log=lines.append)
    members = summary["theo"]["members"]
    assert len(members) == 5 and all("theo" not in m for m in members)  # C(5, 4)
    assert len(list((tmp_path / "bagging").glob("theo-*.weights.h5"))) == 5
    assert 0 <= summary["theo"]["ensemble"] <= 1
    saved = json.loads((tmp_path / "bagging-4.json").read_text())
    assert saved["held_out"] == summary
    # Kept weights are reloaded, not retrained: the same member accuracies.
    again = speaker_curve.bagging(recipe, held_out=["theo"], size=4, out=tmp_path,
                                  sample=True, max_steps=1, log=lambda line: None)
    assert again == summary
