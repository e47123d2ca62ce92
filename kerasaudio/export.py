"""TFLite export: builtin ops only, float / float16 / dynamic-range / full int8, verified.

- `convert(model, ...)` converts in this process and returns the flatbuffer.
- `to_tflite(model, path, ...)` converts in a child process (a converter crash becomes a
  `ConversionError`, never a dead parent), runs the result in LiteRT against the Keras
  model on representative audio, and writes the file only if it agrees within tolerance.
  It returns an `ExportReport`.
- `run_tflite(flatbuffer, *inputs)` and `op_names(flatbuffer)` run and inspect files.

Quantization modes (`quantization=`):
`None` float32; `"float16"` float16 weights; `"dynamic"` int8 weights, float activations
(dynamic range); `"int8"` int8 weights and activations, calibrated on representative audio,
with float32 input and output so the model still takes raw audio; `"int16x8"` int8 weights
and int16 activations (TFLite's 16x8 mode), calibrated likewise, for models whose
activations scale with the input level (a raw-waveform or complex-spectrogram network with
no per-clip normalisation in front): int8's 256 levels leave a quiet clip a handful,
int16's 65,536 do not. The zoo's M5 and complex-spectrogram presets standardise each clip
first (`Standardize`, float32 in int8 files), so int8 suits them.
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

from kerasaudio.errors import InvalidOptionError, KerasAudioError
from kerasaudio.tflite_graph import (
    fuse_clipped_relu,
    halve_float_constants,
    in_scopes,
    restore_float_constants,
    strip_tensor_names,
    unclip_lstm_cells,
)

__all__ = [
    "QUANTIZATIONS",
    "ConversionError",
    "ExportReport",
    "TFLiteModel",
    "VerificationError",
    "convert",
    "first_layers_after_frontend",
    "op_names",
    "run_tflite",
    "to_tflite",
]

QUANTIZATIONS = (None, "float16", "dynamic", "int8", "int16x8")
#: Modes calibrated on representative data (integer activations).
CALIBRATED = ("int8", "int16x8")
#: Modes whose failed verification is retried with the first layer after the front end
#: float32 (`to_tflite(keep_float=None)`).
FALLBACK = ("int8", "dynamic")
#: Default verification tolerances: largest |TFLite - Keras| on any output value.
DEFAULT_TOLERANCE = {None: 1e-4, "float16": 1e-2, "dynamic": 5e-2, "int8": 1e-1,
                     "int16x8": 5e-2}
#: Largest number of representative clips kept (calibration and verification).
MAX_REPRESENTATIVE = 256


class ConversionError(KerasAudioError):
    """The TFLite converter refused or crashed on the model.

    Example:
    ```python
    try:
        kerasaudio.export.convert(model)
    except kerasaudio.export.ConversionError as e:
        print(e)  # the converter's message, e.g. the ops it could not express
    ```
    """


class VerificationError(KerasAudioError):
    """The converted model disagrees with the Keras model; nothing was written.

    `report` holds the measurements (an `ExportReport`).

    Example:
    ```python
    try:
        kerasaudio.export.to_tflite(model, "m.tflite", quantization="int8",
                                    representative_data=clips, tolerance=1e-6)
    except kerasaudio.export.VerificationError as e:
        print(e.report)
    ```
    """

    def __init__(self, message: str, report: ExportReport):
        super().__init__(message)
        self.report = report


# ----------------------------------------------------------------------------- converting


def _check_quantization(quantization, per_channel: bool = True,
                        float16_constants: bool = False):
    if quantization not in QUANTIZATIONS:
        raise InvalidOptionError(
            f"quantization={quantization!r}: use one of {list(QUANTIZATIONS)}."
        )
    if not per_channel and quantization in (None, "float16"):
        raise InvalidOptionError(
            f"per_channel=False: {quantization or 'float32'} files have no integer weights; "
            "it applies to 'dynamic', 'int8' and 'int16x8'.")
    if float16_constants and quantization in (None, "float16"):
        raise InvalidOptionError(
            f"float16_constants=True applies to 'dynamic', 'int8' and 'int16x8' files "
            f"(their float32 parts); for {quantization or 'float32'} use "
            "quantization='float16'.")


def _equalizes(quantization, per_channel: bool, equalize: bool | None) -> bool:
    """Whether `convert` equalizes: asked for, or by default with per-tensor weights."""
    if equalize is not None and not isinstance(equalize, bool):
        raise InvalidOptionError(f"equalize={equalize!r}: give True, False or None.")
    if equalize is None:
        return quantization is not None and not per_channel
    return equalize


def convert(model, *, batch_size: int | None = 1, quantization: str | None = None,
            representative_data: np.ndarray | None = None,
            float_frontend: bool = True, keep_float: Sequence[str] = (),
            per_channel: bool = True, strip_names: bool = False,
            float16_constants: bool = False, equalize: bool | None = None) -> bytes:
    """Convert a Keras model to a TFLite flatbuffer with builtin ops only (no Flex).

    The model is traced inside `kerasaudio.layers.tflite_mode()`, so kerasaudio front-end
    layers pick TFLite-friendly ops (RFFT2D for power-of-two `n_fft`, a DFT convolution
    otherwise). Flex (`SELECT_TF_OPS`) is never enabled: from TF 2.19 Flex models cannot
    run in Python and phones need a special build for them. This runs the converter in
    the calling process; `to_tflite` isolates it in a child process and verifies.

    Args:
        model: a built Keras model.
        batch_size: fixed batch size of the converted model, or None for a dynamic batch
            (resize the input before running).
        quantization: None, `"float16"`, `"dynamic"`, `"int8"` or `"int16x8"` (see the
            module doc).
        representative_data: for `"int8"` and `"int16x8"`: calibration inputs, an array
            `(clips, *input_shape)`.
        float_frontend: keep the ops of kerasaudio front-end layers (STFT, mel, dB,
            standardisation, ...) and their constants in float32 and quantize the network
            after them. For `"int8"`: a power spectrum spans far more than int8's 48 dB,
            so quantizing it wipes out the quiet bins that a dB front end keeps (80 dB);
            the front end is a small share of the compute. For `"float16"` and
            `"dynamic"`: the converter would store the front end's mel and DFT matrices
            in float16 or int8 and its small constants (`amin` 1e-10, `epsilon`) in
            float16, where they round to 0 (NaN out of a log) or move the dB values by
            0.1 dB. False quantizes everything the mode allows.
        keep_float: names of more layers to keep in float32 (ops and weights) in
            quantized files, e.g. a first convolution whose input (the front end's
            output) int8 resolves too coarsely. Nested models' layers count. A recurrent
            layer kept float32 in int8 keeps every fused LSTM op of the file float32
            (the converter's fused LSTM tensors carry no layer name): int8 around the
            recurrent part.
        per_channel: quantize convolution and dense weights with one scale per output
            channel (default; TFLite's default) or, False, one per tensor: 12 bytes less
            per channel (a float32 scale and an int64 zero point) and coarser weights.
            For `"dynamic"`, `"int8"` and `"int16x8"`.
        strip_names: drop the tensor names (the graph's input and output keep theirs),
            as TensorFlow's `strip_strings` tool does: about 3% of an int8 file, no
            effect on the outputs; debugging tools then show no layer names.
        float16_constants: in quantized files, store the large non-negative matrices that
            float32 ops read (the front end's mel filterbank; DFT matrices and weights
            with both signs stay float32) as float16, expanded once at load
            (`tflite_graph.halve_float_constants`): Deep Speaker's int8 file 8 kB smaller;
            the int8 network can turn the ~2^-11 relative change into a few output levels.
            For `"dynamic"`, `"int8"` and `"int16x8"`.
        equalize: convert a copy of the model with cross-layer equalized weights
            (`kerasaudio.equalization.equalize_channels`: the same outputs, per-channel
            weight ranges balanced between consecutive layers), which per-tensor weights
            quantize with less error. Default None: when `per_channel=False` in a
            quantized mode. The model passed in is not changed.

    Returns:
        The `.tflite` file contents.

    Raises:
        ConversionError: the converter failed, with its message (e.g. the ops it could
            not express as builtins), or LiteRT cannot prepare the converted file.

    Example:
    ```python
    import keras, kerasaudio
    inp = keras.Input((8000,))
    out = kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=512)(inp)
    flatbuffer = kerasaudio.export.convert(keras.Model(inp, out))
    ```
    """
    import tensorflow as tf

    from kerasaudio.layers.base import tflite_mode

    _check_quantization(quantization, per_channel, float16_constants)
    if quantization in CALIBRATED and representative_data is None:
        raise InvalidOptionError(f"quantization={quantization!r} needs representative_data.")
    if _equalizes(quantization, per_channel, equalize):
        from kerasaudio.equalization import equalize_channels

        model, _ = equalize_channels(model)
    specs = [tf.TensorSpec((batch_size, *t.shape[1:]), t.dtype, name=t.name.split(":")[0])
             for t in model.inputs]

    def call(*args):
        return model(list(args) if len(args) > 1 else args[0], training=False)

    # The converter freezes the variables it can reach from the trackable object: Keras 3
    # variables wrap tf.Variables, so track those (tracking the Keras model itself leaves
    # VAR_HANDLE/READ_VARIABLE ops that LiteRT runs uninitialised: NaN outputs).
    holder = tf.Module()
    holder.variables_ = [v.value for v in model.variables]
    with tflite_mode():
        concrete = tf.function(call, autograph=False).get_concrete_function(*specs)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter._experimental_disable_per_channel = not per_channel
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantization in CALIBRATED:
        calibration = np.asarray(representative_data, np.float32)

        def samples():
            for clip in calibration:
                yield [clip[None]]

        converter.representative_dataset = samples
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if quantization == "int16x8":
            # Ops without a 16x8 kernel (the FFT, complex parts) stay float32.
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
                tf.lite.OpsSet.TFLITE_BUILTINS]
        converter.inference_input_type = tf.float32
        converter.inference_output_type = tf.float32
    # int16 activations span 96 dB: 16x8 quantizes the front end too.
    scopes = (_frontend_scopes(model) if quantization not in (None, "int16x8")
              and float_frontend else set())
    if keep_float and quantization is not None:
        unknown = sorted(set(keep_float) - _layer_names(model))
        if unknown:
            raise InvalidOptionError(f"keep_float: the model has no layer {unknown}.")
        scopes |= set(keep_float)
    try:
        if scopes and quantization == "int8":
            flatbuffer = _quantize_around_frontend(
                converter, scopes, recurrent=_has_recurrent(model, scopes),
                per_channel=per_channel)
        elif scopes or quantization == "float16":
            reference = tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder)
            reference.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
            flatbuffer = restore_float_constants(converter.convert(), reference.convert(),
                                                 scopes)
        else:
            flatbuffer = converter.convert()
    except Exception as exc:  # the converter raises ConverterError and others
        raise ConversionError(f"TFLite conversion (builtins only) failed: {exc}") from exc
    flatbuffer = unclip_lstm_cells(flatbuffer)
    if quantization == "int8":
        flatbuffer = fuse_clipped_relu(flatbuffer)
    if float16_constants:
        flatbuffer = halve_float_constants(flatbuffer)
    if strip_names:
        flatbuffer = strip_tensor_names(flatbuffer)
    _check_prepares(flatbuffer)
    return flatbuffer


def _tree(layer):
    """`layer` and every layer nested in it (sub-models' layers), depth first."""
    yield layer
    for sub in getattr(layer, "layers", None) or ():
        yield from _tree(sub)


def _layer_names(model) -> set[str]:
    """Names of every layer of `model`, nested models' layers included."""
    return {layer.name for top in model.layers for layer in _tree(top)}


def first_layers_after_frontend(model) -> list[str]:
    """The first layer with weights after the model's front end (top level), as a list,
    preceded by the weightless layers between the two (e.g. a `Reshape`).

    The exporter's fallback keeps them float32 when an int8 or dynamic-range file with
    every layer quantized fails verification: the weighted layer is the one whose input,
    the front end's output, int8 must resolve (a standardised linear-magnitude
    spectrogram or waveform has a long tail), and a weightless layer left int8 in
    between would quantize that input all the same (M5's `add_channel` reshape did:
    0.107 instead of 0.029 on a LOSO fold). For a model without a kerasaudio front end
    (raw waveform), the layers from the input on. Empty when there is no weighted layer,
    or when it is a nested model (an ensemble's member).

    Example:
    ```python
    kerasaudio.export.first_layers_after_frontend(
        kerasaudio.create_model("vggvox_v2_fsdd_speakers"))
    # ['permute', 'add_channel', 'conv1_1_3x3_s1']
    ```
    """
    import keras

    from kerasaudio.layers.base import FrontEndLayer

    layers = list(model.layers)
    ends = [i for i, layer in enumerate(layers) if isinstance(layer, FrontEndLayer)]
    between = []
    for layer in layers[ends[-1] + 1 if ends else 0:]:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if layer.weights and not isinstance(layer, FrontEndLayer):
            # A nested model (an ensemble's member) is not one layer: no guess inside it.
            return [] if getattr(layer, "layers", None) else [*between, layer.name]
        between.append(layer.name)
    return []


def _frontend_scopes(model) -> set[str]:
    """Names of the layers of `model` kept float32 in quantized files, nested models included:
    kerasaudio's front-end layers, and NetVLAD/GhostVLAD pooling, whose soft assignment and
    two L2 normalisations int8 cannot follow (VGGVox v2: 0.77 max difference with it in
    int8, 0.13 with it in float32, at the same file size)."""
    from kerasaudio.layers.base import FrontEndLayer
    from kerasaudio.layers.vlad import VLADPooling

    return {layer.name for top in model.layers for layer in _tree(top)
            if isinstance(layer, FrontEndLayer | VLADPooling)}


def _has_recurrent(model, scopes: set[str]) -> bool:
    """Whether a layer named in `scopes` is (or wraps) a Keras recurrent layer."""
    import keras

    return any(isinstance(inner, keras.layers.RNN | keras.layers.Bidirectional)
               for top in model.layers for kept in _tree(top) if kept.name in scopes
               for inner in _tree(kept))


#: Fused recurrent TFLite ops: their tensors carry no layer name (`tfl.unidirectional_
#: sequence_lstm`), so a recurrent layer kept float32 keeps these ops float32 by type.
_RECURRENT_OPS = ["UNIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM",
                  "UNIDIRECTIONAL_SEQUENCE_RNN"]


def _quantize_around_frontend(converter, scopes: set[str], *, recurrent: bool = False,
                              per_channel: bool = True) -> bytes:
    """Full-int8 conversion that leaves the front-end layers' ops in float32.

    Calibrates the float model, then quantizes it with the front end's op outputs on the
    deny list: TensorFlow's selective quantization, the mechanism behind
    `tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=...)`. With
    `recurrent`, every fused LSTM/RNN op stays float32 too (by op type: see
    `_RECURRENT_OPS`).
    """
    from tensorflow.lite.python import convert as lite_convert

    converter._experimental_calibrate_only = True
    calibrated = converter.convert()
    interpreter = _interpreter(calibrated)
    nodes = sorted({interpreter._get_tensor_details(index, 0)["name"]
                    for op in interpreter._get_ops_details() for index in op["outputs"]
                    if index >= 0
                    and in_scopes(interpreter._get_tensor_details(index, 0)["name"],
                                   scopes)})
    return lite_convert.mlir_quantize(calibrated, fully_quantize=False,
                                      disable_per_channel=not per_channel,
                                      denylisted_nodes=nodes or None,
                                      denylisted_ops=_RECURRENT_OPS if recurrent else None)


def _check_prepares(flatbuffer: bytes) -> None:
    """LiteRT must accept and run the file: the converter lets through graphs whose kernels
    then refuse to prepare (e.g. RFFT2D with a non-power-of-two length) or to run (e.g. an
    int16 SQUARED_DIFFERENCE from the 16x8 quantizer). One invocation on silence."""
    interpreter = _interpreter(flatbuffer)
    for detail in interpreter.get_input_details():
        shape = [1 if d < 0 else int(d) for d in detail["shape_signature"]]
        interpreter.resize_tensor_input(detail["index"], shape)
    try:
        interpreter.allocate_tensors()
        for detail in interpreter.get_input_details():
            interpreter.set_tensor(detail["index"],
                                   np.zeros(detail["shape"], detail["dtype"]))
        interpreter.invoke()
    except (RuntimeError, ValueError) as exc:
        raise ConversionError(
            f"the converted model does not run in LiteRT (builtins only): {exc}"
        ) from exc


def _convert_in_child(model, *, batch_size, quantization, representative_data,
                      timeout: float, float_frontend: bool = True,
                      keep_float: Sequence[str] = (), per_channel: bool = True,
                      strip_names: bool = False, float16_constants: bool = False,
                      equalize: bool | None = None) -> bytes:
    """Run `convert` in a fresh Python process: a converter crash cannot kill the caller.

    The model travels as a `.keras` file (loaded back in safe mode) and the calibration
    clips as a `.npy` file (no pickle).
    """
    with tempfile.TemporaryDirectory(prefix="kerasaudio-export-") as tmp:
        model_path = os.path.join(tmp, "model.keras")
        model.save(model_path)
        args = {"model": model_path, "output": os.path.join(tmp, "model.tflite"),
                "batch_size": batch_size, "quantization": quantization,
                "representative": None, "float_frontend": bool(float_frontend),
                "keep_float": list(keep_float), "per_channel": bool(per_channel),
                "strip_names": bool(strip_names),
                "float16_constants": bool(float16_constants), "equalize": equalize}
        if representative_data is not None:
            args["representative"] = os.path.join(tmp, "representative.npy")
            np.save(args["representative"], np.asarray(representative_data, np.float32),
                    allow_pickle=False)
        env = {**os.environ, "KERAS_BACKEND": "tensorflow",
               "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        try:
            done = subprocess.run(
                [sys.executable, "-m", "kerasaudio.export", json.dumps(args)],
                capture_output=True, text=True, timeout=timeout, env=env, check=False)
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


def _child_main(arguments: str) -> None:
    import keras

    import kerasaudio.layers
    import kerasaudio.models  # noqa: F401  (registers the layers and models for loading)

    args = json.loads(arguments)
    model = keras.saving.load_model(args["model"], safe_mode=True)
    representative = None
    if args["representative"]:
        representative = np.load(args["representative"], allow_pickle=False)
    flatbuffer = convert(model, batch_size=args["batch_size"],
                         quantization=args["quantization"],
                         representative_data=representative,
                         float_frontend=args.get("float_frontend", True),
                         keep_float=args.get("keep_float", ()),
                         per_channel=args.get("per_channel", True),
                         strip_names=args.get("strip_names", False),
                         float16_constants=args.get("float16_constants", False),
                         equalize=args.get("equalize"))
    with open(args["output"], "wb") as f:
        f.write(flatbuffer)


# ----------------------------------------------------------------------------- running


def _interpreter(model_content: bytes):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_content=model_content)


def op_names(model_content: bytes) -> list[str]:
    """Sorted names of the ops in a TFLite flatbuffer (e.g. `["CONV_2D", "RFFT2D"]`).

    Example:
    ```python
    assert not any(op.startswith("Flex") for op in kerasaudio.export.op_names(fb))
    ```
    """
    interpreter = _interpreter(model_content)
    return sorted({op["op_name"] for op in interpreter._get_ops_details()})


def float_ops(model_content: bytes) -> list[str]:
    """Ops of a quantized flatbuffer that still compute in float32.

    `TFLITE_BUILTINS_INT8` does not enforce pure int8: ops without an int8 kernel (RFFT2D,
    LOG, ...) stay float, wrapped in QUANTIZE/DEQUANTIZE. Returns their sorted names
    (QUANTIZE/DEQUANTIZE themselves excluded).

    Example:
    ```python
    kerasaudio.export.float_ops(int8_flatbuffer)  # e.g. ['LOG', 'RFFT2D']
    ```
    """
    interpreter = _interpreter(model_content)
    dtypes = {t["index"]: t["dtype"] for t in interpreter.get_tensor_details()}
    names = set()
    for op in interpreter._get_ops_details():
        if op["op_name"] in ("QUANTIZE", "DEQUANTIZE"):
            continue
        tensors = [i for i in (*op["inputs"], *op["outputs"]) if i >= 0]
        if any(dtypes.get(i) in (np.float32, np.complex64) for i in tensors):
            names.add(op["op_name"])
    return sorted(names)


def run_tflite(model_content: bytes, *inputs: np.ndarray) -> list[np.ndarray]:
    """Run a TFLite flatbuffer in the LiteRT interpreter (`ai_edge_litert`).

    Dynamic dimensions are resized to the given inputs.

    Returns:
        The outputs, in the model's output order.

    Example:
    ```python
    (features,) = kerasaudio.export.run_tflite(fb, np.zeros((1, 8000), "float32"))
    ```
    """
    interpreter = _interpreter(model_content)
    return _invoke(interpreter, inputs)


def _invoke(interpreter, inputs, *, allocated: list | None = None) -> list[np.ndarray]:
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
    # Fused LSTM ops keep their state in variable tensors that persist across invocations:
    # start every clip from zeros, as the Keras model does.
    interpreter.reset_all_variables()
    for detail, x in zip(details, inputs, strict=True):
        interpreter.set_tensor(detail["index"], np.asarray(x, dtype=detail["dtype"]))
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


# ----------------------------------------------------------------------------- verified export


@dataclass
class ExportReport:
    """What `to_tflite` measured. `passed` is the verification verdict.

    Example:
    ```python
    report = kerasaudio.export.to_tflite(model, "m5.tflite", quantization="dynamic",
                                         representative_data=clips)
    print(report)             # a readable summary
    report.size_bytes, report.max_abs_diff, report.top1_agreement
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
            f"  max |diff|:      {self.max_abs_diff:.3g} (tolerance {self.tolerance:.3g})",
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


def _fix_clip_length(clips: np.ndarray, length: int) -> np.ndarray:
    """Centre-crop or zero-pad axis 1 (samples) to `length`."""
    if clips.shape[1] >= length:
        start = (clips.shape[1] - length) // 2
        return clips[:, start:start + length]
    total = length - clips.shape[1]
    pad = [(0, 0), (total // 2, total - total // 2)] + [(0, 0)] * (clips.ndim - 2)
    return np.pad(clips, pad)


def _as_clip_array(data, name: str, length: int | None = None) -> np.ndarray:
    """A float32 array `(clips, ...)` from an array, a list, a tf.data.Dataset or a generator
    (elements may be `(x, y)` pairs; batched datasets are unbatched); at most
    `MAX_REPRESENTATIVE` clips, each fixed to `length` samples when given."""
    if isinstance(data, np.ndarray):
        clips = np.asarray(data[:MAX_REPRESENTATIVE], np.float32)
        return clips if length is None else _fix_clip_length(clips, length)
    import tensorflow as tf

    if isinstance(data, tf.data.Dataset):
        data = data.as_numpy_iterator()
    rows = []
    for item in data:
        x = np.asarray(item[0] if isinstance(item, (tuple, list)) else item, np.float32)
        for row in (x if x.ndim >= 2 else [x]):
            rows.append(row if length is None else _fix_clip_length(row[None], length)[0])
        if len(rows) >= MAX_REPRESENTATIVE:
            break
    if not rows:
        raise InvalidOptionError(f"{name} is empty.")
    shapes = {r.shape for r in rows}
    if len(shapes) > 1:
        raise InvalidOptionError(
            f"{name} holds clips of different shapes {sorted(shapes)}; pass clips of one "
            "length, or set input_length= to centre-crop/pad them."
        )
    return np.stack(rows[:MAX_REPRESENTATIVE])


def to_tflite(model, path: str | os.PathLike | None = None, *,
              quantization: str | None = None, representative_data=None,
              input_length: int | None = None, verify: bool = True,
              tolerance: float | None = None, labels=None, batch_size: int | None = 1,
              sample_rate: int | None = None, class_names=None,
              metadata: dict | None = None, float_frontend: bool = True,
              keep_float: Sequence[str] | None = None, per_channel: bool = True,
              strip_names: bool = False, float16_constants: bool = False,
              equalize: bool | None = None, timeout: float = 900.0) -> ExportReport:
    """Export a Keras model to TFLite (builtins only), verified against Keras in LiteRT.

    The conversion runs in a child process, so a converter crash (the TFLite converter
    segfaults on some graphs) raises `ConversionError` here instead of killing Python.
    With `verify=True` (default) the converted model runs in `ai_edge_litert` on the
    representative clips next to the Keras model; the file is written only if every
    output value is within `tolerance` of Keras. Otherwise `VerificationError` is raised
    with the report and nothing is written.

    Args:
        model: a Keras model taking raw audio (a front end inside) or features.
        path: where to write the `.tflite` file (None: verify and report only).
        quantization: None (float32), `"float16"`, `"dynamic"`, `"int8"` or
            `"int16x8"`.
        representative_data: clips for calibration (int8) and verification: an array
            `(clips, samples)`, a list, a `tf.data.Dataset` or a generator (of clips or
            `(clip, label)` pairs). Required for int8 (never random calibration) and for
            verification. At most 256 clips are used. Default for a pretrained preset:
            its bundled FSDD sample clips (with their labels, and the preset's sample
            rate and class names for the metadata).
        input_length: fix the input length (samples) of a model with a variable-length
            input; representative clips are centre-cropped or padded to it.
        verify: compare with Keras in LiteRT before writing.
        tolerance: largest accepted |TFLite - Keras| on any output value; default by
            mode: 1e-4 float32, 1e-2 float16, 5e-2 dynamic, 1e-1 int8.
        labels: integer labels of the representative clips, to report the accuracy of
            both models.
        batch_size: 1 (default), or None for a dynamic batch (models without recurrent
            layers).
        sample_rate: the input's sample rate (Hz). When given, the file carries TFLite
            Model Metadata (audio properties; class names as a labels file), so MediaPipe's
            `AudioClassifier` loads it unchanged, and kerasaudio's metadata, which
            `TFLiteModel` reads.
        class_names: the output's class names (with `sample_rate`).
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
            None: on with `per_channel=False` (M5's per-tensor int8 file: mean difference
            from Keras 0.0035 without, 0.0024 with, on the official test clips).
            Verification compares with the model as given.
        timeout: seconds allowed for the conversion.

    Returns:
        An `ExportReport` (size, ops, ops left in float, max difference, top-1
        agreement, accuracies, LiteRT and Keras latency per clip).

    Raises:
        InvalidOptionError: bad options, or int8/verification without representative data.
        ConversionError: the converter failed or crashed.
        VerificationError: the converted model disagrees beyond `tolerance`.

    Example:
    ```python
    model = kerasaudio.create_model("m5", frontend="default", input_shape=(8000,),
                                    classes=10, n_channel=32)
    report = kerasaudio.export.to_tflite(model, "m5_int8.tflite", quantization="int8",
                                         representative_data=clips)  # (n, 8000) float32
    print(report)
    ```
    """
    _check_quantization(quantization, per_channel, float16_constants)
    _equalizes(quantization, per_channel, equalize)
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
    from kerasaudio.hub import preset_of, representative_clips

    preset = preset_of(model)
    if preset is not None and sample_rate is None:  # the metadata, whatever the clips
        sample_rate = preset.sample_rate
        if class_names is None and model.outputs[0].shape[-1] == preset.classes:
            class_names = list(preset.class_names)
    if representative_data is None and preset is not None:
        # a pretrained preset calibrates on its bundled clips
        representative_data, preset_labels = representative_clips(preset)
        labels = preset_labels if labels is None else labels
    if representative_data is not None:
        clips = _as_clip_array(representative_data, "representative_data",
                               None if input_length is None else int(input_length))
        if clips.shape[1:] != input_shape:
            raise InvalidOptionError(
                f"representative_data has shape {clips.shape}; the model takes "
                f"{(None, *input_shape)} (pass clips of the model's input length, or set "
                "input_length=)."
            )
        if not np.isfinite(clips).all():
            raise InvalidOptionError("representative_data contains NaN or Inf.")
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
                       class_names=class_names, metadata=metadata, kept_float=keep)

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
    if _equalizes(quantization, per_channel, equalize):
        from kerasaudio.equalization import equalization_pairs

        report.notes.append(
            f"weights cross-layer equalized before quantizing "
            f"({len(equalization_pairs(export_model))} layer pairs; "
            "kerasaudio.equalization, equalize=False to skip).")
    if path is not None:
        path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, suffix=".tmp", delete=False) as f:
            f.write(flatbuffer)
        os.replace(f.name, path)
        report.path = path
    return report


def _finish(flatbuffer: bytes, export_model, clips, labels, *, quantization, tolerance,
            verify, batch_size, input_shape, sample_rate, class_names, metadata,
            kept_float) -> tuple[bytes, ExportReport]:
    """Add metadata, measure and verify one converted file (`to_tflite`'s second half)."""
    if sample_rate is not None:
        from kerasaudio.tflite_metadata import add_metadata

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
        litert_ms=float("nan"), keras_ms=float("nan"), kept_float=list(kept_float))
    if quantization in CALIBRATED and report.float_ops:
        report.notes.append(
            "these ops stayed float32 (no integer kernel, or the float front end): "
            + ", ".join(report.float_ops))
    if clips is not None:
        _measure(report, export_model, flatbuffer, clips, labels)
        if verify:
            report.passed = bool(report.max_abs_diff <= tolerance)
            if not report.passed:
                raise VerificationError(
                    f"the {quantization or 'float32'} TFLite model differs from Keras by up "
                    f"to {report.max_abs_diff:.3g} (tolerance {tolerance:.3g}); nothing was "
                    f"written.\n{report}", report)
    return flatbuffer, report


def _measure(report: ExportReport, model, flatbuffer: bytes, clips: np.ndarray,
             labels) -> None:
    """Fill in differences, agreement, accuracy and latency (batch 1, clip by clip)."""
    import keras

    interpreter = _interpreter(flatbuffer)
    allocated: list = []
    lite, elapsed = [], 0.0
    for clip in clips:
        start = time.perf_counter()
        (out,) = _invoke(interpreter, [clip[None]], allocated=allocated)[:1]
        elapsed += time.perf_counter() - start
        lite.append(out[0])
    lite = np.stack(lite)
    predict = keras.Model(model.inputs, model.outputs)
    start = time.perf_counter()
    ref = np.concatenate([np.asarray(predict.predict_on_batch(clip[None])) for clip in clips])
    report.keras_ms = (time.perf_counter() - start) / len(clips) * 1e3
    report.litert_ms = elapsed / len(clips) * 1e3
    report.max_abs_diff = float(np.abs(lite - ref).max())
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


class TFLiteModel:
    """Run an exported kerasaudio `.tflite` classifier on audio: no Keras, no TensorFlow.

    Reads the sample rate, input length and class names from the file's metadata (written
    by `to_tflite(..., sample_rate=...)`), decodes files with soundfile, resamples with
    soxr (as `kerasaudio.data.load_audio` does) and runs LiteRT (`ai_edge_litert`). A clip
    shorter than the input length is centred and zero-padded; a longer one is cut into
    windows (hop: half the input length; the last window padded) and classified window by
    window, like the malaya-speech seed's frame pipeline.

    Args:
        model: path of a `.tflite` file, or its contents.
        num_threads: LiteRT threads (None: LiteRT's default).

    Example:
    ```python
    runner = kerasaudio.export.TFLiteModel("m5_fsdd_digits.tflite")
    probabilities = runner.predict("7_jackson_32.wav")
    runner.class_names[probabilities.argmax()]  # '7'
    ```
    """

    def __init__(self, model: str | os.PathLike | bytes, *, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        from kerasaudio.tflite_metadata import read_metadata

        data = model if isinstance(model, (bytes, bytearray)) else open(model, "rb").read()
        self.metadata = read_metadata(bytes(data))
        self.sample_rate = int(self.metadata["sample_rate"])
        self.input_length = int(self.metadata["input_length"])
        self.class_names = self.metadata.get("class_names")
        self._interpreter = Interpreter(model_content=bytes(data), num_threads=num_threads)
        self._allocated: list = []

    def _audio(self, audio, sample_rate: int | None) -> np.ndarray:
        from kerasaudio.audio_io import _load, _probe, _resample

        if isinstance(audio, (str, os.PathLike)):
            info = _probe(os.fspath(audio), check_finite=False)
            return _load(info, sample_rate=self.sample_rate, mono=True, offset=0.0,
                         duration=None, use_tf=False)
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
        rate = self.sample_rate if sample_rate is None else int(sample_rate)
        return audio if rate == self.sample_rate else _resample(audio, rate, self.sample_rate)

    def predict_windows(self, audio, *, sample_rate: int | None = None,
                        hop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """`(start_seconds, probabilities)` of every window, `(windows,)` and
        `(windows, classes)`.

        Example:
        ```python
        starts, probs = runner.predict_windows("long_recording.wav")
        ```
        """
        from kerasaudio.audio_io import windows

        starts, clips = windows(self._audio(audio, sample_rate), self.input_length, hop=hop)
        probabilities = np.stack(
            [_invoke(self._interpreter, [w[None]], allocated=self._allocated)[0][0]
             for w in clips])
        return starts / self.sample_rate, probabilities

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


if __name__ == "__main__":  # the child process of `_convert_in_child`
    _child_main(sys.argv[1])
