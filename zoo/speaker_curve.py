"""`python -m zoo speaker-curve RECIPE`: accuracy on an unseen speaker against the number of
training speakers.

For each held-out FSDD speaker and each number k of training speakers, trains the recipe
on subsets of k of the other five (chosen at random, seeded) and tests on all clips of
the held-out speaker, as a leave-one-speaker-out fold does (k = 5 is the fold itself).
Two designs:

- `all`: every clip of the k speakers (more speakers, more clips);
- `fixed`: the same number of training clips for every k (`--clips`, drawn evenly from
  the k speakers), so that only the number of speakers changes.

Writes `zoo/runs/<preset>-speaker-curve/curve.json` (every training's result, resumable)
and prints a Markdown table: mean accuracy per k, per held-out speaker and overall.

`--bagging K` instead trains one model on every subset of K of the five training speakers
(all their clips; K = 4: five models, each missing one more speaker) and reports each
model and their average (the geometric mean of the probabilities, as the stack
aggregates) on the held-out speaker: speaker bagging. Every model's weights are kept in
`bagging/` (resumable).

    python -m zoo speaker-curve logmel_cnn_fsdd_digits \\
        --held-out george,jackson,nicolas --sizes 2,3,4,5 --subsets 2 --design all,fixed
"""

from __future__ import annotations

import argparse
import itertools
import json
import pathlib

import numpy as np
import pandas as pd

from kerasaudio.datasets import fsdd
from kerasaudio.errors import InvalidOptionError
from kerasaudio.training.build import build_model
from kerasaudio.training.fit import train
from kerasaudio.training.pipeline import load_index
from kerasaudio.training.protocols import evaluate, probabilities, same_training
from kerasaudio.training.recipe import Recipe, load_recipe
from zoo import RUNS_DIR

__all__ = ["DESIGNS", "bagging", "configure", "run", "subsets", "table", "training_frame"]

#: The training-set designs: every clip of the chosen speakers, or a fixed number.
DESIGNS = ("all", "fixed")


def subsets(held_out: str, size: int, count: int, seed: int) -> list[tuple[str, ...]]:
    """`count` distinct sets of `size` training speakers (all of them if fewer), seeded."""
    others = [s for s in fsdd.SPEAKERS if s != held_out]
    if not 1 <= size <= len(others):
        raise InvalidOptionError(f"size={size}: use 1..{len(others)} training speakers.")
    combos = list(itertools.combinations(others, size))
    rng = np.random.default_rng([seed, fsdd.SPEAKERS.index(held_out), size])
    order = rng.permutation(len(combos))[:count]
    return [combos[i] for i in sorted(order)]


def training_frame(index, speakers: tuple[str, ...], design: str, clips: int, seed: int):
    """The training clips of `speakers`: all, or `clips` drawn evenly from them."""
    frame = index[index["speaker"].isin(speakers)]
    if design == "all":
        return frame.reset_index(drop=True)
    per_speaker = clips // len(speakers)
    parts = []
    for speaker in speakers:
        own = frame[frame["speaker"] == speaker]
        if per_speaker > len(own):
            raise InvalidOptionError(
                f"--clips {clips}: {per_speaker} per speaker, but {speaker} has {len(own)}.")
        rng = np.random.default_rng([seed, fsdd.SPEAKERS.index(speaker), len(speakers)])
        parts.append(own.iloc[np.sort(rng.permutation(len(own))[:per_speaker])])
    return pd.concat(parts, ignore_index=True)


def table(results: list[dict]) -> str:
    """Markdown: mean accuracy per design and number of training speakers."""
    held = sorted({r["held_out"] for r in results}, key=fsdd.SPEAKERS.index)
    lines = ["| design | training speakers | " + " | ".join(held) + " | mean | runs |",
             "|---|---|" + "---|" * (len(held) + 2)]
    for design in DESIGNS:
        for size in sorted({r["size"] for r in results if r["design"] == design}):
            rows = [r for r in results if r["design"] == design and r["size"] == size]
            cells = []
            for speaker in held:
                values = [r["accuracy"] for r in rows if r["held_out"] == speaker]
                cells.append(f"{100 * np.mean(values):.1f}" if values else "")
            lines.append(f"| {design} | {size} | " + " | ".join(cells)
                         + f" | {100 * np.mean([r['accuracy'] for r in rows]):.1f} | "
                         f"{len(rows)} |")
    return "\n".join(lines)


