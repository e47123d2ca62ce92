"""`AudioModel`: a functional Keras model that carries its model-info record in its config.

Every registered builder returns one (`kerasaudio.models.common.finish`), and
`kerasaudio.create_model` fills its record (`kerasaudio.info.AudioInfo`: task, class
names, sample rate, input length, preset name). The record is part of `get_config`, so it
survives `.keras` save/load in safe mode and nesting inside another model. `with_info`
sets a record on any functional model.

`keras.models.clone_model` rebuilds the model from its graph and drops the record (Keras
passes only inputs, outputs and name to the new model); set it again with
`with_info(clone, model_info(model))`.
"""

from __future__ import annotations

from typing import Any

import keras

from kerasaudio.errors import InvalidOptionError
from kerasaudio.info import AudioInfo, model_info

__all__ = ["AudioModel", "frontend_info", "with_info"]

#: The config key holding the record.
CONFIG_KEY = "audio_info"


def _checked(info) -> AudioInfo:
    if info is None:
        return AudioInfo()
    if isinstance(info, AudioInfo):
        return info
    if isinstance(info, dict):
        return AudioInfo.from_dict(info)
    raise InvalidOptionError(f"info must be a kerasaudio.info.AudioInfo, a dict or None; "
                             f"got {type(info).__name__}.")


@keras.saving.register_keras_serializable(package="kerasaudio")
class AudioModel(keras.Model):
    """A functional `keras.Model` with a model-info record (`audio_info`) in its config.

    Build it like a functional model, `AudioModel(inputs, outputs, name=..., info=...)`;
    it behaves as `keras.Model(inputs, outputs)` in every other way (same layers,
    weights, parameter count, TFLite conversion). `get_config` adds the record under
    `"audio_info"` and `from_config` restores it, so `keras.saving.load_model(path,
    safe_mode=True)` returns an `AudioModel` with the same record (after `import
    kerasaudio`, which registers the class with Keras, as it does the layers).

    Args:
        inputs: the model's input tensor(s).
        outputs: the model's output tensor(s).
        name: the model's name.
        info: an `AudioInfo`, a dict of its fields, or None (an empty record).
        **kwargs: passed to `keras.Model` (e.g. `trainable`).

    Example:
    ```python
    import keras
    from kerasaudio.info import AudioInfo
    from kerasaudio.models import AudioModel
    inputs = keras.Input((8000,), name="audio")
    x = kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=512)(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(2, activation="softmax")(x)
    model = AudioModel(inputs, outputs, name="yes_no",
                       info=AudioInfo(class_names=["yes", "no"], sample_rate=8000))
    model.save("yes_no.keras")
    keras.saving.load_model("yes_no.keras").audio_info.class_names  # ('yes', 'no')
    ```
    """

    def __init__(self, inputs, outputs, name=None, *, info=None, **kwargs):
        super().__init__(inputs, outputs, name=name, **kwargs)
        self._audio_info = _checked(info)

    @property
    def audio_info(self) -> AudioInfo:
        """The model-info record (`kerasaudio.info.AudioInfo`; settable)."""
        return self._audio_info

    @audio_info.setter
    def audio_info(self, info) -> None:
        self._audio_info = _checked(info)

    def get_config(self):
        config = super().get_config()
        config[CONFIG_KEY] = self._audio_info.to_dict()
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        record = AudioInfo.from_dict(config.pop(CONFIG_KEY, None))
        model = super().from_config(config, custom_objects=custom_objects)
        model.audio_info = record
        return model


def with_info(model, info: AudioInfo | dict | None = None, /, **fields) -> AudioModel:
    """A model carrying a model-info record: `with_info(model, class_names=[...], ...)`.

    `info` (an `AudioInfo` or a dict) replaces the whole record; keyword `fields`
    (`task`, `class_names`, `sample_rate`, `input_length`, `preset`) change those fields
    of the current record (or of `info`), and None makes a field unknown.

    Args:
        model: an `AudioModel` (its record is replaced in place and it is returned), or
            any functional `keras.Model` (a new `AudioModel` over the same layers and
            weights is returned; `model` itself is unchanged).
        info: the whole record, or None to start from the model's current one.
        **fields: record fields to set.

    Returns:
        The `AudioModel` carrying the record.

    Raises:
        InvalidOptionError: not a functional model (a subclassed model must subclass
            `AudioModel` itself), or a bad record field.

    Example:
    ```python
    import keras
    inputs = keras.Input((16000,))
    my_keras_model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    model = kerasaudio.models.with_info(my_keras_model, class_names=["cat", "dog"],
                                        sample_rate=16000, input_length=16000)
    kerasaudio.info.model_info(model).class_names  # ('cat', 'dog')
    kerasaudio.info.model_info(my_keras_model).is_empty  # True: left unchanged
    ```
    """
    record = model_info(model) if info is None else _checked(info)
    if fields:
        record = record.replace(**fields)
    if isinstance(model, AudioModel):
        model.audio_info = record
        return model
    if not isinstance(model, keras.Model):
        raise InvalidOptionError(f"with_info takes a keras.Model; got {type(model).__name__}.")
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        raise InvalidOptionError(
            f"{model.name} is a subclassed model without a functional graph; give it a "
            "record by subclassing kerasaudio.models.AudioModel (or build it with "
            "keras.Input first).")
    inputs = model.input if isinstance(model.input, dict) else inputs
    outputs = model.output if isinstance(model.output, dict) else outputs
    return AudioModel(_single(inputs), _single(outputs), name=model.name, info=record)


def _single(tensors):
    return tensors[0] if isinstance(tensors, list) and len(tensors) == 1 else tensors


def frontend_info(model) -> AudioInfo:
    """What a freshly built model's own layers fix about its record (nothing guessed).

    - `sample_rate`: when the model's one input is named `"audio"` (raw audio, as
      `kerasaudio.models.common.build_input` names it) and the top-level layers that
      state an integer `sample_rate` (a `MelSpectrogram` or `MFCC` front end; a stack's
      `StackingEnsemble`) agree on one.
    - `input_length`: that input's fixed length, when the sample rate is known.
    - `class_names`: those of the layer producing the single output, when it states
      `class_names` matching the output's width (a stack's `StackingEnsemble`).

    Example:
    ```python
    from kerasaudio.models.audio_model import frontend_info
    frontend_info(kerasaudio.create_model("bilstm_attention", frontend="default",
                                          input_shape=(44100,))).sample_rate  # 44100
    ```
    """
    fields: dict[str, Any] = {}
    inputs = list(getattr(model, "inputs", None) or [])
    if len(inputs) == 1 and inputs[0].name == "audio":
        rates = {int(layer.sample_rate) for layer in model.layers
                 if isinstance(getattr(layer, "sample_rate", None), int)
                 and not isinstance(layer, keras.Model)}
        if len(rates) == 1:
            fields["sample_rate"] = rates.pop()
            length = inputs[0].shape[1] if len(inputs[0].shape) > 1 else None
            if isinstance(length, int):
                fields["input_length"] = length
    outputs = list(getattr(model, "outputs", None) or [])
    if len(outputs) == 1:
        history = getattr(outputs[0], "_keras_history", None)
        layer = getattr(history, "operation", None)
        names = getattr(layer, "class_names", None)
        width = outputs[0].shape[-1]
        if isinstance(names, (list, tuple)) and names and len(names) == width:
            fields["class_names"] = [str(n) for n in names]
    return AudioInfo(**fields)
