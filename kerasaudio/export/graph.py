"""Edits of converted `.tflite` flatbuffers that the TFLite converter does not make itself.

Internal to `kerasaudio.export` (not re-exported): `kerasaudio.export.convert` applies them
after conversion; each returns the file unchanged when its pattern is absent, and
`to_tflite` verifies every exported file against Keras afterwards.

- `restore_float_constants`: float16 / dynamic-range files get back the float32 constants of
  the front end (mel and DFT matrices) and every small constant (epsilons).
- `unclip_lstm_cells`: a fused LSTM's cell state is not clipped (Keras never clips it).
- `fuse_clipped_relu`: in int8 files, a clipped ReLU (`MINIMUM` with a constant, then `RELU`)
  becomes the producing op's fused RELU when the int8 output range already saturates at
  the clip value. LiteRT's XNNPACK delegate has no int8 `MINIMUM`, so each unfused clipped
  ReLU cuts the delegated graph in two (BENCHMARKS.md has Deep Speaker's latency).
- `strip_tensor_names`: tensor names dropped (the graph's input and output keep theirs), for
  smaller files (`convert(strip_names=True)`).
- `halve_float_constants`: the large non-negative float32 matrices of a quantized file's
  float32 ops (the front end's mel filterbank; not DFT matrices) stored as float16,
  expanded once at load (`convert(float16_constants=True)`).
"""

from __future__ import annotations

import numpy as np

from kerasaudio.runtime import _signature_tensors, make_interpreter

__all__ = ["fuse_clipped_relu", "halve_float_constants", "in_scopes", "op_outputs",
           "restore_float_constants", "strip_tensor_names", "unclip_lstm_cells"]


#: float16 constants with fewer values than this stay float32 (epsilons, scalars).
_SMALL_CONSTANT = 64


