"""Exceptions raised by kerasaudio.

Every error kerasaudio raises on bad input or bad options is a `KerasAudioError`, which is
a `ValueError`, so `except ValueError` keeps working for callers that do not know the
package. Errors about a file carry its path in `.path` and name it in the message.
"""

from __future__ import annotations

import os

__all__ = [
    "AudioFileError",
    "AudioFileNotFoundError",
    "ConversionError",
    "DatasetNotFoundError",
    "InvalidAudioError",
    "InvalidOptionError",
    "KerasAudioError",
    "VerificationError",
]


class KerasAudioError(ValueError):
    """Base class of every error kerasaudio raises on bad input or options."""


class InvalidOptionError(KerasAudioError):
    """A layer or function option has an invalid value (raised at construction)."""


class InvalidAudioError(KerasAudioError):
    """Audio data that cannot be used: wrong dtype or rank, NaN/Inf, too short, empty."""


class ConversionError(KerasAudioError, RuntimeError):
    """The TFLite converter refused or crashed on a model, or LiteRT cannot run its output.

    Also a `RuntimeError`: the options were valid, the conversion itself failed. The
    message carries the converter's own (e.g. the ops it could not express as builtins).

    Example:
    ```python
    try:
        kerasaudio.export.convert(model)
    except kerasaudio.errors.ConversionError as e:
        print(e)
    ```
    """


class VerificationError(ConversionError):
    """A converted model disagrees with its Keras model beyond the tolerance; nothing was
    written. `report` holds the measurements (a `kerasaudio.export.ExportReport`).

    Example:
    ```python
    try:
        kerasaudio.export.to_tflite(model, "m.tflite", quantization="int8",
                                    representative_data=clips, tolerance=1e-6)
    except kerasaudio.errors.VerificationError as e:
        print(e.report)
    ```
    """

    def __init__(self, message: str, report):
        self.report = report
        super().__init__(message)

    def __reduce__(self):
        return (type(self), (str(self), self.report))


class AudioFileError(KerasAudioError):
    """A file that cannot be decoded as audio. `path` names the file, `reason` the problem.

    Example:
    ```python
    try:
        kerasaudio.data.load_audio("broken.wav")
    except kerasaudio.errors.AudioFileError as e:
        print(e.path, e.reason)
    ```
    """

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):
        return (type(self), (self.path, self.reason))


class AudioFileNotFoundError(AudioFileError, FileNotFoundError):
    """The audio file does not exist (also a `FileNotFoundError`)."""


class DatasetNotFoundError(KerasAudioError, FileNotFoundError):
    """A dataset's files were not found where kerasaudio looked (also a `FileNotFoundError`).

    The message lists every place searched and how to point kerasaudio at the data.
    """
