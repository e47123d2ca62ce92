"""The stacking recipe's protocols: published presets combined, measured like a digit recipe.

A `StackRecipe` trains nothing: its model is `create_model("stack",
members=..., aggregate=...)` over published digit presets. It is measured with the digit
protocols:

- `official`: the stack (the members' published, official-split models) on takes 0-4;
  the check `keras_stack_vs_member_aggregate_max_diff` compares the Keras stack's
  probabilities with `kerasaudio.layers.StackingEnsemble` applied to the members'
  own probabilities on the same clips.
- `loso`: for each held-out speaker, the members' leave-one-speaker-out fold models
  (trained without that speaker: `<runs_dir>/<member>/loso/<speaker>.weights.h5`,
  rebuilt from `<runs_dir>/<member>/config.json`, so every member's recipe must have run
  its folds) on all of the speaker's clips, combined by the same aggregate.

The run directory gets `recipe.json` and `metrics.json` (`{"recipe", "sample", ...}` and
the numbers a stack preset's manifest entry carries).
"""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from kerasaudio.datasets import fsdd
from kerasaudio.errors import InvalidOptionError
from kerasaudio.training.build import build_from_config
from kerasaudio.training.pipeline import load_index
from kerasaudio.training.protocols import same_training, write_json
from kerasaudio.training.recipe import StackRecipe

__all__ = ["PROTOCOLS", "combine", "fold_weights", "load_clips", "run"]

#: The stacking recipe's protocols.
PROTOCOLS = ("official", "loso")


def load_clips(frame: pd.DataFrame, *, sample_rate: int = fsdd.SAMPLE_RATE,
               length: int = fsdd.SAMPLE_RATE) -> np.ndarray:
    """The clips of `frame`, resampled to `sample_rate` and centred in `length` samples.

    Returns:
        A float32 array `(clips, length)`.
    """
    from kerasaudio.data import fix_length, load_audio

    return np.stack([fix_length(load_audio(p, sample_rate=sample_rate)[0], length)
                     for p in frame["path"]]).astype(np.float32)


def combine(probabilities: Sequence[np.ndarray], aggregate: str) -> np.ndarray:
    """The members' probabilities `(clips, classes)` each, combined as the stack does.

    Example:
    ```python
    import numpy as np
    from kerasaudio.training.stack import combine

    a = np.array([[0.9, 0.1]], "float32")
    b = np.array([[0.4, 0.6]], "float32")
    combine([a, b], "mean")  # [[0.65, 0.35]]
    ```
    """
    from kerasaudio.layers import StackingEnsemble

    layer = StackingEnsemble(members=len(probabilities),
                             classes=int(probabilities[0].shape[-1]), aggregate=aggregate)
    return np.asarray(layer([np.asarray(p, np.float32) for p in probabilities]))


def fold_weights(member: str, speaker: str, runs_dir: str | os.PathLike) -> Path | None:
    """The leave-one-speaker-out model of `member` without `speaker`, if trained: in
    `<runs_dir>/<member>/loso/` or a fold run's `<runs_dir>/<member>-fold-<speaker>/loso/`.
    """
    runs_dir = Path(runs_dir)
    for directory in (runs_dir / member, runs_dir / f"{member}-fold-{speaker}"):
        path = directory / "loso" / f"{speaker}.weights.h5"
        if path.is_file():
            return path
    return None


def _accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float((np.asarray(probs).argmax(1) == labels).mean())


def _official(recipe: StackRecipe, index: pd.DataFrame) -> dict:
    from kerasaudio.hub import create_model

    start = time.perf_counter()
    model = create_model("stack", members=recipe.members,
                                    aggregate=recipe.aggregate)
    _, test = fsdd.official_split(index)
    labels = test["digit"].astype(int).to_numpy()
    x = load_clips(test, length=int(model.inputs[0].shape[1]))
    probs = model.predict(x, batch_size=100, verbose=0)
    correct = int((probs.argmax(1) == labels).sum())
    seconds = time.perf_counter() - start
    members = [create_model(name).predict(x, batch_size=100, verbose=0)
               for name in recipe.members]
    check = float(np.abs(probs - combine(members, recipe.aggregate)).max())
    return {"official_accuracy": round(correct / len(labels), 5),
            "official_correct": f"{correct}/{len(labels)}",
            "evaluation_seconds": round(seconds, 1), "check": check}


