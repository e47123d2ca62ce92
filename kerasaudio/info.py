"""The model-info record: what a model's input and output mean, kept in the model itself.

One record per model answers the questions every consumer of a trained model asks: what
task it does, the names of its output classes, the sample rate and length of the audio it
takes, and the pretrained preset it came from. Each field is optional: a field nobody
knows stays None, and code that needs it asks the caller (nothing is guessed).

Where the record lives:

- A Keras model: `kerasaudio.models.AudioModel` (every registered builder and
  `kerasaudio.create_model` return one) keeps it in its config, so it survives `.keras`
  save/load in safe mode and nesting inside another model. `kerasaudio.models.with_info`
  sets it on any functional model.
- A `.tflite` file: `kerasaudio.export.to_tflite` writes it into the file's metadata
  (class names as the MediaPipe labels, sample rate as its audio properties), and
  `kerasaudio.runtime.TFLiteModel` reads it back.

`model_info(model)` reads the record of either. This module imports neither Keras nor
TensorFlow (the runtime uses it).

Example:
```python
model = kerasaudio.create_model("m5_fsdd_digits")
kerasaudio.info.model_info(model)
# AudioInfo(task='digits', class_names=('0', ..., '9'), sample_rate=8000,
#           input_length=8000, preset='m5_fsdd_digits')
```
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from kerasaudio.errors import InvalidOptionError

__all__ = ["FIELDS", "AudioInfo", "model_info"]

#: The record's fields, in order.
FIELDS = ("task", "class_names", "sample_rate", "input_length", "preset")


def _text(name: str, value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidOptionError(f"model info: {name}={value!r} must be a non-empty string "
                                 "or None.")
    return value


def _count(name: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise InvalidOptionError(f"model info: {name}={value!r} must be a positive integer "
                                 "or None.")
    value = int(value.__index__())
    if value < 1:
        raise InvalidOptionError(f"model info: {name}={value} must be a positive integer "
                                 "or None.")
    return value


def _names(value) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise InvalidOptionError(f"model info: class_names={value!r} must be a list of "
                                 "strings or None.")
    names = tuple(value)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise InvalidOptionError(f"model info: class_names={list(names)!r} must be a "
                                 "non-empty list of non-empty strings.")
    if len(set(names)) != len(names):
        duplicates = sorted({n for n in names if names.count(n) > 1})
        raise InvalidOptionError(f"model info: duplicate class names {duplicates}.")
    return names


@dataclass(frozen=True)
class AudioInfo:
    """A model's identity: task, class names, sample rate, input length, preset name.

    Read-only and checked on creation; every field is optional (None: unknown).

    Attributes:
        task: what the model does, free-form (a preset's task, e.g. `"digits"`,
            `"speakers"`, `"tagging"`).
        class_names: output index -> class name (unique, non-empty strings).
        sample_rate: Hz of the audio the model takes.
        input_length: samples per clip the model takes (or was trained on, for a model
            that takes any length).
        preset: the name of the pretrained preset the weights came from
            (`kerasaudio.hub.preset_of` finds its manifest entry).

    Raises:
        InvalidOptionError: a field of the wrong type or value.

    Example:
    ```python
    from kerasaudio.info import AudioInfo
    info = AudioInfo(class_names=["yes", "no"], sample_rate=16000)
    info.replace(input_length=16000).to_dict()
    # {'class_names': ['yes', 'no'], 'sample_rate': 16000, 'input_length': 16000}
    ```
    """

    task: str | None = None
    class_names: tuple[str, ...] | None = None
    sample_rate: int | None = None
    input_length: int | None = None
    preset: str | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "task", _text("task", self.task))
        set_(self, "class_names", _names(self.class_names))
        set_(self, "sample_rate", _count("sample_rate", self.sample_rate))
        set_(self, "input_length", _count("input_length", self.input_length))
        set_(self, "preset", _text("preset", self.preset))

    @property
    def is_empty(self) -> bool:
        """True when no field is known."""
        return all(getattr(self, key) is None for key in FIELDS)

    @property
    def classes(self) -> int | None:
        """The number of class names (None when they are unknown)."""
        return None if self.class_names is None else len(self.class_names)

    def replace(self, **fields) -> AudioInfo:
        """A copy with `fields` changed (None makes a field unknown).

        Raises:
            InvalidOptionError: an unknown field name or a bad value.

        Example:
        ```python
        from kerasaudio.info import AudioInfo
        AudioInfo(sample_rate=8000).replace(class_names=["a", "b"]).class_names  # ('a', 'b')
        ```
        """
        unknown = sorted(set(fields) - set(FIELDS))
        if unknown:
            raise InvalidOptionError(f"model info has no field(s) {unknown}; its fields: "
                                     f"{list(FIELDS)}.")
        return dataclasses.replace(self, **fields)

    def merge(self, other: AudioInfo) -> AudioInfo:
        """This record with every field `other` knows taken from `other`.

        Example:
        ```python
        from kerasaudio.info import AudioInfo
        AudioInfo(sample_rate=8000).merge(AudioInfo(task="digits"))
        # AudioInfo(task='digits', class_names=None, sample_rate=8000, input_length=None,
        #           preset=None)
        ```
        """
        return self.replace(**{key: getattr(other, key) for key in FIELDS
                               if getattr(other, key) is not None})

    def to_dict(self) -> dict:
        """The known fields as JSON (class names as a list): what a model's config holds.

        Example:
        ```python
        from kerasaudio.info import AudioInfo
        AudioInfo(sample_rate=8000).to_dict()  # {'sample_rate': 8000}
        ```
        """
        data = {key: getattr(self, key) for key in FIELDS if getattr(self, key) is not None}
        if "class_names" in data:
            data["class_names"] = list(data["class_names"])
        return data

    @classmethod
    def from_dict(cls, data: Mapping | None) -> AudioInfo:
        """The record `to_dict` wrote (None or `{}`: an empty record).

        Raises:
            InvalidOptionError: not a mapping, an unknown key, or a bad value.

        Example:
        ```python
        from kerasaudio.info import AudioInfo
        AudioInfo.from_dict({"sample_rate": 8000, "class_names": ["a", "b"]}).class_names
        # ('a', 'b')
        ```
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise InvalidOptionError(f"model info must be a dict of {list(FIELDS)}; got "
                                     f"{type(data).__name__}.")
        unknown = sorted(set(data) - set(FIELDS))
        if unknown:
            raise InvalidOptionError(f"model info has no field(s) {unknown}; its fields: "
                                     f"{list(FIELDS)}.")
        return cls(**dict(data))

    @classmethod
    def from_metadata(cls, metadata: Mapping) -> AudioInfo:
        """The record inside a `.tflite` file's kerasaudio metadata
        (`kerasaudio.runtime.read_metadata`); other metadata keys are ignored.

        Example:
        ```python
        import keras
        from kerasaudio.info import AudioInfo
        model = keras.Sequential([keras.Input((8000,)),
                                  keras.layers.Dense(2, activation="softmax")])
        data = kerasaudio.export.add_metadata(  # what to_tflite writes into the file
            kerasaudio.export.convert(model), sample_rate=8000, class_names=["yes", "no"],
            extra={"input_length": 8000, "task": "keywords"})
        AudioInfo.from_metadata(kerasaudio.runtime.read_metadata(data))
        # AudioInfo(task='keywords', class_names=('yes', 'no'), sample_rate=8000,
        #           input_length=8000, preset=None)
        ```
        """
        return cls.from_dict({key: metadata[key] for key in FIELDS
                              if metadata.get(key) is not None})


def model_info(model) -> AudioInfo:
    """The model-info record of a model: an `AudioInfo`, empty when nothing is known.

    Reads the `audio_info` attribute that `kerasaudio.models.AudioModel` (every model
    `kerasaudio.create_model` builds) and `kerasaudio.runtime.TFLiteModel` carry. Any
    other object (a plain `keras.Model`, a model wrapping an `AudioModel`) has an empty
    record: set one with `kerasaudio.models.with_info`.

    Args:
        model: a Keras model, a `TFLiteModel`, or anything else.

    Returns:
        The `AudioInfo` (never None).

    Example:
    ```python
    from kerasaudio.info import model_info
    model_info(kerasaudio.create_model("m5_fsdd_digits")).class_names  # ('0', ..., '9')
    model_info(kerasaudio.create_model("m5", classes=10)).is_empty     # True
    ```
    """
    record = getattr(model, "audio_info", None)
    return record if isinstance(record, AudioInfo) else AudioInfo()
