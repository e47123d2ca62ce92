"""`create_model`, `list_models`, `available_models`: architectures and pretrained presets.

The composition layer: it joins the model registry (`kerasaudio.models`, architectures
only) and the weights layer (`kerasaudio.weights`, the manifest and verified files), and
registers the ensembles' `stack` family by importing `kerasaudio.ensemble`. Neither of
those imports this module.

A *preset* is a registered architecture, the builder options it was trained with, and a
weights file; its manifest entry is a `kerasaudio.weights.Preset`. Ways to load one:

```python
kerasaudio.list_models(pretrained=True)                # the preset names
model = kerasaudio.create_model("complex_cnn", weights="logmel_cnn_fsdd_digits")
model = kerasaudio.create_model("m5", weights="fsdd_digits")   # architecture + tag
model = kerasaudio.create_model("m5_fsdd_digits")      # by preset name
model.save_weights("my.weights.h5")                    # e.g. after fine-tuning
model = kerasaudio.create_model("m5_fsdd_digits", weights="my.weights.h5")  # own file
tiny = kerasaudio.create_model("ast", classes=3, hidden_size=32, num_hidden_layers=1,
                               num_attention_heads=2, intermediate_size=48, max_length=32)
kerasaudio.models.ast.save_huggingface(tiny, "ast-checkpoint")  # a transformers checkpoint
model = kerasaudio.create_model("ast-checkpoint/")     # a directory; its family from config
# create_model("hf://MIT/ast-finetuned-speech-commands-v2") takes one from the hub
```

## Hugging Face checkpoints

`create_model("hf://ORG/NAME[@REVISION]")`, `create_model(directory)` and
`create_model(ARCH, weights=<either>)` read a transformers checkpoint
(`kerasaudio.weights.huggingface`: downloaded with huggingface_hub, tensors as numpy,
never a pickle) and pick its family from `config.json`'s `model_type` (or, without
one, its `architectures` class names) in `HF_FAMILIES`; the family's
`convert.from_huggingface(directory, config=...)` builds the model, and its model-info
record carries the checkpoint's `id2label` as class names, the sample rate, the task and
(from the hub) `hf://ORG/NAME@COMMIT` as its source.

## Where the weights come from (in this order)

1. `weights=PATH`, an explicit local `.weights.h5` file (used as given: it may be a
   fine-tuned copy, so its sha256 is not checked; it must still fit the model).
2. The cache, the package, then a verified download: `kerasaudio.weights.weights_path`
   (`KERASAUDIO_HOME`, `KERASAUDIO_WEIGHTS_URL`, `KERASAUDIO_OFFLINE`, ...).

Before anything is built or downloaded, the preset's entry is checked against the
registry (its architecture is registered and takes every option of its config, a stack's
members too; a `kerasaudio.errors.ManifestError` otherwise) and the caller's options
against the preset (only `include_top`, `pooling`, `classifier_activation`, `name` and a
variable-length `input_shape` may differ).

## The model-info record

Every model `create_model` returns is a `kerasaudio.models.AudioModel` carrying a
model-info record (`kerasaudio.info.model_info(model)`: task, class names, sample rate,
input length, preset name) in its config, so a `.keras` file keeps it. A preset model's
record is its manifest entry's (`Preset.info`; without class names when
`include_top=False`), and the model is named after the preset unless given `name=`. An
architecture's record holds only what its layers fix (a front end's sample rate, then the
fixed input length; nothing else is guessed). `preset_of(model)` returns the `Preset` the
record names (license, metrics, ...), whatever the model's name.
"""

from __future__ import annotations

import copy
import difflib
import fnmatch
import importlib
import inspect
import os
from collections.abc import Mapping, Sequence

import numpy as np

import kerasaudio.ensemble  # noqa: F401  (registers the "stack" family)
from kerasaudio.errors import InvalidOptionError, ManifestError
from kerasaudio.models.audio_model import with_info
from kerasaudio.models.registry import (
    build_model,
    check_options,
    get_model_info,
    list_architectures,
)
from kerasaudio.weights import (
    Preset,
    huggingface,
    jsonable,
    list_presets,
    load_manifest,
    preset_of,
    weights_path,
)
from kerasaudio.weights import get_preset as _read_preset
from kerasaudio.weights.checkpoints import find_checkpoint

