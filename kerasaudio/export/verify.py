"""Verified TFLite export: convert in a child process, compare with Keras in LiteRT, write.

`to_tflite(model, path, ...)` converts with `kerasaudio.export.convert` in a fresh Python
process (a converter crash becomes a `ConversionError`, never a dead caller), adds the
metadata, runs the result in LiteRT against the Keras model on representative audio, and
writes the file only if every output value agrees within the tolerance. It returns an
`ExportReport`. `op_names` and `float_ops` inspect converted files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from kerasaudio.errors import ConversionError, InvalidOptionError, VerificationError
from kerasaudio.export.convert import (
    CALIBRATED,
    check_quantization,
    clip_array,
    equalizes,
    first_layers_after_frontend,
)
from kerasaudio.info import model_info
from kerasaudio.runtime import invoke, make_interpreter
from kerasaudio.weights.env import usual_file_mode

__all__ = ["DEFAULT_TOLERANCE", "FALLBACK", "ExportReport", "float_ops", "op_names",
           "to_tflite"]

#: Modes whose failed verification is retried with the first layer after the front end
#: float32 (`to_tflite(keep_float=None)`).
FALLBACK = ("int8", "dynamic")
#: Default verification tolerances: largest |TFLite - Keras| on any output value.
DEFAULT_TOLERANCE = {None: 1e-4, "float16": 1e-2, "dynamic": 5e-2, "int8": 1e-1,
                     "int16x8": 5e-2}


# ----------------------------------------------------------------------------- inspecting


def op_names(model_content: bytes) -> list[str]:
    """Sorted names of the ops in a TFLite flatbuffer (e.g. `["CONV_2D", "RFFT2D"]`).

    Example:
    ```python
    import keras
    inputs = keras.Input((8000,))
    x = kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=256)(inputs)
    outputs = keras.layers.Dense(4)(keras.layers.GlobalAveragePooling1D()(x))
    fb = kerasaudio.export.convert(keras.Model(inputs, outputs))
    ops = kerasaudio.export.op_names(fb)
    "RFFT2D" in ops, any(op.startswith("Flex") for op in ops)  # (True, False)
    ```
    """
    interpreter = make_interpreter(model_content)
    return sorted({op["op_name"] for op in interpreter._get_ops_details()})


def float_ops(model_content: bytes) -> list[str]:
    """Ops of a quantized flatbuffer that still compute in float32.

    `TFLITE_BUILTINS_INT8` does not enforce pure int8: ops without an int8 kernel (RFFT2D,
    LOG, ...) stay float, wrapped in QUANTIZE/DEQUANTIZE. Returns their sorted names
    (QUANTIZE/DEQUANTIZE themselves excluded).

    Example:
    ```python
    import keras
    inputs = keras.Input((8000,))
    x = kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=256)(inputs)
    x = kerasaudio.layers.PowerToDb()(x)
    outputs = keras.layers.Dense(4)(keras.layers.GlobalAveragePooling1D()(x))
    clips, _ = kerasaudio.datasets.fsdd.sample_clips()
    int8 = kerasaudio.export.convert(keras.Model(inputs, outputs), quantization="int8",
                                     representative_data=clips[:16])
    kerasaudio.export.float_ops(int8)  # the float32 front end: [..., 'LOG', ..., 'RFFT2D', ...]
    ```
    """
    interpreter = make_interpreter(model_content)
    dtypes = {t["index"]: t["dtype"] for t in interpreter.get_tensor_details()}
    names = set()
    for op in interpreter._get_ops_details():
        if op["op_name"] in ("QUANTIZE", "DEQUANTIZE"):
            continue
        tensors = [i for i in (*op["inputs"], *op["outputs"]) if i >= 0]
        if any(dtypes.get(i) in (np.float32, np.complex64) for i in tensors):
            names.add(op["op_name"])
    return sorted(names)


# ----------------------------------------------------------------------------- the report


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of each clip's output in `a` with the same clip's in `b`.

    Each clip's values (axis 0 indexes clips) are flattened into one vector; two zero
    vectors count as identical (1.0), one zero vector against another vector as 0.0.

    Args:
        a: outputs `(clips, ...)`.
        b: outputs of the same shape.

    Returns:
        `(clips,)` float64 similarities in [-1, 1].

    Example:
    ```python
    from kerasaudio.export.verify import cosine_similarity
    cosine_similarity(np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([[2.0, 0.0], [0.0, 0.0]]))
    # array([1., 1.])
    ```
    """
    a = np.asarray(a, np.float64).reshape(len(a), -1)
    b = np.asarray(b, np.float64).reshape(len(b), -1)
    norm_a, norm_b = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    norms = norm_a * norm_b
    both_zero = (norm_a == 0) & (norm_b == 0)
    dots = np.sum(a * b, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        similarity = np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), 0.0)
    return np.clip(np.where(both_zero, 1.0, similarity), -1.0, 1.0)


