"""Speaker-embedding losses: the Deep Speaker cosine triplet loss and AAM-softmax (ArcFace).

- `TripletLoss` / `triplet_loss`: `max(0, cos(a, n) - cos(a, p) + margin)` on embeddings,
  with the triplets formed from integer speaker labels in the batch (`y_true`): the
  hardest positive and negative of each anchor (`mining="hard"`), every valid triplet
  (`mining="all"`), or the reference's fixed layout (`mining="ordered"`: the batch is
  anchors, then positives, then negatives; `y_true` is ignored).
- `AAMSoftmax` (a layer holding the class-centre matrix, outputs cosines) with
  `AAMSoftmaxLoss` / `aam_softmax_loss` (the additive angular margin cross-entropy on
  those cosines): a head + loss pair for `model.compile` / `fit`.

Everything is written with `keras.ops` (TensorFlow and JAX backends) and serializable.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from kerasaudio.errors import InvalidOptionError

__all__ = [
    "AAMSoftmax",
    "AAMSoftmaxLoss",
    "TripletLoss",
    "aam_softmax_loss",
    "cosine_similarity_matrix",
    "triplet_loss",
]

MINING = ("hard", "all", "ordered")
_EPS = 1e-12


def _check_number(name: str, value, *, minimum: float = 0.0, below: float | None = None,
                  strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
            value) or value < minimum or (strict and value == minimum) or (
            below is not None and value >= below):
        bounds = f"> {minimum}" if strict else f">= {minimum}"
        if below is not None:
            bounds += f" and < {below}"
        raise InvalidOptionError(f"{name}={value!r}: must be a finite number {bounds}.")
    return float(value)


def _l2_normalize(x):
    return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), _EPS))


def cosine_similarity_matrix(a, b=None):
    """Cosine similarities of every row of `a` with every row of `b` (default `a`).

    Args:
        a: `(n, d)` embeddings.
        b: `(m, d)` embeddings; default `a`.

    Returns:
        `(n, m)` tensor of cosines (rows are L2-normalised first, so any scale works).

    Example:
    ```python
    import numpy as np
    from kerasaudio.losses import cosine_similarity_matrix
    cosine_similarity_matrix(np.array([[1.0, 0.0], [3.0, 3.0]]))  # [[1, .707], [.707, 1]]
    ```
    """
    a = _l2_normalize(ops.convert_to_tensor(a))
    b = a if b is None else _l2_normalize(ops.convert_to_tensor(b))
    return ops.matmul(a, ops.transpose(b))


def triplet_loss(y_true, y_pred, *, margin: float = 0.1, mining: str = "hard"):
    """The Deep Speaker cosine triplet loss of a batch of embeddings.

    For a triplet (anchor a, positive p of the same speaker, negative n of another)
    the loss is `max(0, cos(a, n) - cos(a, p) + margin)` (Li et al. 2017, eq. 2). The
    embeddings are L2-normalised here, so any scale works. Triplets come from the batch:

    - `"hard"` (default): each anchor with its hardest positive (lowest cosine) and
      hardest negative (highest cosine), averaged over the anchors that have both
      (batch-hard mining, Hermans et al. 2017; Deep Speaker picks its negatives by
      highest cosine similarity too).
    - `"all"`: every valid (a, p, n) with `a != p`, averaged over all of them,
      including those already satisfied (which add 0).
    - `"ordered"`: the reference implementation's layout: the batch's first third are
      anchors, the second third their positives, the last third their negatives;
      `y_true` is not used. The batch size must be a multiple of 3.

    A batch without any valid triplet gives 0 (and no gradient).

    Args:
        y_true: `(batch,)` (or `(batch, 1)`) integer speaker labels.
        y_pred: `(batch, dim)` embeddings.
        margin: the margin alpha (0.1 in Deep Speaker).
        mining: `"hard"`, `"all"` or `"ordered"`.

    Returns:
        A scalar: the mean loss over the batch's triplets.

    Example:
    ```python
    import numpy as np
    from kerasaudio.losses import triplet_loss
    emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]], "float32")
    triplet_loss(np.array([0, 0, 1]), emb, margin=0.1)  # 0.0: well separated
    ```

    Reference:
        Li et al., "Deep Speaker: an End-to-End Neural Speaker Embedding System",
        arXiv:1705.02304, 2017; Hermans, Beyer & Leibe, "In Defense of the Triplet Loss
        for Person Re-Identification", arXiv:1703.07737, 2017.
    """
    margin = _check_number("margin", margin)
    if mining not in MINING:
        raise InvalidOptionError(f"mining={mining!r}: must be one of {MINING}.")
    y_pred = ops.convert_to_tensor(y_pred)
    if keras.backend.standardize_dtype(y_pred.dtype) not in ("float32", "float64"):
        y_pred = ops.cast(y_pred, "float32")
    if mining == "ordered":
        third = ops.shape(y_pred)[0] // 3
        emb = _l2_normalize(y_pred)
        anchor, positive = emb[:third], emb[third:2 * third]
        negative = emb[2 * third:3 * third]
        s_ap = ops.sum(anchor * positive, axis=-1)
        s_an = ops.sum(anchor * negative, axis=-1)
        return ops.mean(ops.relu(s_an - s_ap + margin))
    labels = ops.reshape(ops.convert_to_tensor(y_true), (-1,))
    dtype = y_pred.dtype
    sim = cosine_similarity_matrix(y_pred)
    n = ops.shape(sim)[0]
    same = ops.equal(labels[:, None], labels[None, :])
    not_self = ops.logical_not(ops.cast(ops.eye(n), "bool"))
    positive = ops.logical_and(same, not_self)
    negative = ops.logical_not(same)
    if mining == "hard":
        big = ops.cast(4.0, dtype)  # cosines lie in [-1, 1]
        hardest_pos = ops.min(ops.where(positive, sim, big), axis=1)
        hardest_neg = ops.max(ops.where(negative, sim, -big), axis=1)
        valid = ops.logical_and(ops.any(positive, axis=1), ops.any(negative, axis=1))
        valid = ops.cast(valid, dtype)
        losses = ops.relu(hardest_neg - hardest_pos + margin) * valid
        return ops.sum(losses) / ops.maximum(ops.sum(valid), 1.0)
    # all: terms[a, p, n] = cos(a, n) - cos(a, p) + margin on valid (a, p, n).
    terms = ops.relu(sim[:, None, :] - sim[:, :, None] + margin)
    mask = ops.cast(ops.logical_and(positive[:, :, None], negative[:, None, :]), dtype)
    return ops.sum(terms * mask) / ops.maximum(ops.sum(mask), 1.0)


@keras.saving.register_keras_serializable(package="kerasaudio")
class TripletLoss(keras.losses.Loss):
    """The Deep Speaker cosine triplet loss, triplets mined from the batch's labels.

    `y_true` holds integer speaker labels, `y_pred` the embeddings (any scale: they
    are L2-normalised here). See `triplet_loss` for the loss and the three ways of
    forming triplets. The loss is a batch-level mean, so the `reduction` has nothing
    left to reduce; a `sample_weight` scales it by its mean. Batches should hold at
    least two utterances of several speakers (e.g. 8 speakers x 4 utterances).

    Args:
        margin: the margin alpha (0.1 in Deep Speaker).
        mining: `"hard"` (hardest positive and negative per anchor), `"all"` (every valid
            triplet) or `"ordered"` (anchors, positives, negatives in thirds).
        name: loss name.

    Example:
    ```python
    from kerasaudio.losses import TripletLoss
    embed = kerasaudio.create_model("deep_speaker", include_top=False,
                                    input_shape=(100, 64, 1), filters=(16, 32, 64, 128))
    embed.compile(optimizer="adam", loss=TripletLoss(margin=0.1))
    # embed.fit(features, speaker_ids, batch_size=32)
    ```

    Reference:
        Li et al., "Deep Speaker: an End-to-End Neural Speaker Embedding System",
        arXiv:1705.02304, 2017.
    """

    def __init__(self, *, margin: float = 0.1, mining: str = "hard",
                 name: str = "triplet_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.margin = _check_number("margin", margin)
        if mining not in MINING:
            raise InvalidOptionError(f"mining={mining!r}: must be one of {MINING}.")
        self.mining = mining

    def call(self, y_true, y_pred):
        return triplet_loss(y_true, y_pred, margin=self.margin, mining=self.mining)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin, "mining": self.mining}


@keras.saving.register_keras_serializable(package="kerasaudio")
class AAMSoftmax(keras.layers.Layer):
    """The class-centre layer of AAM-softmax: cosines between embeddings and centres.

    Holds a learned `(dim, classes)` matrix W; outputs `cos(theta_j) = <x / |x|,
    W_j / |W_j|>`, shape `(batch, classes)`, in [-1, 1]. Train with
    `AAMSoftmaxLoss`, which adds the angular margin to the true class and scales. At
    inference the cosines rank the classes (argmax = prediction, so
    `"sparse_categorical_accuracy"` works), and `softmax(scale * cosines)` are the
    class probabilities.

    Args:
        classes: number of classes (speakers).
        kernel_initializer: initializer of W.
        kernel_regularizer: optional regularizer of W.

    Example:
    ```python
    from kerasaudio.losses import AAMSoftmax, AAMSoftmaxLoss
    embed = kerasaudio.create_model("deep_speaker", include_top=False,
                                    input_shape=(100, 64, 1), filters=(16, 32, 64, 128))
    model = keras.Sequential([embed, AAMSoftmax(classes=6)])
    model.compile(optimizer="adam", loss=AAMSoftmaxLoss(scale=30.0, margin=0.2),
                  metrics=["sparse_categorical_accuracy"])
    ```

    Reference:
        Deng et al., "ArcFace: Additive Angular Margin Loss for Deep Face Recognition",
        CVPR 2019.
    """

    def __init__(self, *, classes: int, kernel_initializer="glorot_uniform",
                 kernel_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
            raise InvalidOptionError(f"classes={classes!r}: must be an integer >= 1.")
        self.classes = classes
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise InvalidOptionError("AAMSoftmax needs a known embedding size (last axis).")
        self.kernel = self.add_weight(name="kernel", shape=(dim, self.classes),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer)

    def call(self, inputs):
        x = _l2_normalize(inputs)
        w = self.kernel / ops.sqrt(ops.maximum(
            ops.sum(ops.square(self.kernel), axis=0, keepdims=True), _EPS))
        return ops.matmul(x, w)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.classes)

    def get_config(self):
        return {**super().get_config(), "classes": self.classes,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer)}


def aam_softmax_loss(y_true, y_pred, *, scale: float = 30.0, margin: float = 0.2):
    """Additive angular margin softmax cross-entropy on cosines (ArcFace).

    With `cos(theta_j)` the cosines of `AAMSoftmax` and `y` the true class, the logits
    are `scale * cos(theta_y + margin)` for the true class and `scale * cos(theta_j)`
    for the others; the loss is their softmax cross-entropy. Where `theta_y + margin`
    would pass pi (so `cos(theta_y + m)` would rise again), the target logit continues
    as `scale * (cos(theta_y) - margin * sin(margin))`, ArcFace's monotonic fallback.
    `margin=0` is the normalised softmax (NormFace) with temperature `1 / scale`.

    Args:
        y_true: `(batch,)` (or `(batch, 1)`) integer class labels.
        y_pred: `(batch, classes)` cosines in [-1, 1] (an `AAMSoftmax` output).
        scale: the scale s of the logits.
        margin: the additive angular margin m, radians (0 <= m < pi / 2).

    Returns:
        `(batch,)` per-example losses.

    Example:
    ```python
    import numpy as np
    from kerasaudio.losses import aam_softmax_loss
    cos = np.array([[0.9, 0.1], [0.2, 0.8]], "float32")
    aam_softmax_loss(np.array([0, 1]), cos, scale=30.0, margin=0.2)
    ```

    Reference:
        Deng et al., "ArcFace: Additive Angular Margin Loss for Deep Face Recognition",
        CVPR 2019.
    """
    scale = _check_number("scale", scale, strict=True)
    margin = _check_number("margin", margin, below=math.pi / 2)
    cosine = ops.clip(ops.convert_to_tensor(y_pred), -1.0, 1.0)
    if keras.backend.standardize_dtype(cosine.dtype) not in ("float32", "float64"):
        cosine = ops.cast(cosine, "float32")
    labels = ops.cast(ops.reshape(ops.convert_to_tensor(y_true), (-1,)), "int32")
    onehot = ops.one_hot(labels, ops.shape(cosine)[-1], dtype=cosine.dtype)
    target = ops.sum(cosine * onehot, axis=-1, keepdims=True)
    sine = ops.sqrt(ops.clip(1.0 - ops.square(target), 1e-7, 1.0))
    shifted = target * math.cos(margin) - sine * math.sin(margin)
    fallback = target - margin * math.sin(margin)
    shifted = ops.where(target > math.cos(math.pi - margin), shifted, fallback)
    logits = scale * (cosine + onehot * (shifted - target))
    return ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)


@keras.saving.register_keras_serializable(package="kerasaudio")
class AAMSoftmaxLoss(keras.losses.Loss):
    """Additive angular margin (ArcFace / AAM-softmax) loss on `AAMSoftmax` cosines.

    `y_true` holds integer class labels, `y_pred` the cosines of an `AAMSoftmax`
    layer. See `aam_softmax_loss`. Speaker verification usually takes `scale=30`,
    `margin=0.2` (face recognition: 64 and 0.5).

    Args:
        scale: the scale s of the logits.
        margin: the additive angular margin m, radians.
        name: loss name.
        reduction: as every Keras loss (default: mean over the batch).

    Example:
    ```python
    from kerasaudio.losses import AAMSoftmax, AAMSoftmaxLoss
    inputs = keras.Input((128,))
    model = keras.Model(inputs, AAMSoftmax(classes=10)(inputs))
    model.compile(optimizer="adam", loss=AAMSoftmaxLoss(scale=30.0, margin=0.2))
    ```

    Reference:
        Deng et al., "ArcFace: Additive Angular Margin Loss for Deep Face Recognition",
        CVPR 2019.
    """

    def __init__(self, *, scale: float = 30.0, margin: float = 0.2,
                 name: str = "aam_softmax_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.scale = _check_number("scale", scale, strict=True)
        self.margin = _check_number("margin", margin, below=math.pi / 2)

    def call(self, y_true, y_pred):
        return aam_softmax_loss(y_true, y_pred, scale=self.scale, margin=self.margin)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "margin": self.margin}
