"""The model registry: `register_model`, `list_models`, `create_model`, `available_models`.

A model family is one file in `kerasaudio/models/` with a builder function decorated by
`register_model`; importing `kerasaudio.models` registers every family.
"""

from __future__ import annotations

import fnmatch
import inspect
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
        pretrained: list only names that have pretrained weights (preset names such as
            `m5_fsdd_digits`). No presets are published yet, so this lists nothing.

    Example:
    ```python
    kerasaudio.list_models("m*")  # ['m11', 'm18', 'm3', 'm34_res', 'm5']
    ```
    """
    _ensure_loaded()
    if pretrained:
        return []
    return sorted(fnmatch.filter(_REGISTRY, pattern))


def create_model(name: str, *, weights=None, **kwargs):
    """Build a registered model: `create_model("m5", classes=10)`.

    Args:
        name: a registered name (see `list_models()`).
        weights: None (random initialisation) or a path to a `.weights.h5` file saved
            from the same architecture and options.
        **kwargs: the builder's keyword options (`include_top`, `input_shape`,
            `classes`, `pooling`, `classifier_activation`, `frontend`, and the family's
            own); unknown options are an error.

    Returns:
        A `keras.Model`.

    Example:
    ```python
    model = kerasaudio.create_model("m5", input_shape=(8000, 1), classes=10, n_channel=32)
    model.count_params()  # 25290 (the torchaudio tutorial's M5)
    ```
    """
    info = get_model_info(name)
    accepted = inspect.signature(info.builder).parameters
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise InvalidOptionError(
            f"{name} has no option(s) {unknown}; its options: "
            f"{[p for p in accepted if p != 'weights']}."
        )
    return info.builder(weights=weights, **kwargs)


def available_models():
    """One row per registered model: name, task, input, parameters, size, paper.

    Parameters and float32 size (MB) are those of each builder's default configuration.

    Returns:
        A `pandas.DataFrame` indexed by model name.

    Example:
    ```python
    print(kerasaudio.available_models().to_string())
    ```
    """
    import pandas as pd

    _ensure_loaded()
    rows = [
        {"name": info.name, "task": info.task, "input": info.input,
         "parameters": info.parameters, "size_mb": round(info.size_mb, 2),
         "paper": info.paper}
        for info in sorted(_REGISTRY.values(), key=lambda i: i.name)
    ]
    return pd.DataFrame(rows).set_index("name")