@dataclass
class ExportReport:
    """What `to_tflite` measured. `passed` is the verification verdict.

    Example:
    ```python
    model = kerasaudio.create_model("m5_fsdd_digits")
    report = kerasaudio.export.to_tflite(model, "m5.tflite", quantization="dynamic")
    print(report)  # a readable summary (a preset is verified on its bundled clips)
    report.passed, report.max_abs_diff <= report.tolerance  # (True, True)
    report.to_dict()["keras_accuracy"] == report.keras_accuracy  # True
    ```
    """

    path: str | None
    quantization: str | None
    size_bytes: int
    ops: list[str]
    float_ops: list[str]
    batch_size: int | None
    clips: int
    max_abs_diff: float
    top1_agreement: float
    decisive_top1_agreement: float
    tolerance: float
    passed: bool
    litert_ms: float
    keras_ms: float
    keras_accuracy: float | None = None
    tflite_accuracy: float | None = None
    notes: list[str] = field(default_factory=list)
    kept_float: list[str] = field(default_factory=list)
    min_cosine: float = float("nan")
    required_cosine: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        lines = [
            f"TFLite export ({self.quantization or 'float32'}): "
            f"{'PASSED' if self.passed else 'FAILED'} verification",
            f"  file:            {self.path or '(not written)'}",
            f"  size:            {self.size_bytes / 1e6:.3f} MB",
            f"  ops:             {', '.join(self.ops)}",
        ]
        if self.quantization in CALIBRATED:
            lines.append(f"  float ops:       {', '.join(self.float_ops) or 'none'}")
        if self.kept_float:
            lines.append(f"  float layers:    {', '.join(self.kept_float)} (and the front end)")
        lines += [
            f"  verified on:     {self.clips} clips, batch {self.batch_size}",
            f"  max |diff|:      {self.max_abs_diff:.3g} "
            + (f"(tolerance {self.tolerance:.3g})" if self.required_cosine is None
               else "(not checked)"),
            f"  min cosine:      {self.min_cosine:.4f}"
            + ("" if self.required_cosine is None
               else f" (required >= {self.required_cosine:.4g})"),
            f"  top-1 agreement: {self.top1_agreement:.4f} "
            f"(decisive clips: {self.decisive_top1_agreement:.4f})",
            f"  latency:         LiteRT {self.litert_ms:.2f} ms/clip, "
            f"Keras {self.keras_ms:.2f} ms/clip",
        ]
        if self.keras_accuracy is not None:
            lines.append(f"  accuracy:        Keras {self.keras_accuracy:.4f}, "
                         f"TFLite {self.tflite_accuracy:.4f}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


# ----------------------------------------------------------------------------- the child process


#: Top-level packages whose serialized objects the child imports by itself.
_OWN_PACKAGES = frozenset({"keras", "kerasaudio"})


def _user_objects(model) -> tuple[list[list[str]], list[str]]:
    """The user's objects a model's config names, for the child process to import:
    `([registered name, module, attribute], ...)` and the directories their top-level
    modules were imported from (kerasaudio's and Keras' own objects excluded).

    Raises:
        InvalidOptionError: an object defined in `__main__` (a script or notebook), which
            no other process can import, or in a module that cannot be imported by name.
    """
    import importlib.util

    import keras

    found: dict[str, list[str]] = {}

    def walk(node):
        if isinstance(node, dict):
            module = node.get("module")
            if module is None and "module" in node and "registered_name" in node:
                module = "__main__"  # Keras writes None for objects of `__main__`
            if isinstance(module, str) and isinstance(node.get("class_name"), str) \
                    and module.split(".")[0] not in _OWN_PACKAGES:
                attribute = (node.get("config") if node["class_name"] == "function"
                             else node["class_name"])
                name = node.get("registered_name") or node["class_name"]
                if isinstance(attribute, str):
                    found.setdefault(f"{name}|{module}", [name, module, attribute])
            for value in node.values():
                walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)

    walk(keras.saving.serialize_keras_object(model))
    roots = []
    for name, module, attribute in found.values():
        if module == "__main__" or module.startswith("__main__."):
            raise InvalidOptionError(
                f"the model uses {attribute!r} (registered as {name!r}), defined in "
                "__main__ (the script or notebook being run); the conversion runs in a "
                "separate process, which can import it only from a module: move it into a "
                ".py file on sys.path and import it from there.")
        top = module.split(".")[0]
        loaded = sys.modules.get(top)
        spec = None if loaded is not None else importlib.util.find_spec(top)
        if loaded is None and spec is None:
            raise InvalidOptionError(
                f"the model uses {attribute!r} from module {module!r}, which cannot be "
                "imported by name; the conversion process must import it: make it an "
                "importable module (a .py file on sys.path).")
        path = (getattr(loaded, "__file__", None) if loaded is not None
                else spec.origin if spec is not None else None)
        if path:
            root = os.path.dirname(os.path.abspath(path))
            if os.path.basename(path) == "__init__.py":
                root = os.path.dirname(root)
            if root not in roots:
                roots.append(root)
    return list(found.values()), roots


