"""The files and labels `audio_dataset` reads: from a list of paths or a DataFrame, the
labels encoded as class indices or multi-hot rows (NumPy only)."""

from __future__ import annotations

import math
import numbers
import os
import sys
from typing import Any

import numpy as np

from kerasaudio.errors import InvalidOptionError


def _is_dataframe(obj) -> bool:
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(obj, pd.DataFrame)


def _is_missing(value) -> bool:
    pd = sys.modules.get("pandas")
    if pd is not None and value is pd.NA:
        return True
    return value is None or (isinstance(value, float) and math.isnan(value))


def _label_name(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real) and float(value).is_integer():
        # float, NumPy floats and Fraction convert with int(); typeshed declares no
        # __int__ on numbers.Real.
        return str(int(value))  # type: ignore[call-overload]
    return str(value)


def resolve_source(source, labels, path_column: str, label_column: str):
    """Return (paths, raw labels or None) from a list of paths or a DataFrame."""
    if _is_dataframe(source):
        # Every missing column at once; the default label column is optional.
        missing = [f"{kind} column {name!r}" for kind, name in (
            ("path", path_column), ("label", label_column))
            if name not in source.columns and (kind == "path" or name != "label")]
        if missing:
            raise InvalidOptionError(
                f"the DataFrame has no {' and no '.join(missing)} (columns: "
                f"{list(source.columns)}); pass path_column=... / label_column=..."
            )
        if labels is not None:
            raise InvalidOptionError(
                "labels= cannot be combined with a DataFrame source; the labels come "
                f"from its {label_column!r} column."
            )
        paths = list(source[path_column])
        if label_column in source.columns:
            labels = list(source[label_column])
    elif isinstance(source, (str, bytes, os.PathLike)):
        raise InvalidOptionError(
            "source must be a list of file paths or a pandas DataFrame, got a single "
            f"path {source!r}; wrap it in a list."
        )
    else:
        try:
            paths = list(source)
        except TypeError:
            raise InvalidOptionError(
                "source must be a list of file paths or a pandas DataFrame, got "
                f"{type(source).__name__}."
            ) from None
    for i, p in enumerate(paths):
        if not isinstance(p, (str, bytes, os.PathLike)):
            raise InvalidOptionError(
                f"source[{i}] is {p!r} ({type(p).__name__}); paths must be str, bytes or "
                "os.PathLike."
            )
    paths = [os.fsdecode(p) for p in paths]
    if not paths:
        raise InvalidOptionError("source is empty: there are no files to load.")
    if labels is not None:
        if isinstance(labels, (str, bytes)):
            raise InvalidOptionError("labels must be a sequence with one label per file.")
        labels = list(labels)
        if len(labels) != len(paths):
            raise InvalidOptionError(
                f"labels has {len(labels)} entries but source has {len(paths)} files; "
                "they must have the same length."
            )
    return paths, labels


def _split_labels(value, path: str, multi_label: bool) -> list:
    if _is_missing(value):
        raise InvalidOptionError(f"{path}: missing label ({value!r}).")
    if multi_label:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
            return list(value)
        return [value]
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        raise InvalidOptionError(
            f"{path}: label {value!r} is a collection; pass multi_label=True for "
            "multi-label data."
        )
    return [value]


def encode_labels(raw: list, paths: list[str], classes, multi_label: bool):
    """Map raw labels to class indices (int32) or multi-hot rows (float32)."""
    per_file = [_split_labels(v, p, multi_label) for v, p in zip(raw, paths, strict=True)]
    if classes is None:
        unique: dict[str, Any] = {}
        for items in per_file:
            for item in items:
                unique.setdefault(_label_name(item), item)
        values = list(unique.values())
        numeric = all(
            isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in values
        )
        if numeric:
            values = sorted(values, key=float)
        else:
            values = sorted(values, key=_label_name)
        class_names = [_label_name(v) for v in values]
    else:
        if isinstance(classes, (str, bytes)):
            raise InvalidOptionError("classes must be a sequence of class names.")
        class_names = [_label_name(c) for c in classes]
        if not class_names:
            raise InvalidOptionError("classes is empty.")
        dupes = sorted({c for c in class_names if class_names.count(c) > 1})
        if dupes:
            raise InvalidOptionError(f"classes contains duplicates: {dupes}.")
    index = {name: i for i, name in enumerate(class_names)}

    def lookup(item, path):
        name = _label_name(item)
        if name not in index:
            shown = class_names if len(class_names) <= 20 else [*class_names[:20], "..."]
            raise InvalidOptionError(
                f"{path}: unknown label {name!r}; it is not one of the "
                f"{len(class_names)} classes {shown}."
            )
        return index[name]

    if multi_label:
        encoded = np.zeros((len(paths), len(class_names)), np.float32)
        for row, (items, path) in enumerate(zip(per_file, paths, strict=True)):
            for item in items:
                encoded[row, lookup(item, path)] = 1.0
    else:
        encoded = np.array(
            [lookup(items[0], p) for items, p in zip(per_file, paths, strict=True)], np.int32
        )
    return class_names, encoded
