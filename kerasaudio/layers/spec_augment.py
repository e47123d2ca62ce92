"""SpecAugment: random frequency and time masks on spectrograms, in training only."""

from __future__ import annotations

import keras

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers.base import SpectrogramLayer, check_int

__all__ = ["SpecAugment"]


@keras.saving.register_keras_serializable(package="kerasaudio")
class SpecAugment(SpectrogramLayer):
    """Frequency and time masking (SpecAugment) on `(batch, frames, bins[, channels])`.

    In training, each example gets `n_freq_masks` bands of `f ~ U{0..freq_mask_param}`
    consecutive bins and `n_time_masks` spans of `t ~ U{0..time_mask_param}` consecutive
    frames set to `mask_value` (a number, or `"mean"`: the example's own mean). Every
    example draws its own masks; channels share them. Outside training (inference,
    `model.predict`, TFLite export) the layer is the identity. Time warping is not
    implemented.

    Args:
        freq_mask_param: largest frequency-mask width F, in bins.
        time_mask_param: largest time-mask width T, in frames.
        n_freq_masks: number of frequency masks per example.
        n_time_masks: number of time masks per example.
        mask_value: value written into masked cells, or `"mean"`.
        seed: random seed (int) for reproducible masks.

    Example:
    ```python
    import numpy as np, kerasaudio
    aug = kerasaudio.layers.SpecAugment(freq_mask_param=8, time_mask_param=20, seed=0)
    x = np.random.randn(4, 100, 40).astype("float32")
    masked = aug(x, training=True)   # some bands and spans set to 0
    same = aug(x)                    # identity outside training
    ```

    Reference:
        Park et al., "SpecAugment: A Simple Data Augmentation Method for Automatic Speech
        Recognition", Interspeech 2019.
    """

    def __init__(self, *, freq_mask_param: int = 27, time_mask_param: int = 100,
                 n_freq_masks: int = 2, n_time_masks: int = 2,
                 mask_value: float | str = 0.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.freq_mask_param = check_int("freq_mask_param", freq_mask_param, minimum=0)
        self.time_mask_param = check_int("time_mask_param", time_mask_param, minimum=0)
        self.n_freq_masks = check_int("n_freq_masks", n_freq_masks, minimum=0)
        self.n_time_masks = check_int("n_time_masks", n_time_masks, minimum=0)
        if isinstance(mask_value, str) and mask_value != "mean":
            raise InvalidOptionError(f"mask_value={mask_value!r}: use a number or 'mean'.")
        self.mask_value = mask_value if mask_value == "mean" else float(mask_value)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def _check_shape(self, shape: tuple):
        super()._check_shape(shape)
        if len(shape) not in (3, 4):
            raise InvalidOptionError(
                f"SpecAugment expects (batch, frames, bins[, channels]); got shape {shape}."
            )

    def _spans(self, batch, size, max_width, count, seed):
        """Boolean `(batch, size)`: `count` random spans of width <= max_width per row."""
        ops = self.backend
        positions = ops.numpy.arange(size)[None, :]
        mask = ops.numpy.zeros((batch, size), dtype="bool")
        size_f = ops.cast(size, "float32")
        for _ in range(count):
            width = ops.numpy.floor(
                ops.random.uniform((batch, 1), seed=seed)
                * ops.numpy.minimum(float(max_width + 1), size_f + 1.0))
            start = ops.numpy.floor(
                ops.random.uniform((batch, 1), seed=seed) * (size_f - width + 1.0))
            width, start = ops.cast(width, "int32"), ops.cast(start, "int32")
            mask = ops.numpy.logical_or(
                mask, ops.numpy.logical_and(positions >= start, positions < start + width))
        return mask

    def call(self, inputs, training=None):
        if not training:
            return inputs
        ops = self.backend
        x = inputs
        seed = self._get_seed_generator(ops._backend)
        shape = ops.core.shape(x)
        batch, frames, bins = shape[0], shape[1], shape[2]
        freq = self._spans(batch, bins, self.freq_mask_param, self.n_freq_masks, seed)
        time = self._spans(batch, frames, self.time_mask_param, self.n_time_masks, seed)
        mask = ops.numpy.logical_or(freq[:, None, :], time[:, :, None])
        if len(x.shape) == 4:
            mask = mask[..., None]
        if self.mask_value == "mean":
            value = ops.numpy.mean(x, axis=self.example_axes(x), keepdims=True)
        else:
            value = ops.cast(self.mask_value, x.dtype)
        return ops.numpy.where(mask, value, x)

    def get_config(self):
        return {**super().get_config(), "freq_mask_param": self.freq_mask_param,
                "time_mask_param": self.time_mask_param,
                "n_freq_masks": self.n_freq_masks, "n_time_masks": self.n_time_masks,
                "mask_value": self.mask_value, "seed": self.seed}
