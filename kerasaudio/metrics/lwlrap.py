"""Label-weighted label-ranking average precision (lwlrap), the Freesound Audio Tagging metric.

For every sample and every true label `j` of that sample, the precision at `j` is

    |{true labels k with score_k >= score_j}| / |{labels k with score_k >= score_j}|

(1 when `j` ranks above every false label). lwlrap is the mean of these precisions over
all (sample, true label) pairs: every true label counts once, so a sample with three
labels weighs three times one with a single label, and samples without labels add
nothing. Tied scores rank pessimistically (every label tied with `j` counts as ranked
above it), as in scikit-learn. lwlrap equals
`sklearn.metrics.label_ranking_average_precision_score(y_true, y_score,
sample_weight=y_true.sum(1))` on the samples with at least one label (scikit-learn scores
a sample without labels as 1, which is why the competition code dropped them first).
It also equals the per-class mean precision weighted by each class's share of the labels.

- `lwlrap(y_true, y_score)`: the score of NumPy arrays.
- `lwlrap_per_class(y_true, y_score)`: per-class scores and weights.
- `Lwlrap`: the same as a stateful Keras metric (accumulated over batches); after
  `import kerasaudio` it is also the metric string `"lwlrap"` of `model.compile`.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from kerasaudio.errors import InvalidOptionError

__all__ = ["Lwlrap", "lwlrap", "lwlrap_per_class"]

#: bound on the (rows x classes x classes) comparison block the NumPy code builds at once.
_BLOCK_ELEMENTS = 1 << 24


def _check(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    truth = np.asarray(y_true)
    scores = np.asarray(y_score)
    if truth.ndim != 2 or truth.shape != scores.shape:
        raise InvalidOptionError(
            "y_true and y_score must be 2-D (samples, classes) arrays of the same shape; got "
            f"{truth.shape} and {scores.shape}."
        )
    if truth.dtype != bool and not np.isin(truth, (0, 1)).all():
        raise InvalidOptionError("y_true must be a binary (0/1 or bool) multi-hot matrix.")
    if not np.issubdtype(scores.dtype, np.number) or not np.isfinite(scores).all():
        raise InvalidOptionError("y_score must be finite numbers (NaN or Inf found).")
    truth = truth.astype(bool)
    if not truth.any():
        raise InvalidOptionError("y_true has no positive label: lwlrap is undefined.")
    return truth, scores.astype(np.float64)


def _precisions(truth: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Precision at each true label (0 where the label is false), shape `(samples, classes)`."""
    n, c = truth.shape
    out = np.zeros((n, c))
    rows = max(1, _BLOCK_ELEMENTS // (c * c))
    for start in range(0, n, rows):
        t, s = truth[start:start + rows], scores[start:start + rows]
        at_or_above = s[:, None, :] >= s[:, :, None]  # [i, j, k]: score_k >= score_j
        rank = at_or_above.sum(axis=-1)
        hits = (at_or_above & t[:, None, :]).sum(axis=-1)
        out[start:start + rows] = np.where(t, hits / rank, 0.0)
    return out


def lwlrap(y_true, y_score) -> float:
    """Label-weighted label-ranking average precision of a score matrix.

    Args:
        y_true: `(samples, classes)` multi-hot truth (0/1 or bool).
        y_score: `(samples, classes)` scores (probabilities, logits: only their order
            within each sample matters).

    Returns:
        lwlrap in (0, 1]; 1 when every sample ranks all its true labels above its false
        ones.

    Raises:
        InvalidOptionError: shapes differ or are not 2-D, `y_true` is not binary, scores are
            not finite, or there is no positive label at all.

    Example:
    ```python
    from kerasaudio.metrics.lwlrap import lwlrap
    y_true = [[1, 0, 0], [0, 1, 1]]
    y_score = [[0.9, 0.2, 0.1], [0.8, 0.5, 0.3]]
    lwlrap(y_true, y_score)  # (1 + 1/2 + 2/3) / 3 = 0.7222...
    ```

    Reference:
        Fonseca et al., "Audio tagging with noisy labels and minimal supervision", DCASE
        2019 Workshop (the Freesound Audio Tagging 2019 metric).
    """
    truth, scores = _check(y_true, y_score)
    return float(_precisions(truth, scores).sum() / truth.sum())


def lwlrap_per_class(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    """Per-class lwlrap and class weights: `lwlrap == nansum(per_class * weights)`.

    The score of class `c` is the mean precision at `c` over the samples labelled `c`;
    its weight is its share of all labels.

    Args:
        y_true: `(samples, classes)` multi-hot truth (0/1 or bool).
        y_score: `(samples, classes)` scores.

    Returns:
        `(per_class, weights)`, two float64 arrays of shape `(classes,)`; a class with no
        positive sample has score NaN and weight 0.

    Example:
    ```python
    from kerasaudio.metrics.lwlrap import lwlrap_per_class
    per_class, weights = lwlrap_per_class([[1, 0, 0], [0, 1, 1]],
                                          [[0.9, 0.2, 0.1], [0.8, 0.5, 0.3]])
    # per_class [1, 0.5, 0.667], weights [1/3, 1/3, 1/3]
    ```
    """
    truth, scores = _check(y_true, y_score)
    labels = truth.sum(axis=0)
    sums = _precisions(truth, scores).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(labels > 0, sums / labels, np.nan)
    return per_class, labels / labels.sum()


@keras.saving.register_keras_serializable(package="kerasaudio")
class Lwlrap(keras.metrics.Metric):
    """lwlrap as a stateful Keras metric, accumulated over batches.

    Keeps two sums over everything seen since the last reset: the precisions at every
    true label and the number of true labels; the result is their ratio, so the metric
    over several batches equals `lwlrap` of the concatenated arrays. Written with
    `keras.ops` (TensorFlow, JAX, PyTorch backends). Each update compares every pair
    of classes of every sample: `batch x classes^2` work and memory.

    `y_true` entries above 0.5 are the true labels; `y_pred` are scores (any
    monotonic output: probabilities or logits). A `sample_weight` multiplies each
    sample's labels (and their precisions). With no labels seen the result is 0.

    Args:
        name: metric name (default `"lwlrap"`).
        dtype: dtype of the accumulators and comparisons (default float32).

    Example:
    ```python
    import keras
    from kerasaudio.metrics.lwlrap import Lwlrap
    model = keras.Sequential([keras.Input((40,)), keras.layers.Dense(3, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[Lwlrap()])
    metric = Lwlrap()
    metric.update_state([[1, 0, 0]], [[0.9, 0.2, 0.1]])
    metric.update_state([[0, 1, 1]], [[0.8, 0.5, 0.3]])
    float(metric.result())  # 0.7222...
    ```

    Reference:
        Fonseca et al., "Audio tagging with noisy labels and minimal supervision", DCASE
        2019 Workshop.
    """

    def __init__(self, name: str = "lwlrap", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.precision_sum = self.add_variable(shape=(), initializer="zeros",
                                               name="precision_sum")
        self.label_count = self.add_variable(shape=(), initializer="zeros",
                                             name="label_count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        scores = ops.cast(y_pred, self.dtype)
        truth = ops.cast(ops.cast(y_true, self.dtype) > 0.5, self.dtype)
        # at_or_above[i, j, k] = 1 where score_k >= score_j (ties count as above).
        at_or_above = ops.cast(ops.expand_dims(scores, 1) >= ops.expand_dims(scores, 2),
                               self.dtype)
        rank = ops.sum(at_or_above, axis=-1)
        hits = ops.squeeze(ops.matmul(at_or_above, ops.expand_dims(truth, -1)), -1)
        precision = ops.sum(truth * hits / rank, axis=-1)
        labels = ops.sum(truth, axis=-1)
        if sample_weight is not None:
            weight = ops.reshape(ops.cast(sample_weight, self.dtype), (-1,))
            precision = precision * weight
            labels = labels * weight
        self.precision_sum.assign_add(ops.sum(precision))
        self.label_count.assign_add(ops.sum(labels))

    def result(self):
        return ops.divide_no_nan(self.precision_sum, self.label_count)


def _register_metric_string() -> None:
    """Make `"lwlrap"` a metric string of `model.compile(metrics=["lwlrap"])`.

    Keras 3 looks metric strings up in its own table of built-in metrics only
    (`keras.metrics.get`); the name is added there, next to Keras' own, unless that table
    already has it. Keras versions without the table keep `metrics=[Lwlrap()]`.
    """
    try:
        from keras.src import metrics as keras_metrics
    except ImportError:  # a Keras without the private module: the class still works
        return
    table = getattr(keras_metrics, "ALL_OBJECTS_DICT", None)
    if isinstance(table, dict):
        table.setdefault("lwlrap", Lwlrap)


_register_metric_string()
