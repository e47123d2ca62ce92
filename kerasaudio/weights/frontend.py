"""Front-end layers as a manifest holds them: serialized, checked by class, rebuilt safely.

A builder's `frontend` option is `"default"`, None, or layers. A manifest stores layers as
`keras.saving.serialize_keras_object` dicts, and only two kinds are allowed: kerasaudio's
registered layers (`registered_name` `"kerasaudio>..."`) and built-in `keras.layers`
classes other than those that wrap foreign code (`Lambda`, `TFSMLayer`, ...). Each dict is
checked by its class name before anything is built, then rebuilt with
`keras.saving.deserialize_keras_object(..., safe_mode=True)` and checked to be of that
class. Keras is imported only when a class must be looked up or a layer built, so a
manifest still reads where Keras is not installed.
"""

from __future__ import annotations

import inspect
import json

from kerasaudio.errors import InvalidOptionError, ManifestError

__all__ = ["FORBIDDEN_LAYERS", "deserialize_layer", "layer_class", "serialized_frontend"]

#: keras.layers classes a manifest front end may not name: they wrap foreign code.
FORBIDDEN_LAYERS = frozenset({"Lambda", "TFSMLayer", "TorchModuleWrapper", "JaxLayer",
                              "FlaxLayer", "InputLayer"})


def keras_available() -> bool:
    """True when Keras imports (the class checks and layer building need it)."""
    try:
        import keras  # noqa: F401
    except ImportError:
        return False
    return True


def layer_class(item, *, check_class: bool = True):
    """The layer class a serialized front-end layer names, if it is an allowed one.

    Args:
        item: a dict from `keras.saving.serialize_keras_object`.
        check_class: look the class up (needs Keras); with False only the form and the
            names are checked and None is returned.

    Raises:
        InvalidOptionError: not a serialized layer, a forbidden `keras.layers` class, or
            a class that is neither a registered kerasaudio layer nor a `keras.layers` one.

    Example:
    ```python
    item = keras.saving.serialize_keras_object(kerasaudio.layers.PowerToDb())
    kerasaudio.weights.frontend.layer_class(item)  # kerasaudio.layers.PowerToDb
    ```
    """
    if not (isinstance(item, dict) and isinstance(item.get("class_name"), str)
            and isinstance(item.get("config"), dict)):
        raise InvalidOptionError(f"{item!r} is not a serialized Keras layer (a dict with "
                                 "'class_name' and 'config').")
    registered = item.get("registered_name")
    class_name = item["class_name"]
    kerasaudio_layer = isinstance(registered, str) and registered.startswith("kerasaudio>")
    keras_layer = registered in (None, class_name) and item.get("module") == "keras.layers"
    if keras_layer and class_name in FORBIDDEN_LAYERS:
        raise InvalidOptionError(f"keras.layers.{class_name} is not allowed in a "
                                 "manifest (it runs foreign code).")
    if not (kerasaudio_layer or keras_layer):
        raise InvalidOptionError(
            f"layer {class_name!r} (module {item.get('module')!r}, registered name "
            f"{registered!r}) is neither a registered kerasaudio layer nor a keras.layers "
            "class.")
    if not check_class:
        return None
    import keras

    import kerasaudio.layers  # noqa: F401  (registers kerasaudio's layer classes)

    if kerasaudio_layer:
        cls = keras.saving.get_registered_object(registered)
        if not (inspect.isclass(cls) and cls.__module__.startswith("kerasaudio.")):
            raise InvalidOptionError(f"{registered!r} is not a registered kerasaudio layer.")
    else:
        cls = getattr(keras.layers, class_name, None)
    if not (inspect.isclass(cls) and issubclass(cls, keras.layers.Layer)):
        raise InvalidOptionError(f"{class_name!r} is not a Keras layer class.")
    return cls


def deserialize_layer(item, where: str):
    """A fresh layer from a serialized front-end layer, checked by class and built in safe
    mode.

    Args:
        item: a dict from `keras.saving.serialize_keras_object`.
        where: what to name in an error (e.g. `"preset 'm5_fsdd_digits'"`).

    Raises:
        InvalidOptionError: a class that is not allowed (see `layer_class`).
        ManifestError: the dict built a layer of another class.

    Example:
    ```python
    layer = kerasaudio.weights.deserialize_layer(
        {"class_name": "PowerToDb", "module": "kerasaudio.layers.decibels",
         "registered_name": "kerasaudio>PowerToDb", "config": {}}, "my front end")
    ```
    """
    import keras

    cls = layer_class(item)
    layer = keras.saving.deserialize_keras_object(item, safe_mode=True)
    if type(layer) is not cls:
        raise ManifestError(f"{where}: front-end layer {item['class_name']!r} "
                            f"deserialized to {type(layer).__name__}.")
    return layer


def _serialize_layer(layer) -> dict:
    import keras

    item = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    item["config"].pop("name", None)  # auto-generated; a fresh one on rebuild
    try:
        layer_class(item)
    except InvalidOptionError as exc:
        raise InvalidOptionError(f"cannot publish front-end layer {layer.name!r}: {exc}") \
            from None
    return item


def serialized_frontend(frontend):
    """A builder's `frontend` option as a manifest holds it: `"default"` or None as given,
    layers (one or a list) serialized (already serialized dicts kept).

    Raises:
        InvalidOptionError: a layer of a class a manifest may not hold.

    Example:
    ```python
    kerasaudio.weights.serialized_frontend([kerasaudio.layers.Standardize()])
    ```
    """
    if frontend is None or isinstance(frontend, str):
        return frontend
    import keras

    layers = [frontend] if isinstance(frontend, keras.layers.Layer) else list(frontend)
    return [f if isinstance(f, dict) else _serialize_layer(f) for f in layers]
