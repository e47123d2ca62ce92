"""Learned stacking: a meta-learner fitted on out-of-fold member predictions.

`fit_stacker` is the one entry point. It takes either the members (models, builders or
fold models) and data to predict, or out-of-fold probabilities already computed, and
fits a logistic regression on the members' log-probabilities (single-label: one
multinomial regression; multi-label: one binary regression per class on the members'
log-odds), with scikit-learn or as a Keras Dense head. The result loads into the
`"learned"` aggregate of `stack`, so a learned ensemble exports like any other.

Reference:
    Wolpert, "Stacked generalization", Neural Networks 5(2), 1992.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from kerasaudio.ensemble.builder import Member, describe_members, per_member, stack
from kerasaudio.ensemble.classification import predict_member
from kerasaudio.ensemble.sources import encode_labels, is_dataframe, load_examples
from kerasaudio.errors import InvalidOptionError
from kerasaudio.info import model_info
from kerasaudio.layers.ensemble import EPSILON

__all__ = ["METAS", "FitRecord", "StackerFit", "fit_stacker", "meta_features"]

METAS = ("logistic", "dense")


def meta_features(probs: np.ndarray, *, multi_label: bool = False) -> np.ndarray:
    """`(clips, members * classes)`: what the `"learned"` aggregate's dense layer takes,
    each member's features side by side.

    Single-label: log-probabilities, `p` clipped to `[1e-7, 1]`. Multi-label: log-odds
    `log p - log(1 - p)`, `p` clipped to `[1e-7, 1 - 1e-7]`. The clipping is done in
    float32, as in the graph, so the features equal the layer's.

    Args:
        probs: `(members, clips, classes)` member probabilities.
        multi_label: per-class (sigmoid) probabilities.

    Returns:
        A float64 array `(clips, members * classes)`.

    Example:
    ```python
    import numpy as np
    import kerasaudio
    probs = np.array([[[0.5, 0.5]], [[0.9, 0.1]]])  # 2 members, 1 clip, 2 classes
    kerasaudio.ensemble.meta_features(probs).round(3)  # [[-0.693 -0.693 -0.105 -2.303]]
    ```
    """
    probs = np.asarray(probs, np.float32)
    high = np.float32(1.0 - EPSILON) if multi_label else np.float32(1.0)
    clipped = np.clip(probs, np.float32(EPSILON), high).astype(np.float64)
    logs = np.log(clipped)
    if multi_label:
        logs = logs - np.log(1.0 - clipped)
    return np.concatenate(list(logs), axis=1)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _check_meta_labels(labels: np.ndarray, classes: int, multi_label: bool) -> None:
    if multi_label:
        counts = labels.sum(axis=0)
        constant = [k for k in range(classes) if counts[k] in (0, len(labels))]
        if constant:
            raise InvalidOptionError(
                f"the meta-learner's training labels of class(es) {constant} are all 0 or "
                "all 1; every class needs examples with and without it.")
        return
    missing = sorted(set(range(classes)) - set(labels.tolist()))
    if missing:
        raise InvalidOptionError(
            f"the meta-learner's training predictions have no example of class(es) "
            f"{missing}; every class must appear.")


def _fit_full_batch(model: keras.Model, x: np.ndarray, y: np.ndarray, loss: str,
                    epochs: int) -> None:
    """`epochs` full-batch Adam steps: the same steps as `fit(x, y, batch_size=len(x),
    epochs=epochs)`, run as one epoch over `epochs` copies of the data so Keras
    executes them in one call (`steps_per_execution`) instead of one call per epoch."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise InvalidOptionError(f"epochs={epochs!r} must be an integer >= 1.")
    model.compile(keras.optimizers.Adam(0.05), loss, steps_per_execution=epochs)
    reps = (epochs,) + (1,) * (x.ndim - 1)
    model.fit(np.tile(x.astype(np.float32), reps), np.tile(y, (epochs,) + (1,) * (y.ndim - 1)),
              batch_size=len(x), epochs=1, shuffle=False, verbose=0)


