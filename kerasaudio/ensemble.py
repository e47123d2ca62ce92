"""Stacking ensembles of kerasaudio models: one exportable Keras model, a malaya-speech
compatible `classification_stack`, and learned stacking on out-of-fold predictions.

- `stack(models, aggregate=...)` returns ONE Keras model: one raw-audio input, each member
  fed at its own sample rate (resampled inside the graph by `kerasaudio.layers.Resample`
  when the rates differ) through its own front end (the members are end-to-end models),
  and the members' probabilities combined by `kerasaudio.layers.StackingEnsemble`. It
  saves and loads as one `.keras` file (safe mode) and exports with
  `kerasaudio.export.to_tflite` as one `.tflite` file, int8 included.
- `classification_stack(models)` is the NumPy-level stack of malaya-speech:
  `predict_proba(inputs, aggregate=scipy.stats.mstats.gmean)` aggregates the members'
  `(clips, classes)` probability matrices over the model axis, `predict` returns label
  names. The same model may appear twice (which weights it).
- `fit_stacker(models, (x, y), groups=speakers)` fits a meta-learner (a multinomial
  logistic regression, with scikit-learn or as a Keras Dense head; both load into the
  `"learned"` aggregate, so both export) on out-of-fold predictions.

## What "out-of-fold" means here

A meta-learner trained on predictions a member made on its own training clips learns to
trust over-confident members: that is the leak stacking must avoid. `fit_stacker` takes
each member in one of three forms and says which protection applies:

1. a *builder*, `builder(x_train, y_train) -> keras.Model`: true K-fold stacking. For each
   fold the member is retrained on the other folds only and predicts the fold; the
   meta-learner sees only these out-of-fold predictions. With `groups` (e.g. speakers) the
   folds never split a group, so no speaker is both in a member's training data and in
   the predictions made for the meta-learner.
2. *fold models*, a dict `{group: model trained without that group}` (e.g. the zoo's
   leave-one-speaker-out models): the prediction for a clip of group `g` comes from
   `models[g]` only, a model that never saw group `g`.
3. a plain pretrained `keras.Model`: fit_stacker cannot know what it was trained on. Its
   predictions are used as they are, so `dataset` must be data the model never saw (e.g.
   a held-out split); the folds then only give an honest cross-validated accuracy of the
   meta-learner. Using training clips here leaks, and nothing can detect it.

`StackerFit.records` lists, for every member fit and every prediction block, which
examples the model was trained on (when known) and which it predicted, so the absence of
leaks can be checked (tests/test_ensemble.py does).

Example:
```python
import kerasaudio.ensemble as ens
models = [kerasaudio.create_model(p) for p in
          ("logmel_cnn_fsdd_digits", "mfcc_cnn_fsdd_digits", "bilstm_attention_fsdd_digits")]
ensemble = ens.stack(models, aggregate="gmean")   # one keras.Model, raw 8 kHz audio in
ensemble.save("digits_ensemble.keras")
kerasaudio.export.to_tflite(ensemble, "digits_ensemble.tflite", quantization="int8",
                            representative_data=clips)
```
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers.ensemble import AGGREGATES, EPSILON, Resample, StackingEnsemble

__all__ = [
    "ClassificationStack",
    "FitRecord",
    "Member",
    "StackerFit",
    "classification_stack",
    "describe_members",
    "ensemble_info",
    "fit_meta",
    "fit_stacker",
    "meta_features",
    "stack",
]

METAS = ("logistic", "dense")


# ----------------------------------------------------------------------------- members


@dataclass(frozen=True)
class Member:
    """What the ensemble needs to know about one member model.

    `class_names` (output index -> name), `sample_rate` (Hz of the audio it takes),
    `input_length` (samples, None for any length), `channel_axis` (True when the model
    takes `(samples, 1)`), `source` (`"preset"` or `"argument"`: where the class names
    came from).

    Example:
    ```python
    member = kerasaudio.ensemble.describe_members([model], class_names=list("0123456789"),
                                                  sample_rates=8000)[0]
    member.sample_rate, member.input_length
    ```
    """

    model: keras.Model
    class_names: tuple[str, ...]
    sample_rate: int
    input_length: int | None
    channel_axis: bool
    source: str

    @property
    def duration(self) -> float | None:
        """Seconds of audio the member takes (None: any length)."""
        return None if self.input_length is None else self.input_length / self.sample_rate


def _per_member(value, count: int, what: str) -> list:
    """`value` for every member: one value for all, or a list with one per member."""
    if value is None or isinstance(value, (int, str)) or (
            isinstance(value, Sequence) and value and isinstance(value[0], str)):
        return [value] * count
    value = list(value)
    if len(value) != count:
        raise InvalidOptionError(f"{what}: {len(value)} entries for {count} members.")
    return value


def describe_members(models: Sequence, *, class_names=None, sample_rates=None,
                     sample_rate: int | None = None) -> list[Member]:
    """Read each member's class names, sample rate and input length.

    From the member's pretrained preset when it has one (`kerasaudio.presets.preset_of`),
    otherwise from the arguments.

    Args:
        models: Keras models taking raw audio `(samples,)` or `(samples, 1)` and giving
            `(batch, classes)` probabilities.
        class_names: the class names of members without preset metadata: one list for
            all, or one list per member. A member with a preset must agree with it.
        sample_rates: sample rates (Hz) of members without preset metadata: one int for
            all, or one per member (default: `sample_rate`).
        sample_rate: the ensemble input's rate, the last fallback for a member's rate.

    Returns:
        One `Member` per model, in order.

    Raises:
        InvalidOptionError: a member takes features rather than audio, has no known
            class names or sample rate, or its metadata contradicts the arguments.

    Example:
    ```python
    members = kerasaudio.ensemble.describe_members(
        [kerasaudio.create_model("m5_fsdd_digits")])
    members[0].class_names, members[0].sample_rate  # ('0', ..., '9'), 8000
    ```
    """
    from kerasaudio.presets import preset_of

    models = list(models)
    if not models:
        raise InvalidOptionError("an ensemble needs at least one member model.")
    names_list = _per_member(class_names, len(models), "class_names")
    rates = _per_member(sample_rates, len(models), "sample_rates")
    members = []
    for i, (model, names, rate) in enumerate(zip(models, names_list, rates, strict=True)):
        label = f"member {i} ({getattr(model, 'name', type(model).__name__)})"
        if not isinstance(model, keras.Model):
            raise InvalidOptionError(f"{label} is not a keras.Model.")
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise InvalidOptionError(f"{label}: members must have one input and one output.")
        shape = tuple(model.inputs[0].shape[1:])
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
            raise InvalidOptionError(
                f"{label} takes input of shape {shape}, not raw mono audio (samples,) or "
                "(samples, 1). Build members with their front end inside (e.g. "
                "create_model(..., frontend='default')), so each is fed its own features."
            )
        out_shape = tuple(model.outputs[0].shape[1:])
        if len(out_shape) != 1:
            raise InvalidOptionError(
                f"{label} outputs shape {out_shape}; members must output (batch, classes) "
                "probabilities.")
        preset = preset_of(model)
        source = "argument"
        if preset is not None:
            if names is not None and tuple(map(str, names)) != preset.class_names:
                raise InvalidOptionError(
                    f"{label}: class_names {list(names)} contradict its preset "
                    f"{preset.name!r}'s {list(preset.class_names)}."
                )
            names, source = preset.class_names, "preset"
            if rate is not None and int(rate) != preset.sample_rate:
                raise InvalidOptionError(
                    f"{label}: sample rate {rate} contradicts its preset {preset.name!r} "
                    f"({preset.sample_rate} Hz).")
            rate = preset.sample_rate
        if names is None:
            raise InvalidOptionError(
                f"{label} has no preset metadata: pass class_names= (one list for all "
                "members, or one per member) so the ensemble can check that the members "
                "share their classes."
            )
        names = tuple(str(c) for c in names)
        if len(set(names)) != len(names):
            raise InvalidOptionError(f"{label}: duplicate class names {list(names)}.")
        if out_shape[0] != len(names):
            raise InvalidOptionError(
                f"{label} outputs {out_shape[0]} classes but has {len(names)} class names.")
        rate = rate if rate is not None else sample_rate
        if rate is None:
            raise InvalidOptionError(
                f"{label} has no preset metadata: pass sample_rates= (or sample_rate=) so "
                "the ensemble knows which rate to feed it.")
        members.append(Member(model, names, int(rate), shape[0], len(shape) == 2, source))
    return members


def _class_orders(members: list[Member]) -> tuple[tuple[str, ...], list]:
    """The ensemble's class names (the first member's) and each member's reordering."""
    reference = members[0].class_names
    orders = []
    for i, member in enumerate(members):
        if member.class_names == reference:
            orders.append(None)
            continue
        if set(member.class_names) != set(reference):
            missing = sorted(set(reference) - set(member.class_names))
            extra = sorted(set(member.class_names) - set(reference))
            raise InvalidOptionError(
                f"member {i} ({member.model.name}) does not share the ensemble's classes: "
                f"missing {missing}, extra {extra} (member 0, {members[0].model.name}, has "
                f"{list(reference)}). All members must predict the same label set."
            )
        position = {name: j for j, name in enumerate(member.class_names)}
        orders.append([position[name] for name in reference])
    return reference, orders


