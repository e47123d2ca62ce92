"""Augmentation layers used only by the training recipes (in the training twin).

They sit after the front end, so they are never part of a saved or published model (the
plain model has no augmentation layers). `zoo.common.make_layer` finds them by name.
"""

from __future__ import annotations

import keras
import numpy as np

__all__ = ["FilterAugment"]


@keras.saving.register_keras_serializable(package="zoo")
class FilterAugment(keras.layers.Layer):
    """Random smooth equaliser on (standardised) log-mel features: a channel augmentation.

    Per example, `points` values `v_k ~ U[-max_offset, max_offset]` are drawn at evenly
    spaced positions of the frequency axis (first and last bin included) and linearly
    interpolated to a curve over the bins, which is added to every frame: in the log
    domain that is a random linear filter (microphone / room colouring, spectral tilt).
    Input `(batch, frames, bins[, channels])`; identity outside training. The linear-type
    FilterAugment of Nam et al. with fixed band edges.

    Args:
        max_offset: largest offset, in feature units (standardised log-mel: about 1 = one
            standard deviation of the clip, roughly 15-20 dB).
        points: number of control points (2: a random tilt).
        seed: random seed.

    Reference:
        Nam, Kim & Park, "FilterAugment: An Acoustic Environmental Data Augmentation
        Method", ICASSP 2022.
    """

    def __init__(self, *, max_offset: float = 0.5, points: int = 4, seed: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.max_offset = float(max_offset)
        self.points = int(points)
        if self.points < 2:
            raise ValueError(f"points={points}: need at least 2.")
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def _matrix(self, bins: int) -> np.ndarray:
        knots = np.linspace(0, bins - 1, self.points)
        eye = np.eye(self.points)
        return np.stack([np.interp(np.arange(bins), knots, row) for row in eye]).astype(
            np.float32)  # (points, bins)

    def call(self, inputs, training=None):
        if not training:
            return inputs
        x = keras.ops.cast(inputs, "float32")
        bins = x.shape[2]
        values = keras.random.uniform((keras.ops.shape(x)[0], self.points),
                                      -self.max_offset, self.max_offset, seed=self.generator)
        curve = keras.ops.matmul(values, keras.ops.convert_to_tensor(self._matrix(bins)))
        shape = (-1, 1, bins, 1) if len(x.shape) == 4 else (-1, 1, bins)
        return x + keras.ops.reshape(curve, shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_offset": self.max_offset, "points": self.points,
                "seed": self.seed}
