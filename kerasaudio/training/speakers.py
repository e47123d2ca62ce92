"""The speaker recipes' protocols on FSDD's six speakers: identification and verification.

A speaker recipe is a training recipe with `"task": "speakers"` (the six speakers are
the classes); recipe parsing, model building and the training loop are the digit
recipes' (`kerasaudio.training.recipe`, `.build`, `.fit`). This module adds the
embedding network and the protocols:

- `official`: train on takes 5-49 of every speaker (six classes), test on takes 0-4.
  Reported: six-way identification accuracy of the softmax head, and verification EER
  from the embeddings (the input of the `predictions` layer: the `include_top=False`
  network's embedding before any L2 normalisation), cosine similarity of every unordered
  pair of held-out clips. This model is the preset.
- `unseen` (the speaker-disjoint analogue of leave-one-speaker-out): for each speaker,
  train on takes 5-49 of the other five (five classes); then embed every clip of the
  held-out speaker (never seen in training) and the held-out takes 0-4 of the other
  five (not trained on either) and score every pair that involves the held-out speaker.
  EER per speaker and the mean.

The run directory is the digit recipes' (`kerasaudio.training.protocols`):
`<preset>.weights.h5`, `config.json`, `recipe.json` and `metrics.json`.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from kerasaudio.data import audio_dataset
from kerasaudio.errors import InvalidOptionError
from kerasaudio.metrics.eer import eer
from kerasaudio.training.build import builder_config
from kerasaudio.training.fit import train
from kerasaudio.training.pipeline import load_index
from kerasaudio.training.protocols import (
    check_run,
    run_on_chief,
    same_training,
    start_metrics,
    train_official,
    write_json,
)
from kerasaudio.training.recipe import TASKS, Recipe

__all__ = [
    "CLASSES",
    "PROTOCOLS",
    "embed",
    "embedding_model",
    "evaluate",
    "merge_unseen",
    "run",
    "trials",
    "unseen_split",
    "verification",
]

#: Class names of a speaker preset, in output order.
CLASSES = TASKS["speakers"]
#: The speaker protocols.
PROTOCOLS = ("official", "unseen")



def embedding_model(model: keras.Model) -> keras.Model:
    """The embedding network inside a speaker classifier: the input of `predictions`.

    Shares the weights of `model`. For `vggvox_v2` it is the fc6 embedding, for
    `deep_speaker` the `affine` output: the embedding of the `include_top=False` network
    up to its L2 normalisation, which cosine scoring makes irrelevant.
    """
    try:
        head = model.get_layer("predictions")
    except ValueError:
        raise InvalidOptionError(
            f"{model.name} has no 'predictions' layer: build it with include_top=True."
        ) from None
    return keras.Model(model.inputs, head.input, name=f"{model.name}_embedding")



def unseen_split(index: pd.DataFrame, speaker: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`(train, test)` of the unseen-speaker fold that holds out `speaker`.

    Train: takes 5-49 of the other five speakers. Test: every clip of `speaker` and
    takes 0-4 of the others (no test clip was trained on).
    """
    if speaker not in CLASSES:
        raise InvalidOptionError(f"speaker {speaker!r}: use one of {CLASSES}.")
    held = index["speaker"] == speaker
    test_takes = index["split"] == "test"
    train_df = index[~held & ~test_takes].reset_index(drop=True)
    test_df = index[held | test_takes].reset_index(drop=True)
    return train_df, test_df