def _unique(models: Sequence) -> tuple[list, list[int]]:
    """Distinct models (by identity) and, per position, the index of its distinct model."""
    distinct, index = [], []
    for model in models:
        for j, seen in enumerate(distinct):
            if seen is model:
                index.append(j)
                break
        else:
            index.append(len(distinct))
            distinct.append(model)
    return distinct, index


def _parse_aggregate(aggregate, weights):
    """`(name, weights)` from `aggregate` (a name or a list of weights) and `weights`."""
    if isinstance(aggregate, str):
        if aggregate not in AGGREGATES:
            raise InvalidOptionError(
                f"aggregate={aggregate!r}; use one of {list(AGGREGATES)} or a list of "
                "member weights (a weighted mean).")
        return aggregate, weights
    if isinstance(aggregate, Sequence) and not isinstance(aggregate, str):
        if weights is not None:
            raise InvalidOptionError("pass member weights either as aggregate= or weights=.")
        return "mean", list(aggregate)
    raise InvalidOptionError(
        f"aggregate={aggregate!r}; use one of {list(AGGREGATES)} or a list of weights.")


def _ensemble_rate(members: list[Member], sample_rate: int | None) -> int:
    return int(sample_rate) if sample_rate is not None else max(m.sample_rate for m in members)


def _ensemble_length(members: list[Member], rate: int, input_length: int | None) -> int | None:
    """The ensemble's input length at `rate`: the members' common duration."""
    fixed = [m for m in members if m.input_length is not None]
    if input_length is not None:
        return int(input_length)
    if not fixed:
        return None
    lengths = {math.ceil(m.input_length * rate / m.sample_rate) for m in fixed}
    if len(lengths) > 1:
        described = ", ".join(f"{m.model.name}: {m.input_length} samples at {m.sample_rate} Hz"
                              for m in fixed)
        raise InvalidOptionError(
            f"the members take clips of different durations ({described}); an ensemble "
            "feeds all of them the same clip. Use members built for the same duration.")
    return lengths.pop()


