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
- `read_metadata`, `run_tflite`, `make_interpreter`, `invoke` and `output_details` read
  and run flatbuffers; outputs come in the Keras model's output order (see
  `output_details`).
"""

from __future__ import annotations

import io
import json
import os
import re
import warnings
import weakref
import zipfile
from collections.abc import Callable, Mapping

import numpy as np

from kerasaudio.audio_io import (
    MAX_DURATION,
    MAX_PEAK,
    check_peak,
    check_seconds,
    load,
    probe,
    resample,
)
from kerasaudio.errors import (
    InvalidAudioError,
    InvalidOptionError,
    KerasAudioError,
    ModelFileError,
    ModelFileNotFoundError,
)
from kerasaudio.info import AudioInfo

__all__ = [
    "KERASAUDIO_METADATA",
    "WINDOW_BATCH",
    "StreamingVAD",
    "TFLiteModel",
    "check_flatbuffer",
    "invoke",
    "load_waveform",
    "make_interpreter",
    "output_details",
    "predict_windows",
    "read_metadata",
    "read_model_file",
    "run_tflite",
    "split_associated_files",
]

#: Name of kerasaudio's JSON metadata entry in a `.tflite` file.
KERASAUDIO_METADATA = "kerasaudio"
#: Windows given to the predictor at a time by `predict_windows`: memory stays bounded
#: whatever the hop (a 1-sample hop over a minute of audio is ~500,000 windows).
WINDOW_BATCH = 256
#: The flatbuffer file identifier of a `.tflite` file (bytes 4-8).
_TFLITE_IDENTIFIER = b"TFL3"


# ----------------------------------------------------------------------------- flatbuffers


def split_associated_files(data: bytes) -> tuple[bytes, dict[str, bytes]]:
    """Split a `.tflite` file into its flatbuffer and the files of its appended zip.

    TFLite Model Metadata stores associated files (e.g. `labels.txt`) in a zip archive
    appended to the flatbuffer; a file without one is returned whole with no files.

    Example:
    ```python
    import keras
    from kerasaudio.runtime import split_associated_files
    model = keras.Sequential([keras.Input((8000,)), keras.layers.Dense(2, activation="softmax")])
    data = kerasaudio.export.add_metadata(kerasaudio.export.convert(model), sample_rate=8000,
                                          class_names=["yes", "no"])
    flatbuffer, files = split_associated_files(data)
    files["labels.txt"].decode().split()  # ['yes', 'no']
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
    import keras
    model = keras.Sequential([keras.Input((8000,)), keras.layers.Dense(2, activation="softmax")])
    with open("yes_no.tflite", "wb") as f:
        f.write(kerasaudio.export.add_metadata(
            kerasaudio.export.convert(model), sample_rate=8000, class_names=["yes", "no"],
            extra={"input_length": 8000}))
    info = kerasaudio.runtime.read_metadata(open("yes_no.tflite", "rb").read())
    info["sample_rate"], info["class_names"], info["input_length"]  # (8000, ['yes', 'no'], 8000)
    ```
    """
    from ai_edge_litert import schema_py_generated as schema

    check_flatbuffer(data)
    try:
        flatbuffer, files = split_associated_files(data)
        model = schema.Model.GetRootAs(flatbuffer, 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if entry.Name().decode() == KERASAUDIO_METADATA:
                payload = model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
                info = json.loads(payload)
                if not isinstance(info, dict):
                    raise ValueError("the kerasaudio metadata is not a JSON object")
                info["associated_files"] = sorted(files)
                return info
    except Exception as exc:  # a corrupt flatbuffer: struct.error, IndexError, ...
        raise ModelFileError(_CONTENTS, f"corrupt TFLite flatbuffer ({type(exc).__name__}: "
                             f"{exc})") from None
    raise KerasAudioError("the TFLite file carries no kerasaudio metadata.")


#: How errors name a model given as bytes rather than a file.
_CONTENTS = "<TFLite model contents>"


def check_flatbuffer(data: bytes, *, path: str | os.PathLike | None = None) -> None:
    """Refuse contents that are not a TFLite flatbuffer (empty, text, garbage).

    Checks the size and the `TFL3` file identifier: cheap, before any parser reads the
    offsets a garbage file would give.

    Raises:
        ModelFileError: names `path` (or the contents) and what is wrong.

    Example:
    ```python
    try:
        kerasaudio.runtime.check_flatbuffer(b"not a model", path="notes.tflite")
    except kerasaudio.errors.ModelFileError as e:
        print(e)  # notes.tflite: is not a TFLite model (no 'TFL3' flatbuffer identifier ...)
    ```
    """
    where = _CONTENTS if path is None else path
    if not data:
        raise ModelFileError(where, "is empty (0 bytes), not a TFLite model")
    if len(data) < 16 or data[4:8] != _TFLITE_IDENTIFIER:
        raise ModelFileError(where, "is not a TFLite model (no 'TFL3' flatbuffer identifier "
                             "at bytes 4-8)")


def _is_existing_path(data: bytes) -> bool:
    """Whether `bytes` given as a model name an existing file (else they are contents)."""
    if data[4:8] == _TFLITE_IDENTIFIER or len(data) > 4096 or b"\x00" in data:
        return False
    return os.path.exists(data)


def read_model_file(path: str | bytes | os.PathLike) -> bytes:
    """The contents of a `.tflite` file, checked to be a TFLite flatbuffer.

    Raises:
        ModelFileNotFoundError: no such file.
        ModelFileError: a directory, unreadable, a NUL byte in the path, or not a
            TFLite flatbuffer.

    Example:
    ```python
    open("notes.tflite", "w").write("not a model")
    try:
        kerasaudio.runtime.read_model_file("notes.tflite")
    except kerasaudio.errors.ModelFileError as e:
        print(e.path, e.reason)  # notes.tflite is not a TFLite model (...)
    ```
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise InvalidOptionError(
            f"model must be a path or the file's bytes, got {type(path).__name__}.")
    shown = os.fsdecode(os.fspath(path))
    if "\x00" in shown:
        raise ModelFileError(shown.replace("\x00", "\\x00"), "the path contains a NUL byte")
    try:
        with open(os.fsencode(shown) if os.name != "nt" else shown, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ModelFileNotFoundError(shown, "no such file") from None
    except IsADirectoryError:
        raise ModelFileError(shown, "is a directory, not a TFLite file") from None
    except OSError as e:
        raise ModelFileError(shown, f"cannot be read ({e.strerror or e})") from None
    check_flatbuffer(data, path=shown)
    return data


def make_interpreter(model_content: bytes, *, num_threads: int | None = None):
    """A LiteRT interpreter (`ai_edge_litert.interpreter.Interpreter`) for a flatbuffer.

    Example:
    ```python
    import keras
    from kerasaudio.runtime import invoke, make_interpreter
    model = keras.Sequential([keras.Input((8000,)), keras.layers.Dense(2, activation="softmax")])
    interpreter = make_interpreter(kerasaudio.export.convert(model), num_threads=1)
    (probabilities,) = invoke(interpreter, [np.zeros((1, 8000), "float32")])
    print(probabilities)  # [[0.5 0.5]]: silence in, equal scores out
    ```
    """
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_content=bytes(model_content), num_threads=num_threads)


