"""`kerasaudio train RECIPE`: run a packaged recipe or a recipe `.json` file the user named,
or (`--csv`) train on the user's own clips; the options are
`kerasaudio.training.command`'s, shared with `python -m zoo train`. Internal to the command
(`kerasaudio.cli`).
"""

from __future__ import annotations

import json
import pathlib

from kerasaudio.training.command import add_arguments

__all__ = ["add_command", "run"]


def add_command(commands) -> None:
    """Declare `train` and its options on the `kerasaudio` subparsers `commands`."""
    train = commands.add_parser(
        "train", help="train a recipe on FSDD, or on your own clips (--csv)",
        description="Train a recipe: a packaged one by name (m5_fsdd_digits, "
        "logmel_cnn_fsdd_digits, deep_speaker_fsdd_speakers, stack_fsdd_digits, ...) or a "
        "recipe .json file you name. Runs its protocols (digits: the official split and "
        "leave-one-speaker-out; speakers: official and unseen-speaker folds) and writes "
        "the weights, config.json, metrics.json and recipe.json to runs/<preset>/ (--out "
        "elsewhere). With --csv FILE it trains on your own clips instead, starting from a "
        "preset, recipe or architecture (see the 'own data' options). The last line "
        "printed is a JSON summary.")
    add_arguments(train)
    train.set_defaults(run=run)


def run(args) -> int:
    """Run a packaged recipe, or the recipe `.json` file the user named (nothing else: no
    file of the current directory is read or run unless named)."""
    from kerasaudio.training.command import run_from_args, summary

    done = run_from_args(args, runs_dir=pathlib.Path("runs"),
                         log=lambda line: print(line, flush=True))
    if done.metrics:
        print(f"[{done.recipe.preset}] wrote {done.out}", flush=True)
    print(json.dumps(summary(done.recipe, done.metrics)))
    return 0
