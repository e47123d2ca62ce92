"""Exceptions raised by kerasaudio: one hierarchy under `KerasAudioError`.

Every error kerasaudio raises on purpose is a `KerasAudioError`, so `except KerasAudioError`
catches them all (the `kerasaudio` command prints their message without a traceback). Each
one is also the built-in exception a caller who does not know the package would expect:
bad input or options are `ValueError`s, missing files are `FileNotFoundError`s, and a
failed download is an `OSError` (a network or disk problem, not a bad argument). This
follows librosa's `ParameterError` under one `LibrosaError` root.

```
Exception
└── KerasAudioError
    ├── InvalidOptionError            (ValueError)  an option has an invalid value
    ├── InvalidAudioError             (ValueError)  audio data that cannot be used
    ├── ConversionError               (RuntimeError) a TFLite conversion failed
    │   └── VerificationError                       the converted file disagrees with Keras
    ├── AudioFileError                (ValueError)  a file that cannot be decoded as audio
    │   └── AudioFileNotFoundError    (+ FileNotFoundError)
    ├── ModelFileError                (ValueError)  an unreadable .tflite, .keras or checkpoint
    │   └── ModelFileNotFoundError    (+ FileNotFoundError)
    ├── ManifestError                 (ValueError)  a weights manifest breaks the schema
    ├── WeightsNotFoundError          (FileNotFoundError)  a preset's weights are nowhere
    ├── DatasetNotFoundError          (FileNotFoundError)  a dataset's files are nowhere
    └── DownloadError                 (OSError)     one download failed
        ├── ChecksumError                           wrong or no checksum, wrong size
        └── CacheError                              the destination cannot take the file
```

Errors about a file carry its path (`AudioFileError.path`, `ModelFileError.path`,
`WeightsNotFoundError.file`, `CacheError.path`)
and name it in the message. Every class pickles with its attributes, so an error raised
in a worker process (`tf.data`, `multiprocessing`) arrives whole.

Example:
```python
try:
    kerasaudio.create_model("m5", classes=0)
except kerasaudio.errors.InvalidOptionError as e:   # also a ValueError
    print(e)
```
"""

from __future__ import annotations

import os

__all__ = [
    "AudioFileError",
    "AudioFileNotFoundError",
    "CacheError",
    "ChecksumError",
    "ConversionError",
    "DatasetNotFoundError",
    "DownloadError",
    "InvalidAudioError",
    "InvalidOptionError",
    "KerasAudioError",
    "ManifestError",
    "ModelFileError",
    "ModelFileNotFoundError",
    "VerificationError",
    "WeightsNotFoundError",
]


class KerasAudioError(Exception):
    """The root of every error kerasaudio raises on purpose (see the module docstring)."""


class InvalidOptionError(KerasAudioError, ValueError):
    """A layer or function option has an invalid value (raised at construction)."""


class InvalidAudioError(KerasAudioError, ValueError):
    """Audio data that cannot be used: wrong dtype or rank, NaN/Inf, too short, empty."""


class ConversionError(KerasAudioError, RuntimeError):
    """The TFLite converter refused or crashed on a model, or LiteRT cannot run its output.

    Also a `RuntimeError`: the options were valid, the conversion itself failed. The
    message carries the converter's own (e.g. the ops it could not express as builtins).

    Example:
    ```python
    import keras
    # An LSTM with a dynamic batch needs TensorList ops, which have no builtin TFLite form.
    model = keras.Sequential([keras.Input((10, 4)), keras.layers.LSTM(2)])
    try:
        kerasaudio.export.convert(model, batch_size=None)
    except kerasaudio.errors.ConversionError as e:  # also a RuntimeError
        print(e)  # ... failed (TensorList ops come from a Keras recurrent layer: use ...
    ```
    """


class VerificationError(ConversionError):
    """A converted model disagrees with its Keras model beyond the tolerance; nothing was
    written. `report` holds the measurements (a `kerasaudio.export.ExportReport`).

    Example:
    ```python
    import os
    import keras
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(4)])
    x = np.random.default_rng(0).normal(size=(8, 16)).astype("float32")
    try:  # float16 weights move the outputs far more than a 1e-9 tolerance allows
        kerasaudio.export.to_tflite(model, "dense.tflite", quantization="float16",
                                    representative_data=x, tolerance=1e-9)
    except kerasaudio.errors.VerificationError as e:
        print(e.report.max_abs_diff, os.path.exists("dense.tflite"))  # ... False
    ```
    """

    def __init__(self, message: str, report):
        self.report = report
        super().__init__(message)

    def __reduce__(self):
        return (type(self), (str(self), self.report))


class AudioFileError(KerasAudioError, ValueError):
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