__all__ = ["FREE_OPTIONS", "HF_FAMILIES", "Preset", "available_models", "check_preset",
           "create_model", "get_preset", "list_models", "load_huggingface", "preset_of",
           "presets_table", "representative_clips"]

#: Options a caller may change on a preset model: they do not change the weights.
FREE_OPTIONS = ("include_top", "pooling", "classifier_activation", "name")


# --------------------------------------------------------------------------- presets


def check_preset(preset: Preset) -> Preset:
    """Check a manifest entry against the model registry; return it.

    The weights layer checks the schema (`kerasaudio.weights.validate_entry`) but cannot
    know the models; here the architecture must be registered and take every option of
    the entry's config (for a stack, every member's architecture and options too).

    Raises:
        ManifestError: naming the manifest, the preset and the field.

    Example:
    ```python
    kerasaudio.hub.check_preset(kerasaudio.weights.get_preset("m5_fsdd_digits"))
    ```
    """
    where = preset.manifest if preset.manifest is not None else "manifest"

    def fail(message: str):
        raise ManifestError(f"{where}: preset {preset.name!r}: {message}")

    registered = list_architectures()
    architecture = preset.architecture
    if architecture not in registered:
        fail(f"architecture {architecture!r} is not a registered model; registered: "
             f"{registered}.")
    accepted = set(get_model_info(architecture).options) - {"weights", "name"}
    bad = sorted(set(preset.config) - accepted)
    if bad:
        fail(f"config has option(s) {bad} that {architecture} does not take (and "
             f"'weights'/'name' never belong there); its options: {sorted(accepted)}.")
    if architecture == "stack":
        for i, member in enumerate(preset.config["members"]):
            label = f"config 'members'[{i}]"
            if member["architecture"] not in registered:
                fail(f"{label} 'architecture' {member['architecture']!r} is not a "
                     "registered model (stacks do not nest).")
            bad = sorted(set(member["config"])
                         - set(get_model_info(member["architecture"]).options))
            if bad:
                fail(f"{label}: {member['architecture']} takes no option(s) {bad}.")
    return preset


def get_preset(name: str, *, manifest: str | os.PathLike | None = None) -> Preset:
    """The `Preset` named `name`, its entry checked against the model registry.

    Args:
        name: a preset name such as `"m5_fsdd_digits"`.
        manifest: the manifest file (default `kerasaudio.weights.manifest_path()`).

    Raises:
        InvalidOptionError: no such preset.
        ManifestError: the entry breaks the schema, names an unregistered architecture,
            or holds options its builder does not take.

    Example:
    ```python
    preset = kerasaudio.hub.get_preset("m5_fsdd_digits")
    preset.class_names, preset.sample_rate  # ('0', ..., '9'), 8000
    ```
    """
    return check_preset(_read_preset(name, manifest=manifest))


def representative_clips(preset: Preset | str) -> tuple[np.ndarray, np.ndarray]:
    """Calibration clips for an FSDD preset: the sample shipped in the package.

    `kerasaudio.datasets.fsdd.sample_clips` with the preset's labels (`"digits"`: the
    digit, `"speakers"`: the speaker), class names, sample rate and input length.

    Returns:
        `(clips, labels)`: `(n, input_length)` float32 clips and their indices in the
        preset's `class_names`.

    Raises:
        InvalidOptionError: the preset's task has no bundled clips (pass your own data).

    Example:
    ```python
    clips, labels = kerasaudio.hub.representative_clips("m5_fsdd_digits")
    clips.shape  # (120, 8000)
    ```
    """
    from kerasaudio.datasets import fsdd

    if isinstance(preset, str):
        preset = get_preset(preset)
    label = {"digits": "digit", "speakers": "speaker"}.get(preset.task)
    if label is None:
        raise InvalidOptionError(f"preset {preset.name!r} (task {preset.task!r}) has no "
                                 "bundled clips; pass representative data of your own.")
    return fsdd.sample_clips(label=label, class_names=preset.class_names,
                             sample_rate=preset.sample_rate,
                             input_length=preset.input_length)