def _check_member_length(member: Member, rate: int, length: int | None) -> None:
    if member.input_length is None or length is None:
        return
    layer = Resample(orig_sr=rate, target_sr=member.sample_rate)
    fed = layer.output_length(length)
    if fed != member.input_length:
        raise InvalidOptionError(
            f"{member.model.name} takes {member.input_length} samples at "
            f"{member.sample_rate} Hz, but an ensemble input of {length} samples at {rate} Hz "
            f"gives it {fed}. Use input_length="
            f"{math.ceil(member.input_length * rate / member.sample_rate)} or members of the "
            "same duration.")


# ----------------------------------------------------------------------------- stack


def stack(models: Sequence[keras.Model], *, aggregate="gmean", name: str | None = None,
          weights=None, class_names=None, sample_rate: int | None = None,
          sample_rates=None, input_length: int | None = None, normalize: bool = True,
          stacker: StackerFit | None = None) -> keras.Model:
    """One Keras model that runs every member on one raw-audio input and combines them.

    Each member gets the input resampled to its own rate inside the graph
    (`kerasaudio.layers.Resample`, builtin TFLite ops) and computes its own features (its
    front end is part of it); `kerasaudio.layers.StackingEnsemble` combines the
    probabilities. A model listed twice runs once and counts twice. Class names and
    sample rate are kept in the model (see `ensemble_info`), so a reloaded `.keras` file
    knows them.

    Args:
        models: member models (raw mono audio in, `(batch, classes)` probabilities out),
            e.g. zoo presets from `kerasaudio.create_model("m5_fsdd_digits")`.
        aggregate: `"gmean"` (default), `"mean"`, `"median"`, `"max"`, `"vote"`, a list of
            member weights (a weighted mean), or `"learned"` (a dense meta-learner over
            the members' log-probabilities; with `stacker=` its fitted weights).
        name: the model's name (default `"stacking_ensemble"`).
        weights: member weights for `"gmean"`, `"mean"` or `"vote"`.
        class_names: class names of members without preset metadata (see
            `describe_members`). Members must share the label set; the same classes in
            another order are reordered, different sets raise `InvalidOptionError`.
        sample_rate: the input's sample rate (default: the highest member rate).
        sample_rates: rates of members without preset metadata.
        input_length: input samples (default: the members' common clip duration at
            `sample_rate`; None when every member takes any length).
        normalize: renormalise `"gmean"`, `"median"` and `"max"` to sum to one.
        stacker: a `StackerFit` from `fit_stacker` (with `aggregate="learned"`).

    Returns:
        A `keras.Model` `(batch, input_length) -> (batch, classes)`.

    Raises:
        InvalidOptionError: mismatched classes, durations or options; a sample-rate
            ratio the in-graph resampler does not support.

    Example:
    ```python
    import kerasaudio.ensemble
    ensemble = kerasaudio.ensemble.stack(
        [kerasaudio.create_model("m5_fsdd_digits"),
         kerasaudio.create_model("logmel_cnn_fsdd_digits")], aggregate="gmean")
    ensemble.save("ensemble.keras")
    probs = ensemble.predict(clips)  # (n, 10), clips (n, 8000) at 8 kHz
    ```
    """
    aggregate, weights = _parse_aggregate(aggregate, weights)
    if stacker is not None and aggregate != "learned":
        raise InvalidOptionError("stacker= needs aggregate='learned'.")
    models = list(models)
    distinct, index = _unique(models)
    described = describe_members(distinct, class_names=_for_distinct(class_names, models,
                                                                     distinct),
                                 sample_rates=_for_distinct(sample_rates, models, distinct),
                                 sample_rate=sample_rate)
    names, orders = _class_orders(described)
    rate = _ensemble_rate(described, sample_rate)
    length = _ensemble_length(described, rate, input_length)
    for member in described:
        _check_member_length(member, rate, length)

    inputs = keras.Input((length,), name="audio")
    resampled = {rate: inputs}
    outputs, used_names = [], set()
    for member in described:
        if member.sample_rate not in resampled:
            resampled[member.sample_rate] = Resample(
                orig_sr=rate, target_sr=member.sample_rate,
                name=f"resample_{rate}_to_{member.sample_rate}")(inputs)
        x = resampled[member.sample_rate]
        if member.channel_axis:
            x = keras.layers.Reshape((-1, 1), name=_fresh(f"{member.model.name}_channel",
                                                          used_names))(x)
        model = member.model
        if model.name in used_names or model.name in ("audio", "ensemble"):
            model = keras.Model(model.inputs[0], model.outputs[0],
                                name=_fresh(model.name, used_names))
        used_names.add(model.name)
        outputs.append(model(x))
    layer = StackingEnsemble(
        members=len(models), classes=len(names), aggregate=aggregate, weights=weights,
        normalize=normalize, class_names=list(names), sample_rate=rate,
        orders=[orders[j] for j in index], name="ensemble")
    out = layer([outputs[j] for j in index])
    ensemble = keras.Model(inputs, out, name=name or "stacking_ensemble")
    if stacker is not None:
        if stacker.kernel.shape != (len(models) * len(names), len(names)):
            raise InvalidOptionError(
                f"the stacker was fitted for {stacker.kernel.shape[0] // len(names)} members "
                f"of {len(names)} classes; this ensemble has {len(models)} members.")
        if tuple(stacker.class_names) != tuple(names):
            raise InvalidOptionError(
                f"the stacker's classes {list(stacker.class_names)} are not the ensemble's "
                f"{list(names)}.")
        layer.set_meta_weights(stacker.kernel, stacker.bias)
    return ensemble