#: A signature output name the TFLite converter gives the i-th output of a function that
#: returns a list or tuple: `output_<i>`.
_POSITIONAL_OUTPUT = re.compile(r"output_(\d+)")
#: Interpreter -> what `_signature` read from its file (None: not exactly one signature
#: describing the interpreter's inputs and outputs). Weak: an entry goes with its interpreter.
_SIGNATURES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _signature_output_order(names) -> list[str]:
    """Signature output names in the Keras model's output order.

    `output_<i>` names (a model returning a list) by `i`, as numbers: as strings
    `output_10` sorts before `output_2`. Any other names (a model returning a dict: its
    keys) sorted, the order in which Keras lists a dict's outputs in `model.outputs`.
    """
    names = list(names)
    if all(_POSITIONAL_OUTPUT.fullmatch(name) for name in names):
        return sorted(names, key=lambda name: int(name[len("output_"):]))
    return sorted(names)


def _signature_tensors(interpreter, key: str) -> tuple[dict[str, int], dict[str, int]]:
    """`(input, output)` tensor indices by name in the file's signature `key`."""
    # The runner is a temporary: while a SignatureRunner lives it holds the interpreter's
    # internals, and LiteRT refuses `allocate_tensors` and `invoke`.
    runner = interpreter.get_signature_runner(key)
    inputs = {name: int(d["index"]) for name, d in runner.get_input_details().items()}
    outputs = {name: int(d["index"]) for name, d in runner.get_output_details().items()}
    del runner
    return inputs, outputs


