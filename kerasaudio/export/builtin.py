"""Files from the standard Keras routes: find Flex ops, and make recurrent layers builtin.

`model.export(path, format="litert")` converts with Flex (`SELECT_TF_OPS`) allowed and says
nothing when a Flex op slips in; LiteRT's builtin runtime (and `kerasaudio.runtime`) then
refuses the file when it is loaded. `check_builtin_ops` reads a converted file's op codes
(no interpreter needed) and raises `ConversionError` naming the Flex ops and the fix.
`builtin_recurrent` swaps Keras' own `LSTM`/`GRU` layers of a model for
`kerasaudio.layers.LSTM`/`GRU` (same weights), whose inference graph is builtin ops.
"""

from __future__ import annotations

import os

from kerasaudio.errors import ConversionError, InvalidOptionError

__all__ = ["builtin_recurrent", "check_builtin_ops", "flex_ops"]

#: What to do about a Flex op, by the TensorFlow op name's prefix.
_FIXES = {
    "TensorList": "a Keras recurrent layer (keras.layers.LSTM, GRU, SimpleRNN, RNN): "
                  "use kerasaudio.layers.LSTM / kerasaudio.layers.GRU (the same options "
                  "and weights; kerasaudio.export.builtin_recurrent(model) swaps them in) "
                  "with stateful=False; SimpleRNN and RNN(cell) have no builtin form here",
    "TensorArray": "a tf.TensorArray or tf.scan in your own layer: grow the result by "
                   "tf.concat inside tf.while_loop instead",
}


def _flatbuffer(model_content) -> bytes:
    if isinstance(model_content, (bytes, bytearray)):
        return bytes(model_content)
    if isinstance(model_content, (str, os.PathLike)):
        with open(model_content, "rb") as file:
            return file.read()
    raise InvalidOptionError(
        f"expected a TFLite flatbuffer (bytes) or a file path, got {type(model_content)}.")


def flex_ops(model_content) -> list[str]:
    """The Flex and custom ops of a TFLite file, read from its op-code table.

    Needs no interpreter (LiteRT's builtin runtime refuses to load a file with Flex ops).

    Args:
        model_content: the flatbuffer (`bytes`) or a `.tflite` path.

    Returns:
        Sorted custom op names (Flex ops as `"FlexTensorListReserve"`, ...); empty when
        the file uses builtin ops only.

    Example:
    ```python
    import keras
    model = keras.Sequential([keras.Input((20, 4)), kerasaudio.layers.GRU(3)])
    fb = kerasaudio.export.convert(model, batch_size=None)
    kerasaudio.export.flex_ops(fb)  # []
    ```
    """
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAs(_flatbuffer(model_content), 0)
    names = set()
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) == \
                schema.BuiltinOperator.CUSTOM:
            names.add((code.CustomCode() or b"").decode())
    return sorted(names)


def check_builtin_ops(model_content) -> None:
    """Raise if a TFLite file needs Flex or custom ops, naming them and what to change.

    Meant for files from `model.export(path, format="litert")` or a `TFLiteConverter`
    with `SELECT_TF_OPS`, which convert without a word and fail only when loaded on a
    device without the Flex delegate (and in LiteRT's Python interpreter, which has none).

    Args:
        model_content: the flatbuffer (`bytes`) or a `.tflite` path.

    Raises:
        ConversionError: the file uses Flex or custom ops; the message lists them and the
            fix (a Keras recurrent layer: `kerasaudio.layers.LSTM`/`GRU` or
            `builtin_recurrent`).

    Example:
    ```python
    import keras
    model = keras.Sequential([keras.Input((20, 4)), kerasaudio.layers.LSTM(3)])
    fb = kerasaudio.export.convert(model, batch_size=None)
    kerasaudio.export.check_builtin_ops(fb)  # builtin ops only: no error
    ```
    """
    found = flex_ops(model_content)
    if not found:
        return
    fixes = []
    for prefix, fix in _FIXES.items():
        if any(op.removeprefix("Flex").startswith(prefix) for op in found):
            fixes.append(fix)
    advice = ("; ".join(fixes) if fixes else
              "convert with kerasaudio.export.convert(model) (builtins only), whose error "
              "names the TensorFlow op and the layer that produced it")
    raise ConversionError(
        f"the TFLite file needs Flex or custom ops {found}, which LiteRT's builtin runtime "
        f"cannot run. They come from {advice}.")


def builtin_recurrent(model):
    """A copy of `model` whose `keras.layers.LSTM`/`GRU` layers are kerasaudio's.

    `kerasaudio.layers.LSTM` and `kerasaudio.layers.GRU` are Keras' layers with the same
    options and weights (and the same results, to float32 rounding) whose TensorFlow
    inference graph is TFLite builtin ops, so the copy converts without Flex by
    `model.export(format="litert")`, `TFLiteConverter` and `kerasaudio.export`. Layers
    inside `keras.layers.Bidirectional` and nested models are swapped too; other layers
    and the weights are copied unchanged.

    Args:
        model: a functional or `Sequential` Keras model.

    Returns:
        A new `keras.Model` with the same weights.

    Raises:
        InvalidOptionError: a recurrent layer is `stateful` (its state lives between
            calls, which a builtin TFLite graph cannot hold: export a step function).

    Example:
    ```python
    import keras
    inputs = keras.Input((30, 8))
    x = keras.layers.Bidirectional(keras.layers.GRU(6, return_sequences=True))(inputs)
    model = keras.Model(inputs, keras.layers.LSTM(4)(x))
    swapped = kerasaudio.export.builtin_recurrent(model)
    type(swapped.layers[-1]) is kerasaudio.layers.LSTM  # True
    type(swapped.layers[1].forward_layer) is kerasaudio.layers.GRU  # True
    ```
    """
    import keras

    from kerasaudio.layers import GRU, LSTM

    replacements = {keras.layers.LSTM: LSTM, keras.layers.GRU: GRU}

    def swap(layer):
        kind = replacements.get(type(layer))
        if kind is None:
            return layer
        if layer.stateful:
            raise InvalidOptionError(
                f"layer {layer.name!r} is stateful: a builtin TFLite graph holds no state "
                "between calls; export a model that takes and returns the state instead.")
        return kind.from_config(layer.get_config())

    def clone(layer):
        if isinstance(layer, keras.layers.Bidirectional):
            config = layer.get_config()
            return keras.layers.Bidirectional(
                swap(layer.forward_layer), backward_layer=swap(layer.backward_layer),
                merge_mode=config["merge_mode"], name=layer.name)
        swapped = swap(layer)
        return swapped if swapped is not layer else layer.__class__.from_config(
            layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone, recursive=True)
    copy.set_weights(model.get_weights())
    return copy
