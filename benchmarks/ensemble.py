"""Stacking ensembles of the zoo's digit models on FSDD leave-one-speaker-out.

For every held-out speaker s, each member is the zoo recipe's LOSO fold model trained
WITHOUT s (`zoo/runs/<preset>/loso/<s>.weights.h5`, rebuilt from
`zoo/runs/<preset>/config.json` with `kerasaudio.training.build_from_config`), evaluated
on all of s's clips (centred in 1 s, as the recipes evaluate). The ensemble's aggregates combine
those fold models' probabilities; its best single member is the member with the highest
mean LOSO accuracy over the same speakers.

Learned stacking (`logistic`, `dense`) for held-out speaker s fits its meta-learner on the
other evaluated speakers' out-of-fold predictions only: speaker t's clips as predicted by
the fold models trained without t (t != s). The meta-learner never sees a prediction or a
label of s. Caveat (no nested LOSO models exist): the fold models that produced t's
predictions were trained with s's clips among others, so s influences the meta-learner
through them at second hand.

Run: `python benchmarks/ensemble.py [--presets a,b,c] [--data /work/shared/data/fsdd]
[--json out.json]`. Members are preset names (their runs in `zoo/runs/<preset>/`) or run
directories (any path with a `/`, e.g. a study variant's or another seed's run).
Prints a Markdown table (accuracy per speaker and mean) for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import kerasaudio.ensemble as ens  # noqa: E402
from kerasaudio.audio_io import load_audio  # noqa: E402
from kerasaudio.data import fix_length  # noqa: E402
from kerasaudio.datasets import fsdd  # noqa: E402
from kerasaudio.layers import StackingEnsemble  # noqa: E402
from kerasaudio.training.build import build_from_config  # noqa: E402
from zoo import RUNS_DIR  # noqa: E402

#: Default members: the three strongest different digit presets (2026-11-27).
PRESETS = ("logmel_cnn_fsdd_digits", "mfcc_cnn_fsdd_digits", "bilstm_attention_fsdd_digits")
AGGREGATES = ("gmean", "mean", "median", "max", "vote")
METAS = ("logistic", "dense")


def run_dir(member: str) -> Path:
    """A member's run directory: `zoo/runs/<preset>` for a preset name, else the path given."""
    if "/" in member or os.sep in member:
        return Path(member)
    return RUNS_DIR / member


def fold_weights(preset: str, speaker: str) -> Path | None:
    """The LOSO fold model of `preset` (a preset name or a run directory) without
    `speaker`, if trained yet."""
    for directory in (run_dir(preset), RUNS_DIR / f"{preset}-fold-{speaker}"):
        path = directory / "loso" / f"{speaker}.weights.h5"
        if path.is_file():
            return path
    return None


def fold_probabilities(preset: str, speaker: str, config: dict, x: np.ndarray,
                       cache: Path | None) -> tuple[np.ndarray, object]:
    """The fold model's probabilities on `x` (cached by the weights file's sha256)."""
    weights = fold_weights(preset, speaker)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    path = None if cache is None else cache / f"{run_dir(preset).name}-{speaker}-{digest}.npy"
    if path is not None and path.is_file():
        return np.load(path, allow_pickle=False), None
    model = build_from_config(config, weights=weights)
    probs = model.predict(x, batch_size=100, verbose=0)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, probs, allow_pickle=False)
    return probs, model


def load_clips(frame, length: int = 8000) -> np.ndarray:
    return np.stack([fix_length(load_audio(p, sample_rate=fsdd.SAMPLE_RATE)[0], length)
                     for p in frame.path]).astype(np.float32)


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float((np.asarray(probs).argmax(1) == labels).mean())


