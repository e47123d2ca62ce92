"""The options of a recipe run, shared by `kerasaudio train` and `python -m zoo train`.

`add_arguments(parser)` declares them; `run_from_args(args, runs_dir=...)` loads the
recipe (a packaged name or an explicit `.json` path, see
`kerasaudio.training.recipe.find_recipe`), runs the protocols of its kind (digits,
speakers or stacking) into the run directory and returns the recipe, the metrics and the
directory. This module imports nothing heavy at import time: the command's parser is
built before TensorFlow loads.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from kerasaudio.training.strategy import STRATEGIES

__all__ = ["Run", "add_arguments", "default_protocols", "run_from_args", "summary"]


class Run(NamedTuple):
    """What `run_from_args` ran: the recipe as run (overrides applied), the metrics
    written (empty when no protocol ran), the run directory and the strategy."""

    recipe: Any
    metrics: dict
    out: Path
    strategy: Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the recipe run's arguments on `parser` (the positional `recipe` first)."""
    parser.add_argument("recipe", help="a packaged recipe's name (e.g. m5_fsdd_digits) or the "
                        "path of a recipe .json file")
    parser.add_argument("--protocol", default=None,
                        help="comma-separated protocols; digit and stacking recipes: "
                        "official, loso; speaker recipes: official, unseen (default: all "
                        "of the recipe's; '' runs none)")
    parser.add_argument("--folds", default=None,
                        help="comma-separated held-out speakers of loso/unseen to run "
                        "(default all six)")
    parser.add_argument("--strategy", choices=STRATEGIES, default="default",
                        help="tf.distribute strategy (multiworker reads TF_CONFIG)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override a recipe entry, e.g. training.epochs=5 (JSON value; "
                        "repeatable)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="shorthand for --set training.epochs=N")
    parser.add_argument("--seed", type=int, default=None, help="shorthand for --set seed=N")
    parser.add_argument("--tag", default=None,
                        help="write to <runs>/<preset>-<tag> instead of <runs>/<preset>")
    parser.add_argument("--out", default=None, help="run directory (overrides --tag)")
    parser.add_argument("--data", default=None,
                        help="FSDD directory (default: $KERASAUDIO_DATA or found)")
    parser.add_argument("--sample", action="store_true",
                        help="use the bundled 120-clip FSDD sample (smoke test)")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="cap the steps per epoch (smoke test)")
    parser.add_argument("--resume", action="store_true",
                        help="keep finished results in the run directory's metrics.json")
    parser.add_argument("--verbose", type=int, default=1,
                        help="1: a line per epoch of the official training; 0: quiet")


def default_protocols(recipe) -> tuple[str, ...]:
    """Every protocol of the recipe's kind."""
    from kerasaudio.training import protocols, speakers, stack
    from kerasaudio.training.recipe import StackRecipe

    if isinstance(recipe, StackRecipe):
        return stack.PROTOCOLS
    return speakers.PROTOCOLS if recipe.task == "speakers" else protocols.PROTOCOLS


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [p.strip() for p in text.split(",") if p.strip()]


def run_from_args(args: argparse.Namespace, *, runs_dir: str | os.PathLike,
                  extra_train: Callable | None = None,
                  log: Callable[[str], None] = print) -> Run:
    """Run the recipe `args` name (parsed by a parser with `add_arguments`).

    Args:
        args: the parsed arguments.
        runs_dir: where run directories go by default (`<runs_dir>/<preset>[-<tag>]`).
        extra_train: `extra_train(recipe)` returns the extra training clips of a digit
            recipe with `data.synthetic` (None: such recipes are refused).
        log: where progress lines go.

    Returns:
        A `Run`.

    Raises:
        InvalidOptionError: no such recipe, a bad override or option.
    """
    from kerasaudio.errors import InvalidOptionError
    from kerasaudio.training import protocols, speakers, stack
    from kerasaudio.training.recipe import StackRecipe, load_recipe
    from kerasaudio.training.strategy import make_strategy

    for name in ("max_steps", "epochs"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InvalidOptionError(f"--{name.replace('_', '-')} {value}: must be >= 1.")
    # The strategy first: MultiWorkerMirroredStrategy must exist before other TF calls.
    strategy = make_strategy(args.strategy)
    overrides = list(args.overrides)
    if args.epochs is not None:
        overrides.append(f"training.epochs={args.epochs}")
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    recipe = load_recipe(args.recipe, overrides)
    if args.out is not None:
        out = Path(args.out)
    else:
        out = Path(runs_dir) / (f"{recipe.preset}-{args.tag}" if args.tag else recipe.preset)
    chosen = _split(args.protocol)
    if chosen is None:
        chosen = list(default_protocols(recipe))
    folds = _split(args.folds) or None
    if not chosen:
        return Run(recipe, {}, out, strategy)
    if isinstance(recipe, StackRecipe):
        metrics = stack.run(recipe, out=out, protocols=chosen, runs_dir=runs_dir,
                            data=args.data, sample=args.sample, log=log)
    elif recipe.task == "speakers":
        metrics = speakers.run(recipe, out=out, protocols=chosen, folds=folds,
                               strategy=strategy, data=args.data, sample=args.sample,
                               max_steps=args.max_steps, resume=args.resume,
                               verbose=args.verbose, log=log)
    else:
        extra = None
        if recipe.synthetic and extra_train is not None:
            extra = extra_train(recipe)
        metrics = protocols.run(recipe, out=out, protocols=chosen, folds=folds,
                                strategy=strategy, data=args.data, sample=args.sample,
                                max_steps=args.max_steps, resume=args.resume,
                                extra_train=extra, verbose=args.verbose, log=log)
    return Run(recipe, metrics, out, strategy)


def summary(recipe, metrics: dict) -> dict:
    """The one-line result of a run: the preset and its headline numbers.

    Digits: `official` (accuracy), `loso_mean` and `loso` per speaker; speakers:
    `identification_accuracy`, `eer`, `unseen_eer_mean` and `unseen_eer`; stacking:
    `official` and `loso_mean`.
    """
    out = {"preset": recipe.preset}
    if "members" in recipe.to_dict():
        if "official_accuracy" in metrics:
            out["official"] = metrics["official_accuracy"]
        if "loso_accuracy" in metrics:
            out["loso_mean"] = metrics["loso_accuracy"]
            out["loso"] = metrics["loso_per_speaker"]
        return out
    if recipe.task == "speakers":
        if "official" in metrics:
            out["identification_accuracy"] = metrics["official"]["identification_accuracy"]
            out["eer"] = metrics["official"]["verification"]["eer"]
        if metrics.get("unseen", {}).get("per_speaker"):
            out["unseen_eer_mean"] = metrics["unseen"]["mean_eer"]
            out["unseen_eer"] = {s: r["eer"] for s, r in
                                 metrics["unseen"]["per_speaker"].items()}
        return out
    if "official" in metrics:
        out["official"] = metrics["official"]["accuracy"]
    if "loso" in metrics and "mean_accuracy" in metrics["loso"]:
        out["loso_mean"] = metrics["loso"]["mean_accuracy"]
        out["loso"] = {s: r["accuracy"] for s, r in metrics["loso"]["per_speaker"].items()}
    return out