def _convert_in_child(model, *, batch_size, quantization, representative_data,
                      timeout: float, float_frontend: bool = True,
                      keep_float: Sequence[str] = (), per_channel: bool = True,
                      strip_names: bool = False, float16_constants: bool = False,
                      equalize: bool | None = None) -> bytes:
    """Run `convert` in a fresh Python process: a converter crash cannot kill the caller.

    The model travels as a `.keras` file (loaded back in safe mode) and the calibration
    clips as a `.npy` file (no pickle). The user's objects the model names (custom layers,
    registered or not) are imported in the child from the modules they were defined in,
    and passed to the loader as `custom_objects`. The child's import path is kerasaudio's
    own (as the parent found it) and `PYTHONPATH`, plus the directories of those modules:
    never the current directory, whose files the user did not name.
    """
    custom, roots = _user_objects(model)
    with tempfile.TemporaryDirectory(prefix="kerasaudio-export-") as tmp:
        model_path = os.path.join(tmp, "model.keras")
        model.save(model_path)
        args = {"model": model_path, "output": os.path.join(tmp, "model.tflite"),
                "batch_size": batch_size, "quantization": quantization,
                "representative": None, "float_frontend": bool(float_frontend),
                "keep_float": list(keep_float), "per_channel": bool(per_channel),
                "strip_names": bool(strip_names),
                "float16_constants": bool(float16_constants), "equalize": equalize,
                "custom_objects": custom, "module_paths": roots}
        if representative_data is not None:
            args["representative"] = os.path.join(tmp, "representative.npy")
            np.save(args["representative"], np.asarray(representative_data, np.float32),
                    allow_pickle=False)
        env = {**os.environ, "KERAS_BACKEND": "tensorflow",
               "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        # `python -c` puts the current directory ('') first on the child's path (unless
        # PYTHONSAFEPATH is set); the bootstrap replaces it with the directory kerasaudio
        # itself was imported from.
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        bootstrap = ("import sys; sys.path[:1] = [sys.argv[2]] + "
                     "([] if sys.path[:1] == [''] else sys.path[:1]); "
                     "from kerasaudio.export.__main__ import main; main(sys.argv[1])")
        try:
            done = subprocess.run(
                [sys.executable, "-c", bootstrap, json.dumps(args), package_root],
                capture_output=True, text=True, timeout=timeout, env=env, check=False,
                cwd=tmp)
        except subprocess.TimeoutExpired:
            raise ConversionError(
                f"TFLite conversion did not finish within {timeout:.0f} s (child process "
                "killed)."
            ) from None
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-12:])
            if done.returncode < 0:
                name = signal.Signals(-done.returncode).name
                raise ConversionError(
                    f"the TFLite converter crashed ({name}, exit code {done.returncode}) "
                    f"converting with quantization={quantization!r}; this process is "
                    f"unharmed. Last converter output:\n{tail}"
                )
            lines = [line for line in tail.splitlines() if line.strip()]
            cause = lines[-1].strip() if lines else "no output"
            raise ConversionError(
                f"TFLite conversion failed in the child process (exit code "
                f"{done.returncode}): {cause}\n{tail}"
            )
        with open(args["output"], "rb") as f:
            return f.read()


