"""The model registry: `register_model`, `list_models`, `create_model`, `available_models`.

A model family is one file in `kerasaudio/models/` with a builder function decorated by
`register_model`; importing `kerasaudio.models` registers every family. Pretrained
presets (`m5_fsdd_digits`, ...) come from the manifest read by `kerasaudio.presets`.
"""

from __future__ import annotations

import fnmatch
import inspect
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from kerasaudio.errors import InvalidOptionError

__all__ = ["ModelInfo", "available_models", "create_model", "list_models", "register_model"]


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about one model builder.

    `parameters` is the total parameter count of `builder(**defaults)` (checked by the
    test suite, so the table never drifts from the code).

    Example:
    ```python
    info = kerasaudio.models.get_model_info("m5")
    info.parameters, info.size_mb, info.paper
    ```
    """

    name: str
    builder: Callable
    task: str
    input: str
    paper: str
    parameters: int
    defaults: dict = field(default_factory=dict)

    @property
    def size_mb(self) -> float:
        """float32 size of the default configuration's weights, in MB (10^6 bytes)."""
        return self.parameters * 4 / 1e6


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(name: str | None = None, *, task: str, input: str, paper: str,
                   parameters: int, defaults: dict | None = None):
    """Register a model builder under `name` (default: the function's name).

    Args:
        name: registry name, e.g. `"m5"`.
        task: what the model does, e.g. `"keyword spotting"`, `"speaker embedding"`.
        input: the input the default configuration takes, in words.
        paper: the reference (authors, title, venue, year).
        parameters: total parameters of `builder(**defaults)`.
        defaults: the keyword arguments of the configuration described by `input` and
            `parameters` (default: the builder's own defaults).

    Example:
    ```python
    @kerasaudio.models.register_model(task="keyword spotting", input="(8000, 1) audio",
                                      paper="Me et al. 2026", parameters=1234)
    def tiny_net(*, include_top=True, weights=None, input_shape=None, classes=10, ...):
        ...
    ```
    """

    def decorate(builder: Callable) -> Callable:
        key = name or builder.__name__
        if key in _REGISTRY and _REGISTRY[key].builder is not builder:
            raise InvalidOptionError(f"a model named {key!r} is already registered.")
        _REGISTRY[key] = ModelInfo(key, builder, task, input, paper, parameters,
                                   dict(defaults or {}))
        return builder

    return decorate


def _ensure_loaded() -> None:
    import kerasaudio.models  # noqa: F401  (registers every family)


def get_model_info(name: str) -> ModelInfo:
    """The `ModelInfo` registered under `name` (a clear error listing the names if none).

    Example:
    ```python
    kerasaudio.models.get_model_info("m5").parameters
    ```
    """
    _ensure_loaded()
    if name not in _REGISTRY:
        close = fnmatch.filter(_REGISTRY, f"*{name}*") or sorted(_REGISTRY)
        raise InvalidOptionError(f"no model named {name!r}; registered models: {close}.")
    return _REGISTRY[name]


def list_models(pattern: str = "*", *, pretrained: bool = False) -> list[str]:
    """Registered model names matching an fnmatch `pattern`, sorted (like `timm.list_models`).

    Args:
        pattern: shell-style wildcard, e.g. `"m*"` or `"vggvox_*"`.
        pretrained: list the pretrained presets instead (names such as
            `m5_fsdd_digits`, from the manifest; see `kerasaudio.presets`). Each one
            loads with `create_model(preset_name)`.

    Example:
    ```python
    kerasaudio.list_models("m*")  # ['m11', 'm18', 'm3', 'm34_res', 'm5']
    kerasaudio.list_models("m5*", pretrained=True)  # ['m5_fsdd_digits'] once published
    ```
    """
    _ensure_loaded()
    if pretrained:
        from kerasaudio import presets

        return presets.list_presets(pattern)
    return sorted(fnmatch.filter(_REGISTRY, pattern))