def _loso(recipe: StackRecipe, index: pd.DataFrame, runs_dir: Path,
          log: Callable[[str], None]) -> dict:
    missing = {m: [s for s in fsdd.SPEAKERS if fold_weights(m, s, runs_dir) is None]
               for m in recipe.members}
    missing = {m: s for m, s in missing.items() if s}
    if missing:
        raise InvalidOptionError(
            f"{recipe.preset}: leave-one-speaker-out fold models missing in {runs_dir}: "
            f"{missing}; run the members' recipes with --protocol loso first.")
    configs = {m: json.loads((runs_dir / m / "config.json").read_text())
               for m in recipe.members}
    per_speaker: dict = {}
    per_member: dict[str, list] = {m: [] for m in recipe.members}
    for speaker in fsdd.SPEAKERS:
        frame = index[index["speaker"] == speaker]
        labels = frame["digit"].astype(int).to_numpy()
        x = load_clips(frame)
        probs = []
        for member in recipe.members:
            model = build_from_config(configs[member],
                                      weights=fold_weights(member, speaker, runs_dir))
            probs.append(model.predict(x, batch_size=100, verbose=0))
            per_member[member].append(_accuracy(probs[-1], labels))
        per_speaker[speaker] = round(_accuracy(combine(probs, recipe.aggregate), labels), 5)
        log(f"[{recipe.preset}] LOSO held out {speaker:9s}: stack {per_speaker[speaker]:.4f}, "
            "members " + ", ".join(f"{a[-1]:.3f}" for a in per_member.values()))
    return {"loso_accuracy": round(float(np.mean(list(per_speaker.values()))), 5),
            "loso_per_speaker": per_speaker,
            "members": {m: {"loso_accuracy": round(float(np.mean(a)), 5)}
                        for m, a in per_member.items()}}


def run(recipe: StackRecipe, *, out: str | os.PathLike,
        protocols: Sequence[str] = PROTOCOLS, runs_dir: str | os.PathLike | None = None,
        data: str | None = None, sample: bool = False,
        log: Callable[[str], None] = print) -> dict:
    """Measure a stacking recipe and write `out/metrics.json`; return the metrics.

    Args:
        recipe: the stacking recipe.
        out: the run directory.
        protocols: `"official"` and/or `"loso"`.
        runs_dir: the directory holding the members' runs (`<runs_dir>/<member>/`);
            default: the parent of `out`.
        data: FSDD directory (default: found by `fsdd.find_root`).
        sample: use the bundled 120-clip sample (smoke tests).
        log: where progress lines go.

    Returns:
        `{"recipe", "sample", ...}`: `official_accuracy`, `official_correct`,
        `loso_accuracy`, `loso_per_speaker`, `aggregate`, `members` (each member's LOSO
        mean), `checks` and `training` (date, evaluation time), as far as run.

    Raises:
        InvalidOptionError: an unknown protocol, or LOSO fold models missing.

    Example:
    ```python
    from kerasaudio.training import load_recipe
    from kerasaudio.training.stack import run

    recipe = load_recipe("stack_fsdd_digits")
    metrics = run(recipe, out="runs/stack_fsdd_digits", protocols=["official"],
                  sample=True)
    metrics["official_accuracy"]
    ```
    """
    unknown = sorted(set(protocols) - set(PROTOCOLS))
    if unknown:
        raise InvalidOptionError(f"protocols {unknown}: use {PROTOCOLS}.")
    out = Path(out)
    runs_dir = Path(runs_dir) if runs_dir is not None else out.parent
    index = load_index(data, sample=sample)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "metrics.json"
    metrics = json.loads(path.read_text()) if path.exists() else {}
    if not same_training(metrics, recipe) or metrics.get("sample") != bool(sample):
        metrics = {}
    metrics.update({"recipe": recipe.to_dict(), "sample": bool(sample),
                    "aggregate": recipe.aggregate})
    write_json(out / "recipe.json", recipe.to_dict())
    training = metrics.setdefault("training", {
        "note": "no training of its own: the members' recipes"})
    training["date"] = datetime.date.today().isoformat()
    if "official" in protocols:
        result = _official(recipe, index)
        metrics["checks"] = {"keras_stack_vs_member_aggregate_max_diff": result.pop("check")}
        training["evaluation_seconds"] = result.pop("evaluation_seconds")
        metrics.update(result)
        log(f"[{recipe.preset}] official split: accuracy {metrics['official_accuracy']:.4f} "
            f"({metrics['official_correct']})")
    if "loso" in protocols:
        metrics.update(_loso(recipe, index, runs_dir, log))
        log(f"[{recipe.preset}] LOSO mean {metrics['loso_accuracy']:.4f}")
    write_json(path, metrics)
    return metrics