def _fit_meta(probs: np.ndarray, labels: np.ndarray, *, multi_label: bool = False,
              meta: str = "logistic", c: float = 1.0, l2: float = 1e-3, epochs: int = 300,
              seed: int = 0):
    """`(kernel, bias, estimator)` of a meta-learner on `meta_features(probs)`.

    Single-label: one multinomial regression on every member's log-probabilities of
    every class. Multi-label: one binary regression per class on the members' log-odds
    of that class only (`members + 1` parameters per class, so a class with few
    examples is not fitted on the other classes' scores); its kernel is zero outside
    those entries. `"logistic"`: scikit-learn's `LogisticRegression(C=c)` (multi-label:
    `estimator` is the list, one per class). `"dense"`: Keras, L2 penalty `l2`, trained
    full-batch with Adam for `epochs`.
    """
    probs = np.asarray(probs, np.float64)
    members, _, classes = probs.shape
    _check_meta_labels(labels, classes, multi_label)
    x = meta_features(probs, multi_label=multi_label)
    if multi_label:
        per_class = x.reshape(len(x), members, classes)  # [clip, member, class]
        if meta == "logistic":
            from sklearn.linear_model import LogisticRegression

            estimator = [LogisticRegression(C=c, max_iter=5000).fit(per_class[:, :, k],
                                                                     labels[:, k])
                         for k in range(classes)]
            weights = np.stack([e.coef_[0] for e in estimator], axis=1)  # (members, classes)
            bias = np.array([e.intercept_[0] for e in estimator])
        else:
            keras.utils.set_random_seed(seed)
            inputs = keras.Input((members, classes))
            layer = keras.layers.EinsumDense(
                "bmc,mc->bc", output_shape=(classes,), bias_axes="c", activation="sigmoid",
                kernel_initializer=keras.initializers.Constant(1.0 / members),
                kernel_regularizer=keras.regularizers.L2(l2))
            estimator = keras.Model(inputs, layer(inputs), name="dense_meta")
            _fit_full_batch(estimator, per_class, labels, "binary_crossentropy", epochs)
            weights, bias = layer.get_weights()
        kernel = np.zeros((members * classes, classes))
        for m in range(members):
            kernel[m * classes + np.arange(classes), np.arange(classes)] = weights[m]
        return kernel.astype(np.float32), np.asarray(bias, np.float32), estimator
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
    _fit_full_batch(estimator, x, labels, "sparse_categorical_crossentropy", epochs)
    kernel, bias = estimator.layers[-1].get_weights()
    return kernel.astype(np.float32), bias.astype(np.float32), estimator


def fit_meta(probs: np.ndarray, labels, **options):
    """Alias of `fit_stacker(probs, labels, folds=None, **options)` that returns
    `(kernel, bias, estimator)` rather than the `StackerFit`; `fit_stacker` is the entry
    point to use.

    Example:
    ```python
    import numpy as np
    from kerasaudio.ensemble.learned import fit_meta
    oof = np.array([[[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]]])  # 1 member
    kernel, bias, estimator = fit_meta(oof, [0, 1, 0, 1])
    kernel.shape, bias.shape  # (2, 2), (2,)
    ```
    """
    fit = fit_stacker(probs, labels, folds=None, **options)
    return fit.kernel, fit.bias, fit.estimator


