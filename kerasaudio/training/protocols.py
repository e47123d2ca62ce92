"""The digit recipes' protocols on FSDD, their evaluation, and the run directory.

- `official`: train on takes 5-49 of every speaker, test on takes 0-4; this model is the
  preset.
- `loso` (leave-one-speaker-out): six retrainings, each speaker held out in turn and
  tested on all of its clips.

A run directory (`out`) holds `<preset>.weights.h5` (the official model), `config.json`
(the exact builder call: `build_from_config` rebuilds every model of the run),
`metrics.json` (official and per-speaker accuracy, confusion matrices, histories, times,
versions), `recipe.json` (the recipe as run, overrides included) and
`loso/<held-out speaker>.weights.h5` (each fold's model). Results are written as they
finish, so a run can be resumed.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from kerasaudio.datasets import fsdd
from kerasaudio.errors import InvalidOptionError
from kerasaudio.training.build import builder_config
from kerasaudio.training.fit import train
from kerasaudio.training.pipeline import dataset, load_index, with_extra
from kerasaudio.training.recipe import Recipe, parse_recipe
from kerasaudio.training.strategy import is_chief

__all__ = ["PROTOCOLS", "evaluate", "probabilities", "run", "run_on_chief",
           "same_training", "start_metrics", "write_json"]

#: The digit protocols.
PROTOCOLS = ("official", "loso")


def write_json(path: Path, data) -> None:
    """Write `data` as JSON to `path` atomically (a temporary file, then a rename)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)


def same_training(metrics: dict | None, recipe) -> bool:
    """Whether `metrics` (a run's `metrics.json`) was written by a run of `recipe`.

    The description aside; a run written before an option existed has its default, and
    a run's task is its metrics' `task` when its recipe does not name one.
    """
    if not metrics or metrics.get("recipe") is None:
        return False

    def strip(data: dict) -> dict:
        try:
            data = parse_recipe(data).to_dict()
        except (InvalidOptionError, TypeError, ValueError, KeyError):
            pass
        return {k: v for k, v in data.items() if k != "description"}

    old = dict(metrics["recipe"])
    if "members" not in old:
        old.setdefault("task", metrics.get("task", "digits"))
    return strip(old) == strip(recipe.to_dict())


def _environment(strategy) -> dict:
    from kerasaudio._version import __version__

    return {"kerasaudio": __version__, "keras": keras.version(),
            "tensorflow": tf.__version__, "python": platform.python_version(),
            "backend": keras.backend.backend(), "strategy": type(strategy).__name__,
            "replicas": strategy.num_replicas_in_sync, "cpus": os.cpu_count()}


def check_run(recipe: Recipe, *, task: str, runner: str, protocols: Sequence[str],
              known: Sequence[str]) -> None:
    """Refuse a recipe of another task than `task` (naming the `runner` for it) and
    protocols not in `known`, with an `InvalidOptionError`."""
    if recipe.task != task:
        raise InvalidOptionError(f"{recipe.preset}: a {recipe.task} recipe; run it with "
                                 f"{runner}.")
    unknown = sorted(set(protocols) - set(known))
    if unknown:
        raise InvalidOptionError(f"protocols {unknown}: use {tuple(known)}.")


def run_on_chief(run_recipe: Callable, recipe, *, out: str | os.PathLike, strategy,
                 **options) -> dict:
    """`run_recipe(recipe, out=..., strategy=..., **options)` in the run directory `out`;
    the other workers of a multi-worker run compute the same thing in a scratch
    directory, removed at the end."""
    if not is_chief(strategy):
        scratch = Path(tempfile.mkdtemp(prefix=f"{recipe.preset}-worker-"))
        try:
            return run_recipe(recipe, out=scratch, strategy=strategy, **options)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return run_recipe(recipe, out=Path(out), strategy=strategy, **options)


