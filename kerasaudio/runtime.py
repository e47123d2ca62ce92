"""Run exported `.tflite` audio classifiers with LiteRT: no Keras, no TensorFlow.

This module imports numpy, `kerasaudio.audio_io` (soundfile, soxr), `kerasaudio.errors`,
`kerasaudio.info` and `ai_edge_litert` only, so an application that ships `.tflite` files
needs neither Keras nor TensorFlow (a test imports it in a fresh interpreter and checks
`sys.modules`).

- `TFLiteModel(path)` reads a file written by `kerasaudio.export.to_tflite(...,
  sample_rate=...)` and classifies waveforms or audio files, window by window.
- `predict_windows(predict, audio, ...)` is that windowed inference for any batch
  predictor (the CLI runs Keras models through it too): cut a recording into windows of
  the model's input length, predict each, return per-window probabilities.
- `read_metadata`, `run_tflite`, `make_interpreter` and `invoke` read and run flatbuffers.
"""

from __future__ import annotations

import io
import json
import os
import warnings
import zipfile
from collections.abc import Callable

import numpy as np

from kerasaudio.audio_io import load, probe, resample, windows
from kerasaudio.errors import InvalidOptionError, KerasAudioError
from kerasaudio.info import AudioInfo

__all__ = [
    "KERASAUDIO_METADATA",
    "TFLiteModel",
    "invoke",
    "load_waveform",
    "make_interpreter",
    "predict_windows",
    "read_metadata",
    "run_tflite",
    "split_associated_files",
]

#: Name of kerasaudio's JSON metadata entry in a `.tflite` file.
KERASAUDIO_METADATA = "kerasaudio"


# ----------------------------------------------------------------------------- flatbuffers


def split_associated_files(data: bytes) -> tuple[bytes, dict[str, bytes]]:
    """Split a `.tflite` file into its flatbuffer and the files of its appended zip.

    TFLite Model Metadata stores associated files (e.g. `labels.txt`) in a zip archive
    appended to the flatbuffer; a file without one is returned whole with no files.

    Example:
    ```python
    flatbuffer, files = split_associated_files(open("m5.tflite", "rb").read())
    files["labels.txt"].decode().split()  # ['0', '1', ...]
    ```
    """
    buffer = io.BytesIO(data)
    if not zipfile.is_zipfile(buffer):
        return data, {}
    with zipfile.ZipFile(buffer) as archive:
        files = {info.filename: archive.read(info) for info in archive.infolist()}
        start = min(info.header_offset for info in archive.infolist()) if files else len(data)
    return data[:start], files


def read_metadata(data: bytes) -> dict:
    """kerasaudio's metadata of a `.tflite` file (sample rate, class names, ...).

    Reads the `kerasaudio` metadata entry that `kerasaudio.export.add_metadata` writes,
    through LiteRT's schema module only. `associated_files` lists the names in the
    file's appended zip.

    Args:
        data: the `.tflite` file's contents.

    Returns:
        A dict: `sample_rate`, `channels`, `class_names` (None when not a classifier),
        `name`, what the exporter added (`input_length`, `quantization`, ...) and
        `associated_files`.

    Raises:
        KerasAudioError: the file has no kerasaudio metadata.

    Example:
    ```python
    info = kerasaudio.runtime.read_metadata(open("m5.tflite", "rb").read())
    info["sample_rate"], info["class_names"]
    ```
    """
    from ai_edge_litert import schema_py_generated as schema

    flatbuffer, files = split_associated_files(data)
    model = schema.Model.GetRootAs(flatbuffer, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name().decode() == KERASAUDIO_METADATA:
            payload = model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
            info = json.loads(payload)
            info["associated_files"] = sorted(files)
            return info
    raise KerasAudioError("the TFLite file carries no kerasaudio metadata.")


def make_interpreter(model_content: bytes, *, num_threads: int | None = None):
    """A LiteRT interpreter (`ai_edge_litert.interpreter.Interpreter`) for a flatbuffer.

    Example:
    ```python
    interpreter = make_interpreter(flatbuffer)
    outputs = invoke(interpreter, [np.zeros((1, 8000), "float32")])
    ```
    """
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_content=bytes(model_content), num_threads=num_threads)