def _signature(interpreter) -> tuple[dict[str, int], list[int]] | None:
    """`(input tensor index by signature name, output tensor indices in the model's output
    order)` from the file's signature, worked out once per interpreter; None when the file
    has not exactly one signature or it does not describe the interpreter's tensors."""
    if interpreter in _SIGNATURES:
        return _SIGNATURES[interpreter]
    signature = None
    signatures = interpreter.get_signature_list()
    if len(signatures) == 1:
        (key,) = signatures
        inputs, outputs = _signature_tensors(interpreter, key)
        order = [outputs[name] for name in _signature_output_order(outputs)]
        if (sorted(inputs.values()) == sorted(int(d["index"]) for d in
                                              interpreter.get_input_details())
                and sorted(order) == sorted(int(d["index"]) for d in
                                            interpreter.get_output_details())):
            signature = inputs, order
    _SIGNATURES[interpreter] = signature
    return signature


def output_details(interpreter) -> list[dict]:
    """`interpreter.get_output_details()` in the Keras model's output order.

    LiteRT lists a file's outputs in the order of its graph, which for a model with
    several outputs is not the model's (a 2-output model can come back as outputs 1, 0).
    The file's signature names each output: a model that returns a list has outputs
    `output_0`, `output_1`, ... (ordered by number here, not as strings, where
    `output_10` comes before `output_2`); a model that returns a dict has its keys
    (ordered as strings, as Keras orders `model.outputs`). Files written by
    `kerasaudio.export` carry one signature. A file without a signature, with more than
    one, or with one that does not name exactly the interpreter's input and output
    tensors keeps LiteRT's `get_output_details()` order. The order is worked out once
    per interpreter; the details (shapes) are read on every call.

    Args:
        interpreter: an `ai_edge_litert.interpreter.Interpreter` (`make_interpreter`).

    Returns:
        One dict per output (`name`, `index`, `shape`, `dtype`, ...), in the model's
        output order.

    Example:
    ```python
    import keras
    from kerasaudio.runtime import make_interpreter, output_details
    inputs = keras.Input((8000,))
    model = keras.Model(inputs, [keras.layers.Dense(10)(inputs), keras.layers.Dense(3)(inputs)])
    interpreter = make_interpreter(kerasaudio.export.convert(model))
    [tuple(d["shape"]) for d in output_details(interpreter)]  # [(1, 10), (1, 3)]
    ```
    """
    signature = _signature(interpreter)
    details = interpreter.get_output_details()
    if signature is None:
        return details
    by_index = {int(d["index"]): d for d in details}
    return [by_index[index] for index in signature[1]]


def _inputs_by_name(interpreter, details: list[dict], inputs: Mapping) -> list:
    """Arrays given by signature input name, in `details` (`get_input_details()`) order."""
    signature = _signature(interpreter)
    if signature is None:
        raise InvalidOptionError("inputs given by name need a file with one signature "
                                 "(as kerasaudio.export writes); pass a list in "
                                 "get_input_details() order.")
    if set(inputs) != set(signature[0]):
        raise InvalidOptionError(f"the model's inputs are {sorted(signature[0])}; got "
                                 f"{sorted(inputs)}.")
    by_index = {signature[0][name]: x for name, x in inputs.items()}
    return [by_index[int(d["index"])] for d in details]