def start_metrics(recipe, out: Path, *, rerun: str, protocols, folds, resume, strategy,
                  sample, **fields) -> tuple[Path, dict]:
    """`(metrics_path, metrics)` of a run starting in `out`, with `recipe.json` written.

    Results of the same recipe already in `out` are kept (a LOSO run after an official
    one adds to it); a different recipe starts afresh (refused with `resume`). The
    `rerun` protocol's old folds are dropped when it runs again in full without
    `resume`. `fields` go into the metrics after the preset's name.

    Raises:
        InvalidOptionError: `resume` with results of a different recipe in `out`.
    """
    out.mkdir(parents=True, exist_ok=True)
    metrics_path = out / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    if not same_training(metrics, recipe):
        if resume and metrics:
            raise InvalidOptionError(
                f"--resume: {metrics_path} was written by a different recipe; use another "
                "--out/--tag or drop --resume.")
        metrics = {}
    if rerun in protocols and not resume and not folds:
        metrics.pop(rerun, None)
    metrics.update({"preset": recipe.preset, **fields, "recipe": recipe.to_dict(),
                    "environment": _environment(strategy), "sample": bool(sample)})
    write_json(out / "recipe.json", recipe.to_dict())
    return metrics_path, metrics


def probabilities(model: keras.Model, recipe: Recipe, frame: pd.DataFrame) -> np.ndarray:
    """`model`'s class probabilities for the clips of `frame`, centred as at inference."""
    ds = dataset(recipe, frame, train=False)
    return model.predict(ds.map(lambda x, y: x), verbose=0)


def evaluate(model: keras.Model, recipe: Recipe, frame: pd.DataFrame) -> dict:
    """Digit accuracy of `model` on `frame` (clips centred in the window, as at inference).

    Returns:
        `accuracy`, `correct`, `total`, the 10 x 10 `confusion` matrix (rows: true
        digit) and the `errors` (file name, true and predicted digit).
    """
    probs = probabilities(model, recipe, frame)
    truth = np.asarray(frame["digit"], int)
    predicted = probs.argmax(axis=1)
    confusion = np.zeros((len(fsdd.CLASSES),) * 2, int)
    np.add.at(confusion, (truth, predicted), 1)
    correct = int((predicted == truth).sum())
    errors = [[os.path.basename(p), int(t), int(q)]
              for p, t, q in zip(frame["path"], truth, predicted, strict=True) if t != q]
    return {"accuracy": round(correct / len(truth), 5), "correct": correct,
            "total": len(truth), "confusion": confusion.tolist(), "errors": errors}


def train_official(recipe: Recipe, index: pd.DataFrame, *, evaluate: Callable, out: Path,
                   strategy, max_steps, verbose: bool, log: Callable,
                   extra_train: pd.DataFrame | None = None, note: str = ""):
    """Train `recipe` on FSDD's official split (takes 5-49 of `index`, then
    `extra_train`), score it with `evaluate(model, recipe, test_df)` on takes 0-4 and save
    its weights as `out/<preset>.weights.h5`; `note` ends the log line that starts it.

    Returns:
        `(model, result, record)`: the trained model, `evaluate`'s result and the run's
        record for `metrics["official"]` (the result, the training info, `train_clips`,
        `parameters` and the `weights` file's name).
    """
    train_df, test_df = fsdd.official_split(index)
    train_df = with_extra(train_df, extra_train)
    log(f"[{recipe.preset}] official split: train {len(train_df)} clips (takes 5-49), "
        f"test {len(test_df)} (takes 0-4){note}")
    model, info = train(recipe, train_df, strategy=strategy, max_steps=max_steps,
                        log=log if verbose else None)
    result = evaluate(model, recipe, test_df)
    weights = out / f"{recipe.preset}.weights.h5"
    model.save_weights(weights)
    record = {**result, **info, "train_clips": len(train_df),
              "parameters": model.count_params(), "weights": weights.name}
    return model, result, record