def _for_distinct(value, models: list, distinct: list):
    """Map a per-member list of options onto the distinct members."""
    if value is None or isinstance(value, (int, str)) or (
            isinstance(value, Sequence) and value and isinstance(value[0], str)):
        return value
    value = list(value)
    if len(value) != len(models):
        raise InvalidOptionError(f"{len(value)} per-member entries for {len(models)} models.")
    return [value[next(i for i, m in enumerate(models) if m is d)] for d in distinct]


def _fresh(name: str, used: set) -> str:
    candidate, k = name, 2
    while candidate in used:
        candidate, k = f"{name}_{k}", k + 1
    used.add(candidate)
    return candidate


def ensemble_info(model: keras.Model) -> dict:
    """An ensemble's metadata: `class_names`, `sample_rate`, `input_length`, `aggregate`,
    `members` (count), `weights`; read from its `StackingEnsemble` layer, so it works on a
    reloaded `.keras` file too.

    Example:
    ```python
    info = kerasaudio.ensemble.ensemble_info(keras.saving.load_model("ensemble.keras"))
    kerasaudio.export.to_tflite(model, "e.tflite", sample_rate=info["sample_rate"],
                                class_names=info["class_names"], representative_data=clips)
    ```
    """
    layers = [layer for layer in model.layers if isinstance(layer, StackingEnsemble)]
    if len(layers) != 1:
        raise InvalidOptionError(f"{model.name} is not a stacking ensemble (from stack()).")
    layer = layers[0]
    return {"class_names": layer.class_names, "sample_rate": layer.sample_rate,
            "input_length": model.inputs[0].shape[1], "aggregate": layer.aggregate,
            "members": layer.members, "weights": list(layer.member_weights)}


