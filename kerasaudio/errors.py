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
    "DatasetNotFoundError",
    "InvalidAudioError",
    "InvalidOptionError",
    "KerasAudioError",
]


class KerasAudioError(ValueError):
    """Base class of every error kerasaudio raises on bad input or options."""


class InvalidOptionError(KerasAudioError):
    """A layer or function option has an invalid value (raised at construction)."""


class InvalidAudioError(KerasAudioError):
    """Audio data that cannot be used: wrong dtype or rank, NaN/Inf, too short, empty."""


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