@dataclass
class FitRecord:
    """One block of out-of-fold predictions: which member, which fold, which examples the
    predicting model was trained on (None when unknown: fold models and pretrained
    models), and which examples it predicted for the meta-learner.

    Example:
    ```python
    import numpy as np
    import kerasaudio
    oof = np.array([[[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]]])
    fit = kerasaudio.ensemble.fit_stacker(oof, [0, 1, 0, 1], folds=None)
    record = fit.records[0]
    record.member, record.trained_on, record.predicted  # 0, None, array([0, 1, 2, 3])
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
        estimator: the fitted scikit-learn `LogisticRegression` (multi-label: a list,
            one per class) or Keras model.
        class_names: the classes, in output order.
        oof: `(members, clips, classes)` the out-of-fold predictions the meta-learner was
            fitted on (member order as given; the ensemble's class order).
        labels: `(clips,)` class indices, or `(clips, classes)` multi-hot rows.
        folds: `(clips,)` the fold of every clip (None: no folds were made).
        records: a `FitRecord` per prediction block.
        members: models to deploy with the meta-learner: builders refitted on all the
            data (`refit=True`), the given pretrained models, or None (fold models, or
            precomputed probabilities: pass the models to `ensemble` yourself).
        scores: out-of-fold score of every member (`"member_0"`, ...), of the
            `"mean"` and `"gmean"` aggregates, and the meta-learner's cross-validated
            score (`"meta_cv"`: refitted without each fold, evaluated on it); accuracy
            for single-label, lwlrap (`kerasaudio.metrics.lwlrap`) for multi-label.
        multi_label: the meta-learner is one sigmoid per class.

    Example:
    ```python
    import kerasaudio
    clips, digits = kerasaudio.hub.representative_clips("m5_fsdd_digits")
    models = [kerasaudio.create_model("m5_fsdd_digits"),
              kerasaudio.create_model("mfcc_cnn_fsdd_digits")]
    # Pretrained members: fit on clips they never saw (here only to show the calls).
    fit = kerasaudio.ensemble.fit_stacker(models, (clips, digits), folds=3)
    ensemble = fit.ensemble()   # stack(models, aggregate="learned", stacker=fit)
    sorted(fit.scores)  # ['gmean', 'mean', 'member_0', 'member_1', 'meta_cv']
    ```
    """

    kernel: np.ndarray
    bias: np.ndarray
    estimator: object
    class_names: list[str]
    oof: np.ndarray
    labels: np.ndarray
    folds: np.ndarray | None
    records: list[FitRecord] = field(default_factory=list)
    members: list | None = None
    scores: dict = field(default_factory=dict)
    member_options: dict = field(default_factory=dict)
    multi_label: bool = False

    def predict_proba(self, probs: np.ndarray) -> np.ndarray:
        """The meta-learner on `(members, clips, classes)` member probabilities: what
        the `"learned"` ensemble outputs, `(clips, classes)`."""
        z = meta_features(probs, multi_label=self.multi_label) @ self.kernel.astype(
            np.float64) + self.bias
        return _sigmoid(z) if self.multi_label else _softmax(z)

    def ensemble(self, models: Sequence[keras.Model] | None = None, **kwargs) -> keras.Model:
        """`stack(models or self.members, aggregate="learned", stacker=self)`."""
        models = self.members if models is None else models
        if models is None:
            raise InvalidOptionError("no members to deploy: pass the models.")
        options = {**self.member_options, **kwargs}
        return stack(models, aggregate="learned", stacker=self, **options)


def _fold_ids(n: int, labels: np.ndarray, folds: int, groups, seed: int) -> np.ndarray:
    from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold

    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise InvalidOptionError(f"folds={folds!r} must be an integer >= 2.")
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
    elif labels.ndim == 2:  # multi-hot: plain shuffled folds
        splitter = KFold(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(n))
    else:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(
            np.zeros(n), labels)
    for k, (_, test) in enumerate(splitter):
        fold[test] = k
    return fold


def _described_by_record(model: keras.Model) -> bool:
    """The member's model-info record gives its class names and sample rate."""
    record = model_info(model)
    return record.class_names is not None and record.sample_rate is not None


def _is_probabilities(members) -> bool:
    if isinstance(members, np.ndarray):
        return True
    return (isinstance(members, Sequence) and len(members) > 0
            and all(isinstance(m, np.ndarray) for m in members))


