"""The model registry: `register_model`, `get_model_info`, `list_architectures`, `build_model`.

A model family is one file in `kerasaudio/models/` with a builder function decorated by
`register_model`; importing `kerasaudio.models` registers every family (and
`kerasaudio.ensemble` registers the `stack` family). The registry knows architectures
only: pretrained presets, and `kerasaudio.create_model`, which builds either, live one
floor up in `kerasaudio.hub`.
"""

from __future__ import annotations

import fnmatch
import inspect
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from kerasaudio.errors import InvalidOptionError
from kerasaudio.info import model_info
from kerasaudio.models.audio_model import AudioModel, frontend_info, with_info

__all__ = ["ModelInfo", "build_arguments", "build_model", "get_model_info",
           "list_architectures", "register_model"]


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

    @property
    def options(self) -> list[str]:
        """The builder's keyword options, in signature order."""
        return list(inspect.signature(self.builder).parameters)


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
    import keras
    from kerasaudio.models.common import finish

    @kerasaudio.models.register_model(task="keyword spotting", input="(8000,) audio, 8 kHz",
                                      paper="(authors, title, venue, year)", parameters=330)
    def tiny_net(*, include_top=True, weights=None, input_shape=(8000,), classes=10,
                 name="tiny_net"):
        inputs = keras.Input(input_shape, name="audio")
        x = kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=256, n_mels=32)(inputs)
        x = keras.layers.GlobalAveragePooling1D()(x)
        if include_top:
            x = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
        return finish(inputs, x, name, weights)  # an AudioModel; loads `weights`

    model = kerasaudio.create_model("tiny_net", classes=3)
    model.count_params(), kerasaudio.info.model_info(model).sample_rate  # (99, 8000)
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


def get_model_info(name: str) -> ModelInfo:
    """The `ModelInfo` registered under `name` (a clear error listing the names if none).

    Example:
    ```python
    kerasaudio.models.get_model_info("m5").parameters
    ```
    """
    if name not in _REGISTRY:
        close = fnmatch.filter(_REGISTRY, f"*{name}*") or sorted(_REGISTRY)
        raise InvalidOptionError(f"no model named {name!r}; registered models: {close}.")
    return _REGISTRY[name]


def list_architectures(pattern: str = "*") -> list[str]:
    """Registered architecture names matching an fnmatch `pattern`, sorted.

    `kerasaudio.list_models` lists these, or the pretrained presets.

    Example:
    ```python
    kerasaudio.models.list_architectures("m*")  # ['m11', 'm18', 'm3', 'm34_res', 'm5']
    ```
    """
    return sorted(fnmatch.filter(_REGISTRY, pattern))


#: model -> (architecture, options) of every model `build_model` built (for publishing
#: and for describing a stack's members).
_BUILDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def build_arguments(model) -> tuple[str, dict] | None:
    """`(architecture, options)` `build_model` (so `kerasaudio.create_model`) built `model`
    with, or None for any other model.

    Example:
    ```python
    model = kerasaudio.create_model("m5", n_channel=8, classes=3)
    kerasaudio.models.build_arguments(model)  # ('m5', {'n_channel': 8, 'classes': 3})
    ```
    """
    try:
        return _BUILDS.get(model)
    except TypeError:  # not weak-referenceable / hashable
        return None


def check_options(name: str, kwargs: dict) -> None:
    """Raise `InvalidOptionError` if `kwargs` holds an option the builder of `name` lacks.

    Example:
    ```python
    kerasaudio.models.registry.check_options("m5", {"n_channel": 8})
    ```
    """
    accepted = get_model_info(name).options
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise InvalidOptionError(
            f"{name} has no option(s) {unknown}; its options: "
            f"{[p for p in accepted if p != 'weights']}."
        )


def build_model(name: str, /, *, weights=None, **kwargs):
    """Build the registered architecture `name` with its builder's keyword options.

    The architecture-only half of `kerasaudio.create_model` (which also takes preset
    names and tags): options are checked against the builder's signature before anything
    is built, and the call is recorded for `build_arguments`. The model is an
    `AudioModel` (kerasaudio's builders make one; a functional `keras.Model` from another
    builder is wrapped, over the same layers, with what its own layers fix in the record:
    a raw-audio front end's sample rate, see `audio_model.frontend_info`), so it carries
    a model-info record.

    Args:
        name: a registered name (see `list_architectures()`).
        weights: None (the builder's default: random initialisation, or the weights
            the family ships, as Silero VAD does) or what the builder takes (a path to a
            `.weights.h5` file saved from the same architecture and options).
        **kwargs: the builder's keyword options; unknown options are an error.

    Returns:
        A `kerasaudio.models.AudioModel` (a subclassed model that is not one is returned
        as built).

    Example:
    ```python
    model = kerasaudio.models.build_model("m5", input_shape=(8000, 1), classes=10)
    ```
    """
    info = get_model_info(name)
    check_options(name, kwargs)
    model = info.builder(**kwargs) if weights is None else info.builder(weights=weights,
                                                                         **kwargs)
    if not isinstance(model, AudioModel):
        try:  # what its own layers fix (a front end's sample rate), then its record
            record = frontend_info(model).merge(model_info(model))
        except (AttributeError, ValueError):  # no functional graph to look at
            record = model_info(model)
        try:
            model = with_info(model, record)
        except InvalidOptionError:  # a subclassed model without a functional graph
            pass
    _BUILDS[model] = (name, dict(kwargs))
    return model