def restore_float_constants(quantized: bytes, reference: bytes, scopes: set[str], *,
                            origins: dict[str, str] | None = None) -> bytes:
    """Give the front end's ops of a float16 or dynamic-range file their float32 constants.

    `quantized` stores constants as float16 (behind DEQUANTIZE ops) or int8 (consumed by
    hybrid kernels). Every such constant that only front-end ops (by output tensor name,
    see `in_scopes` and `op_outputs`) consume gets back its float32 values from
    `reference` (the same graph converted without quantization; matched by float16
    rounding or by name), and so does every small float16 constant anywhere (fewer than
    `_SMALL_CONSTANT` values: epsilons such as an L2 normalisation's 1e-12 round to 0 in
    float16 and turn a zero vector into NaN; they weigh nothing). DEQUANTIZE ops left
    without a purpose are removed.

    Args:
        quantized: the float16 or dynamic-range file.
        reference: the same graph converted without quantization.
        scopes: the layers (scope paths) whose ops keep float32 constants.
        origins: by signature output key, the name of the op computing that output in the
            traced function (see `op_outputs`): without it, an op writing a graph output
            (named `StatefulPartitionedCall:<k>`, not after its layer) matches no scope.

    Returns:
        The file with those constants float32.

    Example:
    ```python
    import keras, tensorflow as tf
    from kerasaudio.export.graph import restore_float_constants
    inputs = keras.Input((8000,))
    mel = kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=256, name="mel")(inputs)
    model = keras.Model(inputs, kerasaudio.layers.PowerToDb(name="db")(mel))
    holder = tf.Module()
    holder.variables_ = [v.value for v in model.variables]  # what the converter freezes
    with kerasaudio.layers.tflite_mode():
        concrete = tf.function(model).get_concrete_function(tf.TensorSpec((1, 8000)))
    float32 = tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder).convert()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    half = converter.convert()  # every constant float16, the mel bank too
    fixed = restore_float_constants(half, float32, {"mel", "db"})
    x = kerasaudio.datasets.fsdd.sample_clips()[0][:1]
    reference = kerasaudio.export.run_tflite(float32, x)[0]
    for fb in (half, fixed):  # largest dB difference from the float32 file
        print(np.abs(kerasaudio.export.run_tflite(fb, x)[0] - reference).max())
    # 1.1137848 (the float16 mel bank), then 0.0
    ```
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    # The float32 constants of the reference, found again by their float16 rounding (a
    # float16 constant) or by name and shape (an int8 one: the converter may append a
    # digit to a name).
    source = flatbuffer_utils.convert_bytearray_to_object(reference)
    by_float16, by_name = {}, {}
    for t in source.subgraphs[0].tensors:
        data = source.buffers[t.buffer].data if t.buffer > 0 else None
        if t.type != schema.TensorType.FLOAT32 or data is None:
            continue
        shape = tuple(int(d) for d in t.shape)
        rounded = np.frombuffer(data.tobytes(), "<f4").astype("<f2").tobytes()
        by_float16[shape, rounded] = data
        by_name[_name(t), shape] = data

    def original(tensor, float16: bytes | None = None) -> np.ndarray | None:
        shape = tuple(int(d) for d in tensor.shape)
        if float16 is not None:
            return by_float16.get((shape, float16))
        name = _name(tensor)
        return by_name.get((name, shape), by_name.get((name.rstrip("0123456789"), shape)))

    target = flatbuffer_utils.convert_bytearray_to_object(quantized)
    graph = target.subgraphs[0]
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in target.operatorCodes]
    matched = {index: name for index, (_, name) in op_outputs(quantized, origins or {}).items()}
    consumers: dict[int, list] = {}
    for op in graph.operators:
        for index in op.inputs:
            consumers.setdefault(int(index), []).append(op)

    def frontend_only(index: int) -> bool:
        ops = consumers.get(index, [])
        return bool(ops) and all(
            any(in_scopes(matched[int(o)], scopes) for o in op.outputs if o >= 0)
            for op in ops)

    def set_float(tensor, data: np.ndarray) -> None:
        buffer = schema.BufferT()
        buffer.data = data
        target.buffers.append(buffer)
        tensor.buffer = len(target.buffers) - 1
        tensor.type = schema.TensorType.FLOAT32
        tensor.quantization = None

    dropped = []
    for op in graph.operators:
        code = codes[op.opcodeIndex]
        if code == schema.BuiltinOperator.DEQUANTIZE:
            half, out = graph.tensors[op.inputs[0]], int(op.outputs[0])
            if half.type != schema.TensorType.FLOAT16 or half.buffer <= 0:
                continue
            data = original(half, target.buffers[half.buffer].data.tobytes())
            small = int(np.prod(half.shape)) < _SMALL_CONSTANT
            if data is not None and (small or frontend_only(out)):
                set_float(graph.tensors[out], data)
                dropped.append(op)
            continue
        for index in op.inputs:  # int8 weights of a hybrid kernel
            tensor = graph.tensors[index] if index >= 0 else None
            if (tensor is not None and tensor.type == schema.TensorType.INT8
                    and tensor.buffer > 0 and frontend_only(int(index))):
                data = original(tensor)
                if data is not None:
                    set_float(tensor, data)
    graph.operators = [op for op in graph.operators if op not in dropped]
    # Empty the float16 and int8 copies that no op reads any more (buffers can be shared).
    used = {int(i) for op in graph.operators for i in (*op.inputs, *op.outputs) if i >= 0}
    read = {graph.tensors[i].buffer for i in used}
    for other in target.subgraphs[1:]:
        read |= {t.buffer for t in other.tensors}
    read |= {entry.buffer for entry in target.metadata or []}  # e.g. min_runtime_version
    for index, buffer in enumerate(target.buffers):
        if index > 0 and index not in read and buffer.data is not None:
            buffer.data = None
    return bytes(flatbuffer_utils.convert_object_to_bytearray(target))


def _name(tensor) -> str:
    name = tensor.name
    return name.decode() if isinstance(name, bytes) else str(name)


def op_outputs(flatbuffer: bytes, origins: dict[str, str]) -> dict[int, tuple[str, str]]:
    """Every op output of a TFLite file's main graph, by tensor index: `(tensor name, name
    to match with in_scopes)`.

    The name to match is the tensor's own name, except for a graph output: the converter
    names that tensor after the graph (`StatefulPartitionedCall:<k>`, `k` not the
    output's position), so its name is `;`-joined with the name of the op that computes
    the output in the traced function (`origins`, by the file's signature output key), as
    the converter joins fused ops' names; the op then matches its layer's scope.

    Args:
        flatbuffer: the `.tflite` file contents.
        origins: by signature output key (`output_0`, ...), the traced op's name
            (`functional_1/head_1/BiasAdd`); keys the file lacks are ignored.

    Returns:
        `{tensor index: (tensor name, name to match)}`.

    Example:
    ```python
    from kerasaudio.export.graph import op_outputs
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="head")])
    flatbuffer = kerasaudio.export.convert(model)
    print(list(op_outputs(flatbuffer, {"output_0": "sequential_1/head_1/BiasAdd"}).values()))
    # [('StatefulPartitionedCall:0', 'StatefulPartitionedCall:0;sequential_1/head_1/BiasAdd')]
    ```
    """
    interpreter = make_interpreter(flatbuffer)
    traced = {}
    for signature in interpreter.get_signature_list():
        _, indices = _signature_tensors(interpreter, signature)
        traced.update({index: origins[key] for key, index in indices.items()
                       if key in origins})
    outputs = {}
    for op in interpreter._get_ops_details():
        for index in op["outputs"]:
            if index >= 0:
                name = interpreter._get_tensor_details(index, 0)["name"]
                outputs[int(index)] = (name, f"{name};{traced[index]}" if index in traced
                                       else name)
    return outputs


def in_scopes(tensor_name: str, scopes: set[str]) -> bool:
    """Whether a TFLite tensor name (`functional_1/mel_1/Tensordot;...`) comes from one of
    the layers in `scopes` (TensorFlow name scopes add a `_<n>` suffix to layer names).

    A scope is a layer name, or a path of nested scopes (`"wav2vec2/feature_encoder"`:
    the ops a layer named `wav2vec2` runs in its `feature_encoder` name scope), matched
    as consecutive parts of one of the `;`-joined names.

    Example:
    ```python
    from kerasaudio.export.graph import in_scopes
    in_scopes("functional_1/mel_1/Tensordot;functional_1/mel_1/Log", {"mel"})  # True
    in_scopes("functional_1/dense_1/MatMul", {"mel"})  # False
    in_scopes("m_1/wav2vec2_1/feature_encoder/conv_0_1/conv", {"wav2vec2/feature_encoder"})
    # True
    ```
    """
    import re

    paths = [scope.split("/") for scope in scopes]
    for name in tensor_name.split(";"):
        parts = name.split("/")
        bases = [re.sub(r"_\d+$", "", part) for part in parts]
        for path in paths:
            for start in range(len(parts) - len(path) + 1):
                if all(want in (parts[start + i], bases[start + i])
                       for i, want in enumerate(path)):
                    return True
    return False


def _has_op(flatbuffer: bytes, code: int) -> bool:
    """Whether the file uses builtin op `code`, read straight from the flatbuffer's op codes
    (no interpreter, no object copy)."""
    from tensorflow.lite.python import schema_py_generated as schema

    header = schema.Model.GetRootAs(flatbuffer, 0)
    return any(max(header.OperatorCodes(i).BuiltinCode(),
                   header.OperatorCodes(i).DeprecatedBuiltinCode()) == code
               for i in range(header.OperatorCodesLength()))


def _op_code_names(model, schema) -> list[str | None]:
    """The builtin op name of each of a model object's op codes (None for custom ops)."""
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    return [names.get(max(c.builtinCode, c.deprecatedBuiltinCode)) for c in model.operatorCodes]


def unclip_lstm_cells(flatbuffer: bytes) -> bytes:
    """Remove the cell-state clip (+-10) the converter gives a fused Keras LSTM.

    Keras never clips the cell state, and trained LSTMs' cells can go past 10, where a
    clipped file drifts from Keras (BENCHMARKS.md). `cell_clip = 0` is TFLite's "no
    clipping". Files without a fused LSTM are unchanged.

    Example:
    ```python
    import keras, tensorflow as tf
    from ai_edge_litert import schema_py_generated as schema
    from kerasaudio.export.graph import unclip_lstm_cells
    model = keras.Sequential([keras.Input((50, 8)), kerasaudio.layers.LSTM(4)])
    holder = tf.Module()
    holder.variables_ = [v.value for v in model.variables]  # what the converter freezes
    with kerasaudio.layers.tflite_mode():  # kerasaudio's LSTM: TFLite's fused LSTM op
        concrete = tf.function(model).get_concrete_function(tf.TensorSpec((1, 50, 8)))
    raw = tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder).convert()

    def cell_clips(fb):
        graph = schema.ModelT.InitFromPackedBuf(bytearray(fb), 0).subgraphs[0]
        return [op.builtinOptions.cellClip for op in graph.operators
                if isinstance(op.builtinOptions, schema.UnidirectionalSequenceLSTMOptionsT)]

    cell_clips(raw), cell_clips(unclip_lstm_cells(raw))  # ([10.0], [0.0]): 0 is no clip
    ```
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    if not _has_op(flatbuffer, schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM):
        return flatbuffer
    model = flatbuffer_utils.convert_bytearray_to_object(flatbuffer)
    changed = False
    for graph in model.subgraphs:
        for op in graph.operators:
            options = op.builtinOptions
            if isinstance(options, schema.UnidirectionalSequenceLSTMOptionsT) and \
                    options.cellClip:
                options.cellClip = 0.0
                changed = True
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)) if changed else flatbuffer


#: Ops whose options carry a fused activation that can absorb a following RELU.
_FUSABLE = ("CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "SUB", "MUL", "FULLY_CONNECTED")


def _real_max(tensor) -> float:
    """Largest real value an int8 tensor can hold (per-tensor quantization)."""
    q = tensor.quantization
    return float(q.scale[0]) * (127 - int(q.zeroPoint[0]))


def fuse_clipped_relu(flatbuffer: bytes) -> bytes:
    """Fuse int8 clipped ReLUs (`MINIMUM(x, c)` and `RELU`, either order) into `x`'s producer.

    Keras' `ReLU(max_value=c)` (Deep Speaker's clipped ReLU, c = 20) converts to
    `MINIMUM` + `RELU` after a convolution or addition. When the int8 output of the pair
    cannot represent values above `c` (its calibrated range ends at or below `c`, plus
    half a quantization step), the clip is already done by int8 saturation: the producer
    then writes the pair's output tensor directly, with a fused RELU, and both ops go.
    The converter quantizes `c` itself into the range of `x`, so a `c` above that range
    is stored saturated (level 127) and clips at the top of `x`'s calibrated range instead
    of at `c`; the output's range, calibrated on the clipped float values, never exceeds
    `c`, so the fused op clips where Keras does and is closer to it, not only faster.
    Patterns whose producer has other consumers or another fused activation than RELU,
    or whose range reaches above `c`, are left alone.

    Example:
    ```python
    import keras, tensorflow as tf
    from kerasaudio.export.graph import fuse_clipped_relu
    inputs = keras.Input((40, 40, 1))
    x = keras.layers.ReLU(max_value=20.0)(keras.layers.Conv2D(8, 3)(inputs))  # clipped ReLU
    model = keras.Model(inputs, keras.layers.Dense(4)(keras.layers.Flatten()(x)))
    data = np.random.default_rng(0).normal(size=(16, 40, 40, 1)).astype("float32")
    holder = tf.Module()
    holder.variables_ = [v.value for v in model.variables]  # what the converter freezes
    concrete = tf.function(model).get_concrete_function(tf.TensorSpec((1, 40, 40, 1)))
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None]] for x in data)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    raw = converter.convert()  # the converter's int8 file: CONV_2D, MINIMUM, RELU
    fused = fuse_clipped_relu(raw)
    "MINIMUM" in kerasaudio.export.op_names(raw), "MINIMUM" in kerasaudio.export.op_names(fused)
    # (True, False): the convolution's fused RELU and int8 saturation clip instead
    ```
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    if not _has_op(flatbuffer, schema.BuiltinOperator.MINIMUM):
        return flatbuffer
    model = flatbuffer_utils.convert_bytearray_to_object(flatbuffer)
    codes = _op_code_names(model, schema)
    changed = [_fuse_in_graph(model, graph, codes, schema) for graph in model.subgraphs]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)) if any(changed) \
        else flatbuffer


def _fuse_in_graph(model, graph, codes: list, schema) -> bool:
    """`fuse_clipped_relu` on one subgraph; whether anything changed."""
    int8 = schema.TensorType.INT8
    tensors, ops = graph.tensors, graph.operators
    producer: dict = {}
    consumers: dict = {}
    for op in ops:
        for index in op.outputs:
            producer[int(index)] = op
        for index in op.inputs:
            if index >= 0:
                consumers.setdefault(int(index), []).append(op)
    outputs = {int(i) for i in graph.outputs}

    def single_consumer(index: int):
        users = consumers.get(index, [])
        return users[0] if len(users) == 1 and index not in outputs else None

    def clip_value(op) -> float | None:
        """c of MINIMUM(x, c) with a constant int8 c of one value, else None; +inf when c
        is saturated at int8's largest level (the float clip lies beyond the range
        calibrated for x: it never fired on the calibration data)."""
        if codes[op.opcodeIndex] != "MINIMUM":
            return None
        const = tensors[op.inputs[1]]
        data = model.buffers[const.buffer].data if const.buffer > 0 else None
        if const.type != int8 or data is None or len(data) != 1:
            return None
        level = int(np.asarray(data).view(np.int8)[0])
        if level == 127:
            return float("inf")
        q = const.quantization
        return float(q.scale[0]) * (level - int(q.zeroPoint[0]))

    removed = set()
    for first in ops:
        if id(first) in removed or codes[first.opcodeIndex] not in ("MINIMUM", "RELU"):
            continue
        source = int(first.inputs[0])
        second = single_consumer(int(first.outputs[0]))
        if second is None or {codes[first.opcodeIndex], codes[second.opcodeIndex]} != {
                "MINIMUM", "RELU"} or int(second.inputs[0]) != int(first.outputs[0]):
            continue
        clip = clip_value(first if codes[first.opcodeIndex] == "MINIMUM" else second)
        prod = producer.get(source)
        out = tensors[int(second.outputs[0])]
        if (clip is None or prod is None or single_consumer(source) is not first
                or codes[prod.opcodeIndex] not in _FUSABLE
                or tensors[source].type != int8 or out.type != int8
                or out.quantization is None or len(out.quantization.scale) != 1):
            continue
        if getattr(prod.builtinOptions, "fusedActivationFunction", None) not in (
                schema.ActivationFunctionType.NONE, schema.ActivationFunctionType.RELU):
            continue  # RELU: the converter fused Keras' max(x, 0) already
        if _real_max(out) > clip + 0.5 * float(out.quantization.scale[0]):
            continue  # the int8 range reaches above the clip: MINIMUM still matters
        prod.builtinOptions.fusedActivationFunction = schema.ActivationFunctionType.RELU
        prod.outputs = [int(second.outputs[0]) if int(i) == source else int(i)
                        for i in prod.outputs]
        removed |= {id(first), id(second)}
    graph.operators = [op for op in ops if id(op) not in removed]
    return bool(removed)


def strip_tensor_names(flatbuffer: bytes) -> bytes:
    """Drop every tensor's name except those of the graphs' inputs and outputs.

    Names are for people and debugging tools: LiteRT, XNNPACK and MediaPipe find tensors
    by index and signature, so the outputs do not change. TensorFlow's `strip_strings`
    tool does the same for the converter's files. The non-constant tensors also share one
    empty buffer and lose their empty quantization tables (`_drop_empty_tables`).

    Example:
    ```python
    from kerasaudio.export.graph import strip_tensor_names
    model = kerasaudio.create_model("m5", input_shape=(8000,), frontend="default",
                                    classes=10, n_channel=8)
    flatbuffer = kerasaudio.export.convert(model)
    small = strip_tensor_names(flatbuffer)
    len(small) < len(flatbuffer)  # True
    x = np.random.default_rng(0).uniform(-1, 1, (1, 8000)).astype("float32")
    np.array_equal(kerasaudio.export.run_tflite(small, x)[0],
                   kerasaudio.export.run_tflite(flatbuffer, x)[0])  # True
    ```
    """
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    for graph in model.subgraphs:
        kept = {int(i) for i in (*graph.inputs, *graph.outputs)}
        for index, tensor in enumerate(graph.tensors):
            if index not in kept:
                tensor.name = None
    _drop_empty_tables(model)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _drop_empty_tables(model) -> None:
    """Share one empty buffer and drop empty quantization tables (what `strip_tensor_names`
    also removes): the converter gives every non-constant tensor its own empty buffer
    and every float tensor an empty quantization table; LiteRT treats buffer 0 (the
    empty sentinel) and a missing table alike."""
    pinned = {entry.buffer for entry in model.metadata or []}
    empty = {index for index, buffer in enumerate(model.buffers)
             if index > 0 and index not in pinned and not getattr(buffer, "offset", 0)
             and (buffer.data is None or len(buffer.data) == 0)}
    for graph in model.subgraphs:
        for tensor in graph.tensors:
            if tensor.buffer in empty and not tensor.isVariable:
                tensor.buffer = 0
            quantization = tensor.quantization
            if quantization is not None and all(
                    getattr(quantization, field) is None or len(getattr(quantization, field)) == 0
                    for field in ("scale", "zeroPoint", "min", "max")) \
                    and quantization.details is None:
                tensor.quantization = None
    used = {0} | pinned | {t.buffer for g in model.subgraphs for t in g.tensors}
    keep = [i for i in range(len(model.buffers)) if i in used or i not in empty]
    new_index = {old: new for new, old in enumerate(keep)}
    model.buffers = [model.buffers[i] for i in keep]
    for graph in model.subgraphs:
        for tensor in graph.tensors:
            tensor.buffer = new_index[tensor.buffer]
    for entry in model.metadata or []:
        entry.buffer = new_index[entry.buffer]


#: Ops whose large float32 constant operands `halve_float_constants` stores as float16.
_HALVABLE = ("BATCH_MATMUL", "FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D")
#: Smallest normal float16 magnitude: a constant with a non-zero value below it is kept.
_FLOAT16_TINY = float(np.finfo(np.float16).tiny)


def halve_float_constants(flatbuffer: bytes, *, min_values: int = 256) -> bytes:
    """Store large float32 weight matrices of float32 ops as float16 behind DEQUANTIZE.

    In int8 and dynamic-range files the front end stays float32, and so do its matrices
    (a mel filterbank, DFT matrices). Each float32
    constant of at least `min_values` values that only matrix products and convolutions
    read, with no negative value and every non-zero value a normal float16 number, is
    stored in float16 and expanded by a DEQUANTIZE op, which LiteRT runs once when the
    model is prepared, so the ops compute in float32 as before. A non-negative weighting
    (a filterbank) turns the weights' relative error (<= 2^-11) into at most that relative
    error of each output (about 0.002 dB in a log-mel); a matrix with both signs (a DFT)
    can cancel, and its rounding would leak a loud bin into quiet ones (float16 DFT
    coefficients put a floor at about -66 dB under the peak), so those stay float32, as
    do constants that other tensors share.

    Example:
    ```python
    import keras
    from kerasaudio.export.graph import halve_float_constants
    inputs = keras.Input((8000,))
    x = kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=256, n_mels=64)(inputs)
    x = keras.layers.GlobalAveragePooling1D()(kerasaudio.layers.PowerToDb()(x))
    model = keras.Model(inputs, keras.layers.Dense(10)(x))
    clips, _ = kerasaudio.datasets.fsdd.sample_clips()
    int8 = kerasaudio.export.convert(model, quantization="int8",
                                     representative_data=clips[:16])
    smaller = halve_float_constants(int8)  # the mel bank's blocks in float16
    len(smaller) < len(int8)  # True
    x = clips[:1]
    np.abs(kerasaudio.export.run_tflite(smaller, x)[0]
           - kerasaudio.export.run_tflite(int8, x)[0]).max()  # a few int8 steps at most
    ```
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    codes = _op_code_names(model, schema)
    users: dict[int, int] = {}  # buffer -> number of tensors (any graph) that read it
    for graph in model.subgraphs:
        for tensor in graph.tensors:
            users[tensor.buffer] = users.get(tensor.buffer, 0) + 1
    dequantize = None
    changed = False
    for graph in model.subgraphs:
        readers: dict = {}
        for op in graph.operators:
            for index in op.inputs:
                if index >= 0:
                    readers.setdefault(int(index), []).append(codes[op.opcodeIndex])
        expand = []
        for index, tensor in enumerate(graph.tensors):
            data = model.buffers[tensor.buffer].data if tensor.buffer > 0 else None
            if (tensor.type != schema.TensorType.FLOAT32 or data is None
                    or users[tensor.buffer] != 1 or data.size < 4 * min_values
                    or not readers.get(index)
                    or any(code not in _HALVABLE for code in readers[index])):
                continue
            values = np.frombuffer(data.tobytes(), "<f4")
            nonzero = np.abs(values[values != 0])
            if values.min() < 0 or (nonzero.size and (
                    nonzero.min() < _FLOAT16_TINY
                    or nonzero.max() > float(np.finfo(np.float16).max))):
                continue
            if dequantize is None:
                dequantize = _op_code_index(model, codes, schema, "DEQUANTIZE", version=3)
            half = schema.BufferT()
            half.data = np.frombuffer(values.astype("<f2").tobytes(), np.uint8)
            model.buffers.append(half)
            model.buffers[tensor.buffer].data = None
            stored = schema.TensorT()
            stored.shape, stored.type = tensor.shape, schema.TensorType.FLOAT16
            stored.buffer = len(model.buffers) - 1
            stored.name = tensor.name + b"_float16" if tensor.name else None
            graph.tensors.append(stored)
            tensor.buffer = 0
            op = schema.OperatorT()
            op.opcodeIndex, op.inputs, op.outputs = dequantize, [len(graph.tensors) - 1], [index]
            expand.append(op)
        if expand:
            graph.operators = [*expand, *graph.operators]
            changed = True
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)) if changed else flatbuffer


def _op_code_index(model, codes: list, schema, name: str, *, version: int) -> int:
    """Index of builtin op `name` in the file's op codes (added when missing)."""
    if name in codes:
        index = codes.index(name)
        model.operatorCodes[index].version = max(model.operatorCodes[index].version, version)
        return index
    code = schema.OperatorCodeT()
    code.builtinCode = getattr(schema.BuiltinOperator, name)
    code.deprecatedBuiltinCode = min(code.builtinCode, 127)
    code.version = version
    model.operatorCodes.append(code)
    codes.append(name)
    return len(model.operatorCodes) - 1