def fit_stacker(members, data, *, folds: int | None = 5, groups=None,
                meta: str = "logistic", multi_label: bool | None = None, class_names=None,
                sample_rate: int | None = None, sample_rates=None, refit: bool = True,
                label_column: str | Sequence[str] = "label", path_column: str = "path",
                c: float = 1.0, l2: float = 1e-3, epochs: int = 300,
                seed: int = 0) -> StackerFit:
    """Fit a meta-learner on out-of-fold member predictions (learned stacking).

    Two ways in. Either the members and the data: each entry of `members` is a builder
    (retrained per fold), a dict of fold models, or a pretrained model (see the package
    doc for what each guarantees), and their out-of-fold predictions on `data` are
    gathered first. Or the out-of-fold probabilities themselves, an array
    `(members, clips, classes)` (e.g. saved from a Kaggle K-fold run), with `data` the
    labels. The meta-learner is a logistic regression on the members' log-probabilities
    (multinomial for single-label labels; one binary regression per class on the
    members' log-odds for multi-hot labels). It loads into the `"learned"` aggregate
    of `stack`, so the learned ensemble exports to TFLite like any other.

    Args:
        members: per member, `builder(x_train, y_train) -> keras.Model` (x: clips at
            `sample_rate`, y: the labels' rows), a dict `{group: model trained without
            that group}` (needs `groups`; every group a key), or a `keras.Model` that
            never saw `data`. Or an array `(members, clips, classes)` of out-of-fold
            probabilities.
        data: with models, `(x, y)` (clips: an array `(clips, samples)` or a list of
            1-D arrays), a pandas DataFrame (a `path_column` of audio files and labels
            in `label_column`), or a `tf.data.Dataset` of `(audio, labels)` batches such
            as `kerasaudio.data.audio_dataset(...)` without features. With
            probabilities, the labels. Labels are class indices or names (one per clip:
            single-label) or a 0/1 matrix `(clips, classes)` (multi-label).
        folds: number of folds: builders are retrained on each fold's complement
            (group-aware with `groups`), and the meta-learner's `"meta_cv"` score is
            computed on them. With probabilities, None skips that score.
        groups: `(clips,)` group of every clip (e.g. speaker). Folds never split a group.
        meta: `"logistic"` (scikit-learn) or `"dense"` (a Keras Dense head).
        multi_label: default: multi-label when the labels are multi-hot rows (or the
            DataFrame's labels hold several names, comma-separated or as lists).
        class_names: the classes (required when no member's model-info record has them;
            builders' models never do). Default with probabilities: `"0"`, `"1"`, ...
        sample_rate: the clips' rate (required with builders unless a member's record
            has class names and a rate; a DataFrame's files are loaded at it, by
            default at the highest member rate).
        sample_rates: member rates, as in `stack`.
        refit: retrain builders on all the data for `StackerFit.members`.
        label_column: a DataFrame's label column (class names; several comma-separated
            or a list for multi-label), or a list of 0/1 columns, one per class.
        path_column: a DataFrame's column of audio file paths.
        c: inverse regularisation strength for `"logistic"`.
        l2, epochs: L2 penalty and full-batch epochs for `"dense"`.
        seed: seeds `"dense"` and shuffles the folds without groups.

    Returns:
        A `StackerFit`; `fit.ensemble()` is the deployable learned stack.

    Raises:
        InvalidOptionError: inconsistent members, labels, classes or options; a class
            without examples (multi-label: without examples that have it and examples
            that do not).

    Example:
    ```python
    import numpy as np
    import kerasaudio
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=(40, 3))             # multi-hot, 3 classes
    oof = np.clip(labels + rng.normal(0, 0.3, size=(2, 40, 3)), 0.01, 0.99)
    fit = kerasaudio.ensemble.fit_stacker(oof, labels, folds=4)
    fit.multi_label, fit.kernel.shape                      # True, (6, 3)
    fit.scores["member_0"], fit.scores["meta_cv"]          # lwlrap of each
    ```

    Reference:
        Wolpert, "Stacked generalization", Neural Networks 5(2), 1992.
    """
    if meta not in METAS:
        raise InvalidOptionError(f"meta={meta!r}; use one of {list(METAS)}.")
    names = None if class_names is None else [str(c) for c in class_names]
    meta_options: dict[str, Any] = {"meta": meta, "c": c, "l2": l2, "epochs": epochs,
                                    "seed": seed}
    if _is_probabilities(members):
        return _fit_probabilities(np.asarray(members, np.float64), data, names=names,
                                  folds=folds, groups=groups, multi_label=multi_label,
                                  meta_options=meta_options)
    if folds is None:
        raise InvalidOptionError("folds=None is for precomputed probabilities; members "
                                 "need folds >= 2.")
    models = list(members)
    described = [describe_members([m])[0] for m in models
                 if isinstance(m, keras.Model) and _described_by_record(m)]
    if names is None and described:
        names = list(described[0].class_names)
    load_rate = sample_rate
    if load_rate is None and (described or sample_rates is not None):
        rates = [m.sample_rate for m in described] + [
            int(r) for r in per_member(sample_rates, len(models), "sample_rates")
            if r is not None]
        load_rate = max(rates) if rates else None
    clips, y, names = load_examples(data, class_names=names, sample_rate=load_rate,
                                    multi_label=multi_label, label_column=label_column,
                                    path_column=path_column)
    y, names, multi = encode_labels(y, names, multi_label)
    n = len(clips)
    if len(y) != n:
        raise InvalidOptionError(f"{n} clips but {len(y)} labels.")
    if sample_rate is None and is_dataframe(data):
        sample_rate = load_rate  # the files were loaded at it
    fold = _fold_ids(n, y, folds, groups, seed)
    rates = per_member(sample_rates, len(models), "sample_rates")
    oof: dict[int, np.ndarray] = {}  # member -> (clips, classes), filled by place()
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
        if i not in oof:
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
    probs = np.stack([oof[i] for i in range(len(models))])
    kernel, bias, estimator = _fit_meta(probs, y, multi_label=multi, **meta_options)
    fit = StackerFit(kernel, bias, estimator, list(all_names), probs, y, fold, records,
                     final_members,
                     member_options={"class_names": names, "sample_rate": rate_used,
                                     "sample_rates": sample_rates},
                     multi_label=multi)
    fit.scores = _scores(fit, **meta_options)
    return fit