def _is_local_path(weights) -> bool:
    """True if `weights` names a local file or directory (a checkpoint directory, with
    or without a trailing separator) rather than a preset tag."""
    if isinstance(weights, os.PathLike):
        return True
    if not isinstance(weights, str):
        return False
    return (weights.endswith(".weights.h5") or os.sep in weights
            or bool(os.altsep and os.altsep in weights) or os.path.isfile(weights)
            or os.path.isdir(weights))


def _find_preset(name: str, weights) -> Preset | None:
    """The preset `create_model(name, weights=...)` asks for, or None for a plain build.

    Raises:
        InvalidOptionError: `weights` is a tag (not a path) that `name` has no preset
            for (listing the presets that exist for it), or `name` is neither a
            registered model nor a preset.
    """
    registered = list_architectures()
    if name in registered:
        if (weights is None or not isinstance(weights, str) or _is_local_path(weights)
                or find_checkpoint(weights) is not None):  # a released .pth, by name
            return None
        presets = load_manifest()
        for candidate in (weights, f"{name}_{weights}"):
            preset = presets.get(candidate)
            if preset is not None and preset.architecture == name:
                return check_preset(preset)
        mine = sorted(p for p, preset in presets.items() if preset.architecture == name)
        if weights in presets:
            raise InvalidOptionError(
                f"{name}: weights={weights!r} is a preset of architecture "
                f"{presets[weights].architecture!r}, not {name!r}; presets for {name}: "
                f"{mine or 'none published yet'}.")
        tags = [presets[p].tag for p in mine]
        raise InvalidOptionError(
            f"{name}: weights={weights!r} is neither None, a .weights.h5 path, nor a "
            f"preset of {name} (there are no ImageNet audio weights). Presets for {name}: "
            f"{tags or 'none published yet'}"
            f"{'' if tags else '; kerasaudio.list_models(pretrained=True) lists them all'}.")
    presets = load_manifest()
    if name not in presets:
        close = fnmatch.filter(registered, f"*{name}*") or registered
        likely = difflib.get_close_matches(name, [*presets, *registered], n=3)
        hint = f"did you mean {' or '.join(map(repr, likely))}? " if likely else ""
        raise InvalidOptionError(
            f"no preset named {name!r}; {hint}presets: "
            f"{sorted(presets) or 'none published yet'}"
            f"; and no model named {name!r}; registered models: {close}.")
    preset = check_preset(presets[name])
    if weights is not None and not _is_local_path(weights) and weights not in (
            preset.name, preset.tag):
        raise InvalidOptionError(
            f"{name}: weights={weights!r}; a preset takes None (its published weights), "
            f"{preset.tag!r}, or a path to a .weights.h5 file.")
    return preset