#: model -> (architecture, options) of every model `create_model` built (for `publish`).
_BUILDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _build_arguments(model) -> tuple[str, dict] | None:
    """`(architecture, options)` `create_model` built `model` with, or None."""
    try:
        return _BUILDS.get(model)
    except TypeError:  # not weak-referenceable / hashable
        return None


def _check_options(name: str, info: ModelInfo, kwargs: dict) -> None:
    accepted = inspect.signature(info.builder).parameters
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise InvalidOptionError(
            f"{name} has no option(s) {unknown}; its options: "
            f"{[p for p in accepted if p != 'weights']}."
        )


def create_model(name: str, /, *, weights=None, **kwargs):
    """Build a registered model or a pretrained preset: `create_model("m5", classes=10)`.

    Args:
        name: a registered name (see `list_models()`), or a preset name such as
            `"m5_fsdd_digits"` (see `list_models(pretrained=True)`): the architecture
            with the preset's options and trained weights.
        weights: None (random initialisation, or a preset's own weights), a path to a
            `.weights.h5` file saved from the same architecture and options, or a
            preset tag of `name` such as `"fsdd_digits"` (`create_model("m5",
            weights="fsdd_digits")` is `create_model("m5_fsdd_digits")`). A preset's
            weights come from the cache, the package or a verified download (see
            `kerasaudio.presets`); with a preset name, a path loads that file instead.
        **kwargs: the builder's keyword options (`include_top`, `input_shape`,
            `classes`, `pooling`, `classifier_activation`, `frontend`, and the family's
            own); unknown options are an error. With a preset, `include_top`,
            `pooling`, `classifier_activation` and `name` are free, `input_shape` may
            leave the time axis None, and every other option must be the preset's
            (checked before anything is built or downloaded).

    Returns:
        A `keras.Model`. A preset model is named after the preset and carries its
        `kerasaudio.presets.Preset` (class names, sample rate, ...) as
        `model.kerasaudio_preset`.

    Example:
    ```python
    model = kerasaudio.create_model("m5", input_shape=(8000, 1), classes=10, n_channel=32)
    model.count_params()  # 25674: 25,290 trainable (the torchaudio tutorial's M5) + 384
    ```
    """
    from kerasaudio import presets

    preset = presets.find_for(name, weights)
    architecture = name if preset is None else preset.architecture
    info = get_model_info(architecture)
    _check_options(architecture, info, kwargs)
    if preset is None:
        model = info.builder(weights=weights, **kwargs)
        options = kwargs
    else:
        options = presets.builder_options(preset, kwargs)
        path = weights if presets.is_local_path(weights) else presets.weights_path(preset)
        model = info.builder(weights=path, **options)
        model.kerasaudio_preset = preset
    _BUILDS[model] = (architecture, dict(options))
    return model


def available_models(*, pretrained: bool = False):
    """One row per registered model: name, task, input, parameters, size, paper.

    Parameters and float32 size (MB) are those of each builder's default configuration.

    Args:
        pretrained: one row per pretrained preset instead (see
            `kerasaudio.presets.presets_table`): architecture, task, classes, sample
            rate, input length, parameters, weights file size (MB) and a column per
            metric (e.g. `official_accuracy`, `loso_accuracy`).

    Returns:
        A `pandas.DataFrame` indexed by model (or preset) name.

    Example:
    ```python
    print(kerasaudio.available_models().to_string())
    print(kerasaudio.available_models(pretrained=True).to_string())
    ```
    """
    import pandas as pd

    _ensure_loaded()
    if pretrained:
        from kerasaudio import presets

        return presets.presets_table()
    rows = [
        {"name": info.name, "task": info.task, "input": info.input,
         "parameters": info.parameters, "size_mb": round(info.size_mb, 2),
         "paper": info.paper}
        for info in sorted(_REGISTRY.values(), key=lambda i: i.name)
    ]
    return pd.DataFrame(rows).set_index("name")