def _fit_probabilities(probs: np.ndarray, labels, *, names, folds, groups, multi_label,
                       meta_options) -> StackerFit:
    """`fit_stacker` on precomputed out-of-fold probabilities."""
    if probs.ndim != 3 or 0 in probs.shape:
        raise InvalidOptionError(f"probabilities of shape {probs.shape}: expected "
                                 "(members, clips, classes).")
    if not np.isfinite(probs).all() or probs.min() < 0 or probs.max() > 1:
        raise InvalidOptionError("probabilities must be finite and within [0, 1].")
    if names is None:
        names = [str(k) for k in range(probs.shape[2])]
    if len(names) != probs.shape[2]:
        raise InvalidOptionError(f"{len(names)} class_names for {probs.shape[2]} classes.")
    y, names, multi = encode_labels(labels, names, multi_label)
    n = probs.shape[1]
    if len(y) != n:
        raise InvalidOptionError(f"{n} clips of probabilities but {len(y)} labels.")
    fold = None if folds is None else _fold_ids(n, y, folds, groups, meta_options["seed"])
    kernel, bias, estimator = _fit_meta(probs, y, multi_label=multi, **meta_options)
    records = [FitRecord(i, None, None, np.arange(n)) for i in range(len(probs))]
    fit = StackerFit(kernel, bias, estimator, list(names), probs, y, fold, records, None,
                     member_options={"class_names": names}, multi_label=multi)
    fit.scores = _scores(fit, **meta_options)
    return fit


def _same_length(clips: list[np.ndarray]) -> bool:
    return len({len(c) for c in clips}) == 1


def _score(labels: np.ndarray, probs: np.ndarray, multi_label: bool) -> float:
    if multi_label:
        from kerasaudio.metrics.lwlrap import lwlrap

        return lwlrap(labels, probs)
    return float((np.asarray(probs).argmax(1) == labels).mean())


def _scores(fit: StackerFit, **meta_options) -> dict:
    y, probs, multi = fit.labels, fit.oof, fit.multi_label
    scores = {f"member_{i}": _score(y, p, multi) for i, p in enumerate(probs)}
    scores["mean"] = _score(y, probs.mean(0), multi)
    logs = np.log(np.clip(probs, EPSILON, 1.0))
    scores["gmean"] = _score(y, logs.mean(0), multi)
    if fit.folds is None:
        return scores
    out = np.zeros(probs.shape[1:])
    for k in dict.fromkeys(fit.folds.tolist()):
        test = fit.folds == k
        try:
            kernel, bias, _ = _fit_meta(probs[:, ~test], y[~test], multi_label=multi,
                                        **meta_options)
        except InvalidOptionError:  # a fold's complement lacks a class: no honest score
            return scores
        out[test] = meta_features(probs[:, test], multi_label=multi) @ kernel + bias
    scores["meta_cv"] = _score(y, out, multi)
    return scores
