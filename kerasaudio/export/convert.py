"""Keras to TFLite conversion: builtin ops only, float32 / float16 / dynamic range / int8.

`convert(model, ...)` converts in the calling process and returns the flatbuffer; it is
what `kerasaudio.export.to_tflite` runs in its child process. This module also holds the
conversion options' checks and the calibration input handling (`clip_array`), which
`to_tflite` applies before converting.

Quantization modes (`quantization=`):
`None` float32; `"float16"` float16 weights; `"dynamic"` int8 weights, float activations
(dynamic range); `"int8"` int8 weights and activations, calibrated on representative audio,
with float32 input and output so the model still takes raw audio; `"int16x8"` int8 weights
and int16 activations (TFLite's 16x8 mode), calibrated likewise, for models whose
activations scale with the input level (a raw-waveform or complex-spectrogram network with
no per-clip normalisation in front): int8's 256 levels leave a quiet clip a handful,
int16's 65,536 do not. A model that standardises each clip first (`Standardize`, float32
in int8 files) suits int8. In the int8 and 16x8 modes a batch norm that follows a ReLU
has its scale folded into the layer before the ReLU first (`kerasaudio.export.folding`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kerasaudio.errors import ConversionError, InvalidOptionError
from kerasaudio.export.graph import (
    fuse_clipped_relu,
    halve_float_constants,
    in_scopes,
    op_outputs,
    restore_float_constants,
    strip_tensor_names,
    unclip_lstm_cells,
)
from kerasaudio.runtime import make_interpreter

__all__ = ["CALIBRATED", "MAX_REPRESENTATIVE", "PCM_SCALE", "QUANTIZATIONS", "as_float_audio",
           "check_quantization", "clip_array", "convert", "equalizes",
           "first_layers_after_frontend", "int8_float_scopes"]

#: Every `quantization=` value.
QUANTIZATIONS = (None, "float16", "dynamic", "int8", "int16x8")
#: Modes calibrated on representative data (integer activations).
CALIBRATED = ("int8", "int16x8")
#: Largest number of representative clips kept (calibration and verification).
MAX_REPRESENTATIVE = 256


def check_quantization(quantization, *, per_channel: bool = True,
                       float16_constants: bool = False) -> None:
    """Refuse a quantization mode that does not exist, or size options it does not take.

    Raises:
        InvalidOptionError: an unknown mode; `per_channel=False` or
            `float16_constants=True` with a float32 or float16 file (no integer
            weights, or float16 already).

    Example:
    ```python
    from kerasaudio.export.convert import check_quantization
    check_quantization("int8", per_channel=False)  # fine: per-tensor int8 weights
    try:
        check_quantization("float16", per_channel=False)
    except kerasaudio.errors.InvalidOptionError as e:
        print(e)  # per_channel=False: float16 files have no integer weights; ...
    ```
    """
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


def equalizes(quantization, *, per_channel: bool, equalize: bool | None) -> bool:
    """Whether `convert` equalizes the weights: asked for, or by default (`equalize=None`)
    with per-tensor weights in a quantized mode.

    Raises:
        InvalidOptionError: `equalize` is not True, False or None.

    Example:
    ```python
    from kerasaudio.export.convert import equalizes
    equalizes("int8", per_channel=False, equalize=None)  # True
    equalizes("int8", per_channel=True, equalize=None)  # False
    ```
    """
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
            so quantizing it wipes out the quiet bins that a dB front end keeps (80 dB).
            For `"float16"` and `"dynamic"`: the converter would store the front end's
            mel and DFT matrices in float16 or int8 and its small constants (`amin`
            1e-10, `epsilon`) in float16, where they round to 0 (NaN out of a log) or
            shift the dB values. In `"int8"` files also the scopes layers declare
            (`int8_float_scopes`: the feature encoder of wav2vec 2.0, HuBERT and
            WavLM; AST's attention probabilities). False quantizes everything the mode allows.
        keep_float: names of more layers to keep in float32 (ops and weights) in
            quantized files, e.g. a first convolution whose input (the front end's
            output) int8 resolves too coarsely. Nested models' layers count, and so does
            the model's last layer in every mode (its op, which writes a model output, is
            found through the traced graph: the file names that tensor after the output);
            when the converter fuses that op with a following activation layer's
            (`Dense` then `ReLU`), the op carries the activation layer's name: name both. A
            recurrent layer kept float32 in int8 keeps every fused LSTM op of the file
            float32 (the converter's fused LSTM tensors carry no layer name): int8
            around the recurrent part. In `"int8"`, naming only layers that leave no op
            in the file (a `Dropout`) is an error.
        per_channel: quantize convolution and dense weights with one scale per output
            channel (default; TFLite's default) or, False, one per tensor: 12 bytes less
            per channel (a float32 scale and an int64 zero point) and coarser weights.
            For `"dynamic"`, `"int8"` and `"int16x8"`.
        strip_names: drop the tensor names (the graph's input and output keep theirs),
            as TensorFlow's `strip_strings` tool does: a smaller file, the same outputs;
            debugging tools then show no layer names.
        float16_constants: in quantized files, store the large non-negative matrices that
            float32 ops read (the front end's mel filterbank; DFT matrices and weights
            with both signs stay float32) as float16, expanded once at load
            (`kerasaudio.export.graph.halve_float_constants`); the int8 network can turn
            the ~2^-11 relative change into a few output levels. For `"dynamic"`,
            `"int8"` and `"int16x8"`.
        equalize: convert a copy of the model with cross-layer equalized weights
            (`kerasaudio.export.equalize_channels`: the same outputs, per-channel weight
            ranges balanced between consecutive layers), which per-tensor weights
            quantize with less error. Default None: when `per_channel=False` in a
            quantized mode. The model passed in is not changed.

    Returns:
        The `.tflite` file contents.

    Raises:
        ConversionError: the converter failed, with its message (e.g. the ops it could
            not express as builtins), or LiteRT cannot prepare the converted file.
        InvalidOptionError: bad options, a calibrated mode without
            `representative_data`, or `keep_float` layers none of which has an op in
            the `"int8"` file.

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

    check_quantization(quantization, per_channel=per_channel,
                       float16_constants=float16_constants)
    if quantization in CALIBRATED and representative_data is None:
        raise InvalidOptionError(f"quantization={quantization!r} needs representative_data.")
    if quantization in CALIBRATED:
        from kerasaudio.export.folding import fold_relu_batch_norms, relu_batch_norms

        if relu_batch_norms(model):
            model, _ = fold_relu_batch_norms(model)
    if equalizes(quantization, per_channel=per_channel, equalize=equalize):
        from kerasaudio.export.equalization import equalize_channels

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
    if quantization == "int8" and float_frontend:
        scopes |= int8_float_scopes(model)
    if keep_float and quantization is not None:
        unknown = sorted(set(keep_float) - _layer_names(model))
        if unknown:
            raise InvalidOptionError(f"keep_float: the model has no layer {unknown}.")
        scopes |= set(keep_float)
    try:
        if scopes and quantization == "int8":
            flatbuffer = _quantize_around_frontend(
                converter, scopes, keep_float=keep_float,
                recurrent=_has_recurrent(model, scopes),
                per_channel=per_channel)
        elif scopes or quantization == "float16":
            reference = tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder)
            reference.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
            flatbuffer = restore_float_constants(converter.convert(), reference.convert(),
                                                 scopes, origins=_output_origins(converter))
        else:
            flatbuffer = converter.convert()
    except InvalidOptionError:  # keep_float naming layers the file has no op of
        raise
    except Exception as exc:  # the converter raises ConverterError and others
        hint = ("" if "TensorList" not in str(exc) else
                " (TensorList ops come from a Keras recurrent layer: use "
                "kerasaudio.layers.LSTM / GRU, or kerasaudio.export.builtin_recurrent(model), "
                "with stateful=False)")
        raise ConversionError(
            f"TFLite conversion (builtins only) failed{hint}: {exc}") from exc
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
    between would quantize that input all the same. For a model without a kerasaudio front end
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
    from kerasaudio.layers.kaldi import KaldiFbank

    frontend = FrontEndLayer | KaldiFbank
    layers = list(model.layers)
    ends = [i for i, layer in enumerate(layers) if isinstance(layer, frontend)]
    between: list = []
    for layer in layers[ends[-1] + 1 if ends else 0:]:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if layer.weights and not isinstance(layer, frontend):
            # A nested model (an ensemble's member) is not one layer: no guess inside it.
            return [] if getattr(layer, "layers", None) else [*between, layer.name]
        between.append(layer.name)
    return []


def _frontend_scopes(model) -> set[str]:
    """Names of the layers of `model` kept float32 in quantized files, nested models included:
    kerasaudio's front-end layers (AST's `KaldiFbank` too), and NetVLAD/GhostVLAD pooling,
    whose soft assignment and two L2 normalisations int8 cannot follow (docs/design.md)."""
    from kerasaudio.layers.base import FrontEndLayer
    from kerasaudio.layers.kaldi import KaldiFbank
    from kerasaudio.layers.vlad import VLADPooling

    return {layer.name for top in model.layers for layer in _tree(top)
            if isinstance(layer, FrontEndLayer | KaldiFbank | VLADPooling)}


def int8_float_scopes(model) -> set[str]:
    """The scopes that the layers of `model` (nested models' too) declare float32 in int8
    files, each as `"<layer name>/<scope>"`.

    A layer declares them with a class attribute `int8_float_scopes`: names of the name
    scopes it enters in `call` (or of its sub-layers) whose ops int8 cannot follow, e.g.
    the wav2vec 2.0 encoder's `("feature_encoder",)`: its convolutions on the raw waveform,
    their group norm and the projection's layer norm. Sub-layers of a layer declare
    theirs too, under the path of layer names (AST's transformer layers:
    `"audio_spectrogram_transformer/layer_0/attention_probs"`, the attention
    probabilities and their product with the values). `convert` keeps those ops float32
    in `"int8"` files (with `float_frontend=True`), like the front-end layers; float16,
    dynamic-range and 16x8 files are not affected.

    Example:
    ```python
    from kerasaudio.export.convert import int8_float_scopes
    small = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                 intermediate_size=32, conv_dim=(8,) * 7, num_conv_pos_embedding_groups=2)
    int8_float_scopes(kerasaudio.create_model("hubert_base", **small))
    # {'hubert/feature_encoder'}
    ```
    """
    return {scope for top in model.layers for layer in _tree(top)
            for scope in _declared_scopes(layer, layer.name)}


def _declared_scopes(layer, path: str):
    """The `int8_float_scopes` of `layer` (at scope path `path`) and of the plain layers
    it holds (e.g. AST's transformer layers inside its encoder), as scope paths."""
    for scope in getattr(type(layer), "int8_float_scopes", ()):
        yield f"{path}/{scope}"
    if getattr(layer, "layers", None) is None:  # nested models are `_tree`'s to walk
        for sub in layer._flatten_layers(include_self=False, recursive=False):
            yield from _declared_scopes(sub, f"{path}/{sub.name}")


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


def _quantize_around_frontend(converter, scopes: set[str], *, keep_float: Sequence[str] = (),
                              recurrent: bool = False, per_channel: bool = True) -> bytes:
    """Full-int8 conversion that leaves the front-end layers' ops in float32.

    Calibrates the float model, then quantizes it with the op outputs of the layers in
    `scopes` on the deny list: TensorFlow's selective quantization, the mechanism behind
    `tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=...)`. An op is
    matched by the name of its output tensor (`in_scopes`); an op writing a graph
    output, a tensor the file names after the output (`StatefulPartitionedCall:0`),
    also by the name of the op computing that output in the traced function
    (`_output_origins`, `kerasaudio.export.graph.op_outputs`), so a model's last layer can
    be kept float32 too.
    With `recurrent`, every fused LSTM/RNN op stays float32 too (by op type: see
    `_RECURRENT_OPS`).

    Raises:
        InvalidOptionError: `keep_float` names layers but no op of the file comes from
            any of them (without `recurrent`, whose fused ops carry no layer name).
    """
    from tensorflow.lite.python import convert as lite_convert

    origins = _output_origins(converter)
    converter._experimental_calibrate_only = True
    calibrated = converter.convert()
    outputs = list(op_outputs(calibrated, origins).values())
    nodes = sorted({name for name, traced in outputs if in_scopes(traced, scopes)})
    if keep_float and not recurrent and not any(in_scopes(traced, set(keep_float))
                                                for _, traced in outputs):
        raise InvalidOptionError(
            f"keep_float: no op of the int8 file comes from layer(s) {sorted(keep_float)} "
            "(their ops were folded away or into other layers' ops); nothing could be "
            "kept float32. Name a layer that computes something, e.g. a Dense or Conv.")
    return lite_convert.mlir_quantize(calibrated, fully_quantize=False,
                                      disable_per_channel=not per_channel,
                                      denylisted_nodes=nodes or None,
                                      denylisted_ops=_RECURRENT_OPS if recurrent else None)


def _output_origins(converter) -> dict[str, str]:
    """For each output of the function `converter` converts, by its signature key
    (`output_<i>` for the i-th of a list, the key of a dict): the name of the tensor
    that computes it in the traced graph, layer scopes included (e.g.
    `functional_1/head_1/Softmax`), seen behind the `Identity` op `tf.function` adds.
    Empty when the converter holds no function."""
    from collections.abc import Mapping

    funcs = getattr(converter, "_funcs", None)
    if not funcs:
        return {}
    structured = funcs[0].structured_outputs
    if not isinstance(structured, Mapping):
        structured = {f"output_{i}": tensor for i, tensor in enumerate(
            structured if isinstance(structured, (list, tuple)) else [structured])}
    return {key: (tensor.op.inputs[0] if tensor.op.type == "Identity" and tensor.op.inputs
                  else tensor).name.rsplit(":", 1)[0]
            for key, tensor in structured.items() if hasattr(tensor, "op")}


def _check_prepares(flatbuffer: bytes) -> None:
    """LiteRT must accept and run the file: the converter lets through graphs whose kernels
    then refuse to prepare (e.g. RFFT2D with a non-power-of-two length) or to run (e.g. an
    int16 SQUARED_DIFFERENCE from the 16x8 quantizer). One invocation on silence."""
    interpreter = make_interpreter(flatbuffer)
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


# ----------------------------------------------------------------------------- calibration


def _fix_clip_length(clips: np.ndarray, length: int) -> np.ndarray:
    """Centre-crop or zero-pad axis 1 (samples) to `length`."""
    if clips.shape[1] >= length:
        start = (clips.shape[1] - length) // 2
        return clips[:, start:start + length]
    total = length - clips.shape[1]
    pad = [(0, 0), (total // 2, total - total // 2)] + [(0, 0)] * (clips.ndim - 2)
    return np.pad(clips, pad)


#: Integer PCM dtypes and the divisor that scales them to [-1, 1) (`int16 / 32768`).
PCM_SCALE = {np.dtype(np.int8): 2.0**7, np.dtype(np.int16): 2.0**15,
             np.dtype(np.int32): 2.0**31}


def as_float_audio(x, name: str) -> np.ndarray:
    """`x` as float32 audio: float as is; 8/16/32-bit signed integer PCM scaled to
    [-1, 1) (`int16 / 32768`, the scale `load_audio` and soundfile use), 8-bit unsigned
    PCM as `(x - 128) / 128`. Other dtypes are refused.

    Raises:
        InvalidOptionError: a dtype that is not float or integer PCM (names `name`).

    Example:
    ```python
    from kerasaudio.export.convert import as_float_audio
    as_float_audio(np.array([-32768, 16384], "int16"), "clips")  # [-1. , 0.5]
    ```
    """
    x = np.asarray(x)
    if x.dtype.kind == "f":
        return x.astype(np.float32, copy=False)
    if x.dtype in PCM_SCALE:
        return (x.astype(np.float64) / PCM_SCALE[x.dtype]).astype(np.float32)
    if x.dtype == np.uint8:
        return ((x.astype(np.float64) - 128.0) / 128.0).astype(np.float32)
    raise InvalidOptionError(
        f"{name} has dtype {x.dtype}; pass float audio in [-1, 1] or integer PCM (int8, "
        "int16, int32, uint8), which is scaled to [-1, 1).")


def _as_clip_array(data, name: str, length: int | None = None,
                   input_rank: int | None = None) -> np.ndarray:
    """A float32 array `(clips, ...)` from an array, a list, a tf.data.Dataset or a generator
    (elements may be `(x, y)` pairs; batched datasets are unbatched); at most
    `MAX_REPRESENTATIVE` clips, each fixed to `length` samples when given. Integer PCM is
    scaled to [-1, 1) (`as_float_audio`); an array of the model's input rank
    (`input_rank`, no batch axis) is one clip."""
    if isinstance(data, np.ndarray):
        if input_rank is not None and data.ndim == input_rank:
            data = data[None]  # one clip, e.g. (8000,) for a model taking (None, 8000)
        clips = as_float_audio(data[:MAX_REPRESENTATIVE], name)
        return clips if length is None else _fix_clip_length(clips, length)
    import tensorflow as tf

    if isinstance(data, tf.data.Dataset):
        data = data.as_numpy_iterator()
    rows = []
    for item in data:
        x = as_float_audio(item[0] if isinstance(item, (tuple, list)) else item, name)
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


def clip_array(data, *, input_shape: tuple, input_length: int | None = None,
               name: str = "representative_data") -> np.ndarray:
    """Representative clips as one float32 array `(clips, *input_shape)`, checked.

    Takes an array `(clips, samples)` (or one clip, `(samples,)`), a list, a
    `tf.data.Dataset` or a generator (of clips or `(clip, label)` pairs; batched datasets
    are unbatched) and keeps at most `MAX_REPRESENTATIVE` clips. Integer PCM is scaled to
    [-1, 1): int16 / 32768 (int8 / 128, int32 / 2^31, uint8 as (x - 128) / 128), as
    audio files are read. With `input_length`, each clip is centre-cropped or
    zero-padded to that many samples.

    Args:
        data: the clips.
        input_shape: the model's input shape without the batch axis.
        input_length: fix every clip to this many samples.
        name: the argument's name, for messages.

    Raises:
        InvalidOptionError: no clips, clips of different shapes, a shape that is not the
            model's input shape, a dtype that is neither float nor integer PCM, or
            NaN/Inf values.

    Example:
    ```python
    import soundfile as sf
    from kerasaudio.export.convert import clip_array
    paths = kerasaudio.datasets.fsdd.load(sample=True).path[:4]
    recordings = (sf.read(path, dtype="int16")[0] for path in paths)  # PCM, any length
    clips = clip_array(recordings, input_shape=(8000,), input_length=8000)
    clips.shape, clips.dtype  # ((4, 8000), dtype('float32'))
    ```
    """
    given = np.shape(data) if isinstance(data, np.ndarray) else None
    clips = _as_clip_array(data, name, None if input_length is None else int(input_length),
                           input_rank=len(input_shape))
    if clips.shape[1:] != tuple(input_shape):
        shown = given if given is not None else ("clips of shape " + str(clips.shape[1:]))
        raise InvalidOptionError(
            f"{name} has shape {shown}; the model takes {(None, *input_shape)}: pass "
            f"clips shaped (clips, {', '.join(map(str, input_shape))}) or one clip shaped "
            f"{tuple(input_shape)}, or set input_length= to crop or pad them."
        )
    if not np.isfinite(clips).all():
        raise InvalidOptionError(f"{name} contains NaN or Inf.")
    return clips