def _builder_options(preset: Preset, kwargs: dict) -> dict:
    """The builder's options for `preset` with the caller's `kwargs`, checked before building.

    `include_top`, `pooling`, `classifier_activation` and `name` are free; `classes` must
    be the preset's; `input_shape` must be the preset's (its time axis may be None:
    variable length); every other option must equal the preset's config.
    """
    defaults = inspect.signature(get_model_info(preset.architecture).builder).parameters
    options = preset.builder_kwargs()
    include_top = kwargs.get("include_top", True)
    for key, value in kwargs.items():
        if key in FREE_OPTIONS:
            continue
        if key == "classes":
            if include_top and value != preset.classes:
                raise InvalidOptionError(
                    f"{preset.name} has {preset.classes} classes {list(preset.class_names)}"
                    f"; got classes={value!r}. Load the preset with its classes (or "
                    "include_top=False for its features) and train a new head for others.")
            continue
        if key == "input_shape":
            given = tuple(value) if isinstance(value, (list, tuple)) else value
            want = preset.input_shape
            if not (isinstance(given, tuple) and len(given) == len(want)
                    and given[0] in (want[0], None) and given[1:] == want[1:]):
                raise InvalidOptionError(
                    f"{preset.name} takes input_shape={want} ({preset.input_length} samples"
                    f" at {preset.sample_rate} Hz); got input_shape={value!r}. Pass "
                    f"{want} or {(None, *want[1:])} (any length).")
            options["input_shape"] = given
            continue
        if key == "frontend":
            if value != preset.config.get("frontend"):
                raise InvalidOptionError(
                    f"{preset.name}: the front end is part of the preset "
                    f"(frontend={preset.config.get('frontend')!r} in its manifest entry); "
                    f"got frontend={value!r}. Leave it out.")
            continue
        trained = preset.config[key] if key in preset.config else defaults[key].default
        try:
            same = jsonable(value) == jsonable(trained)
        except TypeError:
            same = False
        if not same:
            raise InvalidOptionError(
                f"{preset.name} was trained with {key}={trained!r}; got {key}={value!r}. "
                "Only include_top, pooling, classifier_activation, name, and an "
                "input_shape with a None time axis may differ from the preset.")
    options.update({k: kwargs[k] for k in FREE_OPTIONS if k in kwargs})
    options.setdefault("name", preset.name)
    return options


def _expand_members(members, *, pretrained: bool):
    """A stack's members with every preset name replaced by the preset's complete
    description (architecture, config, name, sample rate, class names and, when
    `pretrained`, its verified weights file); dicts pass unchanged."""
    if isinstance(members, (str, Mapping)) or not isinstance(members, Sequence):
        return members  # the builder says what a member list is
    presets = None
    chosen = {}
    for i, member in enumerate(members):
        if isinstance(member, Preset):
            chosen[i] = check_preset(member)
        elif isinstance(member, str):
            presets = load_manifest() if presets is None else presets
            if member not in presets:
                raise InvalidOptionError(
                    f"stack: member {i} is {member!r}, not a preset name; give a preset "
                    "(see list_models(pretrained=True)) or a dict {'architecture': ..., "
                    "'config': {...}, 'name': ...}.")
            chosen[i] = check_preset(presets[member])
    expanded = list(members)
    for i, preset in chosen.items():  # every name checked before any file is fetched
        expanded[i] = {"architecture": preset.architecture,
                       "config": copy.deepcopy(preset.config), "name": preset.name,
                       "sample_rate": preset.sample_rate,
                       "class_names": list(preset.class_names)}
        if pretrained:
            expanded[i]["weights"] = str(weights_path(preset))
    return expanded


# --------------------------------------------------------------------------- Hugging Face

#: Hugging Face `model_type` -> (the family's converter module, the registered
#: architectures it builds as fnmatch patterns, the `architectures` class-name prefix).
#: Each module defines `from_huggingface(directory, *, config=None) -> AudioModel`.
HF_FAMILIES = {
    "audio-spectrogram-transformer": ("kerasaudio.models.ast.convert", ("ast",), "AST"),
    "wav2vec2": ("kerasaudio.models.wav2vec2.convert", ("wav2vec2*",), "Wav2Vec2"),
    "hubert": ("kerasaudio.models.hubert.convert", ("hubert*",), "Hubert"),
    "wavlm": ("kerasaudio.models.wavlm.convert", ("wavlm*",), "WavLM"),
}


def _is_checkpoint(source) -> bool:
    """True if `source` is an `hf://` reference or a local directory (a checkpoint)."""
    if huggingface.is_reference(source):
        return True
    return isinstance(source, (str, os.PathLike)) and os.path.isdir(os.fspath(source))


