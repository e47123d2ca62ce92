"""TFLite conversion with builtin ops only, and a LiteRT runner.

This module holds the float conversion the front end needs today; quantization
(float16, dynamic range, int8), verification reports and metadata build on it.
"""

from __future__ import annotations

import numpy as np

from kerasaudio.errors import KerasAudioError
from kerasaudio.layers.base import tflite_mode

__all__ = ["ConversionError", "convert", "op_names", "run_tflite"]


class ConversionError(KerasAudioError):
    """The TFLite converter refused the model (e.g. it needs ops that are not builtins).

    Example:
    ```python
    try:
        kerasaudio.export.convert(model)
    except kerasaudio.export.ConversionError as e:
        print(e)  # the converter's message, e.g. the ops it could not express
    ```
    """


def convert(model, *, batch_size: int | None = 1) -> bytes:
    """Convert a Keras model to a float TFLite flatbuffer with builtin ops only (no Flex).

    The model is traced inside `kerasaudio.layers.tflite_mode()`, so kerasaudio front-end
    layers pick TFLite-friendly ops (RFFT2D for power-of-two `n_fft`, a DFT convolution
    otherwise). Flex (`SELECT_TF_OPS`) is never enabled: from TF 2.19 Flex models cannot
    run in Python and phones need a special build for them.

    Args:
        model: a built Keras model with one or more inputs.
        batch_size: fixed batch size of the converted model, or None for a dynamic batch
            (resize the input before running).

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
    try:
        flatbuffer = converter.convert()
    except Exception as exc:  # the converter raises ConverterError and others
        raise ConversionError(f"TFLite conversion (builtins only) failed: {exc}") from exc
    _check_prepares(flatbuffer)
    return flatbuffer


def _check_prepares(flatbuffer: bytes) -> None:
    """LiteRT must accept the file: the converter lets through graphs whose kernels then
    refuse to prepare (e.g. RFFT2D with a non-power-of-two length)."""
    interpreter = _interpreter(flatbuffer)
    for detail in interpreter.get_input_details():
        shape = [1 if d < 0 else int(d) for d in detail["shape_signature"]]
        interpreter.resize_tensor_input(detail["index"], shape)
    try:
        interpreter.allocate_tensors()
    except RuntimeError as exc:
        raise ConversionError(
            f"the converted model does not run in LiteRT (builtins only): {exc}"
        ) from exc


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
    details = interpreter.get_input_details()
    if len(details) != len(inputs):
        raise KerasAudioError(f"model has {len(details)} inputs; got {len(inputs)}.")
    for detail, x in zip(details, inputs, strict=True):
        if tuple(detail["shape"]) != x.shape:
            interpreter.resize_tensor_input(detail["index"], x.shape)
    interpreter.allocate_tensors()
    for detail, x in zip(details, inputs, strict=True):
        interpreter.set_tensor(detail["index"], np.asarray(x, dtype=detail["dtype"]))
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]