# ----------------------------------------------------------------------------- numpy side


def _as_clips(inputs) -> list[np.ndarray]:
    if isinstance(inputs, np.ndarray) and inputs.ndim == 1:
        inputs = [inputs]
    clips = [np.asarray(x, np.float32).reshape(-1) if np.ndim(x) <= 1 or np.shape(x)[-1] == 1
             else None for x in inputs]
    if any(c is None for c in clips):
        raise InvalidOptionError("inputs must be mono clips: 1-D arrays (samples,).")
    return clips


def _fit_length(clip: np.ndarray, length: int) -> np.ndarray:
    """Centre-crop or zero-pad (as `kerasaudio.data.fix_length(mode="center")`)."""
    n = len(clip)
    if n >= length:
        start = (n - length) // 2
        return clip[start:start + length]
    before = (length - n) // 2
    return np.pad(clip, (before, length - n - before))


def member_inputs(member: Member, clips: list[np.ndarray], rate: int) -> np.ndarray:
    """The batch `member` gets from `clips` at `rate`: each clip fitted (centred) to the
    member's duration at `rate`, then resampled exactly as `Resample` does in the graph."""
    from scipy import signal

    layer = Resample(orig_sr=rate, target_sr=member.sample_rate)
    if member.input_length is not None:
        length = math.ceil(member.input_length * rate / member.sample_rate)
        for candidate in (length - 1, length, length + 1):  # the one Resample maps exactly
            if candidate > 0 and layer.output_length(candidate) == member.input_length:
                length = candidate
                break
    else:
        length = max(len(c) for c in clips)
    batch = np.stack([_fit_length(c, length) for c in clips]).astype(np.float32)
    if layer.up != layer.down:
        batch = signal.resample_poly(batch, layer.up, layer.down, axis=1).astype(np.float32)
    if member.input_length is not None:
        batch = np.stack([_fit_length(c, member.input_length) for c in batch])
    return batch[..., None] if member.channel_axis else batch


def _predict(member: Member, clips: list[np.ndarray], rate: int, *,
             batch_size: int = 64) -> np.ndarray:
    x = member_inputs(member, clips, rate)
    return np.asarray(member.model.predict(x, batch_size=batch_size, verbose=0), np.float64)


def _reorder(probs: np.ndarray, order) -> np.ndarray:
    return probs if order is None else probs[:, order]


def _aggregate_numpy(probs: np.ndarray, aggregate) -> np.ndarray:
    """Apply `aggregate` over axis 0 of `(members, clips, classes)`."""
    if callable(aggregate):
        return np.asarray(aggregate(probs, axis=0))
    name, weights = _parse_aggregate(aggregate, None)
    if name == "learned":
        raise InvalidOptionError("aggregate='learned' needs a fitted stacker: fit_stacker().")
    layer = StackingEnsemble(members=probs.shape[0], classes=probs.shape[2], aggregate=name,
                             weights=weights)
    return np.asarray(keras.ops.convert_to_numpy(
        layer([p.astype(np.float32) for p in probs])), np.float64)


