"""Argument parsing of the `kerasaudio` command and its usage errors.

`UsageParser` turns argparse's errors into one line on stderr (exit status 2); `positive`
and `output_directory` check option values before any work, raising
`kerasaudio.errors.InvalidOptionError`, which `kerasaudio.cli.main` prints as one line
with exit status 2. Each command module declares its own options (`add_command`).
Internal to the command (`kerasaudio.cli`).
"""

from __future__ import annotations

import argparse
import math
import pathlib
import tempfile

from kerasaudio.cli.output import shown
from kerasaudio.errors import InvalidOptionError

__all__ = ["FORMATS", "UsageParser", "output_directory", "positive"]

#: The output formats of `models` and `predict`.
FORMATS = ("text", "json", "csv")


class UsageParser(argparse.ArgumentParser):
    """argparse with one-line usage errors (`kerasaudio predict: error: ...`, exit 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {shown(message)} (see `{self.prog} --help`)\n")


def positive(option: str, value, *, integer: bool = False):
    """`value` if it is a finite number > 0 (an int for `integer`), else an
    `InvalidOptionError` naming `option`."""
    ok = value is not None and math.isfinite(value) and value > 0
    if not ok or (integer and value != int(value)):
        kind = "a positive integer" if integer else "a positive finite number of seconds"
        raise InvalidOptionError(f"{option} must be {kind}, got {value!r}.")
    return value


def output_directory(path: str, option: str) -> pathlib.Path:
    """Create `path` (and its parents) and check a file can be written in it, before any
    work: a file in the way, a read-only or virtual directory is an `InvalidOptionError`
    naming `option`."""
    if "\x00" in path:
        raise InvalidOptionError(f"{option}: the path {path!r} contains a NUL byte.")
    out = pathlib.Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except FileExistsError:
        raise InvalidOptionError(f"{option} {shown(path)}: a file is in the way of the "
                                 "output directory.") from None
    except OSError as exc:
        raise InvalidOptionError(f"{option} {shown(path)}: cannot write there "
                                 f"({exc.strerror or exc}).") from None
    return out
