"""Feature augmentation layers of the training recipes (in the training twin only).

They sit after the front end of the training twin, so they are never part of a saved or
published model (the plain model has no augmentation layers); all are the identity
outside training. `kerasaudio.training.recipe.make_layer` finds them by name.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasaudio.errors import InvalidOptionError

__all__ = ["FilterAugment", "FreqMixStyle", "TimeStretch"]


class _FeatureAugmentation(keras.layers.Layer):
    """What every feature augmentation here shares: a seeded generator, the identity
    outside training, float32 input to `augment`, the input's shape out, and a config of
    the options named in `OPTIONS` and `seed`."""

    OPTIONS: tuple[str, ...] = ()

    def __init__(self, *, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training:
            return inputs
        return self.augment(keras.ops.cast(inputs, "float32"))

    def augment(self, x):
        """The augmented float32 features `x` (training only)."""
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        options = {name: getattr(self, name) for name in self.OPTIONS}
        return {**super().get_config(), **options, "seed": self.seed}


@keras.saving.register_keras_serializable(package="kerasaudio.training")
class FilterAugment(_FeatureAugmentation):
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

    Example:
    ```python
    import numpy as np
    from kerasaudio.training.augment import FilterAugment

    layer = FilterAugment(max_offset=0.6, points=4, seed=0)
    features = np.zeros((2, 101, 40), "float32")
    layer(features, training=True).shape  # (2, 101, 40): one curve added per example
    ```

    Reference:
        Nam, Kim & Park, "FilterAugment: An Acoustic Environmental Data Augmentation
        Method", ICASSP 2022.
    """

    OPTIONS = ("max_offset", "points")

    def __init__(self, *, max_offset: float = 0.5, points: int = 4, seed: int | None = None,
                 **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.max_offset = float(max_offset)
        self.points = int(points)
        if self.points < 2:
            raise InvalidOptionError(f"points={points}: need at least 2.")

    def _matrix(self, bins: int) -> np.ndarray:
        knots = np.linspace(0, bins - 1, self.points)
        eye = np.eye(self.points)
        return np.stack([np.interp(np.arange(bins), knots, row) for row in eye]).astype(
            np.float32)  # (points, bins)

    def augment(self, x):
        bins = x.shape[2]
        values = keras.random.uniform((keras.ops.shape(x)[0], self.points),
                                      -self.max_offset, self.max_offset, seed=self.generator)
        curve = keras.ops.matmul(values, keras.ops.convert_to_tensor(self._matrix(bins)))
        shape = (-1, 1, bins, 1) if len(x.shape) == 4 else (-1, 1, bins)
        return x + keras.ops.reshape(curve, shape)


@keras.saving.register_keras_serializable(package="kerasaudio.training")
class TimeStretch(_FeatureAugmentation):
    """Random tempo change of (log-mel) features: the frame axis resampled, bins untouched.

    Per example, a factor `r` is drawn log-uniformly from `[min_rate, max_rate]` and frame
    `t` of the output is the input at `c + (t - c) * r` (linear interpolation between
    neighbouring frames, `c` the middle frame, positions clamped to the first and last
    frame): `r > 1` plays the clip faster (shorter), `r < 1` slower. Unlike
    `SpeedPerturbation` on the waveform, the spectrum of every frame (pitch, formants) is
    kept: it changes the speaking rate only. Input `(batch, frames, bins[, channels])`;
    identity outside training.

    Args:
        min_rate: smallest rate (> 0).
        max_rate: largest rate (>= min_rate).
        seed: random seed.

    Example:
    ```python
    import numpy as np
    from kerasaudio.training.augment import TimeStretch

    layer = TimeStretch(min_rate=0.8, max_rate=1.25, seed=0)
    features = np.ones((2, 101, 40), "float32")
    layer(features, training=True).shape  # (2, 101, 40)
    ```
    """

    OPTIONS = ("min_rate", "max_rate")

    def __init__(self, *, min_rate: float = 0.8, max_rate: float = 1.25,
                 seed: int | None = None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.min_rate = float(min_rate)
        self.max_rate = float(max_rate)
        if not 0 < self.min_rate <= self.max_rate:
            raise InvalidOptionError(f"min_rate={min_rate}, max_rate={max_rate}: need "
                             "0 < min_rate <= max_rate.")

    def augment(self, x):
        frames = x.shape[1]
        batch = keras.ops.shape(x)[0]
        rate = keras.ops.exp(keras.random.uniform(
            (batch, 1), np.log(self.min_rate), np.log(self.max_rate), seed=self.generator))
        centre = (frames - 1) / 2
        t = keras.ops.arange(frames, dtype="float32")[None, :]
        pos = keras.ops.clip(centre + (t - centre) * rate, 0.0, frames - 1.0)  # (batch, T)
        low = keras.ops.floor(pos)
        weight = pos - low
        low = keras.ops.cast(low, "int32")
        high = keras.ops.minimum(low + 1, frames - 1)
        extra = (1,) * (len(x.shape) - 2)

        def gather(index):
            index = keras.ops.reshape(index, (batch, frames, *extra))
            return keras.ops.take_along_axis(
                x, keras.ops.broadcast_to(index, keras.ops.shape(x)), axis=1)

        weight = keras.ops.reshape(weight, (batch, frames, *extra))
        return gather(low) * (1.0 - weight) + gather(high) * weight


@keras.saving.register_keras_serializable(package="kerasaudio.training")
class FreqMixStyle(_FeatureAugmentation):
    """Frequency-wise MixStyle: swap the per-band colouring of clips within a batch.

    Per example, each frequency bin's mean and standard deviation over the frames (and
    channels) are taken; with probability `p` the example is normalised with them and
    re-coloured with a mix `lam * own + (1 - lam) * other's` of its own statistics and
    those of another example of the batch (a random permutation), `lam ~ Beta(alpha,
    alpha)`. The statistics are constants for the gradient (as in the reference code).
    Where FilterAugment adds random smooth curves, this moves a clip towards another
    real recording's band levels and spreads: another speaker's or microphone's
    colouring. Input `(batch, frames, bins[, channels])`; identity outside training.

    Args:
        p: probability that an example is re-coloured.
        alpha: the Beta distribution's parameter (small: `lam` near 0 or 1).
        eps: added to the variances.
        seed: random seed.

    Example:
    ```python
    import numpy as np
    from kerasaudio.training.augment import FreqMixStyle

    layer = FreqMixStyle(p=0.4, alpha=0.3, seed=0)
    features = np.random.default_rng(0).normal(size=(4, 101, 40)).astype("float32")
    layer(features, training=True).shape  # (4, 101, 40)
    ```

    Reference:
        Zhou, Yang, Qiao & Xiang, "Domain Generalization with MixStyle", ICLR 2021
        (channel-wise statistics of CNN feature maps); the frequency-wise variant is used
        for device generalisation in DCASE acoustic scene classification systems (e.g.
        CP-JKU's, Schmid et al. 2022).
    """

    OPTIONS = ("p", "alpha", "eps")

    def __init__(self, *, p: float = 0.4, alpha: float = 0.3, eps: float = 1e-6,
                 seed: int | None = None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.p = float(p)
        self.alpha = float(alpha)
        self.eps = float(eps)
        if not 0 <= self.p <= 1 or self.alpha <= 0:
            raise InvalidOptionError(f"p={p}, alpha={alpha}: need 0 <= p <= 1 and alpha > 0.")

    def augment(self, x):
        axes = (1, 3) if len(x.shape) == 4 else (1,)
        batch = keras.ops.shape(x)[0]
        mean = keras.ops.stop_gradient(keras.ops.mean(x, axis=axes, keepdims=True))
        std = keras.ops.stop_gradient(keras.ops.sqrt(
            keras.ops.var(x, axis=axes, keepdims=True) + self.eps))
        extra = (1,) * (len(x.shape) - 1)
        lam = keras.random.beta((batch, *extra), self.alpha, self.alpha, seed=self.generator)
        apply = keras.random.uniform((batch, *extra), seed=self.generator) < self.p
        lam = keras.ops.where(apply, lam, keras.ops.ones_like(lam))
        order = keras.random.shuffle(keras.ops.arange(batch), seed=self.generator)
        mixed_mean = lam * mean + (1 - lam) * keras.ops.take(mean, order, axis=0)
        mixed_std = lam * std + (1 - lam) * keras.ops.take(std, order, axis=0)
        return (x - mean) / std * mixed_std + mixed_mean
