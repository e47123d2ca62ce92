"""The `stack` model family: a stacking ensemble as a registered model.

`kerasaudio.create_model("stack", members=[...])` builds its members from complete JSON
descriptions and combines them with the one Keras stack builder
(`kerasaudio.ensemble.stack`). This builder never resolves a preset name: where a caller
names preset members, `kerasaudio.create_model` (`kerasaudio.hub`) first replaces each name
by the preset's description (architecture, config, name, sample rate, class names and,
when they are wanted, its verified weights file). That keeps the registry, the weights
layer and the ensembles free of import circles, and makes a stack preset
(`stack_fsdd_digits`) self-contained: its manifest entry holds every member's
description, its one weights file every member's weights.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence

import keras

from kerasaudio.ensemble.builder import stack
from kerasaudio.errors import InvalidOptionError
from kerasaudio.info import model_info
from kerasaudio.models.common import finish
from kerasaudio.models.registry import (
    build_arguments,
    build_model,
    get_model_info,
    register_model,
)
from kerasaudio.weights import Preset, deserialize_layer, get_preset, jsonable, serialized_frontend

__all__ = ["MEMBER_OPTIONS", "member_spec", "publishable_config", "stack_model"]

#: Keys of a member description: what the member is built from (`architecture`, `config`,
#: `name`), its `sample_rate` and `class_names` when they are not the stack's, and the
#: `weights` file to load into it. A stack preset's manifest entry holds only the first
#: four (its own weights file holds every member's weights).
MEMBER_OPTIONS = ("architecture", "config", "name", "sample_rate", "class_names", "weights")


def member_spec(member: keras.Model | Preset | str) -> dict:
    """The JSON description of a member, `{"architecture", "config", "name"}`, as a stack
    preset's manifest holds it: for a model `kerasaudio.create_model` built (a front end
    given as layers serialized), for a `Preset`, or for a preset name (its manifest
    entry's architecture and config).

    Raises:
        InvalidOptionError: a model not built by `kerasaudio.create_model`, or an unknown
            preset name.

    Args:
        member: a model built by `kerasaudio.create_model`, a `Preset`, or a preset name.

    Returns:
        `{"architecture": ..., "config": {...}, "name": ...}`, JSON-serializable.

    Example:
    ```python
    import kerasaudio
    spec = kerasaudio.ensemble.member_spec("m5_fsdd_digits")
    spec["architecture"], spec["name"]  # 'm5', 'm5_fsdd_digits'
    ```
    """
    if isinstance(member, str):
        member = get_preset(member)
    if isinstance(member, Preset):
        return {"architecture": member.architecture, "config": copy.deepcopy(member.config),
                "name": member.name}
    recorded = build_arguments(member)
    if recorded is None:
        raise InvalidOptionError(f"{member.name} was not built by kerasaudio.create_model, "
                                 "so its options are unknown.")
    architecture, options = recorded
    config = {k: v for k, v in options.items() if k not in ("weights", "name")}
    if "frontend" in config:
        config["frontend"] = serialized_frontend(config["frontend"])
    return {"architecture": architecture, "config": jsonable(config), "name": member.name}


def publishable_config(config: dict, *, class_names: Sequence[str], sample_rate: int) -> dict:
    """A stack's builder options as a preset holds them.

    Preset-name members are replaced by their `member_spec`; a member description loses
    its `weights` (the preset's own file holds every member's weights), its `class_names`
    (they must be the stack's) and its `sample_rate` when it is the stack's; the class
    names and sample rate are filled in and `pretrained_members` is dropped.

    Raises:
        InvalidOptionError: a member whose class names are not the stack's.

    Args:
        config: the stack's builder options (`members`, `aggregate`, ...).
        class_names: the stack's classes.
        sample_rate: the stack's input rate (Hz).

    Returns:
        A new dict; `config` is not changed.

    Example:
    ```python
    import kerasaudio
    config = kerasaudio.ensemble.publishable_config(
        {"members": ["m5_fsdd_digits", "logmel_cnn_fsdd_digits"]},
        class_names=[str(d) for d in range(10)], sample_rate=8000)
    [m["architecture"] for m in config["members"]]  # ['m5', 'complex_cnn']
    ```
    """
    config = {k: v for k, v in config.items() if k != "pretrained_members"}
    config.setdefault("class_names", [str(c) for c in class_names])
    config.setdefault("sample_rate", int(sample_rate))
    members = config.get("members")
    if isinstance(members, Sequence) and not isinstance(members, str):
        specs = []
        for i, member in enumerate(members):
            if isinstance(member, (str, Preset)):
                preset = get_preset(member) if isinstance(member, str) else member
                spec = {**member_spec(preset), "sample_rate": preset.sample_rate}
            else:
                spec = dict(member)
            names = spec.pop("class_names", None)
            if names is not None and [str(c) for c in names] != list(config["class_names"]):
                raise InvalidOptionError(
                    f"stack: member {i} ({spec.get('name')}) predicts {list(names)}, not the "
                    f"stack's classes {list(config['class_names'])} in that order; a "
                    "preset's members share the stack's class order.")
            spec.pop("weights", None)
            if spec.get("sample_rate") == config["sample_rate"]:
                del spec["sample_rate"]
            specs.append(spec)
        config["members"] = specs
    return config


def _build_member(spec, index: int, *, pretrained: bool):
    """One member from its description: `(model, sample rate or None, class names or
    None)`; its `weights` file is loaded when `pretrained`."""
    label = f"stack: member {index}"
    if isinstance(spec, str):
        raise InvalidOptionError(
            f"{label} is {spec!r}, a name: this builder takes member descriptions (dicts "
            f"with keys {list(MEMBER_OPTIONS)}). kerasaudio.create_model('stack', "
            "members=[...]) turns preset names into descriptions.")
    if not isinstance(spec, Mapping):
        raise InvalidOptionError(f"{label} must be a preset name or a dict with keys "
                                 f"{list(MEMBER_OPTIONS)}; got {type(spec).__name__}.")
    unknown = sorted(set(spec) - set(MEMBER_OPTIONS))
    if unknown or "architecture" not in spec:
        raise InvalidOptionError(f"{label}: a member dict has 'architecture' and optionally "
                                 f"{list(MEMBER_OPTIONS[1:])}; got keys {sorted(spec)}.")
    architecture = spec["architecture"]
    if architecture == "stack":
        raise InvalidOptionError(f"{label}: a stack cannot be a member of a stack.")
    get_model_info(architecture)  # a clear error for an unknown name
    config = copy.deepcopy(dict(spec.get("config") or {}))
    if "weights" in config or "name" in config:
        raise InvalidOptionError(f"{label}: 'weights' and 'name' do not belong in 'config' "
                                 "(a member's weights file and its name are keys of the "
                                 "member).")
    frontend = config.get("frontend")
    if isinstance(frontend, list):
        config["frontend"] = [deserialize_layer(item, f"member {index}")
                              if isinstance(item, dict) else item for item in frontend]
    if isinstance(config.get("input_shape"), list):
        config["input_shape"] = tuple(config["input_shape"])
    rate = spec.get("sample_rate")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int) or rate < 1):
        raise InvalidOptionError(f"{label}: sample_rate={rate!r} must be a positive integer.")
    names = spec.get("class_names")
    if names is not None and (isinstance(names, str) or not isinstance(names, Sequence)):
        raise InvalidOptionError(f"{label}: class_names={names!r} must be a list of names.")
    weights = spec.get("weights")
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise InvalidOptionError(f"{label}: weights={weights!r} must be a path to a "
                                 ".weights.h5 file.")
    name = spec.get("name")
    model = build_model(architecture, weights=weights if pretrained else None, **config,
                        **({} if name is None else {"name": name}))
    return model, rate, None if names is None else [str(c) for c in names]


@register_model(
    "stack",
    task="classification (ensemble of registered models)",
    input="raw audio: the members' common clip (defaults: M5 + log-mel complex_cnn, 1 s, 8 kHz)",
    paper="Wolpert, 'Stacked generalization', Neural Networks 1992",
    parameters=94_346 + 117_546,
    defaults={"members": [
        {"architecture": "m5", "config": {"classes": 10, "input_shape": [8000, 1],
                                          "n_channel": 64}},
        {"architecture": "complex_cnn", "config": {
            "classes": 10, "input_shape": [8000], "filters": [8, 16, 32, 64, 128],
            "dense_units": 128, "frontend": [
                {"class_name": "MelSpectrogram", "module": "kerasaudio.layers.mel",
                 "registered_name": "kerasaudio>MelSpectrogram",
                 "config": {"sample_rate": 8000, "n_fft": 256, "hop_length": 80,
                            "n_mels": 40}},
                {"class_name": "PowerToDb", "module": "kerasaudio.layers.decibels",
                 "registered_name": "kerasaudio>PowerToDb", "config": {}},
                {"class_name": "Reshape", "module": "keras.layers", "registered_name": None,
                 "config": {"target_shape": [101, 40, 1]}}]}}],
        "class_names": [str(d) for d in range(10)], "sample_rate": 8000},
)
def stack_model(*, members: Sequence, aggregate: str | Sequence[float] = "gmean",
                include_top: bool = True, weights=None, input_shape=None,
                classes: int | None = None, pooling: str | None = None,
                classifier_activation="softmax", class_names: Sequence[str] | None = None,
                sample_rate: int | None = None, pretrained_members: bool = True,
                name: str = "stack") -> keras.Model:
    """A stacking ensemble as one registered model (`create_model("stack", ...)`): members
    run on one raw-audio input and their probabilities are combined
    (`kerasaudio.ensemble.stack` underneath).

    It is what makes an ensemble a preset (`stack_fsdd_digits`): the members are JSON
    descriptions (the manifest's form) and one `.weights.h5` file holds every member's
    weights. Through `kerasaudio.create_model` a member may also be a preset name (e.g.
    `"m5_fsdd_digits"`), which it replaces by the preset's description and, with
    `pretrained_members`, its trained weights.

    Args:
        members: two or more member descriptions, dicts `{"architecture": registered
            name, "config": builder options, "name": model name, "sample_rate": Hz,
            "class_names": [...], "weights": path}`; only `architecture` is required
            (a front end may be given as serialized layers, rebuilt in safe mode;
            `sample_rate` defaults to the stack's, `class_names` to `class_names`;
            without `weights` the member starts from random initialisation). Members at
            other rates get the input resampled in the graph. Stacks do not nest.
        aggregate: `"gmean"` (default), `"mean"`, `"median"`, `"max"`, `"vote"` or a
            list of member weights (a weighted mean); see
            `kerasaudio.layers.StackingEnsemble`.
        include_top: must be True (an ensemble combines classifiers' probabilities).
        weights: None or a `.weights.h5` file saved from the same stack (every member's
            weights; replaces the members' own).
        input_shape: `(samples,)`, the members' common clip at `sample_rate` (default);
            `(None,)` means the same.
        classes: the number of classes, if given it must be the members'.
        pooling: must be None.
        classifier_activation: `"softmax"` (members and output give a probability
            vector) or `"sigmoid"` (multi-label: members and output give independent
            per-class probabilities; see `kerasaudio.layers.StackingEnsemble`).
        class_names: class names of members without their own.
        sample_rate: Hz of the input (default: the highest member rate); also the rate
            of members without their own.
        pretrained_members: load the members' `weights` files (False: random).
        name: model name.

    Returns:
        A `keras.Model` `(batch, samples) -> (batch, classes)`, built by
        `kerasaudio.ensemble.stack`.

    Raises:
        InvalidOptionError: fewer than two members, a bad member description, a nested
            stack, or an option a stack does not take.

    Example:
    ```python
    import kerasaudio
    clips, _ = kerasaudio.hub.representative_clips("m5_fsdd_digits")  # 1 s, 8 kHz
    model = kerasaudio.create_model(
        "stack", members=["logmel_cnn_fsdd_digits", "mfcc_cnn_fsdd_digits"])
    published = kerasaudio.create_model("stack_fsdd_digits")  # five members
    published.predict(clips, verbose=0).shape                 # (120, 10)
    ```

    Reference:
        Wolpert, "Stacked generalization", Neural Networks 5(2), 1992; malaya-speech's
        `classification.stack` (geometric mean of members' probabilities).
    """
    if not include_top:
        raise InvalidOptionError("stack: include_top must be True (an ensemble combines "
                                 "its members' probabilities).")
    if pooling is not None:
        raise InvalidOptionError(f"stack: pooling={pooling!r}; a stack has no pooling "
                                 "option (its members pool).")
    if classifier_activation not in ("softmax", "sigmoid"):
        raise InvalidOptionError(f"stack: classifier_activation={classifier_activation!r}; "
                                 "the output is the combined probabilities: 'softmax' "
                                 "(single-label) or 'sigmoid' (multi-label members).")
    if weights is not None:
        if not isinstance(weights, (str, os.PathLike)) or not os.fspath(weights).endswith(
                ".weights.h5"):
            raise InvalidOptionError(f"stack: weights={weights!r} must be None or a "
                                     ".weights.h5 file.")
        if not os.path.isfile(weights):
            raise InvalidOptionError(f"stack: weights file {os.fspath(weights)!r} does not "
                                     "exist.")
    if isinstance(members, (str, Mapping)) or not isinstance(members, Sequence) \
            or len(members) < 2:
        raise InvalidOptionError("stack: members must be a list of two or more members "
                                 f"(preset names or dicts); got {members!r}.")
    length = None
    if input_shape is not None:
        shape = tuple(input_shape)
        if len(shape) != 1 or not (shape[0] is None or isinstance(shape[0], int)):
            raise InvalidOptionError(f"stack: input_shape={input_shape!r} must be "
                                     "(samples,) or (None,): raw mono audio.")
        length = shape[0]
    built = [_build_member(spec, i, pretrained=pretrained_members and weights is None)
             for i, spec in enumerate(members)]
    rates = [sample_rate if rate is None else rate for _, rate, _ in built]
    default_names = None if class_names is None else [str(c) for c in class_names]
    names = [default_names if own is None else own for _, _, own in built]
    model = stack([member for member, _, _ in built], aggregate=aggregate, name=name,
                  class_names=names if any(n is not None for n in names) else None,
                  sample_rate=sample_rate, input_length=length,
                  sample_rates=None if None in rates else rates,
                  multi_label=classifier_activation == "sigmoid")
    count = model.outputs[0].shape[-1]
    if classes is not None and classes != count:
        raise InvalidOptionError(f"stack: classes={classes} but the members have {count}.")
    return finish(model.inputs[0], model.outputs[0], name, weights, info=model_info(model))
