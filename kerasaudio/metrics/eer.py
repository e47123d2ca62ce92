"""Equal error rate (EER) of a verification system: where false accepts equal false rejects.

A trial is a pair of utterances with a label (1: same speaker, 0: different) and a score
(higher: more alike, e.g. the cosine of two embeddings). At threshold t a trial is
accepted when `score >= t`; the false acceptance rate FAR(t) is the share of label-0
trials accepted, the false rejection rate FRR(t) the share of label-1 trials rejected.
The EER is the rate where the two are equal. On a finite set FAR and FRR step, so we
take the ROC's points (scikit-learn's `roc_curve`: FAR = fpr, FRR = 1 - tpr) and
interpolate linearly between the two consecutive points where FRR - FAR changes sign;
the threshold is interpolated the same way.

- `eer(labels, scores)`: `(eer, threshold)` of NumPy arrays.
- `EqualErrorRate`: a stateful Keras metric (score histograms accumulated over batches).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from kerasaudio.errors import InvalidOptionError

__all__ = ["EqualErrorRate", "eer"]


def _check(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).reshape(-1)
    s = np.asarray(scores).reshape(-1)
    if y.shape != s.shape:
        raise InvalidOptionError(
            f"labels and scores must have the same number of trials; got {np.asarray(labels).shape}"
            f" and {np.asarray(scores).shape}."
        )
    if y.dtype != bool and not np.isin(y, (0, 1)).all():
        raise InvalidOptionError("labels must be 0/1 (1: same speaker, i.e. a target trial).")
    if not np.issubdtype(s.dtype, np.number) or not np.isfinite(s).all():
        raise InvalidOptionError("scores must be finite numbers (NaN or Inf found).")
    y = y.astype(bool)
    if y.all() or not y.any():
        raise InvalidOptionError(
            "the EER needs both target (label 1) and non-target (label 0) trials; got only "
            f"label {int(y[0]) if y.size else 'none'}."
        )
    return y, s.astype(np.float64)


def _crossing(far: np.ndarray, frr: np.ndarray, thresholds: np.ndarray) -> tuple[float, float]:
    """Interpolate where `frr - far` (non-increasing along the arrays) reaches 0."""
    diff = frr - far
    i = int(np.flatnonzero(diff <= 0)[0])  # the last point has far = 1, frr = 0
    if diff[i] == 0 or i == 0:
        return float(far[i]), float(thresholds[i])
    t = diff[i - 1] / (diff[i - 1] - diff[i])
    rate = far[i - 1] + t * (far[i] - far[i - 1])
    lo, hi = thresholds[i - 1], thresholds[i]
    threshold = hi if not np.isfinite(lo) else lo + t * (hi - lo)
    return float(rate), float(threshold)


def eer(labels, scores) -> tuple[float, float]:
    """Equal error rate and its threshold, from the ROC.

    Args:
        labels: `(n,)` trial labels, 1 (or True) for target (same-speaker) trials.
        scores: `(n,)` scores, higher meaning more likely a target trial.

    Returns:
        `(eer, threshold)`: the rate in [0, 1] where the false acceptance and false
        rejection rates are equal (linearly interpolated between ROC points), and the
        score threshold there (accept when `score >= threshold`). Perfectly separated
        scores give 0 (the threshold is the lowest target score); scores that carry no
        information give about 0.5.

    Raises:
        InvalidOptionError: mismatched shapes, labels other than 0/1, NaN/Inf scores, or
            only one kind of trial.

    Example:
    ```python
    from kerasaudio.metrics.eer import eer
    eer([1, 1, 1, 0, 0], [0.9, 0.8, 0.3, 0.5, 0.1])  # (0.3333, 0.6)
    ```

    Reference:
        Bimbot et al., "A Tutorial on Text-Independent Speaker Verification", EURASIP
        Journal on Applied Signal Processing, 2004 (the DET curve and the EER).
    """
    from sklearn.metrics import roc_curve

    y, s = _check(labels, scores)
    fpr, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    return _crossing(fpr, 1.0 - tpr, thresholds)


@keras.saving.register_keras_serializable(package="kerasaudio")
class EqualErrorRate(keras.metrics.Metric):
    """Equal error rate as a Keras metric, accumulated over batches.

    `y_true` holds trial labels (1: same speaker), `y_pred` scores (e.g. cosines in
    [-1, 1]). Scores are counted in `num_thresholds - 1` equal bins over `score_range`
    (scores outside it go to the end bins), so the state is two small histograms
    whatever the number of trials, as `keras.metrics.AUC` does. `result()` computes
    FAR and FRR at the bin edges and interpolates their crossing like `eer`; it agrees
    with `eer` on the same trials to within the bin width's effect (exactly when no
    bin holds both a target and a non-target score). Returns 0 until both kinds of
    trial have been seen.

    Args:
        num_thresholds: number of thresholds (bin edges) over `score_range`.
        score_range: `(low, high)` range of the scores; default cosines, (-1, 1).
        name: metric name.

    Example:
    ```python
    from kerasaudio.metrics.eer import EqualErrorRate
    metric = EqualErrorRate()
    metric.update_state([1, 1, 1, 0, 0], [0.9, 0.8, 0.3, 0.5, 0.1])
    float(metric.result())  # 0.3333
    ```

    Reference:
        Bimbot et al., "A Tutorial on Text-Independent Speaker Verification", EURASIP
        Journal on Applied Signal Processing, 2004.
    """

    def __init__(self, *, num_thresholds: int = 1001,
                 score_range: tuple[float, float] = (-1.0, 1.0),
                 name: str = "eer", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int) or (
                num_thresholds < 3):
            raise InvalidOptionError(f"num_thresholds={num_thresholds!r}: must be an integer >= 3.")
        low, high = (float(v) for v in score_range)
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise InvalidOptionError(f"score_range={score_range!r}: must be finite, low < high.")
        self.num_thresholds = num_thresholds
        self.score_range = (low, high)
        bins = num_thresholds - 1
        self.targets = self.add_variable(shape=(bins,), initializer="zeros", name="targets",
                                         dtype="float32")
        self.nontargets = self.add_variable(shape=(bins,), initializer="zeros",
                                            name="nontargets", dtype="float32")

    def update_state(self, y_true, y_pred, sample_weight=None):
        low, high = self.score_range
        bins = self.num_thresholds - 1
        labels = ops.reshape(ops.cast(y_true, "float32"), (-1,))
        scores = ops.reshape(ops.cast(y_pred, "float32"), (-1,))
        weight = (ops.ones_like(scores) if sample_weight is None
                  else ops.reshape(ops.cast(sample_weight, "float32"), (-1,)))
        index = ops.floor((scores - low) * (bins / (high - low)))
        index = ops.cast(ops.clip(index, 0, bins - 1), "int32")
        onehot = ops.one_hot(index, bins, dtype="float32")
        self.targets.assign_add(ops.matmul(labels * weight, onehot))
        self.nontargets.assign_add(ops.matmul((1.0 - labels) * weight, onehot))

    def result(self):
        n_target = ops.sum(self.targets)
        n_nontarget = ops.sum(self.nontargets)
        zero = ops.zeros((1,), "float32")
        # Threshold k (edge k of the bins): reject bins < k, accept bins >= k.
        frr = ops.concatenate([zero, ops.cumsum(self.targets)]) / ops.maximum(n_target, 1.0)
        accepted = ops.flip(ops.cumsum(ops.flip(self.nontargets, 0)), 0)
        far = ops.concatenate([accepted, zero]) / ops.maximum(n_nontarget, 1.0)
        diff = frr - far  # non-decreasing in k, from -1 to 1
        k = ops.clip(ops.sum(ops.cast(diff < 0, "int32")), 1, self.num_thresholds - 1)
        d0, d1 = ops.take(diff, k - 1), ops.take(diff, k)
        f0, f1 = ops.take(far, k - 1), ops.take(far, k)
        t = ops.where(d1 > d0, -d0 / ops.maximum(d1 - d0, 1e-12), 0.0)
        rate = f0 + t * (f1 - f0)
        seen = ops.logical_and(n_target > 0, n_nontarget > 0)
        return ops.where(seen, rate, 0.0)

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "score_range": list(self.score_range)}
