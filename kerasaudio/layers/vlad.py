"""NetVLAD / GhostVLAD pooling: a learned dictionary aggregates a variable number of vectors."""

from __future__ import annotations

import keras
from keras import ops

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers.base import check_float, check_int

__all__ = ["VLADPooling"]


def _l2_normalize(x, axis: int, epsilon: float):
    """`x / sqrt(max(sum(x ** 2), epsilon))` along `axis` (an all-zero vector stays zero)."""
    squared = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return x * ops.rsqrt(ops.maximum(squared, epsilon))


@keras.saving.register_keras_serializable(package="kerasaudio")
class VLADPooling(keras.layers.Layer):
    """NetVLAD (`ghost_clusters=0`) or GhostVLAD pooling of local descriptors.

    Takes `[features, scores]`: `features` `(batch, ..., D)` are N local descriptors
    (e.g. `(batch, 1, frames, 512)` from a convolution, or `(batch, frames, D)`), and
    `scores` `(batch, ..., K + G)` the matching cluster logits (usually a 1x1 or
    full-height convolution of the same map). With soft-assignments
    `a_nk = softmax_k(scores_n)` over all `K + G` clusters, the output is

        V_k = sum_n a_nk (x_n - c_k),   k = 1 .. K   (the G ghost clusters are dropped),

    each `V_k` L2-normalised (intra-normalisation), then the concatenation `(K * D,)`
    L2-normalised as a whole (NetVLAD). Ghost clusters take assignment weight from
    uninformative descriptors (noise, silence) without adding to the output. The
    learned centres `c` are a `(K + G, D)` weight, ghost centres included (they never
    reach the output; the shape matches the VGGVox v2 authors' Keras weights).

    The authors' Keras `VladPooling` only intra-normalises: when no cluster residual is
    exactly zero, the final L2 step divides by the constant `sqrt(K)`; use
    `l2_normalize=False` to reproduce their output exactly.

    Variable length: pass `mask` (`features.shape[:-1]`, true = valid descriptor), or let
    Keras propagate one; masked descriptors get zero assignment, so a zero-padded batch
    gives each example the output of its unpadded descriptors.

    Args:
        clusters: K, the number of clusters kept in the output.
        ghost_clusters: G, clusters that absorb assignments and are dropped
            (0 = NetVLAD; GhostVLAD uses 1-2).
        intra_normalize: L2-normalise each cluster's residual sum.
        l2_normalize: L2-normalise the concatenated `(K * D,)` vector.
        epsilon: lower bound of the squared norms (an all-zero vector stays zero).
        centers_initializer: initializer of the `(K + G, D)` centres.

    Example:
    ```python
    import numpy as np, kerasaudio
    features = np.random.randn(2, 1, 30, 64).astype("float32")
    scores = np.random.randn(2, 1, 30, 10).astype("float32")
    vlad = kerasaudio.layers.VLADPooling(clusters=8, ghost_clusters=2)
    vlad([features, scores]).shape  # (2, 512): 8 clusters x 64
    ```

    Reference:
        Arandjelović et al., "NetVLAD: CNN architecture for weakly supervised place
        recognition", CVPR 2016; Zhong, Arandjelović, Zisserman, "GhostVLAD for
        set-based face recognition", ACCV 2018; Xie, Nagrani, Chung, Zisserman,
        "Utterance-level aggregation for speaker recognition in the wild", ICASSP 2019.
    """

    def __init__(self, *, clusters: int = 8, ghost_clusters: int = 0,
                 intra_normalize: bool = True, l2_normalize: bool = True,
                 epsilon: float = 1e-12, centers_initializer="orthogonal", **kwargs):
        super().__init__(**kwargs)
        self.clusters = check_int("clusters", clusters)
        self.ghost_clusters = check_int("ghost_clusters", ghost_clusters, minimum=0)
        self.intra_normalize = bool(intra_normalize)
        self.l2_normalize = bool(l2_normalize)
        self.epsilon = check_float("epsilon", epsilon)
        self.centers_initializer = keras.initializers.get(centers_initializer)
        self.supports_masking = True

    @property
    def total_clusters(self) -> int:
        return self.clusters + self.ghost_clusters

    def _split_shapes(self, input_shape):
        if (not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2
                or not all(isinstance(s, (list, tuple)) for s in input_shape)):
            raise InvalidOptionError(
                f"{type(self).__name__} takes [features, scores]: two tensors shaped "
                f"(batch, ..., D) and (batch, ..., clusters + ghost_clusters); got "
                f"{input_shape!r}."
            )
        features, scores = (tuple(s) for s in input_shape)
        if len(features) < 3 or len(scores) != len(features):
            raise InvalidOptionError(
                f"{type(self).__name__}: features {features} and scores {scores} must have "
                "the same rank >= 3: (batch, positions..., channels)."
            )
        if features[-1] is None:
            raise InvalidOptionError(
                f"{type(self).__name__}: the feature size (last axis) must be known; got "
                f"{features}."
            )
        if scores[-1] is not None and scores[-1] != self.total_clusters:
            raise InvalidOptionError(
                f"{type(self).__name__}: scores have {scores[-1]} channels; expected "
                f"clusters + ghost_clusters = {self.clusters} + {self.ghost_clusters} = "
                f"{self.total_clusters}."
            )
        for a, b in zip(features[1:-1], scores[1:-1], strict=True):
            if a is not None and b is not None and a != b:
                raise InvalidOptionError(
                    f"{type(self).__name__}: features {features} and scores {scores} must "
                    "cover the same positions (all axes but the last)."
                )
        return features, scores

    def build(self, input_shape):
        features, _ = self._split_shapes(input_shape)
        self.centers = self.add_weight(shape=(self.total_clusters, int(features[-1])),
                                       initializer=self.centers_initializer, name="centers")
        self.built = True

    def call(self, inputs, mask=None):
        features, scores = inputs
        dim = int(features.shape[-1])
        batch = ops.shape(features)[0]
        x = ops.reshape(features, (batch, -1, dim))                        # (B, N, D)
        logits = ops.reshape(scores, (batch, -1, self.total_clusters))    # (B, N, K+G)
        assign = ops.softmax(logits, axis=-1)[:, :, : self.clusters]      # ghosts dropped
        if isinstance(mask, (list, tuple)):
            mask = next((m for m in mask if m is not None), None)
        if mask is not None:
            valid = ops.reshape(ops.cast(mask, assign.dtype), (batch, -1, 1))
            assign = assign * valid
        # sum_n a_nk (x_n - c_k) = (A^T X)_k - (sum_n a_nk) c_k: one batched matmul.
        weighted = ops.matmul(ops.transpose(assign, (0, 2, 1)), x)      # (B, K, D)
        mass = ops.expand_dims(ops.sum(assign, axis=1), -1)              # (B, K, 1)
        residual = weighted - mass * self.centers[: self.clusters]
        if self.intra_normalize:
            residual = _l2_normalize(residual, -1, self.epsilon)
        out = ops.reshape(residual, (batch, self.clusters * dim))
        if self.l2_normalize:
            out = _l2_normalize(out, -1, self.epsilon)
        return out

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        features, _ = self._split_shapes(input_shape)
        return (features[0], self.clusters * int(features[-1]))

    def get_config(self):
        return {
            **super().get_config(),
            "clusters": self.clusters,
            "ghost_clusters": self.ghost_clusters,
            "intra_normalize": self.intra_normalize,
            "l2_normalize": self.l2_normalize,
            "epsilon": self.epsilon,
            "centers_initializer": keras.initializers.serialize(self.centers_initializer),
        }
