"""`python -m zoo COMMAND ...`, run from the repository root (see zoo/README.md).

    python -m zoo train RECIPE [--protocol official,loso] [--set key=value] [--publish]
    python -m zoo study zoo/studies/STUDY.json [--only VARIANT ...] [--table]
    python -m zoo speaker-curve RECIPE [--held-out george] [--sizes 2,3,4,5]
    python -m zoo synthetic [--takes 2] [--seed 0]

Exit status: 0 on success; 2 for a usage error or a refused recipe or option (the
message on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

#: Subcommands: name -> (module, one-line help).
COMMANDS = {
    "train": ("zoo.train", "run a recipe into zoo/runs/ (and publish it with --publish)"),
    "study": ("zoo.study", "run a study's recipe variants and tabulate them"),
    "speaker-curve": ("zoo.speaker_curve",
                      "accuracy on an unseen speaker against the number of training "
                      "speakers"),
    "synthetic": ("zoo.synthetic", "generate the synthetic spoken digits"),
}


def parser() -> argparse.ArgumentParser:
    """The `python -m zoo` parser with every subcommand's arguments."""
    import importlib

    top = argparse.ArgumentParser(
        prog="python -m zoo", description="kerasaudio's training tooling (run from the "
        "repository root).", formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `python -m zoo COMMAND --help` for a command's options.")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, text) in COMMANDS.items():
        configure = importlib.import_module(module).configure
        sub = commands.add_parser(name, help=text, description=text)
        configure(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run the subcommand; a kerasaudio error is one line on stderr."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from kerasaudio.errors import KerasAudioError

    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except KerasAudioError as exc:
        print(f"python -m zoo {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
