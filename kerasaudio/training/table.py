"""The user's table of clips: reading it (a CSV file, a DataFrame or a dict of columns) into
a checked `Table`, and dealing its rows into folds.

`read_table` names every problem it can (each missing column, missing files, unknown
labels, an empty table) in one `kerasaudio.errors` error; `assign_folds` keeps each group
(a speaker, a session, a precomputed fold) inside one fold. `kerasaudio.training.user_data`
trains on the result.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kerasaudio.errors import AudioFileNotFoundError, InvalidOptionError

__all__ = ["TASKS", "Table", "assign_folds", "listing", "read_table"]

#: Model-info tasks of the two kinds of training.
TASKS = ("single-label", "multi-label")


@dataclass(frozen=True)
class Table:
    """A checked table of clips (see `read_table`).

    Attributes:
        names: each clip's entry in the path column, as written.
        paths: each clip's file (existing), resolved against the audio directory.
        labels: each clip's labels (one for single-label).
        groups: each clip's group (None without a group column).
        class_names: the classes, in output order.
        multi_label: whether a clip may have several labels.

    Example:
    ```python
    from kerasaudio.training.user_data import Table

    table = Table(names=("a.wav", "b.wav"), paths=("/data/a.wav", "/data/b.wav"),
                  labels=(("dog",), ("cat", "dog")), groups=None,
                  class_names=("cat", "dog"), multi_label=True)
    table.targets()  # [[0. 1.] [1. 1.]]
    ```
    """

    names: tuple[str, ...]
    paths: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...]
    groups: tuple[str, ...] | None
    class_names: tuple[str, ...]
    multi_label: bool

    def __len__(self) -> int:
        return len(self.paths)

    def targets(self, rows: Sequence[int] | None = None):
        """Float32 label rows (one-hot or multi-hot) of `rows` (default: every clip)."""
        import numpy as np

        rows = range(len(self)) if rows is None else rows
        index = {name: i for i, name in enumerate(self.class_names)}
        out = np.zeros((len(rows), len(self.class_names)), np.float32)
        for r, row in enumerate(rows):
            for label in self.labels[row]:
                out[r, index[label]] = 1.0
        return out

    def fingerprint(self) -> str:
        """A hash of the clips, labels, groups and classes (what a resumed run checks)."""
        data = json.dumps([self.paths, self.labels, self.groups, self.class_names,
                           self.multi_label])
        return hashlib.sha256(data.encode()).hexdigest()


def _columns(table, source_name: str) -> tuple[list[str], dict[str, list]]:
    """`(column names, {column: values})` of a CSV path, a DataFrame or a dict of lists."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(table, pandas.DataFrame):
        return ([str(c) for c in table.columns],
                {str(c): list(table[c]) for c in table.columns})
    if isinstance(table, Mapping):
        values = {str(k): list(v) for k, v in table.items()}
        lengths = {len(v) for v in values.values()}
        if len(lengths) > 1:
            raise InvalidOptionError(f"{source_name}: the columns have different lengths "
                                     f"{sorted(lengths)}.")
        return list(values), values
    path = Path(os.fspath(table))
    if not path.is_file():
        raise InvalidOptionError(f"{source_name}: no such file.")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidOptionError(f"{source_name}: cannot read it as CSV: {exc}") from None
    return header, {name: [row.get(name) for row in rows] for name in header}


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and not value.strip())


def _split(value, multi_label: bool, separator: str) -> tuple[str, ...]:
    if isinstance(value, (list, tuple, set, frozenset)):
        parts = [str(v).strip() for v in value]
    elif multi_label:
        parts = [p.strip() for p in str(value).split(separator)]
    else:
        text = value if isinstance(value, str) else (
            str(int(value)) if isinstance(value, float) and value.is_integer() else str(value))
        parts = [text.strip()]
    return tuple(dict.fromkeys(p for p in parts if p))


