"""The options of a recipe run, shared by `kerasaudio train` and `python -m zoo train`.

`add_arguments(parser)` declares them; `run_from_args(args, runs_dir=...)` loads the
recipe (a packaged name or an explicit `.json` path, see
`kerasaudio.training.recipe.find_recipe`), runs the protocols of its kind (digits,
speakers or stacking) into the run directory and returns the recipe, the metrics and the
directory. With `--csv`, the recipe (or preset, or architecture) is the start of a
training on the user's own clips instead (`kerasaudio.training.user_data`). This module
imports nothing heavy at import time: the command's parser is built before TensorFlow
loads.
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
                        "path of a recipe .json file; with --csv also an architecture "
                        "(e.g. m5): the model to start from")
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
    own = parser.add_argument_group(
        "your own data (--csv)", "Train on your own clips instead of FSDD: RECIPE is the "
        "start (a preset starts from its trained weights with a new head). Writes "
        "model.keras, metrics.json, training_curve.png and, with folds, "
        "oof_predictions.csv to --out (default runs/<csv name>-<start>); running the "
        "same command again resumes from the last checkpoint.")
    own.add_argument("--csv", default=None, metavar="FILE",
                     help="a CSV of clips: a path column and a label column (several "
                     "labels of a clip separated by commas)")
    own.add_argument("--audio-dir", default=None, metavar="DIR",
                     help="the folder the CSV's paths are relative to (default: the CSV's)")
    own.add_argument("--path-column", default="fname", metavar="COLUMN",
                     help="the column of file paths (default: fname)")
    own.add_argument("--label-column", default="labels", metavar="COLUMN",
                     help="the column of labels (default: labels)")
    own.add_argument("--group-column", default=None, metavar="COLUMN",
                     help="a column of groups (speaker, session, fold); each group stays "
                     "in one fold (default folds: one per group)")
    own.add_argument("--n-folds", type=int, default=None, metavar="N",
                     help="cross-validation folds (groups dealt into N folds; without "
                     "--group-column, clips dealt at random)")
    labels = own.add_mutually_exclusive_group()
    labels.add_argument("--multi-label", dest="multi_label", action="store_const",
                        const=True, default=None,
                        help="several labels per clip (default: when a cell has a comma)")
    labels.add_argument("--single-label", dest="multi_label", action="store_const",
                        const=False, help="one label per clip (commas are part of it)")
    own.add_argument("--classes", default=None, metavar="NAMES",
                     help="comma-separated class names in output order (default: the "
                     "sorted labels); other labels are an error")
    own.add_argument("--sample-rate", type=int, default=None, metavar="HZ",
                     help="resample the clips to this rate (default: the recipe's)")
    own.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                     help="the model's window, seconds (default: the recipe's)")
    own.add_argument("--batch-size", type=int, default=None, metavar="N",
                     help="shorthand for --set training.batch_size=N")
    own.add_argument("--frontend", default=None, metavar="RECIPE",
                     help="use this packaged recipe's front end (e.g. "
                     "mfcc_cnn_fsdd_digits) instead of the start's")
    own.add_argument("--augment", default=None, metavar="NAMES",
                     help="comma-separated augmentations replacing the recipe's: gain, "
                     "noise, speed, mixup; none: no augmentation")
    own.add_argument("--from-scratch", action="store_true",
                     help="random weights even when RECIPE is a pretrained preset")


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
    _check_own_data_options(args)
    # The strategy first: MultiWorkerMirroredStrategy must exist before other TF calls.
    strategy = make_strategy(args.strategy)
    if getattr(args, "csv", None) is not None:
        return _run_own_data(args, runs_dir=runs_dir, strategy=strategy, log=log)
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


#: Options of a `--csv` run only, and of FSDD recipe runs only (attribute, option).
_OWN_ONLY = (("audio_dir", "--audio-dir"), ("group_column", "--group-column"),
             ("n_folds", "--n-folds"), ("multi_label", "--multi-label/--single-label"),
             ("classes", "--classes"), ("sample_rate", "--sample-rate"),
             ("duration", "--duration"), ("batch_size", "--batch-size"),
             ("frontend", "--frontend"), ("augment", "--augment"))
_FSDD_ONLY = (("protocol", "--protocol"), ("folds", "--folds"), ("data", "--data"),
              ("sample", "--sample"), ("resume", "--resume"))


def _check_own_data_options(args: argparse.Namespace) -> None:
    """Options that belong to the other kind of run are usage errors, not ignored."""
    from kerasaudio.errors import InvalidOptionError

    own = getattr(args, "csv", None) is not None
    given = [flag for attr, flag in (_FSDD_ONLY if own else _OWN_ONLY)
             if getattr(args, attr, None) not in (None, False)]
    if not own and getattr(args, "from_scratch", False):
        given.append("--from-scratch")
    if given:
        kind = "a --csv run" if own else "a recipe run on FSDD (add --csv FILE)"
        raise InvalidOptionError(f"{', '.join(given)}: not an option of {kind}.")


def _run_own_data(args: argparse.Namespace, *, runs_dir, strategy, log) -> Run:
    """`kerasaudio train START --csv FILE`: `user_data.train_table` with the options."""
    from kerasaudio.training.user_data import train_table

    start = os.fspath(args.recipe)
    if args.out is not None:
        out = Path(args.out)
    else:
        name = f"{Path(args.csv).stem}-{Path(start).stem}"
        out = Path(runs_dir) / (f"{name}-{args.tag}" if args.tag else name)
    _, metrics = train_table(
        start, args.csv, out=out, audio_dir=args.audio_dir, path_column=args.path_column,
        label_column=args.label_column, group_column=args.group_column,
        n_folds=args.n_folds, multi_label=args.multi_label, classes=_split(args.classes),
        epochs=args.epochs, batch_size=args.batch_size, sample_rate=args.sample_rate,
        duration=args.duration, frontend=args.frontend, augment=_split(args.augment),
        overrides=args.overrides, pretrained=not args.from_scratch, seed=args.seed,
        strategy=strategy, max_steps=args.max_steps, verbose=args.verbose,
        log=log if args.verbose else None)
    return Run(_OwnRun(out.name), metrics, out, strategy)


class _OwnRun(NamedTuple):
    """What `Run.recipe` holds for a `--csv` run: its name (the run directory's)."""

    preset: str


def summary(recipe, metrics: dict) -> dict:
    """The one-line result of a run: the preset and its headline numbers.

    A `--csv` run: `task`, `accuracy` (and `lwlrap`), `evaluated_on` and the files
    written. Digits: `official` (accuracy), `loso_mean` and `loso` per speaker; speakers:
    `identification_accuracy`, `eer`, `unseen_eer_mean` and `unseen_eer`; stacking:
    `official` and `loso_mean`.
    """
    out = {"preset": recipe.preset}
    if isinstance(recipe, _OwnRun):
        return {**out, **{key: metrics[key] for key in (
            "task", "accuracy", "lwlrap", "evaluated_on", "files") if key in metrics}}
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