def invoke(interpreter, inputs, *, allocated: list | None = None) -> list[np.ndarray]:
    """Run `interpreter` on `inputs` (one array per model input) and return its outputs.

    Inputs whose shape differs from the interpreter's are resized to (dynamic batch or
    length). Variable tensors (a fused LSTM's state) are reset first, so every call starts
    from zeros as the Keras model does. `allocated`, a list the caller keeps between
    calls, remembers the shapes tensors were last allocated for, so repeated calls with
    the same shapes skip the reallocation.

    Returns:
        The outputs, in the model's output order.

    Raises:
        KerasAudioError: the number of inputs is wrong.

    Example:
    ```python
    interpreter, allocated = make_interpreter(flatbuffer), []
    for clip in clips:
        (probabilities,) = invoke(interpreter, [clip[None]], allocated=allocated)
    ```
    """
    details = interpreter.get_input_details()
    if len(details) != len(inputs):
        raise KerasAudioError(f"model has {len(details)} inputs; got {len(inputs)}.")
    shapes = [tuple(np.shape(x)) for x in inputs]
    if allocated is None or allocated != [shapes]:
        for detail, shape in zip(details, shapes, strict=True):
            if tuple(detail["shape"]) != shape:
                interpreter.resize_tensor_input(detail["index"], shape)
        interpreter.allocate_tensors()
        if allocated is not None:
            allocated[:] = [shapes]
    interpreter.reset_all_variables()
    for detail, x in zip(details, inputs, strict=True):
        interpreter.set_tensor(detail["index"], np.asarray(x, dtype=detail["dtype"]))
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def run_tflite(model_content: bytes, *inputs: np.ndarray) -> list[np.ndarray]:
    """Run a TFLite flatbuffer once in LiteRT (`ai_edge_litert`).

    Dynamic dimensions are resized to the given inputs.

    Returns:
        The outputs, in the model's output order.

    Example:
    ```python
    (features,) = kerasaudio.runtime.run_tflite(fb, np.zeros((1, 8000), "float32"))
    ```
    """
    return invoke(make_interpreter(model_content), inputs)


# ----------------------------------------------------------------------------- windows


def load_waveform(audio, *, model_sample_rate: int,
                  sample_rate: int | None = None) -> np.ndarray:
    """One float32 channel at `model_sample_rate` from a file path or a waveform.

    A file is decoded with soundfile (never TensorFlow), mixed to mono and resampled as
    `kerasaudio.audio_io.load_audio` does (a truncated WAV loads what it holds, with a
    warning). A waveform must be float samples of one channel, finite; it is resampled
    from `sample_rate` when that differs from the model's.

    Args:
        audio: a file path, or a 1-D float waveform.
        model_sample_rate: the rate the model takes, Hz.
        sample_rate: the waveform's rate (default: the model's); ignored for files.

    Raises:
        AudioFileError: the file cannot be read (names it).
        InvalidOptionError: the waveform is not one finite float channel.

    Example:
    ```python
    load_waveform("7_jackson_32.wav", model_sample_rate=16000).shape  # (8602,)
    ```
    """
    if isinstance(audio, (str, os.PathLike)):
        info = probe(audio, check_finite=False)
        if info.warning:
            warnings.warn(f"{info.path}: {info.warning}", UserWarning, stacklevel=3)
        return load(info, sample_rate=model_sample_rate, mono=True, use_tf=False)
    audio = np.asarray(audio)
    if audio.dtype.kind != "f":
        raise InvalidOptionError(
            f"audio has dtype {audio.dtype}; pass float samples in [-1, 1] (e.g. int16 "
            "/ 32768) or a file path.")
    if audio.ndim != 1 or audio.size == 0:
        raise InvalidOptionError(f"audio must be one non-empty channel; got {audio.shape}.")
    if not np.isfinite(audio).all():
        raise InvalidOptionError("audio contains NaN or Inf.")
    audio = audio.astype(np.float32)
    rate = model_sample_rate if sample_rate is None else int(sample_rate)
    if rate == model_sample_rate:
        return audio
    return resample(audio, sample_rate=rate, target_sample_rate=model_sample_rate)