def run(recipe: Recipe, *, out: str | os.PathLike, protocols: Sequence[str] = PROTOCOLS,
        folds: Sequence[str] | None = None, strategy: tf.distribute.Strategy | None = None,
        data: str | None = None, sample: bool = False, max_steps: int | None = None,
        resume: bool = False, extra_train: pd.DataFrame | None = None, verbose: int = 0,
        log: Callable[[str], None] = print) -> dict:
    """Run a digit recipe's protocols and write the run directory; return the metrics.

    Args:
        recipe: a digits-task recipe.
        out: the run directory.
        protocols: `"official"` (trains and saves the preset's model) and/or `"loso"`.
        folds: LOSO speakers to run (default all six).
        strategy: a `tf.distribute` strategy (default: the current one).
        data: FSDD directory (default: found by `fsdd.find_root`).
        sample: use the bundled 120-clip sample (smoke tests).
        max_steps: cap on the steps per epoch (smoke tests).
        resume: keep the results already in `out/metrics.json` and run only what is
            missing (LOSO folds are written as they finish).
        extra_train: clips added to every training split (the recipe's
            `data.synthetic` clips, which the caller generates); required when the
            recipe has `data.synthetic`.
        verbose: log a line per epoch of the official training.
        log: where progress lines go.

    Returns:
        The metrics written to `metrics.json`.

    Raises:
        InvalidOptionError: an unknown protocol, a speakers-task recipe, a synthetic
            recipe without `extra_train`, or `resume` over another recipe's run.

    Example:
    ```python
    from kerasaudio.training import load_recipe, run

    recipe = load_recipe("m5_fsdd_digits", ["training.epochs=1", "training.batch_size=8"])
    metrics = run(recipe, out="runs/m5-smoke", protocols=["official"], sample=True,
                  max_steps=2)
    metrics["official"]["accuracy"]
    ```
    """
    check_run(recipe, task="digits", runner="kerasaudio.training.speakers.run",
              protocols=protocols, known=PROTOCOLS)
    if recipe.synthetic and extra_train is None:
        raise InvalidOptionError(
            f"{recipe.preset}: data.synthetic needs the synthetic clips, which the zoo "
            "tooling generates (python -m zoo train); kerasaudio train does not.")
    strategy = strategy or tf.distribute.get_strategy()
    return run_on_chief(_run, recipe, out=out, protocols=protocols, folds=folds,
                        strategy=strategy, data=data, sample=sample, max_steps=max_steps,
                        resume=resume, extra_train=extra_train, verbose=verbose, log=log)


def _run(recipe: Recipe, *, protocols, folds, out: Path, strategy, data, sample, max_steps,
         resume, extra_train, verbose, log) -> dict:
    metrics_path, metrics = start_metrics(recipe, out, rerun="loso", protocols=protocols,
                                          folds=folds, resume=resume, strategy=strategy,
                                          sample=sample)
    write_json(out / "config.json", builder_config(recipe))
    index = load_index(data, sample=sample)

    if "official" in protocols and not (resume and "official" in metrics):
        _, result, metrics["official"] = train_official(
            recipe, index, evaluate=evaluate, out=out, strategy=strategy,
            max_steps=max_steps, verbose=verbose, log=log, extra_train=extra_train)
        metrics["date"] = datetime.date.today().isoformat()
        write_json(metrics_path, metrics)
        log(f"[{recipe.preset}] official split: accuracy {result['accuracy']:.4f} "
            f"({result['correct']}/{result['total']}) in "
            f"{metrics['official']['seconds']:.0f} s")

    if "loso" in protocols:
        loso = metrics.setdefault("loso", {"per_speaker": {}})
        for speaker, train_df, test_df in fsdd.leave_one_speaker_out(index):
            if folds and speaker not in folds:
                continue
            if resume and speaker in loso["per_speaker"]:
                continue
            train_df = with_extra(train_df, extra_train)
            model, info = train(recipe, train_df, strategy=strategy, max_steps=max_steps)
            result = evaluate(model, recipe, test_df)
            # Each fold's model is kept (the same config.json rebuilds it), for
            # ensembles and error analyses of the folds without retraining.
            fold_weights = out / "loso" / f"{speaker}.weights.h5"
            fold_weights.parent.mkdir(exist_ok=True)
            model.save_weights(fold_weights)
            loso["per_speaker"][speaker] = {**result, **info, "train_clips": len(train_df),
                                            "weights": f"loso/{fold_weights.name}"}
            done = loso["per_speaker"]
            loso["mean_accuracy"] = round(float(np.mean(
                [r["accuracy"] for r in done.values()])), 5)
            loso["speakers"] = sorted(done, key=fsdd.SPEAKERS.index)
            loso["complete"] = set(done) == set(fsdd.SPEAKERS)
            loso["seconds"] = round(sum(r["seconds"] for r in done.values()), 1)
            write_json(metrics_path, metrics)
            log(f"[{recipe.preset}] LOSO held out {speaker:9s}: accuracy "
                f"{result['accuracy']:.4f} ({result['correct']}/{result['total']}) in "
                f"{info['seconds']:.0f} s; running mean {loso['mean_accuracy']:.4f} over "
                f"{len(done)} fold(s)")
    write_json(metrics_path, metrics)
    return metrics
