"""What learned stacking is fed: clips and labels from arrays, a pandas DataFrame or a
`tf.data.Dataset` (e.g. `kerasaudio.data.audio_dataset`), and labels as class indices or
multi-hot rows.

A DataFrame is read with `kerasaudio.data.audio_dataset`, so its files are decoded,
mixed to mono and resampled exactly as for training; its labels are one column (class
names; comma-separated names or lists for multi-label data, as Freesound's `labels`) or
several 0/1 columns, one per class.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from kerasaudio.ensemble.classification import as_clips
from kerasaudio.errors import InvalidOptionError

__all__ = ["encode_labels", "is_dataframe", "load_examples"]


def is_dataframe(obj) -> bool:
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(obj, pd.DataFrame)


def _is_dataset(obj) -> bool:
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(obj, tf.data.Dataset)


def _looks_multi_label(values) -> bool:
    """A label column holds several labels per row (lists, or comma-separated names)."""
    return any(isinstance(v, (list, tuple, set, frozenset, np.ndarray))
               or (isinstance(v, str) and "," in v) for v in values)


def load_examples(data, *, class_names: Sequence[str] | None, sample_rate: int | None,
                  multi_label: bool | None, label_column, path_column: str):
    """`(clips, labels, class_names)` from `(x, y)`, a DataFrame or a `tf.data.Dataset`.

    `clips` is a list of 1-D float32 arrays; `labels` is what the source holds (class
    indices or names, or multi-hot rows; see `encode_labels`); `class_names` is the
    given list, else the source's (a DataFrame's label values, a dataset's
    `class_names`), else None.

    Raises:
        InvalidOptionError: an unsupported source, a DataFrame without a known sample
            rate, or a dataset whose elements are not `(audio, labels)` batches.
    """
    names = None if class_names is None else [str(c) for c in class_names]
    if is_dataframe(data):
        from kerasaudio.data import audio_dataset

        if sample_rate is None:
            raise InvalidOptionError(
                "a DataFrame's files are loaded at sample_rate=: pass it (or use members "
                "whose model-info record has a rate, which is used).")
        columns = [label_column] if isinstance(label_column, str) else list(label_column)
        missing = [c for c in [path_column, *columns] if c not in data.columns]
        if missing:
            raise InvalidOptionError(f"the DataFrame has no column(s) {missing} (columns: "
                                     f"{list(data.columns)}); pass path_column= and "
                                     "label_column=.")
        if len(columns) > 1:  # one 0/1 column per class
            if multi_label is False:
                raise InvalidOptionError("several label columns are multi-hot labels; "
                                         "multi_label=False contradicts them.")
            ds = audio_dataset(list(data[path_column]), sample_rate=sample_rate,
                               batch_size=1)
            clips = [np.asarray(x)[0] for x in ds.as_numpy_iterator()]
            return clips, data[columns].to_numpy(), names or [str(c) for c in columns]
        if multi_label is None:
            multi_label = _looks_multi_label(data[columns[0]])
        ds = audio_dataset(data, classes=names, sample_rate=sample_rate, batch_size=1,
                           multi_label=bool(multi_label), label_column=columns[0],
                           path_column=path_column)
        return _from_dataset(ds, names or ds.class_names)
    if _is_dataset(data):
        return _from_dataset(data, names or getattr(data, "class_names", None))
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
        return as_clips(x), y, names
    raise InvalidOptionError(
        "data must be (clips, labels), a pandas DataFrame of files and labels, or a "
        f"tf.data.Dataset of (audio, labels) batches; got {type(data).__name__}.")


def _from_dataset(ds, names):
    clips, labels = [], []
    for element in ds.as_numpy_iterator():
        if not isinstance(element, tuple) or len(element) != 2:
            raise InvalidOptionError(
                "the dataset's elements must be (audio, labels) batches, e.g. "
                "kerasaudio.data.audio_dataset(..., labels) without features=.")
        audio, label = element
        audio = np.asarray(audio, np.float32)
        if audio.ndim == 3 and audio.shape[-1] == 1:
            audio = audio[..., 0]
        if audio.ndim != 2:
            raise InvalidOptionError(
                f"the dataset gives batches of shape {audio.shape}; stacking needs raw "
                "audio (batch, samples): build it without features=.")
        clips.extend(audio)
        labels.extend(np.asarray(label))
    if not clips:
        raise InvalidOptionError("the dataset is empty.")
    return clips, np.asarray(labels), None if names is None else [str(c) for c in names]


def encode_labels(labels, names: list[str] | None, multi_label: bool | None):
    """`(labels, class_names, multi_label)`: class indices `(clips,)` (int) or multi-hot
    rows `(clips, classes)` (float32).

    One label per clip (indices, or names when `names` is given) is single-label; a 2-D
    0/1 matrix is multi-label. Without `names`, a multi-hot matrix's classes are named
    `"0"`, `"1"`, ...

    Raises:
        InvalidOptionError: labels that are neither, names without `names`, unknown names,
            a matrix with the wrong number of columns, or labels contradicting
            `multi_label`.
    """
    y = np.asarray(labels)
    if y.ndim == 2:
        if multi_label is False:
            raise InvalidOptionError(
                f"labels of shape {y.shape} are multi-hot rows; multi_label=False "
                "contradicts them (single-label stacking takes one label per clip).")
        if y.dtype.kind not in "biuf" or not np.isin(y, (0, 1)).all():
            raise InvalidOptionError("multi-label labels must be a 0/1 (or bool) matrix "
                                     "(clips, classes).")
        if names is None:
            names = [str(i) for i in range(y.shape[1])]
        if y.shape[1] != len(names):
            raise InvalidOptionError(
                f"multi-hot labels have {y.shape[1]} columns but there are {len(names)} "
                f"classes {names}.")
        return y.astype(np.float32), names, True
    if y.ndim != 1:
        raise InvalidOptionError(f"labels of shape {y.shape}: pass one label per clip "
                                 "(class indices or names) or multi-hot rows.")
    if multi_label:
        raise InvalidOptionError(
            "multi_label=True needs multi-hot labels (clips, classes); these are one label "
            "per clip.")
    if y.dtype.kind in "USO":
        if names is None:
            raise InvalidOptionError("labels are names: pass class_names=.")
        position = {c: i for i, c in enumerate(names)}
        unknown = sorted(set(map(str, y)) - set(position))
        if unknown:
            raise InvalidOptionError(f"labels {unknown} are not among {names}.")
        y = np.array([position[str(v)] for v in y])
    return y.astype(int), names, False