def _model_type(config: Mapping, where) -> str:
    """The `HF_FAMILIES` key of a parsed `config.json`."""
    model_type = config.get("model_type")
    if model_type is None:
        classes = [str(c) for c in config.get("architectures") or ()]
        for key, (_, _, prefix) in HF_FAMILIES.items():
            if any(c.startswith(prefix) for c in classes):
                return key
    if model_type not in HF_FAMILIES:
        found = (f"model_type={model_type!r}" if model_type is not None else
                 f"no model_type and architectures={config.get('architectures')!r}")
        raise InvalidOptionError(
            f"{where}: {found} is not a checkpoint kerasaudio converts; supported "
            f"model_type values: {sorted(HF_FAMILIES)}.")
    return model_type


def _has_converter(module: str) -> bool:
    try:
        return hasattr(importlib.import_module(module), "from_huggingface")
    except ModuleNotFoundError:
        return False


def _converter(model_type: str):
    """`from_huggingface` of `model_type`'s family (an error if this kerasaudio lacks it)."""
    module, _, _ = HF_FAMILIES[model_type]
    try:
        convert = getattr(importlib.import_module(module), "from_huggingface", None)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module.startswith(exc.name):
            raise
        convert = None
    if convert is None:
        available = sorted(key for key, (name, _, _) in HF_FAMILIES.items()
                           if _has_converter(name))
        raise InvalidOptionError(
            f"model_type={model_type!r} converts with {module}.from_huggingface, which "
            f"this kerasaudio does not have; converters present: {available}.")
    return convert


def load_huggingface(source: str | os.PathLike, /, *, architecture: str | None = None,
                     **options):
    """Build the Keras model of a transformers checkpoint, with its weights and labels.

    `create_model("hf://...")`, `create_model(directory)` and `create_model(ARCH,
    weights=...)` call this. The checkpoint's `config.json` names the family
    (`model_type`, or its `architectures` without one; `HF_FAMILIES`), whose
    `convert.from_huggingface` builds the model.

    Args:
        source: `"hf://ORG/NAME[@REVISION]"` (downloaded with huggingface_hub into its
            cache, honouring `HF_ENDPOINT`, `HF_HUB_OFFLINE` and its token; see
            `kerasaudio.weights.huggingface.snapshot`) or a checkpoint directory (with
            or without a trailing slash).
        architecture: the registered architecture the caller asked for
            (`create_model(ARCH, weights=...)`); the checkpoint must be of its family.
        **options: the family's `from_huggingface` options (for AST: `include_top`,
            `pooling`, `frontend`, `input_shape`, `classifier_activation`, ...).

    Returns:
        A `kerasaudio.models.AudioModel`; its model-info record holds the checkpoint's
        class names (`id2label`, in output order), sample rate and task, and for a hub
        download `preset="hf://ORG/NAME@COMMIT"`.

    Raises:
        InvalidOptionError: a model type kerasaudio does not convert (the supported ones
            are listed), a checkpoint of another family than `architecture`, or options
            the family does not take.
        WeightsNotFoundError, DownloadError: see `kerasaudio.weights.huggingface.snapshot`.
        ModelFileNotFoundError, ModelFileError: a directory without (readable)
            `config.json` or weights.

    Example:
    ```python
    from kerasaudio.models.ast import AST, save_huggingface
    save_huggingface(AST(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=48, max_length=100, classes=2,
                         class_names=["yes", "no"]), "tiny-ast")
    model = kerasaudio.hub.load_huggingface("tiny-ast/")
    kerasaudio.info.model_info(model).class_names   # ('yes', 'no')
    ```
    """
    directory = huggingface.resolve(source)
    config = huggingface.read_config(directory)
    model_type = _model_type(config, source)
    _, patterns, _ = HF_FAMILIES[model_type]
    if architecture is not None and not any(fnmatch.fnmatch(architecture, p)
                                            for p in patterns):
        raise InvalidOptionError(
            f"{architecture}: weights={os.fspath(source)!r} is a {model_type!r} checkpoint, "
            f"which builds {list(patterns)}; use create_model({os.fspath(source)!r}).")
    convert = _converter(model_type)
    parameters = inspect.signature(convert).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    refused = sorted(k for k in options if not takes_any and k not in parameters)
    if refused:
        raise InvalidOptionError(f"{model_type} checkpoints take no option(s) {refused}.")
    model = convert(directory, config=config, **options)
    if huggingface.is_reference(source):
        repo, _ = huggingface.parse_reference(source)
        model = with_info(model, preset=f"hf://{repo}@{directory.name}")
    return model