class ModelFileError(KerasAudioError, ValueError):
    """A model file that cannot be read: not a `.tflite` flatbuffer (empty, text,
    garbage), a directory, an unreadable or invalid `.keras` archive, a checkpoint's
    `config.json` or `.safetensors` file that breaks its format. `path` names the file,
    `reason` the problem.

    Example:
    ```python
    open("notes.tflite", "w").write("not a model")
    try:
        kerasaudio.runtime.TFLiteModel("notes.tflite")
    except kerasaudio.errors.ModelFileError as e:
        print(e.path, e.reason)  # notes.tflite is not a TFLite model (no 'TFL3' ...)
    ```
    """

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fsdecode(os.fspath(path))
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):
        return (type(self), (self.path, self.reason))


class ModelFileNotFoundError(ModelFileError, FileNotFoundError):
    """The model file does not exist (also a `FileNotFoundError`)."""


class ManifestError(KerasAudioError, ValueError):
    """A weights manifest that is not valid JSON or does not follow the schema.

    The message names the file, the preset and the field.

    Example:
    ```python
    try:
        kerasaudio.weights.load_manifest("broken.json")
    except kerasaudio.errors.ManifestError as e:
        print(e)  # broken.json: preset 'm5_fsdd_digits': 'sha256' must be 64 hex digits
    ```
    """


class WeightsNotFoundError(KerasAudioError, FileNotFoundError):
    """A preset's weights file (or a third-party checkpoint) is in none of the places
    looked at, and was not downloaded.

    `file` is the file name; `locations` lists `(place, what happened)` pairs, and the
    message lists them too (cache path, package path, each download URL and its error).

    Example:
    ```python
    try:
        kerasaudio.create_model("m5_fsdd_digits")
    except kerasaudio.errors.WeightsNotFoundError as e:
        print(e.file, e.locations)
    ```
    """

    def __init__(self, message: str, file: str | None = None, locations=()):
        super().__init__(message)
        self.file = file
        self.locations = list(locations)

    def __reduce__(self):
        return (type(self), (str(self), self.file, self.locations))


class DatasetNotFoundError(KerasAudioError, FileNotFoundError):
    """A dataset's files were not found where kerasaudio looked (also a `FileNotFoundError`).

    The message lists every place searched and how to point kerasaudio at the data.
    """


class DownloadError(KerasAudioError, OSError):
    """One download failed: `url`, `reason`, HTTP `status` (or None), `retryable`.

    An `OSError`, not a `ValueError`: the network or the disk failed, not an argument.

    Example:
    ```python
    import socket
    with socket.socket() as s:  # a free loopback port: nothing listens on it
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/m5.weights.h5"
    try:
        kerasaudio.weights.download_file(url, "m5.weights.h5", sha256="0" * 64, retries=0)
    except kerasaudio.errors.DownloadError as e:  # also an OSError
        print(e.status, e.reason)  # None connection error: ... Connection refused
    ```
    """

    def __init__(self, url: str, reason: str, *, status: int | None = None,
                 retryable: bool = False):
        self.url = url
        self.reason = reason
        self.status = status
        self.retryable = retryable
        super().__init__(f"{url}: {reason}")

    def __reduce__(self):
        return (_rebuild_download_error,
                (type(self), self.url, self.reason, self.status, self.retryable))


def _rebuild_download_error(cls, url, reason, status, retryable):
    return cls(url, reason, status=status, retryable=retryable)


class ChecksumError(DownloadError):
    """A downloaded file's digest (or size) is not the expected one, or there is no
    checksum to verify a download with (refused before any request); nothing was cached.

    Example:
    ```python
    import functools, http.server, os, threading
    os.makedirs("served")
    with open("served/m5.weights.h5", "wb") as f:
        f.write(b"not the weights the manifest describes")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory="served")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # loopback only
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        kerasaudio.weights.download_file(
            f"http://127.0.0.1:{server.server_port}/m5.weights.h5", "cache/m5.weights.h5",
            sha256="0" * 64)
    except kerasaudio.errors.ChecksumError as e:
        print(e.reason)  # sha256 mismatch: expected 000..., got b23d...; nothing was cached
    finally:
        server.shutdown()
        server.server_close()
    ```
    """


class CacheError(DownloadError):
    """The download's destination cannot take the file; `path` names what is in the way.

    The destination's directory is a file or cannot be created, it is not writable (or
    the disk is full), a directory stands where the file should go (kerasaudio never
    deletes a directory), or another process has held the file's download lock past the
    lock timeout. Nothing was fetched or cached, and trying another URL cannot help, so
    it is not retried. `url` is the download that needed the destination.

    Example:
    ```python
    import os
    os.makedirs("cache/m5.weights.h5")  # a directory where the file should go
    try:  # refused before any request
        kerasaudio.weights.download_file("https://example.org/m5.weights.h5",
                                         "cache/m5.weights.h5", sha256="0" * 64)
    except kerasaudio.errors.CacheError as e:
        print(e.path)  # cache/m5.weights.h5
    ```
    """

    def __init__(self, url: str, reason: str, *, path: str | os.PathLike):
        self.path = os.fspath(path)
        super().__init__(url, reason)

    def __reduce__(self):
        return (_rebuild_cache_error, (type(self), self.url, self.reason, self.path))


def _rebuild_cache_error(cls, url, reason, path):
    return cls(url, reason, path=path)