def embed(model: keras.Model, recipe: Recipe,
          frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """`(probabilities, embeddings)` of every clip of `frame` (centred, as at inference)."""
    embedder = embedding_model(model)
    both = keras.Model(model.inputs, [model.outputs[0], embedder.outputs[0]])
    ds = audio_dataset(frame, sample_rate=recipe.sample_rate, duration=recipe.duration,
                       batch_size=recipe.training.batch_size, cache=False,
                       length_mode="center")
    probs, embeddings = both.predict(ds, verbose=0)
    return np.asarray(probs, "float64"), np.asarray(embeddings, "float64")


def trials(labels: Sequence | np.ndarray, *, involving: Sequence | np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every unordered pair of clips `(i, j)`, `i < j`, and whether it is a target trial.

    Args:
        labels: the speaker of each clip.
        involving: optional boolean mask; keep only the pairs with at least one clip in it.

    Returns:
        `(i, j, target)`: index arrays and a boolean array (same speaker).

    Example:
    ```python
    from kerasaudio.training.speakers import trials

    i, j, target = trials(["a", "a", "b"])
    target.tolist()  # [True, False, False]: pairs (0, 1), (0, 2), (1, 2)
    ```
    """
    label_array = np.asarray(labels)
    i, j = np.triu_indices(len(label_array), k=1)
    if involving is not None:
        mask = np.asarray(involving, bool)
        keep = mask[i] | mask[j]
        i, j = i[keep], j[keep]
    return i, j, label_array[i] == label_array[j]


def verification(embeddings: np.ndarray, labels: Sequence | np.ndarray, *,
                 involving: Sequence | np.ndarray | None = None) -> dict:
    """Cosine-scored verification over `trials(labels, involving=...)`.

    Returns:
        `eer`, `threshold` (cosine at the EER), `target_trials`, `nontarget_trials`.

    Example:
    ```python
    import numpy as np
    from kerasaudio.training.speakers import verification

    embeddings = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    verification(embeddings, ["a", "a", "b"])["eer"]  # 0.0
    ```
    """
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    i, j, target = trials(labels, involving=involving)
    scores = np.einsum("nd,nd->n", unit[i], unit[j])
    rate, threshold = eer(target.astype(int), scores)
    return {"eer": round(rate, 5), "threshold": round(threshold, 5),
            "target_trials": int(target.sum()), "nontarget_trials": int((~target).sum())}


def evaluate(model: keras.Model, recipe: Recipe, frame: pd.DataFrame) -> dict:
    """Identification accuracy (six-way) and verification EER on `frame`.

    Returns:
        `identification_accuracy`, `correct`, `total`, the 6 x 6 `confusion` (rows: true
        speaker), `errors` (file, true, predicted) and `verification` (`verification`
        over every pair of clips of `frame`).
    """
    probs, embeddings = embed(model, recipe, frame)
    truth = np.array([CLASSES.index(s) for s in frame["speaker"]])
    predicted = probs.argmax(axis=1)
    confusion = np.zeros((len(CLASSES),) * 2, int)
    np.add.at(confusion, (truth, predicted), 1)
    correct = int((predicted == truth).sum())
    errors = [[os.path.basename(p), CLASSES[t], CLASSES[q]]
              for p, t, q in zip(frame["path"], truth, predicted, strict=True) if t != q]
    return {"identification_accuracy": round(correct / len(truth), 5), "correct": correct,
            "total": len(truth), "confusion": confusion.tolist(), "errors": errors,
            "verification": verification(embeddings, truth)}



def run(recipe: Recipe, *, out: str | os.PathLike, protocols: Sequence[str] = PROTOCOLS,
        folds: Sequence[str] | None = None, strategy: tf.distribute.Strategy | None = None,
        data: str | None = None, sample: bool = False, max_steps: int | None = None,
        resume: bool = False, verbose: int = 0,
        log: Callable[[str], None] = print) -> dict:
    """Run a speaker recipe's protocols and write the run directory; return the metrics.

    Args:
        recipe: a speakers-task recipe.
        out: the run directory.
        protocols: `"official"` (trains and saves the preset's model) and/or `"unseen"`.
        folds: the held-out speakers of `unseen` to run (default all six).
        strategy: a `tf.distribute` strategy (default: the current one).
        data: FSDD directory (default: found by `fsdd.find_root`).
        sample: use the bundled 120-clip sample (smoke tests).
        max_steps: cap on the steps per epoch (smoke tests).
        resume: keep the results already in `out/metrics.json`; unseen folds are
            written as they finish and skipped when done.
        verbose: log a line per epoch of the official training.
        log: where progress lines go.

    Returns:
        The metrics written to `metrics.json`.

    Raises:
        InvalidOptionError: a digits-task recipe, an unknown protocol or fold, or
            `resume` over another recipe's run.

    Example:
    ```python
    from kerasaudio.training import load_recipe
    from kerasaudio.training.speakers import run

    recipe = load_recipe("deep_speaker_fsdd_speakers", ["training.epochs=1"])
    metrics = run(recipe, out="runs/ds-smoke", protocols=["official"], sample=True,
                  max_steps=2)
    metrics["official"]["verification"]["eer"]
    ```
    """
    check_run(recipe, task="speakers", runner="kerasaudio.training.protocols.run",
              protocols=protocols, known=PROTOCOLS)
    if folds:
        bad = sorted(set(folds) - set(CLASSES))
        if bad:
            raise InvalidOptionError(f"folds {bad}: use speakers of {CLASSES}.")
    strategy = strategy or tf.distribute.get_strategy()
    return run_on_chief(_run, recipe, out=out, protocols=protocols, folds=folds,
                        strategy=strategy, data=data, sample=sample, max_steps=max_steps,
                        resume=resume, verbose=verbose, log=log)


def _run(recipe: Recipe, *, protocols, folds, out: Path, strategy, data, sample, max_steps,
         resume, verbose, log) -> dict:
    metrics_path, metrics = start_metrics(recipe, out, rerun="unseen", protocols=protocols,
                                          folds=folds, resume=resume, strategy=strategy,
                                          sample=sample, task="speakers")
    write_json(out / "config.json", builder_config(recipe))
    index = load_index(data, sample=sample)

    if "official" in protocols and not (resume and "official" in metrics):
        model, result, record = train_official(
            recipe, index, evaluate=evaluate, out=out, strategy=strategy,
            max_steps=max_steps, verbose=verbose, log=log, note=f", {len(CLASSES)} speakers")
        weights = out / record["weights"]
        metrics["official"] = {**record,
                               "embedding_dim": int(embedding_model(model).outputs[0].shape[-1]),
                               "weights_bytes": weights.stat().st_size}
        metrics["date"] = datetime.date.today().isoformat()
        write_json(metrics_path, metrics)
        v = result["verification"]
        log(f"[{recipe.preset}] official: identification {result['identification_accuracy']:.4f}"
            f" ({result['correct']}/{result['total']}), EER {v['eer']:.4f} over "
            f"{v['target_trials']} target / {v['nontarget_trials']} non-target trials, "
            f"trained in {record['seconds']:.0f} s")

    if "unseen" in protocols:
        unseen = metrics.setdefault("unseen", {"per_speaker": {}})
        for speaker in CLASSES:
            if folds and speaker not in folds:
                continue
            if resume and speaker in unseen["per_speaker"]:
                continue
            train_df, test_df = unseen_split(index, speaker)
            others = [s for s in CLASSES if s != speaker]
            model, info = train(recipe, train_df, class_names=others, strategy=strategy,
                                max_steps=max_steps)
            _, embeddings = embed(model, recipe, test_df)
            held = (test_df["speaker"] == speaker).to_numpy()
            result = verification(embeddings, test_df["speaker"], involving=held)
            unseen["per_speaker"][speaker] = {**result, **info, "train_clips": len(train_df),
                                              "test_clips": len(test_df),
                                              "held_out_clips": int(held.sum())}
            _summarise_unseen(unseen)
            done = unseen["per_speaker"]
            write_json(metrics_path, metrics)
            log(f"[{recipe.preset}] unseen {speaker:9s}: EER {result['eer']:.4f} over "
                f"{result['target_trials']} target / {result['nontarget_trials']} non-target "
                f"trials, trained in {info['seconds']:.0f} s; running mean "
                f"{unseen['mean_eer']:.4f} over {len(done)} fold(s)")
    write_json(metrics_path, metrics)
    return metrics


def _summarise_unseen(unseen: dict) -> None:
    done = unseen["per_speaker"]
    unseen["per_speaker"] = {s: done[s] for s in CLASSES if s in done}
    unseen["mean_eer"] = round(float(np.mean([r["eer"] for r in done.values()])), 5)
    unseen["speakers"] = [s for s in CLASSES if s in done]
    unseen["complete"] = set(done) == set(CLASSES)
    unseen["seconds"] = round(sum(r["seconds"] for r in done.values()), 1)


def _recipe_of(metrics: dict) -> Recipe:
    data = dict(metrics.get("recipe") or {})
    data.setdefault("task", metrics.get("task", "speakers"))
    return Recipe.from_dict(data)


def merge_unseen(out: str | os.PathLike, others: Sequence[str | os.PathLike]) -> dict:
    """Add the unseen-speaker folds of other runs of the same recipe to `out`'s metrics.

    Folds can run in parallel processes, each with its own output directory; this merges
    their `metrics.json` fold results into `<out>/metrics.json` (a fold already in `out`
    is kept) and returns the metrics.

    Raises:
        InvalidOptionError: another run of a different recipe, or a mix of sample and
            full-data runs.
    """
    path = Path(out) / "metrics.json"
    metrics = json.loads(path.read_text())
    unseen = metrics.setdefault("unseen", {"per_speaker": {}})
    for other in others:
        theirs = json.loads((Path(other) / "metrics.json").read_text())
        if not same_training(theirs, _recipe_of(metrics)):
            raise InvalidOptionError(f"{other}: a different recipe than {out}; not merged.")
        if theirs.get("sample") != metrics.get("sample"):
            raise InvalidOptionError(f"{other}: sample and full-data runs do not mix.")
        for speaker, result in theirs.get("unseen", {}).get("per_speaker", {}).items():
            unseen["per_speaker"].setdefault(speaker, {**result, "run": str(other)})
    if unseen["per_speaker"]:
        _summarise_unseen(unseen)
    write_json(path, metrics)
    return metrics