def print_fold_table(header: str, rows: dict[str, dict], folds: list[str]) -> None:
    """A Markdown table: `header` names the leading column(s) (`"model"`, or several
    separated by `" | "`, which each row's key then fills), then accuracy in % per fold
    and the row's "mean"."""
    print(f"| {header} | " + " | ".join(folds) + " | mean |")
    print("|---" * (header.count("|") + 1) + "|" + "---|" * (len(folds) + 1))
    for key, row in rows.items():
        cells = " | ".join(f"{100 * row[s]:.1f}" for s in [*folds, "mean"])
        print(f"| {key} | {cells} |")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="FSDD root (default: fsdd.find_root)")
    parser.add_argument("--presets", default=",".join(PRESETS),
                        help="comma-separated members: preset names (their runs in "
                             "zoo/runs/<preset>/) or run directories (a path with a '/', "
                             "e.g. zoo/runs/logmel_cnn_fsdd_digits-study-seed1); default "
                             f"{','.join(PRESETS)}")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--cache", default=str(RUNS_DIR / "ensemble-cache"),
                        help="directory caching each fold model's probabilities ('' : off)")
    args = parser.parse_args(argv)
    presets = args.presets.split(",")
    start = time.perf_counter()

    speakers = [s for s in fsdd.SPEAKERS if all(fold_weights(p, s) for p in presets)]
    missing = {p: [s for s in fsdd.SPEAKERS if not fold_weights(p, s)] for p in presets}
    print(f"fold models for all of {presets}: {speakers}; missing: "
          f"{ {p: m for p, m in missing.items() if m} }", flush=True)
    if not speakers:
        raise SystemExit("no speaker has fold models of every preset yet.")
    configs = {p: json.loads((run_dir(p) / "config.json").read_text()) for p in presets}
    index = fsdd.load(args.data)
    labels, probs = {}, {}  # probs[s]: (members, clips of s, classes)
    first_models = []
    cache = Path(args.cache) if args.cache else None
    for s in speakers:
        frame = index[index.speaker == s]
        x = load_clips(frame)
        labels[s] = frame.digit.astype(int).to_numpy()
        rows = []
        for p in presets:
            fold_probs, model = fold_probabilities(p, s, configs[p], x, cache)
            rows.append(fold_probs)
            if s == speakers[0]:
                first_models.append(model or build_from_config(configs[p],
                                                               weights=fold_weights(p, s)))
        probs[s] = np.stack(rows).astype(np.float64)
        print(f"  {s}: {len(x)} clips, members "
              + ", ".join(f"{accuracy(q, labels[s]):.3f}" for q in probs[s]), flush=True)

    # One check that the Keras ensemble computes what the table reports.
    s0 = speakers[0]
    ensemble = ens.stack(first_models, aggregate="gmean",
                         class_names=[configs[p]["class_names"] for p in presets],
                         sample_rates=[configs[p]["sample_rate"] for p in presets])
    check = ensemble.predict(load_clips(index[index.speaker == s0][:50]), verbose=0)
    layer = StackingEnsemble(members=len(presets), classes=10, aggregate="gmean")
    table_view = np.asarray(layer([q[:50].astype(np.float32) for q in probs[s0]]))
    keras_diff = float(np.abs(check - table_view).max())

    results: dict[str, dict[str, float]] = {}
    for i, p in enumerate(presets):
        results[p] = {s: accuracy(probs[s][i], labels[s]) for s in speakers}
    for aggregate in AGGREGATES:
        layer = StackingEnsemble(members=len(presets), classes=10, aggregate=aggregate)
        results[f"ensemble {aggregate}"] = {
            s: accuracy(np.asarray(layer([q.astype(np.float32) for q in probs[s]])),
                        labels[s]) for s in speakers}
    if len(speakers) >= 3:
        for meta in METAS:
            row = {}
            for s in speakers:
                train = [t for t in speakers if t != s]
                oof = np.concatenate([probs[t] for t in train], axis=1)
                y = np.concatenate([labels[t] for t in train])
                fit = ens.fit_stacker(oof, y, meta=meta, folds=None)
                row[s] = accuracy(fit.predict_proba(probs[s]), labels[s])
            results[f"stacked {meta}"] = row
    for row in results.values():
        row["mean"] = float(np.mean([row[s] for s in speakers]))
    best_single = max(presets, key=lambda p: results[p]["mean"])
    ensembles = [k for k in results if k not in presets]
    best_ensemble = max(ensembles, key=lambda k: results[k]["mean"])
    gain = results[best_ensemble]["mean"] - results[best_single]["mean"]

    print(f"\nFSDD leave-one-speaker-out, {len(speakers)} fold(s) "
          f"({', '.join(speakers)}), {sum(len(v) for v in labels.values())} clips, "
          f"{datetime.date.today().isoformat()}\n")
    print_fold_table("model", results, speakers)
    print(f"\nbest single member: {best_single} {100 * results[best_single]['mean']:.1f}%; "
          f"best ensemble: {best_ensemble} {100 * results[best_ensemble]['mean']:.1f}% "
          f"({100 * gain:+.1f} points); Keras stack() vs table max |diff| {keras_diff:.1e}; "
          f"{time.perf_counter() - start:.0f} s")
    out = {"date": datetime.date.today().isoformat(), "speakers": speakers,
           "missing": missing, "presets": presets, "results": results,
           "best_single": best_single, "best_ensemble": best_ensemble,
           "gain_points": 100 * gain, "keras_max_diff": keras_diff}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
