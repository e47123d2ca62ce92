"""The `kerasaudio` command: list models, classify audio files, train, evaluate, export.

    kerasaudio models [--pretrained] [--format text|json|csv]
    kerasaudio predict FILE... --model NAME [--top-k 3] [--vad] [--format text|json|csv]
    kerasaudio train RECIPE [--protocol official] [--set training.epochs=5] [--out DIR]
    kerasaudio evaluate NAME [--data DIR | --sample] [--official-split] [--out DIR]
    kerasaudio export NAME [--quantization int8] -o model.tflite

`NAME` is a pretrained preset (`kerasaudio models --pretrained`), a `.keras` file or
(for `predict` and `evaluate`) an exported `.tflite` file. `evaluate` counts only the clips
the model never trained on. `kerasaudio COMMAND --help` explains every option.

Exit status: 0 on success; 1 when `predict` could not classify some of its files (the
others are still classified; each failed file is named on stderr and, with `--format
json`, gets a `{"file": ..., "error": ...}` line); 2 for a usage error (an option out of
range or malformed: one line on stderr), an unknown or unreadable model, a missing file,
an unusable output path or a refused export (the message on stderr, no traceback).

`predict` streams: each file's result is printed (and flushed) as soon as it is computed,
so a failure later in a long run never loses the results before it. A file name that is
not valid UTF-8 is printed with `\\xNN` escapes for its undecodable bytes.

The package is the command, one module per job: `parser` (usage errors, option checks),
`output` (what is printed), `classifier` (the model behind `predict`, `evaluate` and
`export`), and one module per command (`models`, `predict`, `evaluate`, `train`,
`export`), each declaring its own options. Keras and TensorFlow are imported only when a
command loads a model, so `kerasaudio --help` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence

from kerasaudio.cli import evaluate, export, models, predict, train
from kerasaudio.cli.output import shown
from kerasaudio.cli.parser import UsageParser
from kerasaudio.errors import KerasAudioError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = UsageParser(
        prog="kerasaudio", description="Keras audio models: list, classify, train, "
        "evaluate and export.", formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `kerasaudio COMMAND --help` for a command's options.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (models, predict, train, evaluate, export):
        command.add_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kerasaudio` console script.

    Example:
    ```python
    from kerasaudio.cli import main
    clip = kerasaudio.datasets.fsdd.load(sample=True).path[0]  # 0_george_0.wav, a "0"
    main(["predict", clip, "--model", "m5_fsdd_digits", "--format", "json"])  # 0
    # {"file": ".../0_george_0.wav", "predictions": [{"label": "0", ...}, ...]}
    ```
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, its line printed)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    with warnings.catch_warnings():
        if args.command in ("predict", "evaluate", "export"):
            warnings.showwarning = _show_warning
        try:
            return args.run(args)
        except KerasAudioError as exc:  # a user's mistake or a missing file: one message
            print(f"kerasaudio {args.command}: error: {shown(str(exc))}", file=sys.stderr)
            return 2
        except BrokenPipeError:  # `kerasaudio predict ... | head`: the reader has gone
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # no second error when Python exits
            return 1


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line on stderr (a file loaded with a truncated stream, ...)."""
    print(f"kerasaudio: warning: {shown(str(message))}", file=sys.stderr, flush=True)