def listing(items: Sequence, limit: int = 5) -> str:
    """The first `limit` items joined by commas, with the count when some are left out (for
    error messages that name every problem without printing thousands).

    Example:
    ```python
    from kerasaudio.training.table import listing
    listing(["a.wav", "b.wav"])          # 'a.wav, b.wav'
    listing(list(range(8)), limit=3)     # '0, 1, 2, ... (8 in all)'
    ```
    """
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def read_table(table, *, audio_dir: str | os.PathLike | None = None,
               path_column: str = "fname", label_column: str = "labels",
               group_column: str | None = None, multi_label: bool | None = None,
               classes: Sequence[str] | None = None, separator: str = ",") -> Table:
    """Read and check a table of clips: columns, labels, groups, and that every file exists.

    Relative paths are taken from `audio_dir`, else from the CSV file's folder (a
    DataFrame's or dict's relative paths: from the current directory).

    Args:
        table: a CSV file (header row first), a pandas DataFrame, or a dict of columns.
        audio_dir: the folder the paths are relative to.
        path_column: the column of file paths.
        label_column: the column of labels.
        group_column: a column of groups for folds (None: no groups).
        multi_label: whether a cell may hold several labels separated by `separator`
            (None: multi-label when any cell holds more than one).
        classes: the class names in output order (None: the sorted labels found); a
            label outside `classes` is an error.
        separator: between the labels of a multi-label cell.

    Returns:
        A `Table`.

    Raises:
        InvalidOptionError: a missing file or unreadable CSV, missing columns (every one
            named), no rows, rows without a path or a label, labels not in `classes`, a
            single-label table with several labels in a cell.
        AudioFileNotFoundError: audio files that do not exist (the first named, with the
            count and the first few others).

    Example:
    ```python
    import os
    from kerasaudio.training.user_data import read_table

    root = os.path.dirname(kerasaudio.datasets.fsdd.load(sample=True).path[0])
    table = read_table({"fname": ["0_george_0.wav", "1_george_0.wav"],
                        "labels": ["zero,george", "one,george"]}, audio_dir=root)
    table.class_names, table.multi_label  # ('george', 'one', 'zero'), True
    ```

    Reference:
        Fonseca et al., "Audio tagging with noisy labels and minimal supervision",
        DCASE 2019 (the Freesound `fname`/`labels` layout).
    """
    source_name = "the table" if not isinstance(table, (str, os.PathLike)) else os.fspath(table)
    header, values = _columns(table, source_name)
    wanted = [("path column", path_column), ("label column", label_column)]
    if group_column is not None:
        wanted.append(("group column", group_column))
    missing = [f"{what} {name!r}" for what, name in wanted if name not in values]
    if missing:
        raise InvalidOptionError(
            f"{source_name}: missing {', '.join(missing)}; its columns are {header}. Name "
            "the columns with path_column=/label_column=/group_column= (--path-column, "
            "--label-column, --group-column).")
    raw_paths, raw_labels = values[path_column], values[label_column]
    if not raw_paths:
        raise InvalidOptionError(f"{source_name}: no rows (an empty table).")
    blank = [i + 2 for i, (p, lab) in enumerate(zip(raw_paths, raw_labels, strict=True))
             if _blank(p) or _blank(lab)]
    if blank:
        raise InvalidOptionError(f"{source_name}: rows without a path or a label (line "
                                 f"numbers of a CSV): {listing(blank)}.")
    if multi_label is None:
        multi_label = any(isinstance(v, (list, tuple, set, frozenset))
                          or (isinstance(v, str) and separator in v) for v in raw_labels)
    labels = [_split(v, multi_label, separator) for v in raw_labels]
    if not multi_label:
        several = [i + 2 for i, items in enumerate(labels) if len(items) != 1]
        if several:
            raise InvalidOptionError(f"{source_name}: single-label table with several "
                                     f"labels in rows {listing(several)}.")
    found = sorted({label for items in labels for label in items})
    if classes is None:
        class_names = tuple(found)
    else:
        class_names = tuple(str(c) for c in classes)
        unknown = sorted(set(found) - set(class_names))
        if unknown:
            raise InvalidOptionError(f"{source_name}: unknown labels {listing(unknown, 10)}; "
                                     f"the classes are {list(class_names)}.")
        if len(set(class_names)) != len(class_names) or not class_names:
            raise InvalidOptionError(f"classes={list(class_names)}: give distinct names.")
    if len(class_names) < 2 and not multi_label:
        raise InvalidOptionError(f"{source_name}: one class only ({list(class_names)}); a "
                                 "classifier needs two or more.")
    if audio_dir is not None:
        base = Path(audio_dir)
        if not base.is_dir():
            raise InvalidOptionError(f"audio directory {os.fspath(audio_dir)!r}: no such "
                                     "directory.")
    elif isinstance(table, (str, os.PathLike)):
        base = Path(os.fspath(table)).parent
    else:
        base = Path()
    names = [str(p).strip() for p in raw_paths]
    paths = [os.fspath(base / name) for name in names]
    absent = [p for p in paths if not os.path.isfile(p)]
    if absent:
        raise AudioFileNotFoundError(absent[0], (
            f"no such file; {len(absent)} of the table's {len(paths)} files are missing "
            f"({listing(absent)}), looked for under {os.fspath(base) or '.'}; set the "
            "audio directory (audio_dir=, --audio-dir)."))
    groups = None
    if group_column is not None:
        raw_groups = values[group_column]
        empty = [i + 2 for i, g in enumerate(raw_groups) if _blank(g)]
        if empty:
            raise InvalidOptionError(f"{source_name}: rows without a group: {listing(empty)}.")
        groups = tuple(_split(g, False, separator)[0] for g in raw_groups)
    return Table(tuple(names), tuple(paths), tuple(labels), groups, class_names,
                 bool(multi_label))


