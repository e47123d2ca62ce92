"""Confusion matrices: counting and a labelled PNG."""

from __future__ import annotations

import os

import numpy as np

from kerasaudio.errors import InvalidOptionError

__all__ = ["confusion_matrix", "plot_confusion"]


def confusion_matrix(truth, predicted, *, classes: int) -> np.ndarray:
    """Counts of (true class, predicted class) pairs: rows true, columns predicted.

    Args:
        truth: integer class indices, shape `(n,)`.
        predicted: integer class indices, shape `(n,)`.
        classes: number of classes (the matrix is `classes x classes`).

    Returns:
        int64 array `(classes, classes)`: entry `[i, j]` counts true `i` predicted `j`.

    Raises:
        InvalidOptionError: shapes that differ, or indices outside `0..classes - 1`.

    Example:
    ```python
    from kerasaudio.metrics import confusion_matrix
    confusion_matrix([0, 1, 1], [0, 1, 0], classes=2)  # [[1, 0], [1, 1]]
    ```
    """
    truth, predicted = np.asarray(truth, np.int64), np.asarray(predicted, np.int64)
    if truth.shape != predicted.shape or truth.ndim != 1:
        raise InvalidOptionError(
            f"truth {truth.shape} and predicted {predicted.shape} must be equal 1-D arrays.")
    for name, values in (("truth", truth), ("predicted", predicted)):
        if values.size and (values.min() < 0 or values.max() >= classes):
            raise InvalidOptionError(f"{name} has class indices outside 0..{classes - 1}.")
    confusion = np.zeros((classes, classes), np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    return confusion


def plot_confusion(confusion: np.ndarray, names: list[str], path: str | os.PathLike, *,
                   title: str = "", xlabel: str = "predicted", ylabel: str = "true") -> None:
    """Write a confusion matrix as a PNG: counts in the cells, class names on the axes.

    Args:
        confusion: `(classes, classes)` counts, rows true, columns predicted.
        names: class names, in index order.
        path: the PNG file to write.
        title: the plot's title.
        xlabel: label of the predicted axis.
        ylabel: label of the true axis.

    Returns:
        None; the PNG is written to `path` (matplotlib, Agg backend).

    Example:
    ```python
    from kerasaudio.metrics import confusion_matrix, plot_confusion
    counts = confusion_matrix([0, 1, 1], [0, 1, 0], classes=2)
    plot_confusion(counts, ["yes", "no"], "confusion.png", title="2 classes")
    ```
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    confusion = np.asarray(confusion)
    if confusion.shape != (len(names), len(names)):
        raise InvalidOptionError(
            f"confusion {confusion.shape} does not match {len(names)} class names.")
    size = max(4.0, 0.45 * len(names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=45 if len(names) > 10 else 0,
                  ha="right" if len(names) > 10 else "center")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    peak = confusion.max() or 1
    for (i, j), count in np.ndenumerate(confusion):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                    color="white" if count > peak / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
