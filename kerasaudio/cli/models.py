"""`kerasaudio models [--pretrained]`: the table of architectures or pretrained presets
(`kerasaudio.available_models`) as text fitted to the terminal, JSON or CSV. Internal to
the command (`kerasaudio.cli`).
"""

from __future__ import annotations

import sys

from kerasaudio.cli.output import fit_table
from kerasaudio.cli.parser import FORMATS

__all__ = ["add_command", "run"]


def add_command(commands) -> None:
    """Declare `models` and its options on the `kerasaudio` subparsers `commands`."""
    models = commands.add_parser("models", help="the table of models (or presets)",
                                 description="Print kerasaudio.available_models(): one "
                                 "row per architecture, or per pretrained preset.")
    models.add_argument("--pretrained", action="store_true",
                        help="list the pretrained presets (with their metrics)")
    models.add_argument("--format", choices=FORMATS, default="text",
                        help="output format (default: text)")
    models.set_defaults(run=run)


def run(args) -> int:
    """Print `kerasaudio.available_models()` in `args.format`."""
    import kerasaudio

    table = kerasaudio.available_models(pretrained=args.pretrained)
    if args.format == "json":
        print(table.reset_index().to_json(orient="records", indent=2))
    elif args.format == "csv":
        table.to_csv(sys.stdout)
    elif not len(table):
        print("(no presets published)")
    else:
        print(fit_table(table))
    return 0