def invoke(interpreter, inputs, *, allocated: list | None = None) -> list[np.ndarray]:
    """Run `interpreter` on `inputs` and return its outputs.

    Inputs whose shape differs from the interpreter's are resized to (dynamic batch or
    length). Variable tensors (a fused LSTM's state) are reset first, so every call starts
    from zeros as the Keras model does. `allocated`, a list the caller keeps between
    calls, remembers the shapes tensors were last allocated for, so repeated calls with
    the same shapes skip the reallocation.

    Args:
        interpreter: an `ai_edge_litert.interpreter.Interpreter` (`make_interpreter`).
        inputs: one array per model input: a list in `interpreter.get_input_details()`
            order (for a file with several inputs this need not be the Keras model's
            input order, which the file does not record), or a mapping from the names in
            the file's signature (the Keras `Input` names) to arrays.
        allocated: a list the caller keeps between calls (see above), or None.

    Returns:
        The outputs, in the Keras model's output order when the file has a signature (as
        files written by `kerasaudio.export` have); otherwise in LiteRT's
        `get_output_details()` order (see `output_details`).

    Raises:
        KerasAudioError: the number of inputs is wrong.
        InvalidOptionError: inputs by name that are not the signature's, or a file
            without one signature.

    Example:
    ```python
    from kerasaudio.runtime import invoke, make_interpreter
    model = kerasaudio.create_model("m5_fsdd_digits")
    clips, digits = kerasaudio.datasets.fsdd.sample_clips()  # (120, 8000) bundled clips
    interpreter, allocated = make_interpreter(kerasaudio.export.convert(model)), []
    predicted = []
    for clip in clips[:10]:  # allocated once, for the first clip's shape
        (probabilities,) = invoke(interpreter, [clip[None]], allocated=allocated)
        predicted.append(int(probabilities.argmax()))
    predicted == list(digits[:10])  # True
    ```
    """
    details = interpreter.get_input_details()
    if isinstance(inputs, Mapping):
        inputs = _inputs_by_name(interpreter, details, inputs)
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
    return [interpreter.get_tensor(d["index"]) for d in output_details(interpreter)]


def run_tflite(model_content: bytes, *inputs: np.ndarray | Mapping) -> list[np.ndarray]:
    """Run a TFLite flatbuffer once in LiteRT (`ai_edge_litert`).

    Dynamic dimensions are resized to the given inputs: one array per model input in
    `get_input_details()` order, or one mapping from the file's signature input names
    (the Keras `Input` names) to arrays, as `invoke` takes them.

    Returns:
        The outputs, in the Keras model's output order when the file has a signature
        (files written by `kerasaudio.export` have one); otherwise in LiteRT's
        `get_output_details()` order (see `output_details`).

    Example:
    ```python
    import keras
    inputs = keras.Input((8000,))
    features = kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=256, n_mels=40)(inputs)
    fb = kerasaudio.export.convert(keras.Model(inputs, features))
    (mel,) = kerasaudio.runtime.run_tflite(fb, np.zeros((1, 8000), "float32"))
    mel.shape  # (1, 126, 40): frames x mel bands
    ```
    """
    if len(inputs) == 1 and isinstance(inputs[0], Mapping):
        return invoke(make_interpreter(model_content), inputs[0])
    return invoke(make_interpreter(model_content), inputs)


# ----------------------------------------------------------------------------- windows


def load_waveform(audio, *, model_sample_rate: int, sample_rate: int | None = None,
                  max_duration: float | None = MAX_DURATION,
                  max_peak: float | None = MAX_PEAK) -> np.ndarray:
    """One float32 channel at `model_sample_rate` from a file path or a waveform.

    A file is decoded with soundfile (never TensorFlow), mixed to mono and resampled as
    `kerasaudio.audio_io.load_audio` does (a truncated WAV loads what it holds, with a
    warning; at most `max_duration` seconds). A waveform must be float samples of one
    channel; it is resampled from `sample_rate` when that differs from the model's.
    Either must be finite and within `max_peak` (`kerasaudio.audio_io.check_peak`):
    beyond it a float32 front end overflows and the model returns NaN.

    Args:
        audio: a file path (`str`, `bytes`, `os.PathLike`), or a 1-D float waveform.
        model_sample_rate: the rate the model takes, Hz.
        sample_rate: the waveform's rate (default: the model's); ignored for files.
        max_duration: the longest file decoded, seconds (None: no limit).
        max_peak: the largest sample magnitude accepted (None: any finite value).

    Raises:
        AudioFileError: the file cannot be read, or is longer than `max_duration`
            (names it).
        InvalidAudioError: NaN/Inf samples or a peak beyond `max_peak` (names the file).
        InvalidOptionError: the waveform is not one float channel.

    Example:
    ```python
    import soundfile as sf
    sf.write("tone.wav", np.zeros(4301, "float32"), 8000)
    kerasaudio.runtime.load_waveform("tone.wav", model_sample_rate=16000).shape  # (8602,)
    ```
    """
    if isinstance(audio, (str, bytes, os.PathLike)):
        info = probe(audio, check_finite=False)
        if info.warning:
            warnings.warn(f"{info.path}: {info.warning}", UserWarning, stacklevel=3)
        waveform = load(info, sample_rate=model_sample_rate, mono=True, use_tf=False,
                        max_duration=max_duration)
        check_peak(waveform, max_peak=max_peak, what=info.path)
        return waveform
    audio = np.asarray(audio)
    if audio.dtype.kind != "f":
        raise InvalidOptionError(
            f"audio has dtype {audio.dtype}; pass float samples in [-1, 1] (e.g. int16 "
            "/ 32768) or a file path.")
    if audio.ndim != 1 or audio.size == 0:
        raise InvalidOptionError(f"audio must be one non-empty channel; got {audio.shape}.")
    check_peak(audio, max_peak=max_peak, what="audio")
    audio = audio.astype(np.float32)
    rate = model_sample_rate if sample_rate is None else int(sample_rate)
    if rate == model_sample_rate:
        return audio
    if max_duration is not None and audio.shape[0] > max_duration * rate:
        raise InvalidOptionError(
            f"audio holds {audio.shape[0] / rate:.4g} s, more than max_duration="
            f"{max_duration:g} s.")
    return resample(audio, sample_rate=rate, target_sample_rate=model_sample_rate)