def assign_folds(n: int, *, groups: Sequence[str] | None = None, n_folds: int | None = None,
                 seed: int = 0) -> list[int]:
    """The fold of each of `n` clips, numbered from 0.

    With `groups`, a group's clips stay in one fold: one fold per group (`n_folds`
    None: leave-one-group-out; a column of precomputed folds gives those folds), or the
    groups dealt into `n_folds` folds, largest group first into the smallest fold (ties:
    the groups' sorted order). Without groups, the clips are shuffled (seeded) and dealt
    into `n_folds` folds of near-equal size.

    Raises:
        InvalidOptionError: `n_folds` < 2, more folds than groups (or clips), or neither
            groups nor `n_folds`.

    Example:
    ```python
    from kerasaudio.training.user_data import assign_folds

    assign_folds(4, groups=["a", "b", "a", "c"])      # [0, 1, 0, 2]
    assign_folds(4, groups=["a", "b", "a", "c"], n_folds=2)  # [0, 1, 0, 1]
    ```
    """
    if n_folds is not None and (isinstance(n_folds, bool) or int(n_folds) != n_folds
                                or n_folds < 2):
        raise InvalidOptionError(f"n_folds={n_folds!r}: use an integer >= 2.")
    if groups is None:
        if n_folds is None:
            raise InvalidOptionError("folds need n_folds or groups.")
        if n_folds > n:
            raise InvalidOptionError(f"n_folds={n_folds} but only {n} clips.")
        import numpy as np

        order = np.random.default_rng(seed).permutation(n)
        folds = [0] * n
        for rank, row in enumerate(order):
            folds[int(row)] = rank % n_folds
        return folds
    names = sorted(set(groups))
    if n_folds is None:
        if len(names) < 2:
            raise InvalidOptionError(f"one group only ({names}): folds need two or more.")
        index = {g: i for i, g in enumerate(names)}
        return [index[g] for g in groups]
    if n_folds > len(names):
        raise InvalidOptionError(f"n_folds={n_folds} but only {len(names)} groups.")
    sizes = {g: 0 for g in names}
    for g in groups:
        sizes[g] += 1
    fold_of, load = {}, [0] * n_folds
    for g in sorted(names, key=lambda g: -sizes[g]):
        k = load.index(min(load))
        fold_of[g] = k
        load[k] += sizes[g]
    return [fold_of[g] for g in groups]
