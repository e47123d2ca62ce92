"""Test-time augmentation (TTA) of the zoo's digit models on FSDD leave-one-speaker-out.

Question: does averaging a LOSO fold model's probabilities over transformed copies of
each test clip raise its accuracy on the unseen speaker? No training: for held-out speaker
s, the model is the recipe's fold model trained WITHOUT s
(`zoo/runs/<preset>/loso/<s>.weights.h5`, found and rebuilt as `benchmarks/ensemble.py`
does), run on all 500 clips of s.

Transforms act on the raw waveform (8 kHz), before the clip is placed in the 1 s window of
8000 samples the models take (`fix_length(..., mode="center")`, as the recipes evaluate):

- `id`: the clip unchanged (no TTA; the same inputs as `benchmarks/ensemble.py`);
- `speed<f>`: speed change by factor f (tempo and pitch together; f > 1 faster), by
  polyphase resampling (`scipy.signal.resample_poly`, up/down = 1/f as a fraction);
- `shift<+-ms>`: the centred 1 s window moved by that many milliseconds (positive: the
  clip starts later), the clip zero-padded or cut as needed;
- `preemph<a>`: first-order pre-emphasis `y[n] = x[n] - a x[n-1]` (spectral tilt up);
- `deemph<a>`: first-order de-emphasis `y[n] = x[n] + a y[n-1]` (tilt down);
- `lp<hz>`: 6th-order Butterworth low-pass, zero phase (`sosfiltfilt`).

Gain is not a transform: the models standardise their features. A variant is a set of
transforms; its prediction combines the fold model's probabilities over the set by the
mean of the log-probabilities (`gmean`, renormalised) or by the plain mean (`mean`); both
are reported for every variant. With several presets, `--ensemble` adds the stack of
the presets (`benchmarks/ensemble.py`'s `gmean` aggregate via `StackingEnsemble`) over
each member's TTA-combined probabilities.

Protocol of the study (zoo/README.md, "Test-time augmentation study"): the variants were
compared ONLY on the selection folds george, jackson and nicolas of
`logmel_cnn_fsdd_digits`, with a rule fixed beforehand (a variant counts as a gain only if
its 3-fold mean beats the no-TTA mean, 88.5, by at least 1.0 point); only the chosen set
(or none) was then run on all six folds, on the other digit presets and on the five-preset
ensemble.

Run: `python benchmarks/tta.py [--presets a,b] [--folds george,jackson,nicolas]
[--variants none,speed4,...] [--ensemble] [--json out.json]`. Variants are names from
`VARIANTS` or `name=t1+t2+...` (transforms above). The fold models' probabilities on each
transform are cached in `zoo/runs/tta-cache/` (keyed by the weights file's sha256).
Prints a Markdown table (accuracy in % per fold and the mean over the folds run).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.util
import json
import os
import re
import sys
import time
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from scipy import signal  # noqa: E402

import kerasaudio.ensemble as ens  # noqa: E402
from kerasaudio.audio_io import load_audio  # noqa: E402
from kerasaudio.data import fix_length  # noqa: E402
from kerasaudio.datasets import fsdd  # noqa: E402
from kerasaudio.layers import StackingEnsemble  # noqa: E402
from kerasaudio.training.build import build_from_config  # noqa: E402
from zoo import RUNS_DIR  # noqa: E402

# benchmarks/ensemble.py (not a package): its fold-model lookup and accuracy, reused.
_spec = importlib.util.spec_from_file_location("ensemble_bench",
                                               Path(__file__).resolve().parent / "ensemble.py")
ensemble_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ensemble_bench)

SAMPLE_RATE = 8000
LENGTH = 8000
SELECTION_FOLDS = ("george", "jackson", "nicolas")
DIGIT_PRESETS = ("logmel_cnn_fsdd_digits", "mfcc_cnn_fsdd_digits",
                 "bilstm_attention_fsdd_digits", "complex_cnn_fsdd_digits", "m5_fsdd_digits")
COMBINES = ("gmean", "mean")

_SPEEDS = ["speed0.9", "speed0.95", "speed1.05", "speed1.1"]
_SHIFTS = ["shift-100", "shift-50", "shift+50", "shift+100"]
#: The variants screened on the selection folds (each a set of transforms).
VARIANTS: dict[str, list[str]] = {
    "none": ["id"],
    "speed2": ["id", "speed0.95", "speed1.05"],
    "speed4": ["id", *_SPEEDS],
    "shift50": ["id", "shift-50", "shift+50"],
    "shift100": ["id", *_SHIFTS],
    "preemph": ["id", "preemph0.97"],
    "deemph": ["id", "deemph0.7"],
    "lp3k": ["id", "lp3000"],
    "tilt": ["id", "preemph0.97", "deemph0.7"],
    "darken": ["id", "deemph0.7", "lp3000"],
    "speed4_shift100": ["id", *_SPEEDS, *_SHIFTS],
    "all": ["id", *_SPEEDS, *_SHIFTS, "preemph0.97", "deemph0.7", "lp3000"],
    # Transforms alone (without the clip itself): diagnostics of each transform's effect.
    "only_speed0.9": ["speed0.9"],
    "only_speed0.95": ["speed0.95"],
    "only_speed1.05": ["speed1.05"],
    "only_speed1.1": ["speed1.1"],
    "only_shift-100": ["shift-100"],
    "only_shift+100": ["shift+100"],
    "only_preemph": ["preemph0.97"],
    "only_deemph": ["deemph0.7"],
    "only_lp3k": ["lp3000"],
}

_TRANSFORM = re.compile(r"^(id|speed|shift|preemph|deemph|lp)([-+]?[0-9.]*)$")


def parse_transform(name: str) -> tuple[str, float | None]:
    match = _TRANSFORM.match(name)
    if not match or (match.group(1) == "id") != (match.group(2) == ""):
        raise SystemExit(f"unknown transform {name!r} (id, speed<f>, shift<+-ms>, "
                         "preemph<a>, deemph<a>, lp<hz>)")
    return match.group(1), (float(match.group(2)) if match.group(2) else None)


def transform_clip(audio: np.ndarray, name: str) -> np.ndarray:
    """One transform of a raw clip, placed in the 1 s window (centred, then shifted)."""
    kind, value = parse_transform(name)
    x = np.asarray(audio, dtype=np.float64)
    shift = 0
    if kind == "speed":
        ratio = Fraction(value).limit_denominator(100)  # new length = n / f
        x = signal.resample_poly(x, ratio.denominator, ratio.numerator)
    elif kind == "shift":
        shift = round(value * SAMPLE_RATE / 1000)
    elif kind == "preemph":
        x = signal.lfilter([1.0, -value], [1.0], x)
    elif kind == "deemph":
        x = signal.lfilter([1.0], [1.0, -value], x)
    elif kind == "lp":
        sos = signal.butter(6, value, btype="low", fs=SAMPLE_RATE, output="sos")
        x = signal.sosfiltfilt(sos, x) if len(x) > 60 else x
    x = x.astype(np.float32)
    if shift == 0:
        return fix_length(x, LENGTH)
    margin = abs(shift)
    wide = fix_length(x, LENGTH + 2 * margin)
    return wide[margin - shift: margin - shift + LENGTH]


def transformed_probabilities(preset: str, speaker: str, config: dict, raw: list[np.ndarray],
                              transforms: list[str], cache: Path | None,
                              timing: dict[str, float]) -> dict[str, np.ndarray]:
    """The fold model's probabilities on each transform of the clips (cached per transform)."""
    weights = ensemble_bench.fold_weights(preset, speaker)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    name = ensemble_bench.run_dir(preset).name
    out, model = {}, None
    for t in transforms:
        path = None if cache is None else cache / f"{name}-{speaker}-{digest}-{t}.npy"
        if path is not None and path.is_file():
            out[t] = np.load(path, allow_pickle=False)
            continue
        if model is None:
            model = build_from_config(config, weights=weights)
        start = time.perf_counter()
        out[t] = ens.tta(model, raw, transforms=[lambda a, t=t: transform_clip(a, t)],
                         aggregate=None, batch_size=100)[0]
        timing["tta_s"] += time.perf_counter() - start
        timing["predictions"] += 1
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, out[t], allow_pickle=False)
    return out


