"""Pieces every model builder shares: argument checks, the front end, the head, weights.

Builders follow `keras.applications`:
`include_top, weights, input_shape, classes, pooling, classifier_activation`, plus
`frontend`:

- `frontend=None`: the model takes the features its family is defined on (a spectrogram,
  or raw audio for the M-nets); `input_shape` is the feature shape.
- `frontend="default"`: the family's own front end (see each builder) inside the model,
  which then takes raw audio `(samples,)`; `input_shape` is `(samples,)`.
- `frontend=<layer or list of layers>`: those layers inside the model, raw audio in.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import keras

from kerasaudio.errors import InvalidOptionError
from kerasaudio.info import AudioInfo
from kerasaudio.models.audio_model import AudioModel, frontend_info

__all__ = [
    "build_input",
    "check_arguments",
    "check_min_size",
    "classifier",
    "finish",
    "global_pool",
]

POOLINGS = (None, "avg", "max")


def check_arguments(name: str, *, include_top: bool, weights, classes: int, pooling,
                    classifier_activation) -> None:
    """Reject bad builder arguments before any layer is created.

    Args:
        name: the builder's name, for the messages.
        include_top: whether the model gets a classifier (then `classes` must be >= 1).
        weights: None or an existing `.weights.h5` path.
        classes: number of classes.
        pooling: None, `"avg"` or `"max"`.
        classifier_activation: None, a callable or a Keras activation name.

    Returns:
        None.

    Raises:
        InvalidOptionError: the first argument that is not acceptable, with the fix.

    Example:
    ```python
    from kerasaudio.models.common import check_arguments
    check_arguments("m5", include_top=True, weights=None, classes=10, pooling=None,
                    classifier_activation="softmax")
    ```
    """
    if weights is not None:
        if not isinstance(weights, (str, os.PathLike)):
            raise InvalidOptionError(
                f"{name}: weights must be None or a path to a .weights.h5 file; got "
                f"{type(weights).__name__}."
            )
        path = os.fspath(weights)
        if not path.endswith(".weights.h5"):
            raise InvalidOptionError(
                f"{name}: weights={path!r} is neither None nor a .weights.h5 file. A "
                "builder takes paths only; pretrained presets load through "
                f"kerasaudio.create_model({name!r}, weights='<tag>') or "
                "create_model('<preset name>') (there are no ImageNet audio weights; "
                "kerasaudio.list_models(pretrained=True) lists the presets)."
            )
        if not os.path.isfile(path):
            raise InvalidOptionError(f"{name}: weights file {path!r} does not exist.")
    if include_top:
        if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
            raise InvalidOptionError(f"{name}: classes={classes!r} must be an integer >= 1.")
    if pooling not in POOLINGS:
        raise InvalidOptionError(f"{name}: pooling={pooling!r} must be one of {POOLINGS}.")
    if classifier_activation is not None and not callable(classifier_activation):
        try:
            keras.activations.get(classifier_activation)
        except ValueError:
            raise InvalidOptionError(
                f"{name}: classifier_activation={classifier_activation!r} is not a Keras "
                "activation (use 'softmax', 'sigmoid' for multi-label, or None for logits)."
            ) from None


def _frontend_layers(frontend, default: Callable[[], list] | None, name: str) -> list:
    if isinstance(frontend, str):
        if frontend != "default":
            raise InvalidOptionError(
                f"{name}: frontend={frontend!r}; use None, 'default', a layer or a list of "
                "layers."
            )
        if default is None:
            raise InvalidOptionError(f"{name} has no default front end; pass the layers.")
        return list(default())
    if isinstance(frontend, keras.layers.Layer):
        return [frontend]
    if isinstance(frontend, Sequence) and frontend and all(
            isinstance(layer, keras.layers.Layer) for layer in frontend):
        return list(frontend)
    raise InvalidOptionError(
        f"{name}: frontend must be None, 'default', a Keras layer or a list of layers; "
        f"got {frontend!r}."
    )


def build_input(name: str, *, input_shape, frontend, default_input_shape: tuple,
                default_frontend: Callable[[], list] | None = None,
                feature_rank: int | None = None):
    """`(inputs, features)`: the model input and the tensor the network starts from.

    Without a front end the input is `input_shape` (default `default_input_shape`). With
    one, the input is raw audio `input_shape` (default `(None,)`: any length) and the
    features are the front end's output; a `(frames, bins)` output gains a channel axis
    when the network needs `feature_rank` 3.

    Args:
        name: the builder's name, for the messages.
        input_shape: the user's `input_shape` (without the batch axis), or None.
        frontend: None, `"default"`, a layer or a list of layers.
        default_input_shape: the feature shape without a front end.
        default_frontend: the family's `default_frontend` (for `frontend="default"`).
        feature_rank: the rank the network's features need (3 for image-like maps).

    Returns:
        `(inputs, features)`: the `keras.Input` and the tensor after the front end.

    Raises:
        InvalidOptionError: a malformed `input_shape` or `frontend`.

    Example:
    ```python
    from kerasaudio.models.common import build_input
    from kerasaudio.models.mnets import default_frontend
    inputs, x = build_input("m5", input_shape=(8000,), frontend="default",
                            default_input_shape=(None, 1), default_frontend=default_frontend)
    ```
    """
    if input_shape is not None:
        try:
            input_shape = tuple(None if d is None else int(d) for d in input_shape)
        except (TypeError, ValueError):
            raise InvalidOptionError(
                f"{name}: input_shape={input_shape!r} must be a tuple of ints/None "
                "(without the batch axis)."
            ) from None
        if any(d is not None and d < 1 for d in input_shape):
            raise InvalidOptionError(f"{name}: input_shape={input_shape!r} has a size < 1.")
    if frontend is None:
        shape = input_shape or default_input_shape
        if len(shape) != len(default_input_shape):
            raise InvalidOptionError(
                f"{name}: input_shape={shape} should have {len(default_input_shape)} axes, "
                f"like {default_input_shape} (without a front end the model takes features)."
            )
        inputs = keras.Input(shape, name="features")
        return inputs, inputs
    chain = _frontend_layers(frontend, default_frontend, name)
    shape = input_shape or (None,)
    if len(shape) not in (1, 2):
        raise InvalidOptionError(
            f"{name}: with a front end the input is raw audio, (samples,) or "
            f"(samples, channels); got input_shape={shape}."
        )
    inputs = keras.Input(shape, name="audio")
    x = inputs
    for layer in chain:
        x = layer(x)
    if feature_rank is not None and len(x.shape) - 1 == feature_rank - 1:
        x = keras.layers.Reshape((*x.shape[1:], 1), name="add_channel")(x)
    return inputs, x


def check_min_size(name: str, features, minimum: Sequence[int | None], what: str) -> None:
    """Raise if a static feature dimension is below what the network's strides need.

    Args:
        name: the builder's name, for the message.
        features: the feature tensor (its static shape is checked).
        minimum: the least size per feature axis (None: no bound).
        what: what needs that size, for the message.

    Returns:
        None.

    Raises:
        InvalidOptionError: a known size below its minimum.

    Example:
    ```python
    import keras
    from kerasaudio.models.common import check_min_size
    check_min_size("cnn", keras.Input((64, 64, 1)), (16, 16), "four 2x2 pools")
    ```
    """
    for axis, (size, least) in enumerate(zip(features.shape[1:], minimum, strict=False)):
        if size is not None and least is not None and size < least:
            raise InvalidOptionError(
                f"{name}: input too short for the network's pooling: feature axis {axis} "
                f"has {size} steps, {what} needs at least {least}. Use longer audio or a "
                "larger input_shape."
            )


def global_pool(x, pooling: str, *, name: str = "pool"):
    """Global average or max pooling over every axis but batch and channels.

    Args:
        x: a `(batch, steps, channels)` or `(batch, height, width, channels)` tensor.
        pooling: `"avg"` or `"max"`.
        name: the pooling layer's name.

    Returns:
        `(batch, channels)`.

    Example:
    ```python
    import keras
    from kerasaudio.models.common import global_pool
    global_pool(keras.Input((10, 8, 4)), "avg").shape  # (None, 4)
    ```
    """
    rank = len(x.shape)
    if pooling == "avg":
        layer = (keras.layers.GlobalAveragePooling1D if rank == 3
                 else keras.layers.GlobalAveragePooling2D)
    else:
        layer = keras.layers.GlobalMaxPooling1D if rank == 3 else keras.layers.GlobalMaxPooling2D
    return layer(name=name)(x)


def classifier(x, classes: int, activation, *, name: str = "predictions"):
    """The classification head: one Dense layer named `predictions`.

    Args:
        x: the pooled features `(batch, units)`.
        classes: number of outputs.
        activation: the output activation (None for logits).
        name: the layer's name.

    Returns:
        `(batch, classes)`.

    Example:
    ```python
    import keras
    from kerasaudio.models.common import classifier
    classifier(keras.Input((64,)), 10, "softmax").shape  # (None, 10)
    ```
    """
    return keras.layers.Dense(classes, activation=activation, name=name)(x)


def finish(inputs, outputs, name: str, weights, *, info=None) -> AudioModel:
    """Make the model (an `AudioModel`) and load `weights` with a clear error on mismatch.

    The model's record (`kerasaudio.info.AudioInfo`) is what its own layers fix
    (`kerasaudio.models.audio_model.frontend_info`: the sample rate of a raw-audio front
    end such as `MelSpectrogram`, then the fixed input length; a stack's class names),
    with every field `info` knows taken from `info` (a family passes the rate its default
    front end is defined for). Nothing else is guessed: `kerasaudio.create_model` fills
    a preset's task, class names and name.

    Args:
        inputs: the model's input(s).
        outputs: the model's output(s).
        name: the model's name.
        weights: None or a `.weights.h5` path.
        info: an `AudioInfo` (or dict) whose known fields override the inferred ones.

    Returns:
        The `kerasaudio.models.AudioModel`.

    Raises:
        InvalidOptionError: the weights do not fit the model.

    Example:
    ```python
    import keras
    from kerasaudio.models.common import finish
    inputs = keras.Input((4,))
    model = finish(inputs, keras.layers.Dense(2)(inputs), "tiny", None)
    ```
    """
    model = AudioModel(inputs, outputs, name=name)
    record = frontend_info(model)
    if info is not None:
        record = record.merge(info if isinstance(info, AudioInfo) else AudioInfo.from_dict(info))
    model.audio_info = record
    if weights is not None:
        try:
            model.load_weights(os.fspath(weights))
        except ValueError as exc:
            raise InvalidOptionError(
                f"{name}: the weights file {os.fspath(weights)!r} does not fit this model "
                f"(check classes, include_top and the family options): {exc}"
            ) from None
    return model