def run(recipe: Recipe, *, held_out: list[str], sizes: list[int], count: int,
        designs: list[str], clips: int, out: pathlib.Path, data=None, sample: bool = False,
        max_steps: int | None = None, log=print) -> list[dict]:
    """Train and test every (design, held-out speaker, size, subset); resumable."""
    unknown = sorted(set(designs) - set(DESIGNS))
    if unknown:
        raise InvalidOptionError(f"design(s) {unknown}: use {list(DESIGNS)}.")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "curve.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    if saved.get("recipe") is not None and not same_training(saved, recipe):
        raise InvalidOptionError(f"{path} holds another recipe's results; use another --out.")
    results = saved.get("results", [])
    index = load_index(data, sample=sample)
    for design, speaker, size in itertools.product(designs, held_out, sizes):
        for chosen in subsets(speaker, size, count, recipe.seed):
            key = {"design": design, "held_out": speaker, "size": size,
                   "speakers": list(chosen)}
            if any(all(r[k] == v for k, v in key.items()) for r in results):
                continue
            train_df = training_frame(index, chosen, design, clips, recipe.seed)
            model, info = train(recipe, train_df, max_steps=max_steps)
            result = evaluate(model, recipe, index[index["speaker"] == speaker])
            results.append({**key, "accuracy": result["accuracy"],
                            "train_clips": len(train_df), "seconds": info["seconds"]})
            path.write_text(json.dumps({"recipe": recipe.to_dict(), "results": results},
                                       indent=1) + "\n")
            log(f"[{design}] {speaker} from {'+'.join(chosen)} ({len(train_df)} clips): "
                f"{result['accuracy']:.4f} in {info['seconds']:.0f} s")
    return results


def bagging(recipe: Recipe, *, held_out: list[str], size: int, out: pathlib.Path,
            data=None, sample: bool = False, max_steps: int | None = None,
            log=print) -> dict:
    """Speaker bagging: a model per `size`-subset of the training speakers, and their
    geometric-mean ensemble, on each held-out speaker. Returns (and writes to
    `bagging-<size>.json`) `{speaker: {"members": {subset: accuracy}, "ensemble": acc}}`."""
    index = load_index(data, sample=sample)
    directory = out / "bagging"
    directory.mkdir(parents=True, exist_ok=True)
    summary = {}
    for speaker in held_out:
        test = index[index["speaker"] == speaker]
        member_probs, members = [], {}
        for chosen in subsets(speaker, size, 10, recipe.seed):  # every subset (<= 10)
            name = f"{speaker}-{'+'.join(chosen)}"
            weights = directory / f"{name}.weights.h5"
            if weights.exists():
                model = build_model(recipe)
                model.load_weights(weights)
            else:
                frame = training_frame(index, chosen, "all", 0, recipe.seed)
                model, _ = train(recipe, frame, max_steps=max_steps)
                model.save_weights(weights)
            probs = probabilities(model, recipe, test)
            member_probs.append(probs)
            members["+".join(chosen)] = round(float(
                (probs.argmax(1) == test["digit"].to_numpy()).mean()), 5)
            log(f"[bagging {size}] {speaker} from {'+'.join(chosen)}: "
                f"{members['+'.join(chosen)]:.4f}")
        gmean = np.exp(np.mean(np.log(np.maximum(np.stack(member_probs), 1e-12)), axis=0))
        accuracy = float((gmean.argmax(1) == test["digit"].to_numpy()).mean())
        summary[speaker] = {"members": members, "ensemble": round(accuracy, 5)}
        log(f"[bagging {size}] {speaker}: ensemble of {len(members)} models {accuracy:.4f} "
            f"(members {min(members.values()):.4f}..{max(members.values()):.4f})")
    (out / f"bagging-{size}.json").write_text(json.dumps(
        {"recipe": recipe.to_dict(), "held_out": summary}, indent=1) + "\n")
    return summary


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare `python -m zoo speaker-curve`'s arguments on `parser`."""
    parser.add_argument("recipe", help="a packaged digit recipe's name or a recipe .json file")
    parser.add_argument("--held-out", default=",".join(fsdd.SPEAKERS))
    parser.add_argument("--sizes", default="2,3,4,5")
    parser.add_argument("--subsets", type=int, default=2,
                        help="speaker subsets per size (all if fewer exist)")
    parser.add_argument("--design", default="all", help="all, fixed or all,fixed")
    parser.add_argument("--clips", type=int, default=1000,
                        help="training clips of the fixed design")
    parser.add_argument("--out", default=None,
                        help="directory (default zoo/runs/<preset>-speaker-curve)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a recipe entry (repeatable)")
    parser.add_argument("--bagging", type=int, default=None,
                        help="speaker bagging with subsets of this many speakers")
    parser.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """Run the curve (or the bagging) and print its table."""
    recipe = load_recipe(args.recipe, args.overrides)
    if not isinstance(recipe, Recipe) or recipe.task != "digits":
        raise InvalidOptionError(f"speaker-curve: {args.recipe} is not a digit recipe.")
    out = (pathlib.Path(args.out) if args.out
           else RUNS_DIR / f"{recipe.preset}-speaker-curve")
    if args.bagging is not None:
        summary = bagging(recipe, held_out=args.held_out.split(","), size=args.bagging,
                          out=out)
        mean = np.mean([s["ensemble"] for s in summary.values()])
        print(f"speaker bagging ({args.bagging} of 5): ensemble mean {100 * mean:.1f} over "
              f"{len(summary)} held-out speakers")
        return 0
    results = run(recipe, held_out=args.held_out.split(","),
                  sizes=[int(s) for s in args.sizes.split(",")], count=args.subsets,
                  designs=args.design.split(","), clips=args.clips, out=out)
    text = table(results)
    print(text)
    (out / "curve.md").write_text(text + "\n")
    return 0
