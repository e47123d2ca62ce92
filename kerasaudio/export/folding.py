"""Fold the scale of a batch norm that follows a ReLU into the layer before the ReLU.

Keras folds a batch norm into the convolution it directly follows. A batch norm after
the activation (`conv -> ReLU -> BN`, the order of TDNN and ECAPA-TDNN blocks) stays a
per-channel multiply and add, and in an int8 file the multiply reads the ReLU's int8
output: a channel whose moving variance is tiny has a factor `gamma / sqrt(var + eps)`
of hundreds, so one int8 step of its input becomes a large error at its output.

Because `relu(a * z) = a * relu(z)` for `a >= 0`, the batch norm's per-channel factor
`s` can move, as `|s|`, into the kernel and bias of the layer before the ReLU; the batch
norm keeps only the sign of `s` and its shift (`gamma = sign(s)`, moving mean 0, moving
variance `1 - epsilon`, `beta = beta - s * mean`). The copy computes the same function
(float32 rounding aside), and its ReLU output already has the normalised scale, so the
int8 file quantizes the normalised values. `kerasaudio.export.convert` applies this to
int8 and 16x8 conversions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kerasaudio.export.equalization import (
    _activation,
    _channel_batch_norm,
    _fold,
    _graph,
    _is_linear,
)

__all__ = ["FoldedNorm", "fold_relu_batch_norms", "relu_batch_norms"]


@dataclass
class FoldedNorm:
    """A layer, the ReLU after it and the batch norm reading the ReLU's output.

    Args:
        producer: the convolution or dense layer whose kernel and bias take the scale.
        relu: the separate ReLU layer in between, or None (the producer's own
            `activation="relu"`).
        norm: the batch norm left with the sign and the shift.
        largest_factor: the largest `|gamma / sqrt(var + eps)|` of the batch norm.

    Example:
    ```python
    from kerasaudio.export import relu_batch_norms
    first = relu_batch_norms(kerasaudio.create_model("ecapa_tdnn_fsdd_speakers"))[0]
    first.producer, first.relu, first.norm
    # ('blocks_0_conv_conv', None, 'blocks_0_norm_norm')
    ```
    """

    producer: str
    relu: str | None
    norm: str
    largest_factor: float = 0.0


def _plain_relu(layer, keras) -> bool:
    if isinstance(layer, keras.layers.ReLU):
        return (layer.max_value is None and float(layer.threshold) == 0.0
                and float(getattr(layer, "negative_slope", 0.0)) == 0.0)
    return isinstance(layer, keras.layers.Activation) and _activation(layer) == "relu"


def _found(model) -> list[tuple[FoldedNorm, object, object]]:
    """`(record, producer, norm)` for every foldable triple, nested models included."""
    import keras

    consumers, single = _graph(model)

    def only_reader(layer):
        readers = consumers.get(layer.name, [])
        return readers[0] if len(readers) == 1 and readers[0].name in single else None

    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found.extend(_found(layer))
            continue
        if not _is_linear(layer, keras) or layer.name not in single:
            continue
        relu, reader = None, only_reader(layer)
        if _activation(layer) == "linear" and reader is not None and _plain_relu(reader,
                                                                                  keras):
            relu, reader = reader, only_reader(reader)
        elif _activation(layer) != "relu":
            continue
        if reader is None or not _channel_batch_norm(reader, keras) or not reader.center:
            continue
        record = FoldedNorm(layer.name, None if relu is None else relu.name, reader.name)
        record.largest_factor = float(np.abs(_fold(reader)).max())
        found.append((record, layer, reader))
    return found


def relu_batch_norms(model) -> list[FoldedNorm]:
    """The `layer -> ReLU -> batch norm` triples `fold_relu_batch_norms` folds.

    A triple is a convolution or dense layer (channels last, no groups) with
    `activation="relu"`, or without activation and read only by a plain ReLU layer
    (no cap, threshold or slope), whose output is read only by a `BatchNormalization`
    over the channel axis with `scale` and `center`. Nested functional models are
    searched too.

    Args:
        model: a Keras model.

    Returns:
        A `FoldedNorm` per triple, in the model's layer order.

    Example:
    ```python
    from kerasaudio.export import relu_batch_norms
    model = kerasaudio.create_model("ecapa_tdnn_fsdd_speakers")
    len(relu_batch_norms(model))  # 30: every TDNN block
    ```
    """
    return [record for record, *_ in _found(model)]


def fold_relu_batch_norms(model):
    """A copy of `model` with each ReLU-then-batch-norm scale moved before the ReLU.

    For every triple of `relu_batch_norms`, with `s = gamma / sqrt(moving_variance +
    epsilon)` per channel: the producer's kernel and bias are multiplied by `|s|`, and
    the batch norm becomes `sign(s) * x + (beta - s * moving_mean)` (gamma `sign(s)`,
    moving mean 0, moving variance `1 - epsilon`). The outputs change only by float32
    rounding; the model passed in is unchanged.

    Args:
        model: a Keras model.

    Returns:
        `(folded_copy, records)`: the copy and its `FoldedNorm`s.

    Example:
    ```python
    import keras
    from kerasaudio.export import fold_relu_batch_norms
    model = keras.Sequential([
        keras.Input((100, 40)),
        keras.layers.Conv1D(16, 3, activation="relu", name="conv"),
        keras.layers.BatchNormalization(name="norm"),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(10, name="classifier")])
    norm = model.get_layer("norm")
    norm.moving_variance.assign(np.geomspace(1e-8, 1.0, 16))  # near-dead channels
    folded, records = fold_relu_batch_norms(model)
    records[0].largest_factor > 1000  # True: the factor int8 would apply to its input
    x = np.random.default_rng(0).normal(size=(4, 100, 40)).astype("float32")
    np.allclose(folded.predict(x, verbose=0), model.predict(x, verbose=0),
                rtol=1e-4, atol=1e-4)  # True: the same function
    ```

    Reference:
        Jacob et al., "Quantization and Training of Neural Networks for Efficient
        Integer-Arithmetic-Only Inference", CVPR 2018 (batch-norm folding); Nagel et
        al., "Data-free quantization through weight equalization and bias correction",
        ICCV 2019 (positive scaling through ReLU).
    """
    import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    found = _found(copy)
    for _, producer, norm in found:
        factor = _fold(norm)
        magnitude = np.abs(factor)
        producer.kernel.assign((np.asarray(producer.kernel, np.float64) * magnitude)
                               .astype(np.float32))
        if producer.use_bias:
            producer.bias.assign((np.asarray(producer.bias, np.float64) * magnitude)
                                 .astype(np.float32))
        shift = (np.asarray(norm.beta, np.float64)
                 - factor * np.asarray(norm.moving_mean, np.float64))
        norm.gamma.assign(np.sign(factor).astype(np.float32))
        norm.beta.assign(shift.astype(np.float32))
        norm.moving_mean.assign(np.zeros(factor.shape, np.float32))
        norm.moving_variance.assign(np.full(factor.shape, 1.0 - norm.epsilon, np.float32))
    return copy, [record for record, *_ in found]
