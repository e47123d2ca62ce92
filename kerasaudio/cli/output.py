"""What the `kerasaudio` command's commands print: terminal-safe text, tables that fit the
terminal, top-k labels, a progress bar, and LiteRT's native INFO lines kept off stderr.

Internal to the command (`kerasaudio.cli`); nothing here imports TensorFlow or Keras.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator, Sequence

import numpy as np

__all__ = ["fit_table", "native_stderr_muted", "progress", "shown", "top"]


def shown(text: str) -> str:
    """`text` printable in any encoding: undecodable file-name bytes (surrogate escapes)
    become `\\xNN`."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def fit_table(table) -> str:
    """`table` (a pandas DataFrame) as text no wider than the terminal
    (`shutil.get_terminal_size`, which honours $COLUMNS): columns wrap into blocks and long
    cells are cut with `...`."""
    width = shutil.get_terminal_size().columns
    index = max(len(str(label)) for label in [table.index.name or "", *table.index])
    return table.to_string(line_width=width,
                           max_colwidth=max(12, min(60, width - index - 4)))


def top(probabilities: np.ndarray, names: list[str] | None, k: int) -> list[dict]:
    """The `k` best classes, by name (by output index when the names are unknown)."""
    order = np.argsort(-probabilities)[:k]
    return [{"label": names[i] if names is not None else str(int(i)),
             "probability": round(float(probabilities[i]), 6)} for i in order]


def progress(items: Sequence, label: str, *, enabled: bool) -> Iterator:
    """Yield `items`, drawing a progress bar on stderr when it is a terminal."""
    show = enabled and sys.stderr.isatty()
    total = len(items)
    for i, item in enumerate(items, 1):
        yield item
        if show:
            width = 30
            done = int(width * i / total)
            sys.stderr.write(f"\r{label} [{'#' * done}{'.' * (width - done)}] {i}/{total}")
            sys.stderr.flush()
    if show:
        sys.stderr.write("\n")


@contextlib.contextmanager
def native_stderr_muted() -> Iterator[None]:
    """Silence what C++ libraries write to file descriptor 2 (LiteRT's INFO lines) for
    the duration; Python's own `sys.stderr` writes are flushed before."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
