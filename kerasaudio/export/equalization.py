"""Cross-layer equalization: balance weight ranges across layers before int8 quantization.

A ReLU network computes exactly the same function when output channel `i` of one layer is
multiplied by `s_i > 0` and the next layer's input channel `i` divided by it, because
ReLU, max- and average-pooling and zero padding commute with positive per-channel scaling
(Nagel et al. 2019). Per-tensor int8 weights (`to_tflite(per_channel=False)`, 12 bytes less
per output channel than per-channel scales) give every channel of a layer the step of its
largest channel; choosing `s_i = sqrt(r2_i / r1_i)` (r1, r2: channel `i`'s largest weight
magnitude in the two layers, batch norms folded in as the converter folds them) gives
both layers the same per-channel range, so the small channels keep more levels.

`equalize_channels(model)` returns a rescaled copy (the model passed in is unchanged);
`equalization_pairs(model)` lists the layer pairs it rescales. `kerasaudio.export.to_tflite`
equalizes by default when weights are per-tensor (measurements: BENCHMARKS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["EqualizedPair", "equalization_pairs", "equalize_channels"]


@dataclass
class EqualizedPair:
    """One producer layer and the layers that read its (rescaled) channels.

    Args:
        producer: the layer whose output channels are scaled by `s`.
        consumers: the layers whose input channels are divided by `s`.
        through: the layers in between (batch norm, ReLU, pooling, padding, dropout).
        balance_before: smallest over largest per-channel weight range of the producer
            (batch norm folded), before equalization (1.0: all channels alike).
        balance_after: the same after equalization (0.0 until `equalize_channels` ran).

    Example:
    ```python
    import keras
    model = keras.Sequential([
        keras.Input((100, 40)),
        keras.layers.Conv1D(16, 3, activation="relu", name="conv1"),
        keras.layers.MaxPooling1D(2, name="pool"),
        keras.layers.Conv1D(16, 3, activation="relu", name="conv2"),
        keras.layers.GlobalAveragePooling1D(name="average"),
        keras.layers.Dense(10, name="classifier")])
    pairs = kerasaudio.export.equalization_pairs(model)
    [(p.producer, p.consumers, p.through) for p in pairs]
    # [('conv1', ['conv2'], ['pool']), ('conv2', ['classifier'], ['average'])]
    ```
    """

    producer: str
    consumers: list[str]
    through: list[str]
    balance_before: float = 0.0
    balance_after: float = 0.0


def _keras():
    import keras

    return keras


def _linear_types(keras):
    return (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
            keras.layers.Dense)


def _is_linear(layer, keras) -> bool:
    """A layer computing `x @ kernel (+ bias)` over its last (channel) axis, no groups."""
    if not isinstance(layer, _linear_types(keras)):
        return False
    if isinstance(layer, (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
                          keras.layers.Conv3DTranspose)):
        return False
    if getattr(layer, "groups", 1) != 1:
        return False
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        return False
    return getattr(layer, "kernel", None) is not None


def _activation(layer) -> str:
    return getattr(getattr(layer, "activation", None), "__name__", "")


def _homogeneous(layer, keras) -> bool:
    """A layer with f(s * x) = s * f(x) per channel for any s > 0 (channels last)."""
    if isinstance(layer, keras.layers.ReLU):
        return layer.max_value is None and float(layer.threshold) == 0.0
    if isinstance(layer, keras.layers.Activation):
        return _activation(layer) in ("relu", "linear")
    passing = (keras.layers.LeakyReLU, keras.layers.Dropout, keras.layers.Identity,
               keras.layers.MaxPooling1D, keras.layers.MaxPooling2D, keras.layers.MaxPooling3D,
               keras.layers.AveragePooling1D, keras.layers.AveragePooling2D,
               keras.layers.AveragePooling3D, keras.layers.GlobalMaxPooling1D,
               keras.layers.GlobalMaxPooling2D, keras.layers.GlobalAveragePooling1D,
               keras.layers.GlobalAveragePooling2D, keras.layers.ZeroPadding1D,
               keras.layers.ZeroPadding2D, keras.layers.ZeroPadding3D)
    if not isinstance(layer, passing):
        return False
    return getattr(layer, "data_format", "channels_last") in ("channels_last", None)


def _channel_batch_norm(layer, keras) -> bool:
    if not isinstance(layer, keras.layers.BatchNormalization) or not layer.scale:
        return False
    rank = len(layer.output.shape)
    axis = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    return len(axis) == 1 and axis[0] in (-1, rank - 1)


def _graph(model):
    """`(consumers, single)`: layer name -> layers reading it; names used exactly once."""
    consumers: dict[str, list] = {}
    single = set()
    for layer in model.layers:
        nodes = getattr(layer, "_inbound_nodes", [])
        if len(nodes) == 1:
            single.add(layer.name)
        for node in nodes:
            for tensor in getattr(node, "input_tensors", ()):
                history = getattr(tensor, "_keras_history", None)  # Keras 3 graph tensors
                if history is not None:
                    consumers.setdefault(history.operation.name, []).append(layer)
    return consumers, single


def _fold(layer) -> np.ndarray:
    """Per-channel factor a following inference-mode batch norm multiplies by."""
    gamma = np.asarray(layer.gamma, np.float64)
    return gamma / np.sqrt(np.asarray(layer.moving_variance, np.float64) + layer.epsilon)


def _pairs_with_layers(model, norms: dict | None = None
                       ) -> list[tuple[EqualizedPair, object, object, list]]:
    """`(pair, producer, batch_norm or None, consumers)` for every equalizable pair.

    `norms`, when given, also receives `id(linear layer) -> the batch norm that alone
    reads it` for every linear layer (any nesting level): the consumers' folding."""
    keras = _keras()
    norms = {} if norms is None else norms
    consumers, single = _graph(model)
    outputs = {t._keras_history.operation.name for t in model.outputs}
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found.extend(_pairs_with_layers(layer, norms))
            continue
        readers = consumers.get(layer.name, [])
        if (_is_linear(layer, keras) and _activation(layer) == "linear" and len(readers) == 1
                and readers[0].name in single and _channel_batch_norm(readers[0], keras)):
            norms[id(layer)] = readers[0]
        if (not _is_linear(layer, keras) or layer.name not in single
                or _activation(layer) not in ("linear", "relu")):
            continue
        current, norm, through = layer, None, []
        while current.name not in outputs:
            readers = consumers.get(current.name, [])
            if len(readers) != 1 or readers[0].name not in single:
                break
            reader = readers[0]
            if (current is layer and _activation(layer) == "linear"
                    and _channel_batch_norm(reader, keras)):
                norm = reader
            elif not _homogeneous(reader, keras):
                break
            through.append(reader.name)
            current = reader
        readers = consumers.get(current.name, [])
        if (current.name in outputs or not readers
                or not all(_is_linear(r, keras) and r.name in single for r in readers)):
            continue
        pair = EqualizedPair(layer.name, [r.name for r in readers], through)
        found.append((pair, layer, norm, readers))
    return found


