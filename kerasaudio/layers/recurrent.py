"""An LSTM that TFLite fuses into its builtin UNIDIRECTIONAL_SEQUENCE_LSTM (so int8 works)."""

from __future__ import annotations

import uuid

import keras

from kerasaudio.layers.base import in_tflite_mode

__all__ = ["LSTM"]


def _lstm_sequence(inputs, init_h, init_c, kernel, recurrent_kernel, bias, *,
                   loop: bool = False):
    """Keras' LSTM recurrence over `(batch, time, features)`; the five results of the
    "Keras LSTM" composite-function contract the TFLite converter fuses:
    `(last_output, outputs, h, c, runtime)`."""
    import tensorflow as tf

    def step(carry, x):
        h, c = carry
        z = tf.matmul(x, kernel) + tf.matmul(h, recurrent_kernel) + bias
        i, f, g, o = tf.split(z, 4, axis=1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        return tf.sigmoid(o) * tf.tanh(c), c

    if loop:
        # A WHILE loop whose time-major outputs grow by concatenation: builtin ops at any
        # batch size (no TensorList). The loop starts after the first step: LiteRT's WHILE
        # mis-sizes a loop variable that starts empty.
        projected = tf.transpose(tf.matmul(inputs, kernel) + bias, (1, 0, 2))  # (time, ...)
        steps, units = int(inputs.shape[1]), int(recurrent_kernel.shape[0])

        def cell(t, h, c):
            i, f, g, o = tf.split(
                tf.gather(projected, t) + tf.matmul(h, recurrent_kernel), 4, axis=1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            return tf.sigmoid(o) * tf.tanh(c), c

        def body(t, h, c, outputs):
            h, c = cell(t, h, c)
            return t + 1, h, c, tf.concat([outputs, h[None]], axis=0)

        h, c = cell(tf.constant(0), init_h, init_c)
        _, h, c, outputs = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(1), h, c, h[None]),
            shape_invariants=(tf.TensorShape([]), init_h.shape, init_c.shape,
                              tf.TensorShape([None, None, units])))
        outputs = tf.reshape(tf.transpose(outputs, (1, 0, 2)), [-1, steps, units])
        return h, outputs, h, c, tf.constant(0.0)
    hs, cs = tf.scan(step, tf.transpose(inputs, (1, 0, 2)), initializer=(init_h, init_c))
    outputs = tf.transpose(hs, (1, 0, 2))
    return outputs[:, -1], outputs, hs[-1], cs[-1], tf.constant(0.0)


def _tracing() -> bool:
    """Whether TensorFlow is building a graph (a `tf.function` trace), not running eagerly."""
    import tensorflow as tf

    return not tf.executing_eagerly()


@keras.saving.register_keras_serializable(package="kerasaudio")
class LSTM(keras.layers.LSTM):
    """`keras.layers.LSTM` that converts to TFLite's fused LSTM op, so full int8 works.

    Identical to `keras.layers.LSTM` everywhere (same options, weights and results; a
    drop-in replacement, also inside `keras.layers.Bidirectional`). On the TensorFlow
    backend, when traced for inference (`training=False` inside a `tf.function`, as
    `model.export(format="litert")`, `tf.lite.TFLiteConverter` and `model.predict` trace;
    or inside `kerasaudio.export`'s `tflite_mode`), with the default activations and a
    static number of frames, it computes the sequence in a function marked with the
    converter's "Keras LSTM" interface (`api_implements="lstm_..."`): with a fixed batch
    size the converter replaces it by the builtin `UNIDIRECTIONAL_SEQUENCE_LSTM`; with a
    dynamic batch (the standard routes' default signature) the function is a WHILE loop
    over frames that uses builtin ops only. Keras 3's own LSTM becomes a WHILE loop over
    TensorList ops instead, which need Flex (`FlexTensorListReserve`) and make full-int8
    conversion crash the converter (SIGSEGV, TF 2.16-2.21). The converter gives the fused
    op a cell-state clip of +-10, which Keras does not have; `kerasaudio.export` sets it
    to 0 (no clipping) in every file it writes.

    Args:
        units: dimensionality of the output.
        **kwargs: every `keras.layers.LSTM` option.

    Example:
    ```python
    import keras, kerasaudio
    x = keras.Input((100, 40))
    h = keras.layers.Bidirectional(kerasaudio.layers.LSTM(64, return_sequences=True))(x)
    ```

    Reference:
        Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural Computation 9(8),
        1997; TensorFlow Lite, "TensorFlow RNN conversion to TensorFlow Lite".
    """

    def _fusable(self, sequences, initial_state, mask, training) -> bool:
        return (
            keras.backend.backend() == "tensorflow"
            and (in_tflite_mode() or (not training and _tracing()))
            and initial_state is None
            and mask is None
            and not self.stateful
            and not self.return_state
            and self.use_bias
            and keras.activations.serialize(self.activation) == "tanh"
            and keras.activations.serialize(self.recurrent_activation) == "sigmoid"
            and sequences.shape[1] is not None
        )

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if not self._fusable(sequences, initial_state, mask, training):
            return super().call(sequences, initial_state=initial_state, mask=mask,
                                training=training)
        import tensorflow as tf

        attributes = {"api_implements": f"lstm_{uuid.uuid4().hex}",
                      "api_preferred_device": "CPU", "time_major": False,
                      "go_backwards": bool(self.go_backwards)}

        def sequence(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
            if self.go_backwards:
                inputs = tf.reverse(inputs, axis=[1])
            return _lstm_sequence(inputs, init_h, init_c, kernel, recurrent_kernel, bias,
                                  loop=sequences.shape[0] is None)

        fused = tf.function(sequence, autograph=False, experimental_attributes=attributes)
        zeros = tf.zeros((tf.shape(sequences)[0], self.units), sequences.dtype)
        # Values, not variables: the converter reads arguments 3-5 as the weights.
        _, outputs, _, _, _ = fused(
            sequences, zeros, zeros, tf.convert_to_tensor(self.cell.kernel),
            tf.convert_to_tensor(self.cell.recurrent_kernel),
            tf.convert_to_tensor(self.cell.bias))
        return outputs if self.return_sequences else outputs[:, -1]