def predict_windows(predict: Callable[[np.ndarray], np.ndarray], audio, *,
                    model_sample_rate: int, input_length: int,
                    sample_rate: int | None = None,
                    hop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Classify a recording window by window with any batch predictor.

    The audio is loaded at the model's rate (`load_waveform`) and cut into windows of
    `input_length` samples (`kerasaudio.audio_io.windows`): a clip no longer than that is
    one window, centred and zero-padded; a longer one gives a window every `hop` samples,
    the last one zero-padded at the end. `predict` gets all windows as one
    `(windows, input_length)` float32 array.

    Args:
        predict: maps `(windows, input_length)` float32 audio to `(windows, classes)`
            probabilities (a Keras model's `predict`, a `TFLiteModel`'s interpreter).
        audio: a file path, or a 1-D float waveform.
        model_sample_rate: the rate the model takes, Hz.
        input_length: the model's input length, samples.
        sample_rate: the waveform's rate (default: the model's).
        hop: samples between window starts at the model's rate (default: half the input
            length).

    Returns:
        `(start_seconds, probabilities)`: `(windows,)` and `(windows, classes)`.

    Example:
    ```python
    starts, probabilities = kerasaudio.runtime.predict_windows(
        lambda clips: model.predict(clips, verbose=0), "long_recording.wav",
        model_sample_rate=8000, input_length=8000)
    ```
    """
    waveform = load_waveform(audio, model_sample_rate=model_sample_rate,
                             sample_rate=sample_rate)
    starts, clips = windows(waveform, int(input_length), hop=hop)
    probabilities = np.asarray(predict(clips))
    return starts / model_sample_rate, probabilities


class TFLiteModel:
    """Run an exported kerasaudio `.tflite` classifier on audio: no Keras, no TensorFlow.

    Reads the sample rate, input length and class names from the file's metadata (written
    by `kerasaudio.export.to_tflite(..., sample_rate=...)`), decodes files with soundfile,
    resamples with soxr (as `kerasaudio.audio_io.load_audio` does) and runs LiteRT
    (`ai_edge_litert`). A clip shorter than the input length is centred and zero-padded;
    a longer one is cut into windows (hop: half the input length; the last window padded)
    and classified window by window (`predict_windows`).

    Args:
        model: path of a `.tflite` file, or its contents.
        num_threads: LiteRT threads (None: LiteRT's default).

    Raises:
        KerasAudioError: the file carries no kerasaudio metadata.

    Example:
    ```python
    from kerasaudio.runtime import TFLiteModel
    runner = TFLiteModel("m5_fsdd_digits.tflite")
    probabilities = runner.predict("7_jackson_32.wav")
    runner.class_names[probabilities.argmax()]  # '7'
    ```
    """

    def __init__(self, model: str | os.PathLike | bytes, *, num_threads: int | None = None):
        if isinstance(model, (bytes, bytearray)):
            data = bytes(model)
        else:
            with open(model, "rb") as f:
                data = f.read()
        self.metadata = read_metadata(data)
        self.sample_rate = int(self.metadata["sample_rate"])
        self.input_length = int(self.metadata["input_length"])
        self.class_names = self.metadata.get("class_names")
        #: The model-info record the exporter wrote (`kerasaudio.info.model_info` reads it).
        self.audio_info = AudioInfo.from_metadata(self.metadata)
        self._interpreter = make_interpreter(data, num_threads=num_threads)
        self._allocated: list = []

    def _predict_batch(self, clips: np.ndarray) -> np.ndarray:
        """Probabilities of `(windows, input_length)` clips, one invocation per clip."""
        return np.stack([invoke(self._interpreter, [clip[None]],
                                allocated=self._allocated)[0][0] for clip in clips])

    def predict_windows(self, audio, *, sample_rate: int | None = None,
                        hop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """`(start_seconds, probabilities)` of every window, `(windows,)` and
        `(windows, classes)`.

        Args:
            audio: a file path, or a 1-D float waveform.
            sample_rate: the waveform's rate (default: the model's); it is resampled.
            hop: samples between window starts at the model's rate (default: half the
                input length).

        Example:
        ```python
        starts, probs = runner.predict_windows("long_recording.wav")
        ```
        """
        return predict_windows(self._predict_batch, audio,
                               model_sample_rate=self.sample_rate,
                               input_length=self.input_length, sample_rate=sample_rate,
                               hop=hop)

    def predict(self, audio, *, sample_rate: int | None = None) -> np.ndarray:
        """Class probabilities of a waveform or file: the mean over its windows.

        Args:
            audio: a file path, or a 1-D float waveform.
            sample_rate: the waveform's rate (default: the model's); it is resampled.

        Example:
        ```python
        runner.predict(np.zeros(8000, "float32")).shape  # (10,)
        ```
        """
        return self.predict_windows(audio, sample_rate=sample_rate)[1].mean(axis=0)