# ----------------------------------------------------------------------------- verified export


def _preset_calibration(preset_name: str | None):
    """`load_clips()` -> the representative `(clips, labels)` of the preset a model's record
    names, or None (no preset named, or one the current manifest lacks). The one place
    export asks the preset layer."""
    if preset_name is None:
        return None
    from kerasaudio.hub import get_preset, representative_clips
    from kerasaudio.weights import load_manifest

    if preset_name not in load_manifest():
        return None
    preset = get_preset(preset_name)
    return lambda: representative_clips(preset)


def to_tflite(model, path: str | os.PathLike | None = None, *,
              quantization: str | None = None, representative_data=None,
              input_length: int | None = None, verify: bool = True,
              tolerance: float | None = None, labels=None, batch_size: int | None = 1,
              sample_rate: int | None = None, class_names=None,
              metadata: dict | None = None, float_frontend: bool = True,
              keep_float: Sequence[str] | None = None, per_channel: bool = True,
              strip_names: bool = False, float16_constants: bool = False,
              equalize: bool | None = None, min_cosine: float | None = None,
              timeout: float = 900.0) -> ExportReport:
    """Export a Keras model to TFLite (builtins only), verified against Keras in LiteRT.

    The conversion runs in a child process, so a converter crash (the TFLite converter
    segfaults on some graphs) raises `ConversionError` here instead of killing Python.
    With `verify=True` (default) the converted model runs in `ai_edge_litert` on the
    representative clips next to the Keras model; the file is written only if every
    output value (of every output, for a multi-output model) is within `tolerance` of
    Keras. Otherwise `VerificationError` is raised with the report and nothing is
    written. Top-1 agreement and accuracy are those of the first output.

    Args:
        model: a Keras model taking raw audio (a front end inside) or features.
        path: where to write the `.tflite` file (None: verify and report only); missing
            directories are created.
        quantization: None (float32), `"float16"`, `"dynamic"`, `"int8"` or
            `"int16x8"`.
        representative_data: clips for calibration (int8) and verification: an array
            `(clips, samples)`, a list, a `tf.data.Dataset` or a generator (of clips or
            `(clip, label)` pairs). Required for int8 (never random calibration) and for
            verification. At most 256 clips are used. Default for a model whose
            model-info record names a pretrained preset: the preset's bundled sample
            clips (with their labels).
        input_length: fix the input length (samples) of a model with a variable-length
            input; representative clips are centre-cropped or padded to it.
        verify: compare with Keras in LiteRT before writing.
        tolerance: largest accepted |TFLite - Keras| on any output value; default by
            mode: 1e-4 float32, 1e-2 float16, 5e-2 dynamic, 1e-1 int8.
        labels: integer labels of the representative clips, to report the accuracy of
            both models.
        batch_size: 1 (default), or None for a dynamic batch (models without recurrent
            layers).
        sample_rate: the input's sample rate (Hz); default: the model's record's
            (`kerasaudio.info.model_info`). When known, the file carries TFLite Model
            Metadata (audio properties; class names as a labels file), so MediaPipe's
            `AudioClassifier` loads it unchanged, and kerasaudio's metadata: the model's
            record (task, class names, sample rate, input length, preset), which
            `TFLiteModel` reads back as its `audio_info`.
        class_names: the output's class names (with `sample_rate`); default: the
            record's, when they match the output's width.
        metadata: more fields for the metadata: `name`, `description`, `version`,
            `author`, `license`, and anything else (kept in kerasaudio's entry).
        float_frontend: keep kerasaudio front-end layers (and, for float16 and dynamic
            range, their constants) in float32 and quantize the network after them
            (default; see `convert`). The report's `float_ops` lists what stayed float.
        keep_float: names of more layers kept float32 (see `convert`). Default None:
            none, except that an int8 or dynamic-range file failing verification is
            converted once more with the first weighted layer after the front end in
            float32 (`first_layers_after_frontend`), and that file is verified and used
            instead;
            the report's `notes` say so. `[]` turns the fallback off.
        per_channel: per-channel weight scales (default) or, False, one per tensor
            (smaller; see `convert`).
        strip_names: drop the tensor names but the input's and output's (see `convert`).
        float16_constants: float16 storage of the float32 ops' large matrices in quantized
            files (see `convert`).
        equalize: cross-layer equalization before quantizing (see `convert`); default
            None: on with `per_channel=False` (BENCHMARKS.md has the measured effect).
            Verification compares with the model as given.
        min_cosine: for embedding models: verify that each clip's output vector has at
            least this cosine similarity with Keras' (in (0, 1]) instead of checking
            `tolerance` on every value. Embeddings are compared by angle, and their
            values have no common scale a value bound could use. The report's
            `min_cosine` is measured either way.
        timeout: seconds allowed for the conversion.

    Returns:
        An `ExportReport` (size, ops, ops left in float, max difference, top-1
        agreement, accuracies, LiteRT and Keras latency per clip).

    Raises:
        InvalidOptionError: bad options, int8/verification without representative data,
            a `path` that cannot be written (checked before converting: a directory, a
            file in the way, a read-only or virtual directory), or a custom object
            defined in `__main__`, which the conversion process cannot import.
        ConversionError: the converter failed or crashed.
        VerificationError: the converted model disagrees beyond `tolerance` (or a
            clip's cosine similarity is below `min_cosine`).

    The model's own custom objects (layers registered with
    `keras.saving.register_keras_serializable`, or not) are imported in the conversion
    process from the modules that define them. Nothing is left behind on failure: no
    temporary file, no directory this call created.

    Example:
    ```python
    import keras
    from kerasaudio.runtime import TFLiteModel
    inputs = keras.Input((8000,), name="audio")
    x = kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=256, n_mels=40)(inputs)
    x = keras.layers.GlobalAveragePooling1D()(kerasaudio.layers.PowerToDb()(x))
    model = kerasaudio.models.with_info(  # the record becomes the file's metadata
        keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x)),
        class_names=[str(d) for d in range(10)], sample_rate=8000)
    clips, _ = kerasaudio.datasets.fsdd.sample_clips()  # (120, 8000) float32
    report = kerasaudio.export.to_tflite(model, "digits.tflite", representative_data=clips)
    print(report)  # size, ops, max |diff| against Keras, top-1 agreement, latency
    report.passed  # True
    runner = TFLiteModel("digits.tflite")
    runner.class_names[:3], runner.sample_rate, runner.input_length  # (['0', '1', '2'], 8000, 8000)
    ```
    """
    check_quantization(quantization, per_channel=per_channel,
                       float16_constants=float16_constants)
    equalizes(quantization, per_channel=per_channel, equalize=equalize)
    if min_cosine is not None and (isinstance(min_cosine, bool)
                                   or not isinstance(min_cosine, (int, float))
                                   or not 0.0 < float(min_cosine) <= 1.0):
        raise InvalidOptionError(f"min_cosine={min_cosine!r}: give a number in (0, 1].")
    output = None if path is None else _Output(path)
    try:
        return _to_tflite(model, output, quantization=quantization,
                          representative_data=representative_data,
                          input_length=input_length, verify=verify, tolerance=tolerance,
                          labels=labels, batch_size=batch_size, sample_rate=sample_rate,
                          class_names=class_names, metadata=metadata,
                          float_frontend=float_frontend, keep_float=keep_float,
                          per_channel=per_channel, strip_names=strip_names,
                          float16_constants=float16_constants, equalize=equalize,
                          min_cosine=min_cosine, timeout=timeout)
    finally:
        if output is not None:
            output.discard()


