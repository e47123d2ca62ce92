"""Learned stacking: a meta-learner fitted on out-of-fold member predictions.

`fit_stacker(models, (x, y), groups=speakers)` is the entry point: it gathers out-of-fold
predictions of every member (see the package docstring for what "out-of-fold" means for
each kind of member) and fits a multinomial logistic regression on their
log-probabilities (`fit_meta`, with scikit-learn or as a Keras Dense head). The result
loads into the `"learned"` aggregate of `stack`, so a learned ensemble exports like any
other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import keras
import numpy as np

from kerasaudio.ensemble.builder import Member, describe_members, per_member, stack
from kerasaudio.ensemble.classification import as_clips, predict_member
from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers.ensemble import EPSILON
from kerasaudio.weights import preset_of

__all__ = ["METAS", "FitRecord", "StackerFit", "fit_meta", "fit_stacker", "meta_features"]

METAS = ("logistic", "dense")


def meta_features(probs: np.ndarray) -> np.ndarray:
    """`(clips, members * classes)`: each member's clipped log-probabilities side by side,
    what the `"learned"` aggregate's dense layer takes.

    Example:
    ```python
    features = kerasaudio.ensemble.meta_features(probs)  # probs: (members, clips, classes)
    ```
    """
    probs = np.asarray(probs, np.float64)
    logs = np.log(np.clip(probs, EPSILON, 1.0))
    return np.concatenate(list(logs), axis=1)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_meta(probs: np.ndarray, labels, *, meta: str = "logistic", c: float = 1.0,
             l2: float = 1e-3, epochs: int = 300, seed: int = 0):
    """Fit a meta-learner on member probabilities; return `(kernel, bias, estimator)`.

    Both meta-learners are multinomial logistic regressions on `meta_features(probs)`,
    so both load into `StackingEnsemble(aggregate="learned")` and export to TFLite:
    `"logistic"` with scikit-learn's `LogisticRegression(C=c)`, `"dense"` as a Keras
    `Dense(classes, softmax)` with L2 penalty `l2`, trained full-batch with Adam.

    Args:
        probs: `(members, clips, classes)` predictions the meta-learner may see (they
            must be out-of-fold: see the module doc).
        labels: `(clips,)` class indices.
        meta: `"logistic"` or `"dense"`.
        c: inverse regularisation strength for `"logistic"`.
        l2, epochs, seed: for `"dense"`.

    Example:
    ```python
    kernel, bias, lr = kerasaudio.ensemble.fit_meta(oof_probs, labels, meta="logistic")
    ```
    """
    if meta not in METAS:
        raise InvalidOptionError(f"meta={meta!r}; use one of {list(METAS)}.")
    probs = np.asarray(probs, np.float64)
    labels = np.asarray(labels, int)
    classes = probs.shape[2]
    missing = sorted(set(range(classes)) - set(labels.tolist()))
    if missing:
        raise InvalidOptionError(
            f"the meta-learner's training predictions have no example of class(es) "
            f"{missing}; every class must appear.")
    x = meta_features(probs)
    if meta == "logistic":
        from sklearn.linear_model import LogisticRegression

        estimator = LogisticRegression(C=c, max_iter=5000)
        estimator.fit(x, labels)
        if classes == 2:  # one coefficient row: softmax([0, z]) == sigmoid(z)
            kernel = np.stack([np.zeros(x.shape[1]), estimator.coef_[0]], axis=1)
            bias = np.array([0.0, estimator.intercept_[0]])
        else:
            kernel, bias = estimator.coef_.T, estimator.intercept_
        return kernel.astype(np.float32), bias.astype(np.float32), estimator
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((x.shape[1],))
    out = keras.layers.Dense(classes, activation="softmax",
                             kernel_regularizer=keras.regularizers.L2(l2))(inputs)
    estimator = keras.Model(inputs, out, name="dense_meta")
    estimator.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    estimator.fit(x.astype(np.float32), labels, batch_size=len(x), epochs=epochs, verbose=0)
    kernel, bias = estimator.layers[-1].get_weights()
    return kernel.astype(np.float32), bias.astype(np.float32), estimator


@dataclass
class FitRecord:
    """One block of out-of-fold predictions: which member, which fold, which examples the
    predicting model was trained on (None when unknown: fold models and pretrained
    models), and which examples it predicted for the meta-learner.

    Example:
    ```python
    for record in fit.records:
        assert not set(record.trained_on or ()) & set(record.predicted)
    ```
    """

    member: int
    fold: int | str | None
    trained_on: np.ndarray | None
    predicted: np.ndarray


@dataclass
class StackerFit:
    """The result of `fit_stacker`.

    Attributes:
        kernel, bias: the meta-learner as the `"learned"` aggregate's dense layer.
        estimator: the fitted scikit-learn `LogisticRegression` or Keras model.
        class_names: the classes, in output order.
        oof: `(members, clips, classes)` the out-of-fold predictions the meta-learner was
            fitted on (member order as given; the ensemble's class order).
        labels: `(clips,)` class indices; `folds`: `(clips,)` the fold of every clip.
        records: a `FitRecord` per prediction block.
        members: models to deploy with the meta-learner: builders refitted on all the
            data (`refit=True`), the given pretrained models, or None (fold models:
            pass the models to `stack` yourself).
        scores: out-of-fold accuracy of every member, of the `"mean"` and `"gmean"`
            aggregates, and the meta-learner's cross-validated accuracy
            (`"meta_cv"`: refitted without each fold, evaluated on it).

    Example:
    ```python
    fit = kerasaudio.ensemble.fit_stacker(builders, (clips, labels), groups=speakers)
    ensemble = fit.ensemble()   # stack(fit.members, aggregate="learned", stacker=fit)
    fit.scores
    ```
    """

    kernel: np.ndarray
    bias: np.ndarray
    estimator: object
    class_names: list[str]
    oof: np.ndarray
    labels: np.ndarray
    folds: np.ndarray
    records: list[FitRecord] = field(default_factory=list)
    members: list | None = None
    scores: dict = field(default_factory=dict)
    member_options: dict = field(default_factory=dict)

    def predict_proba(self, probs: np.ndarray) -> np.ndarray:
        """The meta-learner on `(members, clips, classes)` member probabilities."""
        return _softmax(meta_features(probs) @ self.kernel.astype(np.float64) + self.bias)

    def ensemble(self, models: Sequence[keras.Model] | None = None, **kwargs) -> keras.Model:
        """`stack(models or self.members, aggregate="learned", stacker=self)`."""
        models = self.members if models is None else models
        if models is None:
            raise InvalidOptionError("no members to deploy: pass the models.")
        options = {**self.member_options, **kwargs}
        return stack(models, aggregate="learned", stacker=self, **options)


def _fold_ids(n: int, labels: np.ndarray, folds: int, groups, seed: int) -> np.ndarray:
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    fold = np.empty(n, dtype=object)
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != n:
            raise InvalidOptionError(f"{len(groups)} groups for {n} examples.")
        distinct = np.unique(groups)
        if len(distinct) < folds:
            raise InvalidOptionError(
                f"folds={folds} but only {len(distinct)} groups: use folds <= the number of "
                "groups.")
        splitter = GroupKFold(n_splits=folds).split(np.zeros(n), labels, groups)
    else:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(
            np.zeros(n), labels)
    for k, (_, test) in enumerate(splitter):
        fold[test] = k
    return fold


def fit_stacker(models: Sequence, dataset, *, folds: int = 5, groups=None,
                meta: str = "logistic", class_names=None, sample_rate: int | None = None,
                sample_rates=None, refit: bool = True, c: float = 1.0, l2: float = 1e-3,
                epochs: int = 300, seed: int = 0) -> StackerFit:
    """Fit a meta-learner on out-of-fold member predictions (learned stacking).

    Each entry of `models` is a builder (retrained per fold), a dict of fold models, or
    a pretrained model (see the module doc for what each guarantees). The out-of-fold
    predictions of all members are fitted by a multinomial logistic regression on their
    log-probabilities (`fit_meta`), which loads into the `"learned"` aggregate of
    `stack`, so the learned ensemble exports to TFLite like any other.

    Args:
        models: per member, `builder(x_train, y_train) -> keras.Model` (x: clips at
            `sample_rate`, y: class indices), a dict `{group: model trained without
            that group}` (needs `groups`; every group a key), or a `keras.Model` that
            never saw `dataset`.
        dataset: `(x, y)`: clips (an array `(clips, samples)` or a list of 1-D arrays)
            and labels (class indices, or class names).
        folds: number of folds for builders (group-aware with `groups`).
        groups: `(clips,)` group of every clip (e.g. speaker). Folds never split a group.
        meta: `"logistic"` (scikit-learn) or `"dense"` (Keras).
        class_names: the classes (required when no member has preset metadata; builders'
            models never do).
        sample_rate: the clips' rate (required with builders unless a member has a
            preset).
        sample_rates: member rates, as in `stack`.
        refit: retrain builders on all the data for `StackerFit.members`.
        c, l2, epochs, seed: meta-learner settings (see `fit_meta`); `seed` also shuffles
            the folds without groups.

    Returns:
        A `StackerFit`.

    Example:
    ```python
    def builder(x, y):  # trains a member on the clips it is given
        model = kerasaudio.create_model("m5", frontend="default", input_shape=(8000,))
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=5, verbose=0)
        return model

    fit = kerasaudio.ensemble.fit_stacker([builder, other_builder], (clips, digits),
                                          groups=speakers, folds=3, sample_rate=8000,
                                          class_names=[str(d) for d in range(10)])
    ensemble = fit.ensemble()
    ```
    """
    if meta not in METAS:
        raise InvalidOptionError(f"meta={meta!r}; use one of {list(METAS)}.")
    x, y = dataset
    clips = as_clips(x)
    n = len(clips)
    models = list(models)
    names = None if class_names is None else [str(c) for c in class_names]
    # Labels as indices (names need class_names, or a preset member to read them from).
    for entry in models:
        if names is None and isinstance(entry, keras.Model):
            names = list(describe_members([entry])[0].class_names) if _has_preset(entry) \
                else None
    y = np.asarray(y)
    if y.dtype.kind in "USO":
        if names is None:
            raise InvalidOptionError("labels are names: pass class_names=.")
        position = {c: i for i, c in enumerate(names)}
        unknown = sorted(set(map(str, y)) - set(position))
        if unknown:
            raise InvalidOptionError(f"labels {unknown} are not among {names}.")
        y = np.array([position[str(v)] for v in y])
    y = y.astype(int)
    if len(y) != n:
        raise InvalidOptionError(f"{n} clips but {len(y)} labels.")
    fold = _fold_ids(n, y, folds, groups, seed)
    rates = per_member(sample_rates, len(models), "sample_rates")
    oof = [None] * len(models)
    records: list[FitRecord] = []
    final_members: list | None = []
    all_names = names
    rate_used = sample_rate

    def describe(model, i):
        return describe_members([model], class_names=names, sample_rates=rates[i],
                                sample_rate=sample_rate)[0]

    def place(i, member: Member, rows: np.ndarray):
        nonlocal all_names, rate_used
        if all_names is None:
            all_names = list(member.class_names)
        if set(member.class_names) != set(all_names):
            raise InvalidOptionError(
                f"member {i} ({member.model.name}) predicts {list(member.class_names)}, not "
                f"the ensemble's classes {all_names}.")
        rate = rate_used if rate_used is not None else member.sample_rate
        rate_used = rate
        probs = predict_member(member, [clips[r] for r in rows], rate)
        order = [list(member.class_names).index(c) for c in all_names]
        if oof[i] is None:
            oof[i] = np.full((n, len(all_names)), np.nan)
        oof[i][rows] = probs[:, order]

    for i, entry in enumerate(models):
        if isinstance(entry, keras.Model):
            member = describe(entry, i)
            rows = np.arange(n)
            place(i, member, rows)
            records.append(FitRecord(i, None, None, rows))
            if final_members is not None:
                final_members.append(entry)
        elif isinstance(entry, dict):
            if groups is None:
                raise InvalidOptionError(
                    f"member {i} is a dict of fold models: pass groups= (its keys).")
            group_array = np.asarray(groups)
            absent = sorted(set(map(str, np.unique(group_array))) - set(map(str, entry)))
            if absent:
                raise InvalidOptionError(
                    f"member {i}: no fold model for group(s) {absent} (the dict maps each "
                    "group to a model trained without it).")
            keyed = {str(k): v for k, v in entry.items()}
            for group in np.unique(group_array):
                rows = np.flatnonzero(group_array == group)
                place(i, describe(keyed[str(group)], i), rows)
                records.append(FitRecord(i, str(group), None, rows))
            final_members = None
        elif callable(entry):
            if names is None:
                raise InvalidOptionError("builders need class_names= (and sample_rate=).")
            for k in sorted(set(fold.tolist())):
                test = np.flatnonzero(fold == k)
                train = np.flatnonzero(fold != k)
                model = entry(np.stack([clips[r] for r in train]) if _same_length(clips)
                              else [clips[r] for r in train], y[train])
                place(i, describe(model, i), test)
                records.append(FitRecord(i, int(k), train, test))
            if final_members is not None:
                if refit:
                    final_members.append(entry(np.stack(clips) if _same_length(clips)
                                               else clips, y))
                else:
                    final_members = None
        else:
            raise InvalidOptionError(
                f"member {i} must be a keras.Model, a dict of fold models or a builder; "
                f"got {type(entry).__name__}.")
    probs = np.stack(oof)
    kernel, bias, estimator = fit_meta(probs, y, meta=meta, c=c, l2=l2, epochs=epochs,
                                       seed=seed)
    fit = StackerFit(kernel, bias, estimator, list(all_names), probs, y, fold, records,
                     final_members,
                     member_options={"class_names": names, "sample_rate": rate_used,
                                     "sample_rates": sample_rates})
    fit.scores = _scores(fit, meta=meta, c=c, l2=l2, epochs=epochs, seed=seed)
    return fit


def _has_preset(model) -> bool:
    return preset_of(model) is not None


def _same_length(clips: list[np.ndarray]) -> bool:
    return len({len(c) for c in clips}) == 1


def _scores(fit: StackerFit, **meta_options) -> dict:
    y, probs = fit.labels, fit.oof
    scores = {f"member_{i}": float((p.argmax(1) == y).mean()) for i, p in enumerate(probs)}
    scores["mean"] = float((probs.mean(0).argmax(1) == y).mean())
    logs = np.log(np.clip(probs, EPSILON, 1.0))
    scores["gmean"] = float((logs.mean(0).argmax(1) == y).mean())
    hits = np.zeros(len(y), bool)
    keys = [k for k in dict.fromkeys(fit.folds.tolist())]
    for k in keys:
        test = fit.folds == k
        train = ~test
        if len(set(y[train].tolist())) < probs.shape[2]:
            return scores
        kernel, bias, _ = fit_meta(probs[:, train], y[train], **meta_options)
        z = meta_features(probs[:, test]) @ kernel + bias
        hits[test] = z.argmax(1) == y[test]
    scores["meta_cv"] = float(hits.mean())
    return scores