# --------------------------------------------------------------------------- the API


def list_models(pattern: str = "*", *, pretrained: bool = False) -> list[str]:
    """Registered model names matching an fnmatch `pattern`, sorted (like `timm.list_models`).

    Args:
        pattern: shell-style wildcard, e.g. `"m*"` or `"vggvox_*"`.
        pretrained: list the pretrained presets instead (names such as
            `m5_fsdd_digits`, from the manifest). Each one loads with
            `create_model(preset_name)`.

    Example:
    ```python
    kerasaudio.list_models("m*")  # ['m11', 'm18', 'm3', 'm34_res', 'm5']
    kerasaudio.list_models("m5*", pretrained=True)  # ['m5_fsdd_digits']
    ```
    """
    if pretrained:
        return list_presets(pattern)
    return list_architectures(pattern)


def create_model(name: str, /, *, weights=None, **kwargs):
    """Build a registered model or a pretrained preset: `create_model("m5", classes=10)`.

    Args:
        name: a registered name (see `list_models()`), or a preset name such as
            `"m5_fsdd_digits"` (see `list_models(pretrained=True)`): the architecture
<<<<<<< HEAD
            with the preset's options and trained weights; or a Hugging Face checkpoint,
            `"hf://ORG/NAME[@REVISION]"` or a local checkpoint directory (see
            `load_huggingface`).
        weights: None (random initialisation, or a preset's own weights), a path to a
=======
            with the preset's options and trained weights.
        weights: None (the builder's default: random initialisation, or the weights a
            family ships, such as Silero VAD's; a preset's own weights), a path to a
>>>>>>> wt-silero
            `.weights.h5` file saved from the same architecture and options, or a
            preset tag of `name` such as `"fsdd_digits"` (`create_model("m5",
            weights="fsdd_digits")` is `create_model("m5_fsdd_digits")`). A preset's
            weights come from the cache, the package or a verified download (see
            `kerasaudio.weights`); with a preset name, a path loads that file instead.
            With an architecture, also a Hugging Face checkpoint (`"hf://..."` or a
            directory) of that architecture's family.
        **kwargs: the builder's keyword options (`include_top`, `input_shape`,
            `classes`, `pooling`, `classifier_activation`, `frontend`, and the family's
            own); unknown options are an error. With a preset, `include_top`,
            `pooling`, `classifier_activation` and `name` are free, `input_shape` may
            leave the time axis None, and every other option must be the preset's
            (checked before anything is built or downloaded). For `"stack"`, `members`
            may name presets (see `kerasaudio.ensemble.stack_model`).

    Returns:
        A `kerasaudio.models.AudioModel`. A preset model is named after the preset and
        its model-info record (`kerasaudio.info.model_info`) is the preset's task, class
        names, sample rate, input length and name; `preset_of(model)` finds its
        `kerasaudio.weights.Preset`.

    Raises:
        InvalidOptionError: an unknown name or option, or options that contradict the
            preset.
        ManifestError: the preset's entry does not fit the registry.
        WeightsNotFoundError: the preset's weights are nowhere and were not downloaded.

    Example:
    ```python
    model = kerasaudio.create_model("m5", input_shape=(8000, 1), classes=10, n_channel=32)
    model.count_params()  # 25674: 25,290 trainable (the torchaudio tutorial's M5) + 384
    ```
    """
    registered = isinstance(name, str) and name in list_architectures()
    if registered and weights is not None and _is_checkpoint(weights):
        return load_huggingface(weights, architecture=name, **kwargs)
    if not registered and _is_checkpoint(name) and (
            huggingface.is_reference(name) or name not in load_manifest()):
        if weights is not None:
            raise InvalidOptionError(f"{name!r} is a checkpoint with its own weights; got "
                                     f"weights={weights!r} too.")
        return load_huggingface(name, **kwargs)
    preset = _find_preset(name, weights)
    architecture = name if preset is None else preset.architecture
    check_options(architecture, kwargs)
    if preset is None:
        if architecture == "stack" and "members" in kwargs:
            pretrained = bool(kwargs.get("pretrained_members", True)) and weights is None
            kwargs = {**kwargs, "members": _expand_members(kwargs["members"],
                                                           pretrained=pretrained)}
        # weights=None keeps the builder's own default (random, or a family's shipped
        # weights such as Silero VAD's).
        if weights is not None:
            kwargs = {**kwargs, "weights": weights}
        return build_model(architecture, **kwargs)
    options = _builder_options(preset, kwargs)
    path = weights if _is_local_path(weights) else weights_path(preset)
    model = build_model(architecture, weights=path, **options)
    record = preset.info
    if not options.get("include_top", True):  # the outputs are features, not the classes
        record = record.replace(class_names=None)
    return with_info(model, record)


