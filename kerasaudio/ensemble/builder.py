"""The one Keras stack builder: `stack(models)` -> one exportable `keras.Model`.

Every member gets the ensemble's raw-audio input, resampled to its own rate inside the
graph (`kerasaudio.layers.Resample`) and fed through its own front end (members are
end-to-end models); `kerasaudio.layers.StackingEnsemble` combines their probabilities.
Both `kerasaudio.ensemble.stack(models)` and `kerasaudio.create_model("stack",
members=...)` (the registered family, `kerasaudio.ensemble.family`) build with it.

Members are described by their model-info records (`kerasaudio.info.model_info`), and the
stack is a `kerasaudio.models.AudioModel` whose record is derived from them: the class
names (the first member's order), the input's sample rate and length, and the task when
every member records the same one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import keras

from kerasaudio.errors import InvalidOptionError
from kerasaudio.info import AudioInfo, model_info
from kerasaudio.layers.ensemble import AGGREGATES, Resample, StackingEnsemble
from kerasaudio.models.audio_model import AudioModel

__all__ = ["Member", "describe_members", "ensemble_info", "stack"]


@dataclass(frozen=True)
class Member:
    """What the ensemble needs to know about one member model.

    `class_names` (output index -> name), `sample_rate` (Hz of the audio it takes),
    `input_length` (samples, None for any length), `channel_axis` (True when the model
    takes `(samples, 1)`), `source` (where the class names came from: `"preset"`, the
    record of a model built from a preset; `"record"`, another model-info record;
    `"argument"`), `task` (the member's recorded task, None when unknown).

    Example:
    ```python
    import kerasaudio
    member = kerasaudio.ensemble.describe_members(
        [kerasaudio.create_model("m5_fsdd_digits")])[0]
    member.sample_rate, member.input_length, member.duration  # (8000, 8000, 1.0)
    ```
    """

    model: keras.Model
    class_names: tuple[str, ...]
    sample_rate: int
    input_length: int | None
    channel_axis: bool
    source: str
    task: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds of audio the member takes (None: any length)."""
        return None if self.input_length is None else self.input_length / self.sample_rate


def per_member(value, count: int, what: str) -> list:
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
    """Read each member's class names, sample rate, input length and task.

    From the member's model-info record (`kerasaudio.info.model_info`: every preset from
    `kerasaudio.create_model` has one, `kerasaudio.models.with_info` sets one) where it
    knows them, otherwise from the arguments.

    Args:
        models: Keras models taking raw audio `(samples,)` or `(samples, 1)` and giving
            `(batch, classes)` probabilities.
        class_names: the class names of members whose record has none: one list for
            all, or one list per member. A member whose record has them must agree.
        sample_rates: sample rates (Hz) of members whose record has none: one int for
            all, or one per member (default: `sample_rate`). A member whose record has
            one must agree.
        sample_rate: the ensemble input's rate, the last fallback for a member's rate.

    Returns:
        One `Member` per model, in order.

    Raises:
        InvalidOptionError: a member takes features rather than audio, has no known
            class names or sample rate, or its record contradicts the arguments.

    Example:
    ```python
    import kerasaudio
    members = kerasaudio.ensemble.describe_members(
        [kerasaudio.create_model("m5_fsdd_digits")])
    members[0].class_names, members[0].sample_rate  # ('0', ..., '9'), 8000
    ```
    """
    models = list(models)
    if not models:
        raise InvalidOptionError("an ensemble needs at least one member model.")
    names_list = per_member(class_names, len(models), "class_names")
    rates = per_member(sample_rates, len(models), "sample_rates")
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
        record = model_info(model)
        known = f"its preset {record.preset!r}" if record.preset else "its model-info record"
        source = "argument"
        if record.class_names is not None:
            if names is not None and tuple(map(str, names)) != record.class_names:
                raise InvalidOptionError(
                    f"{label}: class_names {list(names)} contradict {known}'s "
                    f"{list(record.class_names)}."
                )
            names, source = record.class_names, ("preset" if record.preset else "record")
        if record.sample_rate is not None:
            if rate is not None and int(rate) != record.sample_rate:
                raise InvalidOptionError(
                    f"{label}: sample rate {rate} contradicts {known} "
                    f"({record.sample_rate} Hz).")
            rate = record.sample_rate
        if names is None:
            raise InvalidOptionError(
                f"{label} has no class names in its model-info record: pass class_names= "
                "(one list for all members, or one per member) so the ensemble can check "
                "that the members share their classes."
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
                f"{label} has no sample rate in its model-info record: pass sample_rates= "
                "(or sample_rate=) so the ensemble knows which rate to feed it.")
        members.append(Member(model, names, int(rate), shape[0], len(shape) == 2, source,
                              record.task))
    return members


def class_orders(members: list[Member]) -> tuple[tuple[str, ...], list[list[int] | None]]:
    """The ensemble's class names (the first member's) and each member's reordering."""
    reference = members[0].class_names
    orders: list[list[int] | None] = []
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


def unique_models(models: Sequence) -> tuple[list, list[int]]:
    """Distinct models (by identity) and, per position, the index of its distinct model."""
    distinct: list = []
    index: list[int] = []
    for model in models:
        for j, seen in enumerate(distinct):
            if seen is model:
                index.append(j)
                break
        else:
            index.append(len(distinct))
            distinct.append(model)
    return distinct, index


def parse_aggregate(aggregate, weights):
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


def ensemble_record(members: list[Member], class_names, rate: int,
                    length: int | None) -> AudioInfo:
    """The stack's model-info record: its class names, rate and input length, and the
    members' task when they all record the same one (else unknown)."""
    tasks = {member.task for member in members}
    task = tasks.pop() if len(tasks) == 1 else None
    return AudioInfo(task=task, class_names=class_names, sample_rate=rate,
                     input_length=length)


def ensemble_rate(members: list[Member], sample_rate: int | None) -> int:
    return int(sample_rate) if sample_rate is not None else max(m.sample_rate for m in members)


def _ensemble_length(members: list[Member], rate: int, input_length: int | None) -> int | None:
    """The ensemble's input length at `rate`: the members' common duration."""
    fixed = [m for m in members if m.input_length is not None]
    if input_length is not None:
        return int(input_length)
    if not fixed:
        return None
    lengths = {math.ceil(n * rate / m.sample_rate)
               for m in fixed if (n := m.input_length) is not None}
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
    layer = Resample(sample_rate=rate, target_sample_rate=member.sample_rate)
    fed = layer.output_length(length)
    if fed != member.input_length:
        raise InvalidOptionError(
            f"{member.model.name} takes {member.input_length} samples at "
            f"{member.sample_rate} Hz, but an ensemble input of {length} samples at {rate} Hz "
            f"gives it {fed}. Use input_length="
            f"{math.ceil(member.input_length * rate / member.sample_rate)} or members of the "
            "same duration.")


def stack(models: Sequence[keras.Model], *, aggregate="gmean", name: str | None = None,
          weights=None, class_names=None, sample_rate: int | None = None,
          sample_rates=None, input_length: int | None = None, normalize: bool = True,
          stacker=None, multi_label: bool | None = None) -> keras.Model:
    """One Keras model that runs every member on one raw-audio input and combines them.

    Each member gets the input resampled to its own rate inside the graph
    (`kerasaudio.layers.Resample`, builtin TFLite ops) and computes its own features (its
    front end is part of it); `kerasaudio.layers.StackingEnsemble` combines the
    probabilities. A model listed twice runs once and counts twice. The result is a
    `kerasaudio.models.AudioModel` whose model-info record (`kerasaudio.info.model_info`)
    holds the ensemble's class names, sample rate and input length, and the members'
    task when they all record the same one; it survives `.keras` save/load and reaches
    the TFLite metadata through `kerasaudio.export.to_tflite`.

    Args:
        models: member models (raw mono audio in, `(batch, classes)` probabilities out),
            e.g. zoo presets from `kerasaudio.create_model("m5_fsdd_digits")`.
        aggregate: `"gmean"` (default), `"mean"`, `"median"`, `"max"`, `"vote"`, a list of
            member weights (a weighted mean), or `"learned"` (a dense meta-learner over
            the members' log-probabilities; with `stacker=` its fitted weights).
        name: the model's name (default `"stacking_ensemble"`).
        weights: member weights for `"gmean"`, `"mean"` or `"vote"`.
        class_names: class names of members whose record has none (see
            `describe_members`). Members must share the label set; the same classes in
            another order are reordered, different sets raise `InvalidOptionError`.
        sample_rate: the input's sample rate (default: the highest member rate).
        sample_rates: rates of members whose record has none.
        input_length: input samples (default: the members' common clip duration at
            `sample_rate`; None when every member takes any length).
        normalize: renormalise `"gmean"`, `"median"` and `"max"` to sum to one
            (single-label).
        stacker: a `StackerFit` from `fit_stacker` (with `aggregate="learned"`).
        multi_label: the members output independent per-class (sigmoid) probabilities
            and so does the ensemble (see `kerasaudio.layers.StackingEnsemble`); default:
            the stacker's, else False.

    Returns:
        An `AudioModel` `(batch, input_length) -> (batch, classes)` with the ensemble's
        record.

    Raises:
        InvalidOptionError: mismatched classes, durations or options; a sample-rate
            ratio the in-graph resampler does not support.

    Example:
    ```python
    import kerasaudio
    clips, digits = kerasaudio.hub.representative_clips("m5_fsdd_digits")  # 1 s, 8 kHz
    ensemble = kerasaudio.ensemble.stack(
        [kerasaudio.create_model("m5_fsdd_digits"),
         kerasaudio.create_model("logmel_cnn_fsdd_digits")], aggregate="gmean")
    ensemble.save("ensemble.keras")
    probs = ensemble.predict(clips, verbose=0)  # (120, 10)
    ```

    Reference:
        Wolpert, "Stacked generalization", Neural Networks 5(2), 1992; malaya-speech's
        `classification_stack` (the geometric mean of the members' probabilities).
    """
    aggregate, weights = parse_aggregate(aggregate, weights)
    if stacker is not None and aggregate != "learned":
        raise InvalidOptionError("stacker= needs aggregate='learned'.")
    fitted_multi_label = None if stacker is None else bool(stacker.multi_label)
    if multi_label is None:
        multi_label = bool(fitted_multi_label)
    elif fitted_multi_label is not None and bool(multi_label) != fitted_multi_label:
        raise InvalidOptionError(
            f"multi_label={multi_label} but the stacker was fitted on "
            f"{'multi-label' if fitted_multi_label else 'single-label'} labels.")
    models = list(models)
    distinct, index = unique_models(models)
    described = describe_members(distinct, class_names=for_distinct(class_names, models,
                                                                     distinct),
                                 sample_rates=for_distinct(sample_rates, models, distinct),
                                 sample_rate=sample_rate)
    names, orders = class_orders(described)
    rate = ensemble_rate(described, sample_rate)
    length = _ensemble_length(described, rate, input_length)
    for member in described:
        _check_member_length(member, rate, length)

    inputs = keras.Input((length,), name="audio")
    resampled = {rate: inputs}
    outputs: list = []
    used_names: set[str] = set()
    for member in described:
        if member.sample_rate not in resampled:
            resampled[member.sample_rate] = Resample(
                sample_rate=rate, target_sample_rate=member.sample_rate,
                name=f"resample_{rate}_to_{member.sample_rate}")(inputs)
        x = resampled[member.sample_rate]
        if member.channel_axis:
            x = keras.layers.Reshape((-1, 1), name=_fresh(f"{member.model.name}_channel",
                                                          used_names))(x)
        model = member.model
        if model.name in used_names or model.name in ("audio", "ensemble"):
            model = AudioModel(model.inputs[0], model.outputs[0],
                               name=_fresh(model.name, used_names), info=model_info(model))
        used_names.add(model.name)
        outputs.append(model(x))
    layer = StackingEnsemble(
        members=len(models), classes=len(names), aggregate=aggregate, weights=weights,
        normalize=normalize, class_names=list(names), sample_rate=rate,
        orders=[orders[j] for j in index], multi_label=multi_label, name="ensemble")
    out = layer([outputs[j] for j in index])
    ensemble = AudioModel(inputs, out, name=name or "stacking_ensemble",
                          info=ensemble_record(described, names, rate, length))
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


def for_distinct(value, models: list, distinct: list):
    """Map a per-member list of options onto the distinct members."""
    if value is None or isinstance(value, (int, str)) or (
            isinstance(value, Sequence) and value and isinstance(value[0], str)):
        return value
    value = list(value)
    if len(value) != len(models):
        raise InvalidOptionError(f"{len(value)} per-member entries for {len(models)} models.")
    return [value[next(i for i, m in enumerate(models) if m is d)] for d in distinct]


def _fresh(name: str, used: set[str]) -> str:
    candidate, k = name, 2
    while candidate in used:
        candidate, k = f"{name}_{k}", k + 1
    used.add(candidate)
    return candidate


def ensemble_info(model: keras.Model) -> dict:
    """An ensemble's metadata: `class_names`, `sample_rate`, `input_length`, `aggregate`,
    `members` (count), `weights`, `multi_label`. The first three come from the model's
    model-info record (`kerasaudio.info.model_info`) where it knows them, the rest from
    its `StackingEnsemble` layer, so it works on a reloaded `.keras` file too.

    Args:
        model: a model built by `stack` (or `create_model("stack")`), or reloaded from
            its `.keras` file.

    Returns:
        A dict with the keys above.

    Raises:
        InvalidOptionError: the model has no (or several) `StackingEnsemble` layers.

    Example:
    ```python
    import keras
    import kerasaudio
    ensemble = kerasaudio.ensemble.stack([kerasaudio.create_model("m5_fsdd_digits"),
                                          kerasaudio.create_model("mfcc_cnn_fsdd_digits")])
    ensemble.save("ensemble.keras")
    info = kerasaudio.ensemble.ensemble_info(keras.saving.load_model("ensemble.keras"))
    info["sample_rate"], info["members"], info["class_names"][:3]  # 8000, 2, ['0', '1', '2']
    ```
    """
    layers = [layer for layer in model.layers if isinstance(layer, StackingEnsemble)]
    if len(layers) != 1:
        raise InvalidOptionError(f"{model.name} is not a stacking ensemble (from stack()).")
    layer = layers[0]
    record = model_info(model)
    names = layer.class_names if record.class_names is None else list(record.class_names)
    rate = layer.sample_rate if record.sample_rate is None else record.sample_rate
    length = model.inputs[0].shape[1] if record.input_length is None else record.input_length
    return {"class_names": names, "sample_rate": rate,
            "input_length": length, "aggregate": layer.aggregate,
            "members": layer.members, "weights": list(layer.member_weights),
            "multi_label": layer.multi_label}