class ClassificationStack:
    """malaya-speech's `classification_stack` for kerasaudio models (NumPy in, NumPy out).

    Every member predicts every input clip; `predict_proba` aggregates the
    `(members, clips, classes)` probabilities over the member axis. A model listed twice
    is run once and counted twice (malaya's way of weighting a member). Each clip is
    centred (cropped or zero-padded) to a member's input duration and resampled to its
    rate exactly as the in-graph `Resample` layer does, so `predict_proba(x,
    aggregate="gmean")` matches `stack(models, aggregate="gmean", normalize=False)`.

    Args:
        models: member models (see `describe_members`).
        class_names, sample_rates: for members without preset metadata.
        sample_rate: the rate of the clips given to `predict_proba` (default: the
            highest member rate).

    Example:
    ```python
    from scipy.stats import mstats
    stack = kerasaudio.ensemble.classification_stack([vggvox, deep_speaker, deep_speaker])
    stack.predict_proba(segments, aggregate=mstats.gmean)  # (len(segments), classes)
    stack.predict(segments)  # ['george', 'jackson', ...]
    ```
    """

    def __init__(self, models: Sequence[keras.Model], *, class_names=None, sample_rates=None,
                 sample_rate: int | None = None):
        self.models = list(models)
        self._distinct, self._index = _unique(self.models)
        self.members = describe_members(
            self._distinct, class_names=_for_distinct(class_names, self.models, self._distinct),
            sample_rates=_for_distinct(sample_rates, self.models, self._distinct),
            sample_rate=sample_rate)
        names, self._orders = _class_orders(self.members)
        self.class_names = list(names)
        self.sample_rate = _ensemble_rate(self.members, sample_rate)

    def member_probabilities(self, inputs) -> np.ndarray:
        """`(len(models), clips, classes)`: every listed model's probabilities, in the
        ensemble's class order (a duplicated model's rows repeat)."""
        clips = _as_clips(inputs)
        probs = [_reorder(_predict(member, clips, self.sample_rate), order)
                 for member, order in zip(self.members, self._orders, strict=True)]
        return np.stack([probs[j] for j in self._index])

    def predict_proba(self, inputs,
                      aggregate: Callable | str | Sequence | None = None) -> np.ndarray:
        """Aggregated probabilities `(clips, classes)`.

        Args:
            inputs: a list of 1-D clips (any lengths) or an array `(clips, samples)` at
                `self.sample_rate`.
            aggregate: a function called as `aggregate(probs, axis=0)` on the
                `(members, clips, classes)` array (default `scipy.stats.mstats.gmean`,
                malaya's default: not renormalised), or a `StackingEnsemble` aggregate
                name or list of weights.
        """
        if aggregate is None:
            from scipy.stats import mstats

            aggregate = mstats.gmean
        return _aggregate_numpy(self.member_probabilities(inputs), aggregate)

    def predict(self, inputs, aggregate: Callable | str | Sequence | None = None) -> list[str]:
        """The top class name of every clip (see `predict_proba`)."""
        probs = self.predict_proba(inputs, aggregate=aggregate)
        return [self.class_names[i] for i in np.asarray(probs).argmax(axis=-1)]


def classification_stack(models: Sequence[keras.Model], **kwargs) -> ClassificationStack:
    """Stack models the malaya-speech way: `classification_stack([m1, m2, m2])`.

    Returns a `ClassificationStack`; its `predict_proba(inputs,
    aggregate=scipy.stats.mstats.gmean)` and `predict(inputs, aggregate=...)` have
    malaya-speech's signatures and shapes. Keyword arguments go to `ClassificationStack`.

    Example:
    ```python
    from scipy.stats import mstats
    stack = kerasaudio.ensemble.classification_stack(
        [kerasaudio.create_model("m5_fsdd_digits"),
         kerasaudio.create_model("logmel_cnn_fsdd_digits")])
    stack.predict_proba(clips, aggregate=mstats.gmean)
    stack.predict(clips)  # ['3', '7', ...]
    ```
    """
    return ClassificationStack(models, **kwargs)


# ----------------------------------------------------------------------------- learning


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
    clips = _as_clips(x)
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
    rates = _per_member(sample_rates, len(models), "sample_rates")
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
        probs = _predict(member, [clips[r] for r in rows], rate)
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
    from kerasaudio.presets import preset_of

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