class _Output:
    """The output file of `to_tflite`, checked before any conversion: its directory is
    created (and a temporary file reserved in it) up front, so a path that cannot be
    written (a file in the way, a read-only or virtual directory such as /proc, a
    directory at `path`) fails in milliseconds, not after minutes of converting. The
    flatbuffer goes to the temporary file, is fsynced and renamed over `path`; on any
    failure the temporary file, and the directories this call created, are removed."""

    def __init__(self, path):
        if not isinstance(path, (str, bytes, os.PathLike)):
            raise InvalidOptionError(f"path must be a file path, got {type(path).__name__}.")
        self.path = os.fsdecode(os.fspath(path))
        if "\x00" in self.path:
            raise InvalidOptionError(f"path {self.path!r} contains a NUL byte.")
        if os.path.isdir(self.path):
            raise InvalidOptionError(f"path={self.path}: is a directory; name the .tflite "
                                     "file to write.")
        directory = os.path.dirname(os.path.abspath(self.path))
        self.created: list[str] = []
        missing, parent = [], directory
        while not os.path.exists(parent):
            missing.append(parent)
            parent = os.path.dirname(parent)
        if not os.path.isdir(parent):
            raise InvalidOptionError(f"path={self.path}: {parent} is a file, not a "
                                     "directory.")
        self.temporary = None
        try:
            for folder in reversed(missing):
                os.mkdir(folder)
                self.created.append(folder)
            handle, self.temporary = tempfile.mkstemp(
                dir=directory, prefix=f".{os.path.basename(self.path)}.", suffix=".tmp")
            os.close(handle)
        except OSError as exc:
            self.discard()
            raise InvalidOptionError(f"path={self.path}: cannot write in {directory} "
                                     f"({exc.strerror or exc}).") from None

    def write(self, data: bytes) -> str:
        """Write `data` to `path` (atomically); returns the path."""
        try:
            with open(self.temporary, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(self.temporary, usual_file_mode())  # mkstemp's 0600 -> the usual
            os.replace(self.temporary, self.path)
        except OSError as exc:
            raise InvalidOptionError(f"path={self.path}: writing the file failed "
                                     f"({exc.strerror or exc}).") from None
        self.temporary, self.created = None, []
        return self.path

    def discard(self) -> None:
        """Remove the temporary file and the directories created (if still empty)."""
        if self.temporary is not None:
            try:
                os.unlink(self.temporary)
            except OSError:
                pass
            self.temporary = None
        for folder in reversed(self.created):
            try:
                os.rmdir(folder)
            except OSError:
                break
        self.created = []


def _to_tflite(model, output: _Output | None, *, quantization, representative_data,
               input_length, verify, tolerance, labels, batch_size, sample_rate,
               class_names, metadata, float_frontend, keep_float, per_channel,
               strip_names, float16_constants, equalize, min_cosine,
               timeout) -> ExportReport:
    """`to_tflite` once its options and output path are checked."""
    if len(model.inputs) != 1:
        raise InvalidOptionError("to_tflite exports single-input models.")
    input_shape = tuple(model.inputs[0].shape[1:])
    if input_length is not None:
        if input_shape[0] is not None and input_shape[0] != input_length:
            raise InvalidOptionError(
                f"input_length={input_length} but the model's input is fixed at "
                f"{input_shape[0]} samples."
            )
        input_shape = (int(input_length), *input_shape[1:])
    if input_shape and input_shape[0] is None:
        raise InvalidOptionError(
            "the model takes variable-length input; pass input_length= (TFLite files "
            "here have a fixed input length)."
        )
    clips = None
    record = model_info(model)
    if sample_rate is None:  # the metadata comes from the model's record
        sample_rate = record.sample_rate
    if (class_names is None and record.class_names is not None
            and record.classes == model.outputs[0].shape[-1]):
        class_names = list(record.class_names)
    metadata = {**{key: value for key, value in (("task", record.task),
                                                 ("preset", record.preset))
                   if value is not None}, **(metadata or {})}
    if representative_data is None:  # a pretrained preset calibrates on its clips
        load_clips = _preset_calibration(record.preset)
        if load_clips is not None:
            representative_data, preset_labels = load_clips()
            labels = preset_labels if labels is None else labels
    if representative_data is not None:
        clips = clip_array(representative_data, input_shape=input_shape,
                           input_length=input_length)
    if quantization in CALIBRATED and clips is None:
        raise InvalidOptionError(
            f"quantization={quantization!r} needs representative_data: calibrating on "
            "random input gives wrong activation ranges. Pass real clips (for a pretrained "
            "preset, its bundled sample clips)."
        )
    if verify and clips is None:
        raise InvalidOptionError(
            "verify=True needs representative_data (clips to compare TFLite and Keras on); "
            "pass clips, or verify=False."
        )
    export_model = model
    if input_length is not None and model.inputs[0].shape[1] is None:
        import keras

        inputs = keras.Input(input_shape, name=model.inputs[0].name.split(":")[0])
        export_model = keras.Model(inputs, model(inputs), name=model.name)

    def attempt(keep: list[str]) -> tuple[bytes, ExportReport]:
        flatbuffer = _convert_in_child(export_model, batch_size=batch_size,
                                       quantization=quantization,
                                       representative_data=clips,
                                       float_frontend=float_frontend, keep_float=keep,
                                       per_channel=per_channel, strip_names=strip_names,
                                       float16_constants=float16_constants,
                                       equalize=equalize, timeout=timeout)
        return _finish(flatbuffer, export_model, clips, labels, quantization=quantization,
                       tolerance=tolerance, verify=verify, batch_size=batch_size,
                       input_shape=input_shape, sample_rate=sample_rate,
                       class_names=class_names, metadata=metadata, kept_float=keep,
                       min_cosine=min_cosine)

    try:
        flatbuffer, report = attempt(list(keep_float or ()))
    except VerificationError as first:
        layers = (first_layers_after_frontend(export_model)
                  if keep_float is None and quantization in FALLBACK else [])
        if not layers:
            raise
        try:
            flatbuffer, report = attempt(layers)
        except VerificationError as second:
            raise VerificationError(
                f"{second}\n(every layer quantized: {first.report.max_abs_diff:.3g}; the file "
                f"above keeps {', '.join(layers)} float32)", second.report) from None
        report.notes.append(
            f"the {quantization} file with every layer quantized differed from Keras by up "
            f"to {first.report.max_abs_diff:.3g}"
            f" (tolerance {first.report.tolerance:.3g}); this file keeps "
            f"{', '.join(layers)} (the first layer after the front end) in float32.")
    if quantization in CALIBRATED:
        from kerasaudio.export.folding import relu_batch_norms

        folded = relu_batch_norms(export_model)
        if folded:
            report.notes.append(
                f"{len(folded)} batch norms after a ReLU had their scale folded into the "
                "layer before the ReLU before quantizing (kerasaudio.export."
                "fold_relu_batch_norms).")
    if equalizes(quantization, per_channel=per_channel, equalize=equalize):
        from kerasaudio.export.equalization import equalization_pairs

        report.notes.append(
            f"weights cross-layer equalized before quantizing "
            f"({len(equalization_pairs(export_model))} layer pairs; "
            "kerasaudio.export.equalize_channels, equalize=False to skip).")
    if output is not None:
        report.path = output.write(flatbuffer)
    return report


def _finish(flatbuffer: bytes, export_model, clips, labels, *, quantization, tolerance,
            verify, batch_size, input_shape, sample_rate, class_names, metadata,
            kept_float, min_cosine=None) -> tuple[bytes, ExportReport]:
    """Add metadata, measure and verify one converted file (`to_tflite`'s second half)."""
    if sample_rate is not None:
        from kerasaudio.export.metadata import add_metadata

        card = dict(metadata or {})
        fields = {key: card.pop(key) for key in ("name", "description", "version", "author",
                                                 "license") if key in card}
        flatbuffer = add_metadata(
            flatbuffer, sample_rate=sample_rate, class_names=class_names,
            channels=1 if len(input_shape) == 1 else int(input_shape[-1]), **fields,
            extra={"input_length": input_shape[0], "quantization": quantization, **card})
    tolerance = DEFAULT_TOLERANCE[quantization] if tolerance is None else float(tolerance)
    report = ExportReport(
        path=None, quantization=quantization, size_bytes=len(flatbuffer),
        ops=op_names(flatbuffer),
        float_ops=float_ops(flatbuffer) if quantization in CALIBRATED else [],
        batch_size=batch_size, clips=0 if clips is None else len(clips),
        max_abs_diff=float("nan"), top1_agreement=float("nan"),
        decisive_top1_agreement=float("nan"), tolerance=tolerance, passed=not verify,
        litert_ms=float("nan"), keras_ms=float("nan"), kept_float=list(kept_float),
        required_cosine=None if min_cosine is None else float(min_cosine))
    if quantization in CALIBRATED and report.float_ops:
        report.notes.append(
            "these ops stayed float32 (no integer kernel, or the float front end): "
            + ", ".join(report.float_ops))
    if clips is not None:
        _measure(report, export_model, flatbuffer, clips, labels)
        if verify and min_cosine is not None:
            report.passed = bool(report.min_cosine >= min_cosine)
            if not report.passed:
                raise VerificationError(
                    f"the {quantization or 'float32'} TFLite model's outputs have a cosine "
                    f"similarity down to {report.min_cosine:.4f} with Keras' (required "
                    f">= {min_cosine:.4g}); nothing was written.\n{report}", report)
        elif verify:
            report.passed = bool(report.max_abs_diff <= tolerance)
            if not report.passed:
                raise VerificationError(
                    f"the {quantization or 'float32'} TFLite model differs from Keras by up "
                    f"to {report.max_abs_diff:.3g} (tolerance {tolerance:.3g}); nothing was "
                    f"written.\n{report}", report)
    return flatbuffer, report


def _measure(report: ExportReport, model, flatbuffer: bytes, clips: np.ndarray,
             labels) -> None:
    """Fill in differences, agreement, accuracy and latency (batch 1, clip by clip).

    Every output of a multi-output model is compared (the largest difference and the
    smallest cosine over all of them); agreement and accuracy are those of the first
    output, the one `TFLiteModel` reads."""
    import keras

    interpreter = make_interpreter(flatbuffer)
    allocated: list = []
    outputs: list[list[np.ndarray]] = []
    elapsed = 0.0
    for clip in clips:
        start = time.perf_counter()
        result = invoke(interpreter, [clip[None]], allocated=allocated)
        elapsed += time.perf_counter() - start
        outputs.append([np.asarray(out[0]) for out in result])
    predict = keras.Model(model.inputs, model.outputs)
    start = time.perf_counter()
    expected = []
    for clip in clips:
        out = predict.predict_on_batch(clip[None])
        expected.append([np.asarray(o)[0] for o in (out if isinstance(out, (list, tuple))
                                                     else [out])])
    report.keras_ms = (time.perf_counter() - start) / len(clips) * 1e3
    report.litert_ms = elapsed / len(clips) * 1e3
    if len(outputs[0]) != len(expected[0]):
        raise ConversionError(f"the TFLite file has {len(outputs[0])} outputs, the Keras "
                              f"model {len(expected[0])}.")
    lites = [np.stack([o[k] for o in outputs]) for k in range(len(expected[0]))]
    refs = [np.stack([e[k] for e in expected]) for k in range(len(expected[0]))]
    for k, (lite_k, ref_k) in enumerate(zip(lites, refs, strict=True)):
        if lite_k.shape != ref_k.shape:
            raise ConversionError(f"output {k}: TFLite shape {lite_k.shape[1:]}, Keras "
                                  f"{ref_k.shape[1:]}.")
    report.max_abs_diff = max(float(np.abs(a - b).max()) for a, b in zip(lites, refs,
                                                                         strict=True))
    report.min_cosine = min(float(cosine_similarity(a, b).min())
                            for a, b in zip(lites, refs, strict=True))
    lite, ref = lites[0], refs[0]
    if ref.ndim == 2 and ref.shape[1] > 1:
        agree = lite.argmax(1) == ref.argmax(1)
        report.top1_agreement = float(agree.mean())
        top2 = np.sort(ref, axis=1)[:, -2:]
        decisive = (top2[:, 1] - top2[:, 0]) > 2 * report.tolerance
        report.decisive_top1_agreement = (float(agree[decisive].mean()) if decisive.any()
                                          else float("nan"))
        if labels is not None:
            labels = np.asarray(labels)[: len(clips)]
            report.keras_accuracy = float((ref.argmax(1) == labels).mean())
            report.tflite_accuracy = float((lite.argmax(1) == labels).mean())
