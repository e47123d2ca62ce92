"""The recipe's model: raw audio in, the front end inside, and its training twin.

`build_model(recipe)` is the end-to-end model (what is saved, evaluated and published);
`build_model(recipe, training=True)` is its *training twin*: the same layers and weights
with the recipe's augmentation layers before (waveform) and after (features) the front
end, all the identity outside training. The trained weights go from the twin into the
plain model (`twin.get_weights()` fits it: augmentation layers hold no weights).

`builder_config(recipe)` is the exact `create_model` call as JSON (a run's
`config.json`); `build_from_config` rebuilds the model from it.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence

import keras

from kerasaudio.errors import InvalidOptionError
from kerasaudio.training.recipe import Recipe, make_layer

__all__ = ["CONFIG_FORMAT", "build_from_config", "build_model", "builder_config"]

#: Version of the `config.json` layout (raised when it changes incompatibly).
CONFIG_FORMAT = 1


def _frontend_argument(layers: list):
    """No layers: the family's own (empty) default front end, i.e. raw audio straight in."""
    return layers if layers else "default"


def build_model(recipe: Recipe, *, training: bool = False,
                class_names: Sequence[str] | None = None) -> keras.Model:
    """The recipe's model: raw audio `(samples,)` in, class probabilities out.

    Args:
        recipe: the recipe.
        training: build the training twin (augmentation layers around the front end).
        class_names: the output classes (default: the recipe task's); a speaker fold
            trains on fewer speakers than the task has.

    Returns:
        A Keras model built by `kerasaudio.create_model`.

    Example:
    ```python
    from kerasaudio.training import build_model, load_recipe

    recipe = load_recipe("m5_fsdd_digits")
    model = build_model(recipe)              # (None, 8000) -> (None, 10)
    twin = build_model(recipe, training=True)
    ```
    """
    from kerasaudio.hub import create_model

    classes = len(recipe.class_names if class_names is None else class_names)
    layers = [make_layer(spec) for spec in recipe.frontend]
    if training:
        layers = ([make_layer(spec) for spec in recipe.augment.waveform] + layers
                  + [make_layer(spec) for spec in recipe.augment.features])
    return create_model(recipe.architecture, frontend=_frontend_argument(layers),
                                   input_shape=(recipe.samples,), classes=classes,
                                   **recipe.options)


def _serialize_layer(spec: dict) -> dict:
    config = keras.saving.serialize_keras_object(make_layer(spec))
    config["config"].pop("name", None)  # auto-generated; a fresh one on rebuild
    return config


def builder_config(recipe: Recipe) -> dict:
    """The exact `create_model` call of the recipe's model, as JSON-ready data.

    Keys: `format`, `preset`, `architecture`, `kwargs` (every builder option but
    `frontend`), `frontend` (each layer as `keras.saving.serialize_keras_object` gives
    it, with every option spelt out), `sample_rate`, `samples` (the fixed input length),
    `length_mode` (how a clip is fitted to `samples` at inference: centred, cropped or
    zero-padded), `class_names`.

    Example:
    ```python
    from kerasaudio.training import builder_config, load_recipe

    config = builder_config(load_recipe("m5_fsdd_digits"))
    config["kwargs"]["classes"], config["samples"]  # (10, 8000)
    ```
    """
    return {
        "format": CONFIG_FORMAT,
        "preset": recipe.preset,
        "architecture": recipe.architecture,
        "kwargs": {"input_shape": [recipe.samples], "classes": len(recipe.class_names),
                   **recipe.options},
        "frontend": [_serialize_layer(spec) for spec in recipe.frontend],
        "sample_rate": recipe.sample_rate,
        "samples": recipe.samples,
        "length_mode": "center",
        "class_names": list(recipe.class_names),
    }


def build_from_config(config: dict, *, weights: str | os.PathLike | None = None) -> keras.Model:
    """Rebuild a model from its `builder_config` (a run's `config.json`), with weights.

    The front-end layers are deserialized in Keras' safe mode (registered classes only;
    no `Lambda` code).

    Args:
        config: the `builder_config` dict.
        weights: a `.weights.h5` file of the same model (None: fresh weights).

    Raises:
        InvalidOptionError: a config without the keys `builder_config` writes.

    Example:
    ```python
    import json
    from kerasaudio.training import build_from_config, builder_config, load_recipe

    config = json.loads(json.dumps(builder_config(load_recipe("m5_fsdd_digits"))))
    model = build_from_config(config)  # weights=<a run's <preset>.weights.h5>
    ```
    """
    from kerasaudio.hub import create_model

    missing = [key for key in ("architecture", "kwargs", "frontend") if key not in config]
    if missing:
        raise InvalidOptionError(f"config.json: missing {missing}; not a run's config.")
    frontend = [keras.saving.deserialize_keras_object(copy.deepcopy(layer), safe_mode=True)
                for layer in config["frontend"]]
    kwargs = dict(config["kwargs"])
    kwargs["input_shape"] = tuple(kwargs["input_shape"])
    return create_model(config["architecture"],
                                   frontend=_frontend_argument(frontend),
                                   weights=None if weights is None else os.fspath(weights),
                                   **kwargs)