def equalization_pairs(model) -> list[EqualizedPair]:
    """The layer pairs `equalize_channels` rescales, in the model's layer order.

    A pair is a convolution or dense layer (ReLU or no activation, no groups, channels
    last) whose output reaches only other such layers, through at most one batch norm
    right after it and any ReLUs (no cap, no threshold), poolings, zero paddings and
    dropouts; nested functional models are searched too. A path through an `Add`, a
    concatenation or a model output is left alone.

    Example:
    ```python
    from kerasaudio.export import equalization_pairs
    [p.producer for p in equalization_pairs(kerasaudio.create_model("vggvox_v2_fsdd_speakers"))]
    ```
    """
    return [pair for pair, *_ in _pairs_with_layers(model)]


def _balance(r: np.ndarray) -> float:
    return float(r.min() / r.max()) if r.max() > 0 else 1.0


def equalize_channels(model, *, iterations: int = 2):
    """A copy of `model` with balanced per-channel weight ranges (same outputs).

    For each pair from `equalization_pairs`, output channel `i` of the producer is
    multiplied by `s_i = sqrt(r2_i / r1_i)` (through the following batch norm's gamma and
    beta when there is one, else the kernel and bias) and input channel `i` of every
    consumer divided by it, where r1 and r2 are the channel's largest weight magnitude in
    the producer and the consumers (each with the batch norm that directly follows it
    folded in, as the TFLite converter folds it). The outputs change only by float32
    rounding (<= 1e-6 relative); per-tensor int8 weights then quantize the small channels
    with more levels. A chain of pairs is balanced `iterations` times (Nagel et al. repeat
    until it converges; each pass changes a neighbour's ranges again).

    Args:
        model: a Keras model (left unchanged).
        iterations: passes over all pairs.

    Returns:
        `(equalized_copy, pairs)`: the rescaled model and the `EqualizedPair`s, with their
        producer's balance before and after.

    Example:
    ```python
    import keras
    from kerasaudio.export import equalize_channels
    model = keras.Sequential([
        keras.Input((100, 40)),
        keras.layers.Conv1D(16, 3, activation="relu", name="conv1"),
        keras.layers.Conv1D(16, 3, activation="relu", name="conv2"),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(10, name="classifier")])
    conv1 = model.get_layer("conv1")
    scales = np.geomspace(0.01, 1, 16)  # output channels 100x apart, as after training
    conv1.kernel.assign(conv1.kernel * scales)
    equalized, pairs = equalize_channels(model)
    pairs[0].producer, pairs[0].balance_before < 0.02 < pairs[0].balance_after  # ('conv1', True)
    x = np.random.default_rng(0).normal(size=(4, 100, 40)).astype("float32")
    np.allclose(equalized.predict(x, verbose=0), model.predict(x, verbose=0),
                atol=1e-5)  # True: the same function
    # Per-tensor int8 weights: to_tflite(..., quantization="int8", per_channel=False)
    # equalizes by default; this copy goes to any converter.
    ```

    Reference:
        Nagel, van Baalen, Blankevoort, Welling, "Data-free quantization through weight
        equalization and bias correction", ICCV 2019.
    """
    keras = _keras()
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        from kerasaudio.errors import InvalidOptionError

        raise InvalidOptionError(f"iterations={iterations!r}: give an int >= 1.")
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    norms_after: dict = {}
    found = _pairs_with_layers(copy, norms_after)
    for pass_index in range(iterations):
        for pair, producer, norm, readers in found:
            r1 = _producer_range(producer, norm)
            r2 = _consumer_range(readers, norms_after)
            if pass_index == 0:
                pair.balance_before = _balance(r1)
            ok = (r1 > 0) & (r2 > 0)
            scale = np.where(ok, np.sqrt(np.where(ok, r2, 1.0) / np.where(ok, r1, 1.0)), 1.0)
            _scale_outputs(producer, norm, scale)
            for reader in readers:
                kernel = np.asarray(reader.kernel, np.float64)
                shape = [1] * kernel.ndim
                shape[-2] = scale.size
                reader.kernel.assign((kernel / scale.reshape(shape)).astype(np.float32))
    for pair, producer, norm, _ in found:
        pair.balance_after = _balance(_producer_range(producer, norm))
    return copy, [pair for pair, *_ in found]