def predict_windows(predict: Callable[[np.ndarray], np.ndarray], audio, *,
                    model_sample_rate: int, input_length: int,
                    sample_rate: int | None = None,
                    hop: int | None = None, max_duration: float | None = MAX_DURATION,
                    max_peak: float | None = MAX_PEAK,
                    keep: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Classify a recording window by window with any batch predictor.

    The audio is loaded at the model's rate (`load_waveform`) and cut into windows of
    `input_length` samples (as `kerasaudio.audio_io.windows`): a clip no longer than that
    is one window, centred and zero-padded; a longer one gives a window every `hop`
    samples, the last one zero-padded at the end. `predict` gets the windows as
    `(windows, input_length)` float32 arrays of at most `WINDOW_BATCH` windows, so memory
    does not grow with the number of windows (a small hop).

    Args:
        predict: maps `(windows, input_length)` float32 audio to `(windows, classes)`
            probabilities (a Keras model's `predict`, a `TFLiteModel`'s interpreter).
        audio: a file path, or a 1-D float waveform.
        model_sample_rate: the rate the model takes, Hz.
        input_length: the model's input length, samples.
        sample_rate: the waveform's rate (default: the model's).
        hop: samples between window starts at the model's rate (default: half the input
            length; at least 1).
        max_duration: the longest audio accepted, seconds (None: no limit).
        max_peak: the largest sample magnitude accepted (see `load_waveform`).
        keep: chooses the windows classified: called with the waveform at the model's
            rate as windowed (padding included) and the window starts in samples, it
            returns one bool per window (`kerasaudio.vad` drops silent windows this
            way). None: every window.

    Returns:
        `(start_seconds, probabilities)`: `(windows,)` and `(windows, classes)`, the
        kept windows only; `(0,)` and `(0, 0)` when `keep` keeps none.

    Raises:
        AudioFileError, InvalidAudioError, InvalidOptionError: as `load_waveform`; an
            invalid `hop` or `input_length`.

    Example:
    ```python
    import soundfile as sf
    sf.write("long_recording.wav", np.zeros(20000, "float32"), 8000)
    uniform = lambda clips: np.full((len(clips), 10), 0.1, "float32")  # or model.predict
    starts, probabilities = kerasaudio.runtime.predict_windows(
        uniform, "long_recording.wav", model_sample_rate=8000, input_length=8000)
    starts, probabilities.shape  # [0. , 0.5, 1. , 1.5], (4, 10)
    ```
    """
    length = int(input_length)
    if length < 1:
        raise InvalidOptionError(f"input_length={input_length} must be >= 1 sample.")
    hop = length // 2 if hop is None else int(hop)
    if hop < 1:
        raise InvalidOptionError(f"hop={hop} must be >= 1 sample.")
    waveform = load_waveform(audio, model_sample_rate=model_sample_rate,
                             sample_rate=sample_rate, max_duration=max_duration,
                             max_peak=max_peak)
    if len(waveform) <= length:
        total = length - len(waveform)
        starts = np.zeros(1, np.int64)
        waveform = np.pad(waveform, (total // 2, total - total // 2))
    else:
        count = 1 + int(np.ceil((len(waveform) - length) / hop))
        starts = np.arange(count, dtype=np.int64) * hop
        waveform = np.pad(waveform, (0, int(starts[-1]) + length - len(waveform)))
    if keep is not None:
        mask = np.asarray(keep(waveform, starts), bool)
        if mask.shape != starts.shape:
            raise InvalidOptionError(f"keep returned shape {mask.shape}; expected one bool "
                                     f"per window, {starts.shape}.")
        starts = starts[mask]
        if not len(starts):
            return np.zeros(0), np.zeros((0, 0), np.float32)
    view = np.lib.stride_tricks.sliding_window_view(waveform, length)
    probabilities = [np.asarray(predict(np.ascontiguousarray(view[starts[i:i + WINDOW_BATCH]])))
                     for i in range(0, len(starts), WINDOW_BATCH)]
    return starts / model_sample_rate, np.concatenate(probabilities)


class TFLiteModel:
    """Run an exported kerasaudio `.tflite` classifier on audio: no Keras, no TensorFlow.

    Reads the sample rate, input length and class names from the file's metadata (written
    by `kerasaudio.export.to_tflite(..., sample_rate=...)`), decodes files with soundfile,
    resamples with soxr (as `kerasaudio.audio_io.load_audio` does) and runs LiteRT
    (`ai_edge_litert`). A clip shorter than the input length is centred and zero-padded;
    a longer one is cut into windows (hop: half the input length; the last window padded)
    and classified window by window (`predict_windows`). The probabilities are the model's
    first output: of a file with several outputs, the Keras model's first when the file
    has a signature (kerasaudio's files do), else LiteRT's first (`output_details`).

    Args:
        model: path of a `.tflite` file (`str`, `os.PathLike`, or `bytes` naming an
            existing file), or its contents (`bytes`, `bytearray`, `memoryview`).
        num_threads: LiteRT threads (None: LiteRT's default).
        max_duration: the longest audio classified, seconds (None: no limit).
        max_peak: the largest sample magnitude accepted (see `load_waveform`).

    Raises:
        ModelFileNotFoundError: no such file.
        ModelFileError: a directory, or not a TFLite flatbuffer (empty, text, garbage),
            or contents LiteRT cannot load.
        KerasAudioError: the file carries no kerasaudio metadata.

    Example:
    ```python
    from kerasaudio.runtime import TFLiteModel
    model = kerasaudio.create_model("m5_fsdd_digits")  # a pretrained digit classifier
    info = kerasaudio.info.model_info(model)
    # kerasaudio.export.to_tflite(model, path) writes this file verified; convert is quicker
    with open("m5_fsdd_digits.tflite", "wb") as f:
        f.write(kerasaudio.export.add_metadata(
            kerasaudio.export.convert(model), sample_rate=info.sample_rate,
            class_names=info.class_names, extra={"input_length": info.input_length}))
    runner = TFLiteModel("m5_fsdd_digits.tflite")
    probabilities = runner.predict(kerasaudio.datasets.fsdd.SAMPLE_DIR / "7_jackson_0.wav")
    runner.class_names[probabilities.argmax()]  # '7'
    ```
    """

    def __init__(self, model: str | bytes | os.PathLike | bytearray | memoryview, *,
                 num_threads: int | None = None,
                 max_duration: float | None = MAX_DURATION,
                 max_peak: float | None = MAX_PEAK):
        if isinstance(model, (bytearray, memoryview)) or (
                isinstance(model, bytes) and not _is_existing_path(model)):
            data, where = bytes(model), _CONTENTS
            check_flatbuffer(data)
        else:
            data = read_model_file(model)
            where = os.fsdecode(os.fspath(model))
        self.max_duration = check_seconds("max_duration", max_duration, allow_none=True,
                                          allow_zero=False)
        self.max_peak = max_peak
        try:
            self.metadata = read_metadata(data)
        except ModelFileError as e:
            raise ModelFileError(where, e.reason) from None
        except KerasAudioError as e:
            raise ModelFileError(where, str(e).rstrip(".") + " (export it with "
                                 "kerasaudio.export.to_tflite(..., sample_rate=...))") from None
        try:
            self.sample_rate = int(self.metadata["sample_rate"])
            self.input_length = int(self.metadata["input_length"])
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(where, f"the kerasaudio metadata lacks a valid {e}") from None
        self.class_names = self.metadata.get("class_names")
        #: The model-info record the exporter wrote (`kerasaudio.info.model_info` reads it).
        self.audio_info = AudioInfo.from_metadata(self.metadata)
        try:
            self._interpreter = make_interpreter(data, num_threads=num_threads)
        except (RuntimeError, ValueError) as e:
            raise ModelFileError(where, f"LiteRT cannot load it ({e})") from None
        self._allocated: list = []

    def _predict_batch(self, clips: np.ndarray) -> np.ndarray:
        """Probabilities of `(windows, input_length)` clips, one invocation per clip."""
        return np.stack([invoke(self._interpreter, [clip[None]],
                                allocated=self._allocated)[0][0] for clip in clips])

    def predict_windows(self, audio, *, sample_rate: int | None = None,
                        hop: int | None = None,
                        keep: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                        ) -> tuple[np.ndarray, np.ndarray]:
        """`(start_seconds, probabilities)` of every window, `(windows,)` and
        `(windows, classes)`.

        Args:
            audio: a file path, or a 1-D float waveform.
            sample_rate: the waveform's rate (default: the model's); it is resampled.
            hop: samples between window starts at the model's rate (default: half the
                input length).
            keep: the windows classified (see `kerasaudio.runtime.predict_windows`).

        Example:
        ```python
        import soundfile as sf
        from kerasaudio.runtime import TFLiteModel
        model = kerasaudio.create_model("m5_fsdd_digits")
        fb = kerasaudio.export.add_metadata(
            kerasaudio.export.convert(model), sample_rate=8000,
            class_names=kerasaudio.info.model_info(model).class_names,
            extra={"input_length": 8000})
        runner = TFLiteModel(fb)  # the file's contents work as well as its path
        audio = [sf.read(kerasaudio.datasets.fsdd.SAMPLE_DIR / f"{digit}_george_0.wav",
                         dtype="float32")[0] for digit in (3, 1, 4)]
        sf.write("three_digits.wav", np.concatenate(audio), 8000)
        starts, probs = runner.predict_windows("three_digits.wav", hop=4000)
        starts.shape, probs.shape  # ((3,), (3, 10)): windows at 0, 0.5 and 1 s
        ```
        """
        return predict_windows(self._predict_batch, audio,
                               model_sample_rate=self.sample_rate,
                               input_length=self.input_length, sample_rate=sample_rate,
                               hop=hop, max_duration=self.max_duration,
                               max_peak=self.max_peak, keep=keep)

    def predict(self, audio, *, sample_rate: int | None = None) -> np.ndarray:
        """Class probabilities of a waveform or file, or of a batch of them: each one's
        mean over its windows.

        Args:
            audio: a file path or a 1-D float waveform: `(classes,)` probabilities; or a
                batch, a 2-D float array `(clips, samples)` or a list of paths and
                waveforms: `(clips, classes)`, row `i` the probabilities of clip `i`.
            sample_rate: the waveforms' rate (default: the model's); they are resampled.

        Example:
        ```python
        import keras
        from kerasaudio.runtime import TFLiteModel
        model = keras.Sequential([keras.Input((16000,)),
                                  keras.layers.Dense(10, activation="softmax")])
        runner = TFLiteModel(kerasaudio.export.add_metadata(
            kerasaudio.export.convert(model), sample_rate=16000,
            extra={"input_length": 16000}))
        runner.predict(np.zeros(8000, "float32"), sample_rate=8000).shape  # (10,)
        runner.predict(np.zeros((4, 16000), "float32")).shape  # (4, 10): a batch
        ```
        """
        if isinstance(audio, (list, tuple)) or (
                isinstance(audio, np.ndarray) and audio.ndim == 2):
            classes = int(output_details(self._interpreter)[0]["shape"][-1])
            rows = [self.predict(clip, sample_rate=sample_rate) for clip in audio]
            return np.stack(rows) if rows else np.zeros((0, classes), np.float32)
        return self.predict_windows(audio, sample_rate=sample_rate)[1].mean(axis=0)


#: Silero VAD's chunk length -> sample rate (the streaming file's chunk input fixes it).
_VAD_CHUNK_RATES = {512: 16000, 256: 8000}


class StreamingVAD:
    """A streaming voice-activity TFLite file (`kerasaudio.export.streaming_vad_tflite`),
    fed one chunk at a time, without TensorFlow or Keras.

    The file takes `chunk` (1, 512 samples at 16 kHz or 256 at 8 kHz) and `state` (the
    LSTM's `h` and `c` and the previous chunk's last samples) and returns the speech
    probability and the next state; this runner keeps the state between calls, as an app
    does. `process` takes one chunk; `probabilities` a whole recording (the last chunk
    zero-padded), from a fresh state, giving what `kerasaudio.create_model("silero_vad")`
    gives.

    Args:
        model: path to the `.tflite` file, or its bytes.
        num_threads: LiteRT threads (None: its default).

    Raises:
        ModelFileError: not a TFLite file, or not a streaming VAD file (inputs `chunk` and
            `state`).

    Example:
    ```python
    import tempfile
    path = tempfile.mkdtemp() + "/vad.tflite"
    kerasaudio.export.streaming_vad_tflite(path, sample_rate=8000)
    vad = kerasaudio.runtime.StreamingVAD(path)
    p = vad.process(np.zeros(256, "float32"))      # one chunk; the state is kept
    vad.reset()                                    # a new stream
    probabilities = vad.probabilities(np.zeros(8000, "float32"))  # (32,)
    ```
    """

    def __init__(self, model: str | bytes | os.PathLike, *, num_threads: int | None = None):
        data = read_model_file(model) if not isinstance(model, (bytes, bytearray)) else \
            bytes(model)
        self._interpreter = make_interpreter(data, num_threads=num_threads)
        self._interpreter.allocate_tensors()
        inputs = {d["name"].split(":")[0].rsplit("_", 1)[-1]: d
                  for d in self._interpreter.get_input_details()}
        if set(inputs) != {"chunk", "state"}:
            raise ModelFileError(str(model)[:200], "is not a streaming VAD file (it needs "
                                 "the inputs 'chunk' and 'state')")
        self._chunk, self._state = inputs["chunk"], inputs["state"]
        self.chunk_size = int(self._chunk["shape"][-1])
        self.state_size = int(self._state["shape"][-1])
        self.sample_rate = _VAD_CHUNK_RATES.get(self.chunk_size)
        outputs = self._interpreter.get_output_details()
        by_size = {int(np.prod(d["shape"])): d for d in outputs}
        if len(outputs) != 2 or set(by_size) != {1, self.state_size}:
            raise ModelFileError(str(model)[:200], "is not a streaming VAD file (it needs a "
                                 "probability and a state output)")
        self._probability, self._next_state = by_size[1], by_size[self.state_size]
        self.reset()

    def reset(self) -> None:
        """Start a new stream: a zero state."""
        self.state = np.zeros((1, self.state_size), np.float32)

    def process(self, chunk) -> float:
        """The speech probability of the next chunk (`chunk_size` samples), updating the
        state.

        Raises:
            InvalidAudioError: a chunk of another length or with non-finite samples.
        """
        chunk = np.asarray(chunk, np.float32).reshape(-1)
        if chunk.size != self.chunk_size or not np.all(np.isfinite(chunk)):
            raise InvalidAudioError(f"a chunk is {self.chunk_size} finite samples; got "
                                    f"{chunk.size} samples.")
        interpreter = self._interpreter
        interpreter.set_tensor(self._chunk["index"], chunk[None])
        interpreter.set_tensor(self._state["index"], self.state)
        interpreter.invoke()
        self.state = interpreter.get_tensor(self._next_state["index"]).reshape(1, -1).copy()
        return float(interpreter.get_tensor(self._probability["index"]).reshape(()))

    def probabilities(self, audio) -> np.ndarray:
        """Probabilities of every chunk of a recording, from a fresh state (which is left
        reset afterwards).

        Returns:
            `(ceil(len(audio) / chunk_size),)` float32.
        """
        audio = np.asarray(audio, np.float32).reshape(-1)
        audio = np.pad(audio, (0, -len(audio) % self.chunk_size))
        self.reset()
        out = np.array([self.process(audio[i:i + self.chunk_size])
                        for i in range(0, len(audio), self.chunk_size)], np.float32)
        self.reset()
        return out