def _metric_numbers(metrics: dict) -> dict:
    """The top-level numbers of a preset's metrics, plus `epochs` and `train_seconds` from
    `metrics["training"]` (`epochs`, `official_seconds`) where the top level lacks them."""
    def number(value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    values = {key: value for key, value in metrics.items() if number(value)}
    training = metrics.get("training")
    if isinstance(training, dict):
        for key, source in (("epochs", "epochs"), ("train_seconds", "official_seconds")):
            if key not in values and number(training.get(source)):
                values[key] = training[source]
    return values


def presets_table(manifest: str | os.PathLike | None = None):
    """One row per preset: architecture, task, classes, sample rate, parameters, size, metrics.

    `size_mb` is the weights file's size (the download) in MB; every top-level number in
    the entries' `metrics` (e.g. `official_accuracy`, `loso_accuracy`) is a column, and
    so are `epochs` and `train_seconds` (the official-split training) when a recipe
    nested them under `metrics["training"]`.
    `kerasaudio.available_models(pretrained=True)` returns this table.

    Returns:
        A `pandas.DataFrame` indexed by preset name (empty when no preset is published).

    Example:
    ```python
    print(kerasaudio.hub.presets_table().to_string())
    ```
    """
    import pandas as pd

    presets = load_manifest(manifest)
    columns = ["preset", "architecture", "task", "classes", "sample_rate", "input_length",
               "parameters", "size_mb"]
    numbers = {name: _metric_numbers(preset.metrics) for name, preset in presets.items()}
    metric_columns = sorted({key for values in numbers.values() for key in values})
    rows = []
    for name in sorted(presets):
        preset = presets[name]
        row = {"preset": name, "architecture": preset.architecture, "task": preset.task,
               "classes": preset.classes, "sample_rate": preset.sample_rate,
               "input_length": preset.input_length, "parameters": preset.parameters,
               "size_mb": round(preset.size_mb, 2)}
        row.update({key: numbers[name].get(key) for key in metric_columns})
        rows.append(row)
    return pd.DataFrame(rows, columns=columns + metric_columns).set_index("preset")


def available_models(*, pretrained: bool = False):
    """One row per registered model: name, task, input, parameters, size, paper.

    Parameters and float32 size (MB) are those of each builder's default configuration.

    Args:
        pretrained: one row per pretrained preset instead (`presets_table`):
            architecture, task, classes, sample rate, input length, parameters, weights
            file size (MB) and a column per metric (e.g. `official_accuracy`,
            `loso_accuracy`).

    Returns:
        A `pandas.DataFrame` indexed by model (or preset) name.

    Example:
    ```python
    print(kerasaudio.available_models().to_string())
    print(kerasaudio.available_models(pretrained=True).to_string())
    ```
    """
    import pandas as pd

    if pretrained:
        return presets_table()
    rows = []
    for name in list_architectures():
        info = get_model_info(name)
        rows.append({"name": info.name, "task": info.task, "input": info.input,
                     "parameters": info.parameters, "size_mb": round(info.size_mb, 2),
                     "paper": info.paper})
    return pd.DataFrame(rows).set_index("name")