def _producer_range(producer, norm) -> np.ndarray:
    kernel = np.asarray(producer.kernel, np.float64)
    r1 = np.abs(kernel.reshape(-1, kernel.shape[-1])).max(axis=0)
    return r1 * np.abs(_fold(norm)) if norm is not None else r1


def _consumer_range(readers, norms_after: dict) -> np.ndarray:
    r2 = None
    for reader in readers:
        weights = np.moveaxis(np.asarray(reader.kernel, np.float64), -2, 0)
        weights = weights.reshape(weights.shape[0], -1, weights.shape[-1])
        if id(reader) in norms_after:
            weights = weights * np.abs(_fold(norms_after[id(reader)]))
        ranges = np.abs(weights).max(axis=(1, 2))
        r2 = ranges if r2 is None else np.maximum(r2, ranges)
    assert r2 is not None, "an equalized pair always has a reader"
    return r2


def _scale_outputs(producer, norm, scale: np.ndarray) -> None:
    if norm is not None:  # BN(x) * s: scale gamma and beta, statistics unchanged
        norm.gamma.assign((np.asarray(norm.gamma, np.float64) * scale).astype(np.float32))
        if norm.center:
            norm.beta.assign((np.asarray(norm.beta, np.float64) * scale).astype(np.float32))
        return
    producer.kernel.assign((np.asarray(producer.kernel, np.float64) * scale)
                           .astype(np.float32))
    if producer.use_bias:
        producer.bias.assign((np.asarray(producer.bias, np.float64) * scale)
                             .astype(np.float32))
