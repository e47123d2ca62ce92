"""Stacking ensemble of registered models, as a registered model (`create_model("stack")`)."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence

import keras

from kerasaudio.errors import InvalidOptionError
from kerasaudio.models.common import finish
from kerasaudio.models.registry import register_model

__all__ = ["member_spec", "publishable_config", "stack"]

#: Keys of a member given as a dict (JSON): what `create_model` builds it from, and the
#: member's sample rate when it is not the stack's `sample_rate` (optional).
MEMBER_KEYS = ("architecture", "config", "name", "sample_rate")


def member_spec(member: keras.Model | str) -> dict:
    """The JSON description of a member, `{"architecture", "config", "name"}`, as a stack
    preset's manifest holds it: for a model `create_model` built (a front end given as
    layers serialized) or for a preset name (its manifest entry's architecture and config).

    Raises:
        InvalidOptionError: a model not built by `kerasaudio.create_model`, or an unknown
            preset name.

    Example:
    ```python
    spec = kerasaudio.models.stack.member_spec("m5_fsdd_digits")
    spec["architecture"], spec["name"]  # 'm5', 'm5_fsdd_digits'
    ```
    """
    from kerasaudio import presets
    from kerasaudio.models.registry import _build_arguments

    if isinstance(member, str):
        preset = presets.get_preset(member)
        return {"architecture": preset.architecture, "config": copy.deepcopy(preset.config),
                "name": preset.name}
    recorded = _build_arguments(member)
    if recorded is None:
        raise InvalidOptionError(f"{member.name} was not built by kerasaudio.create_model, "
                                 "so its options are unknown.")
    architecture, options = recorded
    config = {k: v for k, v in options.items() if k not in ("weights", "name")}
    if "frontend" in config:
        config["frontend"] = presets.serialized_frontend(config["frontend"])
    return {"architecture": architecture, "config": presets._jsonable(config),
            "name": member.name}


def publishable_config(config: dict, *, class_names: Sequence[str], sample_rate: int) -> dict:
    """A stack's builder options as a preset holds them: preset-name members replaced by
    their `member_spec` (so the published weights never depend on another entry), the
    class names and sample rate filled in, `pretrained_members` dropped (the preset's own
    file holds every member's weights).

    Example:
    ```python
    config = kerasaudio.models.stack.publishable_config(
        {"members": ["m5_fsdd_digits", "logmel_cnn_fsdd_digits"]},
        class_names=[str(d) for d in range(10)], sample_rate=8000)
    ```
    """
    from kerasaudio import presets

    config = {k: v for k, v in config.items() if k != "pretrained_members"}
    config.setdefault("class_names", [str(c) for c in class_names])
    config.setdefault("sample_rate", int(sample_rate))
    members = config.get("members")
    if isinstance(members, Sequence) and not isinstance(members, str):
        specs = []
        for member in members:
            if isinstance(member, str):
                spec = member_spec(member)
                rate = presets.get_preset(member).sample_rate
                if rate != config["sample_rate"]:
                    spec["sample_rate"] = rate
            else:
                spec = dict(member)
            specs.append(spec)
        config["members"] = specs
    return config


def _build_member(spec, index: int, *, pretrained: bool) -> tuple[keras.Model, int | None]:
    """One member and its sample rate (None: the stack's): a preset name (its trained
    weights unless `pretrained` is False) or a dict of `MEMBER_KEYS` (random
    initialisation)."""
    from kerasaudio import presets
    from kerasaudio.models.registry import create_model, get_model_info

    label = f"stack: member {index}"
    if isinstance(spec, str):
        known = presets.load_manifest()
        if spec not in known:
            raise InvalidOptionError(
                f"{label} is {spec!r}, not a preset name; give a preset (see "
                "list_models(pretrained=True)) or a dict {'architecture': ..., 'config': "
                "{...}, 'name': ...}.")
        preset = known[spec]
        if pretrained:
            return create_model(spec), preset.sample_rate
        return (create_model(preset.architecture, name=spec, **preset.builder_kwargs()),
                preset.sample_rate)
    if not isinstance(spec, Mapping):
        raise InvalidOptionError(f"{label} must be a preset name or a dict with keys "
                                 f"{list(MEMBER_KEYS)}; got {type(spec).__name__}.")
    unknown = sorted(set(spec) - set(MEMBER_KEYS))
    if unknown or "architecture" not in spec:
        raise InvalidOptionError(f"{label}: a member dict has 'architecture' and optionally "
                                 f"'config', 'name' and 'sample_rate'; got keys "
                                 f"{sorted(spec)}.")
    architecture = spec["architecture"]
    if architecture == "stack":
        raise InvalidOptionError(f"{label}: a stack cannot be a member of a stack.")
    get_model_info(architecture)  # a clear error for an unknown name
    config = copy.deepcopy(dict(spec.get("config") or {}))
    if "weights" in config or "name" in config:
        raise InvalidOptionError(f"{label}: 'weights' and 'name' do not belong in 'config' "
                                 "(a member's weights are the stack's; 'name' is a key of "
                                 "the member).")
    frontend = config.get("frontend")
    if isinstance(frontend, list):
        config["frontend"] = [presets._deserialize_layer(item, f"member {index}")
                              if isinstance(item, dict) else item for item in frontend]
    if isinstance(config.get("input_shape"), list):
        config["input_shape"] = tuple(config["input_shape"])
    rate = spec.get("sample_rate")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int) or rate < 1):
        raise InvalidOptionError(f"{label}: sample_rate={rate!r} must be a positive integer.")
    name = spec.get("name")
    model = create_model(architecture, **config, **({} if name is None else {"name": name}))
    return model, rate


@register_model(
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
def stack(*, members: Sequence, aggregate: str | Sequence[float] = "gmean",
          include_top: bool = True, weights=None, input_shape=None,
          classes: int | None = None, pooling: str | None = None,
          classifier_activation="softmax", class_names: Sequence[str] | None = None,
          sample_rate: int | None = None, pretrained_members: bool = True,
          name: str = "stack") -> keras.Model:
    """A stacking ensemble as one registered model: members run on one raw-audio input and
    their probabilities are combined (`kerasaudio.ensemble.stack` underneath).

    It is what makes an ensemble a preset (`stack_fsdd_digits`): the members are given as
    JSON (`{"architecture", "config", "name"}` dicts, the manifest's form) or as preset
    names, and one `.weights.h5` file holds every member's weights.

    Args:
        members: two or more members, each a preset name (e.g. `"m5_fsdd_digits"`: its
            architecture, options, sample rate and, with `pretrained_members`, its
            trained weights) or a dict `{"architecture": registered name, "config":
            builder options, "name": model name, "sample_rate": Hz}` (random
            initialisation; a front end may be given as serialized layers, rebuilt in
            safe mode; `sample_rate` defaults to the stack's). Members at other rates
            get the input resampled in the graph. Stacks do not nest.
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
        classifier_activation: `"softmax"` (the output is a probability vector).
        class_names: class names of dict members (preset members bring their own).
        sample_rate: Hz of the input (default: the highest member rate); also the rate
            of dict members without their own.
        pretrained_members: load preset members' trained weights (False: random).
        name: model name.

    Example:
    ```python
    model = kerasaudio.create_model(
        "stack", members=["logmel_cnn_fsdd_digits", "mfcc_cnn_fsdd_digits"])
    model = kerasaudio.create_model("stack_fsdd_digits")   # the published five-member stack
    probs = model.predict(clips)                           # (n, 10), 8 kHz, 8000 samples
    ```

    Reference:
        Wolpert, "Stacked generalization", Neural Networks 5(2), 1992; malaya-speech's
        `classification.stack` (geometric mean of members' probabilities).
    """
    from kerasaudio import ensemble

    if not include_top:
        raise InvalidOptionError("stack: include_top must be True (an ensemble combines "
                                 "its members' probabilities).")
    if pooling is not None:
        raise InvalidOptionError(f"stack: pooling={pooling!r}; a stack has no pooling "
                                 "option (its members pool).")
    if classifier_activation != "softmax":
        raise InvalidOptionError(f"stack: classifier_activation={classifier_activation!r}; "
                                 "the output is the combined probabilities ('softmax').")
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
    rates = [sample_rate if rate is None else rate for _, rate in built]
    model = ensemble.stack([member for member, _ in built], aggregate=aggregate, name=name,
                           class_names=None if class_names is None else list(class_names),
                           sample_rate=sample_rate, input_length=length,
                           sample_rates=None if None in rates else rates)
    count = model.outputs[0].shape[-1]
    if classes is not None and classes != count:
        raise InvalidOptionError(f"stack: classes={classes} but the members have {count}.")
    return finish(model.inputs[0], model.outputs[0], name, weights)