def combine(probs: list[np.ndarray], how: str) -> np.ndarray:
    """Combine (clips, classes) probabilities over transforms: gmean (renormalised) or mean."""
    return ens.aggregate_windows(np.stack(probs), how, axis=0, normalize=how == "gmean")


def parse_variants(text: str) -> dict[str, list[str]]:
    variants = {}
    for item in text.split(","):
        if "=" in item:
            name, spec = item.split("=", 1)
            variants[name] = spec.split("+")
        elif item in VARIANTS:
            variants[item] = VARIANTS[item]
        else:
            raise SystemExit(f"unknown variant {item!r}; known: {', '.join(VARIANTS)}")
    for ts in variants.values():
        for t in ts:
            parse_transform(t)
    return variants


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("KERASAUDIO_DATA")
                        or "/work/shared/data/fsdd",
                        help="FSDD root (default: $KERASAUDIO_DATA or /work/shared/data/fsdd)")
    parser.add_argument("--presets", default="logmel_cnn_fsdd_digits",
                        help="comma-separated preset names or run directories; default "
                             "logmel_cnn_fsdd_digits ('digits': the five digit presets)")
    parser.add_argument("--folds", default=",".join(SELECTION_FOLDS),
                        help="held-out speakers (default: the selection folds george, "
                             "jackson, nicolas; 'all': the six)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated variant names or name=t1+t2+... "
                             "(default: every variant of VARIANTS)")
    parser.add_argument("--combine", default=",".join(COMBINES),
                        help="how to combine over transforms: gmean, mean (default both)")
    parser.add_argument("--ensemble", action="store_true",
                        help="also the gmean stack of the presets (ensemble.py's method)")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--cache", default=str(RUNS_DIR / "tta-cache"),
                        help="directory caching the probabilities ('' : off)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    presets = list(DIGIT_PRESETS) if args.presets == "digits" else args.presets.split(",")
    folds = list(fsdd.SPEAKERS) if args.folds == "all" else args.folds.split(",")
    variants = parse_variants(args.variants)
    combines = args.combine.split(",")
    transforms = list(dict.fromkeys(t for ts in variants.values() for t in ts))
    cache = Path(args.cache) if args.cache else None
    missing = [(p, s) for p in presets for s in folds if not ensemble_bench.fold_weights(p, s)]
    if missing:
        raise SystemExit(f"no fold model for {missing}")
    configs = {p: json.loads((ensemble_bench.run_dir(p) / "config.json").read_text())
               for p in presets}
    index = fsdd.load(args.data)
    timing = {"tta_s": 0.0, "predictions": 0}

    labels, probs = {}, {}  # probs[preset][speaker][transform]: (clips, classes)
    id_check = {}
    for s in folds:
        frame = index[index.speaker == s]
        raw = [load_audio(p, sample_rate=fsdd.SAMPLE_RATE)[0] for p in frame.path]
        labels[s] = frame.digit.astype(int).to_numpy()
        for p in presets:
            probs.setdefault(p, {})[s] = transformed_probabilities(
                p, s, configs[p], raw, transforms, cache, timing)
            # The untransformed clips must give what benchmarks/ensemble.py cached.
            if "id" in transforms:
                weights = ensemble_bench.fold_weights(p, s)
                digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
                old = (RUNS_DIR / "ensemble-cache"
                       / f"{ensemble_bench.run_dir(p).name}-{s}-{digest}.npy")
                if old.is_file():
                    id_check[f"{p}/{s}"] = float(np.abs(np.load(old) - probs[p][s]["id"]).max())
        print(f"  {s}: {len(raw)} clips, {len(presets)} preset(s) x {len(transforms)} "
              f"transform(s), {time.perf_counter() - start:.0f} s", flush=True)

    results: dict[str, dict[str, float]] = {}
    for p in presets:
        for v, ts in variants.items():
            for how in combines if len(ts) > 1 else combines[:1]:
                key = f"{p} | {v} | {how if len(ts) > 1 else '-'}"
                results[key] = {s: ensemble_bench.accuracy(
                    combine([probs[p][s][t] for t in ts], how), labels[s]) for s in folds}
    if args.ensemble and len(presets) > 1:
        layer = StackingEnsemble(members=len(presets), classes=10, aggregate="gmean")
        for v, ts in variants.items():
            for how in combines if len(ts) > 1 else combines[:1]:
                row = {}
                for s in folds:
                    members = [combine([probs[p][s][t] for t in ts], how).astype(np.float32)
                               for p in presets]
                    row[s] = ensemble_bench.accuracy(np.asarray(layer(members)), labels[s])
                results[f"ensemble gmean of {len(presets)} | {v} | "
                        f"{how if len(ts) > 1 else '-'}"] = row
    for row in results.values():
        row["mean"] = float(np.mean([row[s] for s in folds]))
    elapsed = time.perf_counter() - start

    print(f"\nFSDD leave-one-speaker-out TTA, folds {', '.join(folds)} (500 clips each), "
          f"{datetime.date.today().isoformat()}\n")
    ensemble_bench.print_fold_table("model | variant | combine", results, folds)
    print("\nvariants: " + "; ".join(f"{v} = {'+'.join(ts)}" for v, ts in variants.items()))
    if id_check:
        print(f"id vs benchmarks/ensemble.py cache: max |diff| {max(id_check.values()):.1e} "
              f"({len(id_check)} fold models)")
    print(f"{timing['predictions']} new predictions of 500 clips: transform + predict "
          f"{timing['tta_s']:.1f} s; total {elapsed:.0f} s")
    out = {"date": datetime.date.today().isoformat(), "presets": presets, "folds": folds,
           "variants": variants, "results": results, "timing": timing,
           "id_vs_ensemble_cache": id_check, "seconds": elapsed}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
