"""LSTM and GRU layers whose TensorFlow inference graph converts to TFLite builtin ops.

`kerasaudio.layers.LSTM` and `kerasaudio.layers.GRU` are `keras.layers.LSTM` and
`keras.layers.GRU` with another TensorFlow graph when traced for inference: Keras' own
recurrent loop is a WHILE over TensorList ops, which TFLite has only as Flex ops
(`FlexTensorListReserve`, ...), and which makes full-int8 conversion crash the converter.
"""

from __future__ import annotations

import uuid

import keras

from kerasaudio.layers.base import in_tflite_mode

__all__ = ["GRU", "LSTM", "MAX_UNCLIPPED_FRAMES"]

#: Frames up to which the converter's fused LSTM (cell clip +-10) equals Keras exactly on
#: the standard routes: from a zero state each step moves the cell state by less than 1.
MAX_UNCLIPPED_FRAMES = 10


def _lstm_sequence(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
    """Keras' LSTM recurrence over `(batch, time, features)` as `tf.scan`; the five results
    of the "Keras LSTM" composite-function contract the TFLite converter fuses:
    `(last_output, outputs, h, c, runtime)`."""
    import tensorflow as tf

    def step(carry, x):
        h, c = carry
        z = tf.matmul(x, kernel) + tf.matmul(h, recurrent_kernel) + bias
        i, f, g, o = tf.split(z, 4, axis=1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        return tf.sigmoid(o) * tf.tanh(c), c

    hs, cs = tf.scan(step, tf.transpose(inputs, (1, 0, 2)), initializer=(init_h, init_c))
    outputs = tf.transpose(hs, (1, 0, 2))
    return outputs[:, -1], outputs, hs[-1], cs[-1], tf.constant(0.0)


def builtin_loop(step, projected, states, mask=None, *, return_sequences: bool = True,
                 zero_output_for_mask: bool = False):
    """Run a recurrence as a WHILE loop of builtin TFLite ops (no TensorList).

    Keras' masking rule: where a step is masked, every state keeps its previous value and
    the output repeats the previous output (zeros with `zero_output_for_mask`). Outputs
    grow by concatenation along time; the loop starts after the first step because
    LiteRT's WHILE mis-sizes a loop variable that starts empty.

    Args:
        step: `(x_t, states) -> (output, new_states)` on `(batch, ...)` tensors.
        projected: time-major `(time, batch, features)` inputs (the input projection
            already applied); the number of frames may be dynamic (at least 1).
        states: list of initial `(batch, units)` states.
        mask: time-major `(time, batch, 1)` booleans, True where a step counts, or None.
        return_sequences: whether to collect every step's output.
        zero_output_for_mask: whether masked steps output zeros.

    Returns:
        `(last_output, outputs, states)`: outputs `(batch, time, units)` (None without
        `return_sequences`).
    """
    import tensorflow as tf

    def advance(t, output, states):
        new_output, new_states = step(tf.gather(projected, t), states)
        if mask is None:
            return new_output, list(new_states)
        keep = tf.gather(mask, t)
        previous = tf.zeros_like(new_output) if zero_output_for_mask else output
        return (tf.where(keep, new_output, previous),
                [tf.where(keep, new, old) for new, old in zip(new_states, states, strict=True)])

    zeros = tf.zeros_like(states[0])
    output, states = advance(tf.constant(0), zeros, list(states))
    steps = tf.shape(projected)[0]
    count = len(states)

    def body(t, output, *rest):
        output, new_states = advance(t, output, list(rest[:count]))
        grown = [tf.concat([rest[count], output[None]], axis=0)] if return_sequences else []
        return (t + 1, output, *new_states, *grown)

    shapes = [tf.TensorShape([]), output.shape, *[s.shape for s in states]]
    variables = [tf.constant(1), output, *states]
    if return_sequences:
        shapes.append(tf.TensorShape([None, None, output.shape[-1]]))
        variables.append(output[None])
    results = tf.while_loop(lambda t, *_: t < steps, body, variables,
                            shape_invariants=shapes)
    outputs = tf.transpose(results[-1], (1, 0, 2)) if return_sequences else None
    return results[1], outputs, list(results[2:2 + count])


def _lstm_step(recurrent_kernel, activation, gate):
    """One LSTM step on the projected input `x` (gates i, f, c, o as Keras orders them)."""
    import tensorflow as tf

    def step(x, states):
        h, c = states
        i, f, g, o = tf.split(x + tf.matmul(h, recurrent_kernel), 4, axis=1)
        c = gate(f) * c + gate(i) * activation(g)
        h = gate(o) * activation(c)
        return h, [h, c]

    return step


def _traced_for_inference(training) -> bool:
    """TensorFlow backend, building a graph (a `tf.function` trace) for inference, or inside
    `tflite_mode`; never for XLA (`jit_compile`, Keras' default on GPUs), which cannot
    compile a loop variable that grows."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf
    from tensorflow.python.ops import control_flow_util

    if in_tflite_mode():
        return True
    return (not training and not tf.executing_eagerly() and
            not control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))


def _prepare(layer, sequences, initial_state, mask):
    """Time-major inputs, initial states and mask (reversed for `go_backwards`)."""
    import tensorflow as tf

    dtype = sequences.dtype
    if initial_state is None:
        states = [tf.zeros((tf.shape(sequences)[0], layer.units), dtype)
                  for _ in range(len(keras.tree.flatten(layer.cell.state_size)))]
    else:
        states = [tf.cast(s, dtype) for s in keras.tree.flatten(initial_state)]
    time_major = tf.transpose(sequences, (1, 0, 2))
    if mask is not None:
        mask = keras.tree.flatten(mask)[0]
        # expand_dims, not [..., None]: a bool StridedSlice with a new axis is Flex.
        mask = tf.expand_dims(tf.transpose(tf.cast(mask, tf.bool)), -1)
    if layer.go_backwards:
        time_major = tf.reverse(time_major, [0])
        mask = None if mask is None else tf.reverse(mask, [0])
    return time_major, states, mask


def _finish(layer, last_output, outputs, states):
    output = outputs if layer.return_sequences else last_output
    return (output, *states) if layer.return_state else output


def _weights(layer, dtype):
    import tensorflow as tf

    cell = layer.cell
    bias = None if not cell.use_bias else tf.cast(tf.convert_to_tensor(cell.bias), dtype)
    return (tf.cast(tf.convert_to_tensor(cell.kernel), dtype),
            tf.cast(tf.convert_to_tensor(cell.recurrent_kernel), dtype), bias)


@keras.saving.register_keras_serializable(package="kerasaudio")
class LSTM(keras.layers.LSTM):
    """`keras.layers.LSTM` whose TensorFlow inference graph is TFLite builtin ops.

    Identical to `keras.layers.LSTM` everywhere (same options, weights and results; a
    drop-in replacement, also inside `keras.layers.Bidirectional`). On the TensorFlow
    backend, when traced for inference (`training=False` inside a `tf.function`, as
    `model.export(format="litert")`, `tf.lite.TFLiteConverter` and `model.predict` trace;
    or inside `kerasaudio.export`'s `tflite_mode`) it computes the sequence with builtin
    ops only, for any option but `stateful=True`:

    - inside `tflite_mode` (what `kerasaudio.export` converts), with the default
      activations, a bias, no mask, no initial state and a static number of frames, in a
      function marked with the converter's "Keras LSTM" interface
      (`api_implements="lstm_..."`): at a fixed batch size the converter replaces it by
      the builtin `UNIDIRECTIONAL_SEQUENCE_LSTM` (so full int8 works), whose cell-state
      clip of +-10 `kerasaudio.export` sets to 0 (Keras never clips);
    - on the standard routes the same fused function only up to `MAX_UNCLIPPED_FRAMES`
      frames, where the clip cannot change a value (each step moves the cell state by less
      than 1);
    - otherwise a WHILE loop over frames of builtin ops (`builtin_loop`): masks (Keras'
      rule: a masked step keeps the state and repeats the output), any activation, a
      dynamic batch and a dynamic number of frames.

    Keras 3's own LSTM becomes a WHILE loop over TensorList ops instead, which need Flex
    (`FlexTensorListReserve`) and make full-int8 conversion crash the converter (SIGSEGV,
    TF 2.16-2.21). A `stateful` LSTM keeps Keras' loop (`kerasaudio.export` refuses it).

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

    def _fusable(self, sequences, initial_state, mask) -> bool:
        frames = sequences.shape[1]
        return (
            initial_state is None
            and mask is None
            and not self.return_state
            and self.use_bias
            and keras.activations.serialize(self.activation) == "tanh"
            and keras.activations.serialize(self.recurrent_activation) == "sigmoid"
            and frames is not None
            and (in_tflite_mode() or frames <= MAX_UNCLIPPED_FRAMES)
        )

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if self.stateful or not _traced_for_inference(training):
            return super().call(sequences, initial_state=initial_state, mask=mask,
                                training=training)
        if self._fusable(sequences, initial_state, mask):
            return self._fused(sequences)
        import tensorflow as tf

        kernel, recurrent_kernel, bias = _weights(self, sequences.dtype)
        time_major, states, mask = _prepare(self, sequences, initial_state, mask)
        projected = tf.matmul(time_major, kernel)
        if bias is not None:
            projected = projected + bias
        step = _lstm_step(recurrent_kernel, self.activation, self.recurrent_activation)
        last, outputs, states = builtin_loop(
            step, projected, states, mask, return_sequences=self.return_sequences,
            zero_output_for_mask=self.zero_output_for_mask)
        return _finish(self, last, outputs, states)

    def _fused(self, sequences):
        """The converter's "Keras LSTM" function: the fused op at a fixed batch size."""
        import tensorflow as tf

        attributes = {"api_implements": f"lstm_{uuid.uuid4().hex}",
                      "api_preferred_device": "CPU", "time_major": False,
                      "go_backwards": bool(self.go_backwards)}
        static_batch = sequences.shape[0] is not None

        def sequence(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
            if self.go_backwards:
                inputs = tf.reverse(inputs, axis=[1])
            if static_batch:
                return _lstm_sequence(inputs, init_h, init_c, kernel, recurrent_kernel, bias)
            # A dynamic batch is not fused: the body itself must be builtin ops.
            projected = tf.transpose(tf.matmul(inputs, kernel) + bias, (1, 0, 2))
            step = _lstm_step(recurrent_kernel, tf.tanh, tf.sigmoid)
            last, outputs, (h, c) = builtin_loop(step, projected, [init_h, init_c])
            return last, outputs, h, c, tf.constant(0.0)

        fused = tf.function(sequence, autograph=False, experimental_attributes=attributes)
        zeros = tf.zeros((tf.shape(sequences)[0], self.units), sequences.dtype)
        # Values, not variables: the converter reads arguments 3-5 as the weights.
        kernel, recurrent_kernel, bias = _weights(self, sequences.dtype)
        _, outputs, _, _, _ = fused(sequences, zeros, zeros, kernel, recurrent_kernel, bias)
        return outputs if self.return_sequences else outputs[:, -1]


@keras.saving.register_keras_serializable(package="kerasaudio")
class GRU(keras.layers.GRU):
    """`keras.layers.GRU` whose TensorFlow inference graph is TFLite builtin ops.

    The GRU counterpart of `kerasaudio.layers.LSTM`: a drop-in `keras.layers.GRU` (same
    options, weights and results) whose recurrence, traced for inference on TensorFlow as
    the LSTM's is, is the WHILE loop of builtin ops (`builtin_loop`; TFLite has no fused
    GRU op) for any option but `stateful=True`: masks (Keras' rule), any activation,
    `reset_after` either way, a dynamic batch and a dynamic number of frames. Keras 3's own
    GRU needs Flex (`FlexTensorListReserve`).

    Args:
        units: dimensionality of the output.
        **kwargs: every `keras.layers.GRU` option.

    Example:
    ```python
    import keras, kerasaudio
    frames = keras.Input((None, 40))  # any number of frames; all-zero frames are padding
    h = kerasaudio.layers.GRU(32)(keras.layers.Masking(0.0)(frames))
    ```

    Reference:
        Cho et al., "Learning Phrase Representations using RNN Encoder-Decoder for
        Statistical Machine Translation", EMNLP 2014.
    """

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if self.stateful or not _traced_for_inference(training):
            return super().call(sequences, initial_state=initial_state, mask=mask,
                                training=training)
        import tensorflow as tf

        units = self.units
        kernel, recurrent_kernel, bias = _weights(self, sequences.dtype)
        input_bias, recurrent_bias = None, None
        if bias is not None:
            input_bias, recurrent_bias = ((bias[0], bias[1]) if self.cell.reset_after
                                          else (bias, None))
        time_major, states, mask = _prepare(self, sequences, initial_state, mask)
        projected = tf.matmul(time_major, kernel)
        if input_bias is not None:
            projected = projected + input_bias
        activation, gate = self.activation, self.recurrent_activation
        reset_after = self.cell.reset_after

        def step(x, states):
            (h,) = states
            x_z, x_r, x_h = tf.split(x, 3, axis=1)
            if reset_after:
                recurrent = tf.matmul(h, recurrent_kernel)
                if recurrent_bias is not None:
                    recurrent = recurrent + recurrent_bias
                r_z, r_r, r_h = tf.split(recurrent, 3, axis=1)
                z, r = gate(x_z + r_z), gate(x_r + r_r)
                candidate = activation(x_h + r * r_h)
            else:
                r_zr = tf.matmul(h, recurrent_kernel[:, :2 * units])
                r_z, r_r = tf.split(r_zr, 2, axis=1)
                z, r = gate(x_z + r_z), gate(x_r + r_r)
                candidate = activation(x_h + tf.matmul(r * h, recurrent_kernel[:, 2 * units:]))
            h = z * h + (1.0 - z) * candidate
            return h, [h]

        last, outputs, states = builtin_loop(
            step, projected, states, mask, return_sequences=self.return_sequences,
            zero_output_for_mask=self.zero_output_for_mask)
        return _finish(self, last, outputs, states)
