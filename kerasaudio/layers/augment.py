"""Data augmentation layers: waveform (gain, noise, time shift, speed), features (frequency
warping) and batch-level mixup.

Every layer is the identity outside training (`training=False`, `model.predict`, TFLite
export), draws its randomness from a seeded `keras.random.SeedGenerator`, and is a Keras
`DataLayer` like the front ends: inside a model it runs on the model's backend, inside a
`tf.data` pipeline on TensorFlow ops. Each example of a batch draws its own parameters;
the channels of one example share them.

Where they go: the waveform layers in front of the front end, `FrequencyWarp` (like
`SpecAugment`) after it; `MixUp` needs the labels, so it runs in the input pipeline on
`(audio, one_hot_labels)` batches. Called sequentially (`Dataset.map` without
`num_parallel_calls`) or inside a model, a seeded layer gives the same draws in every run.

Example:
```python
import keras, kerasaudio
from kerasaudio.layers import augment
train_frontend = [augment.RandomGain(min_db=-12, max_db=12, seed=0),
                  augment.SpeedPerturbation(min_factor=0.9, max_factor=1.1, seed=1),
                  kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=256,
                                                   hop_length=80, n_mels=40),
                  kerasaudio.layers.PowerToDb(), kerasaudio.layers.Standardize(),
                  kerasaudio.layers.SpecAugment(freq_mask_param=6, time_mask_param=10)]
```
"""

from __future__ import annotations

import keras
import numpy as np
from keras.src.layers.preprocessing.data_layer import DataLayer

from kerasaudio.errors import InvalidAudioError, InvalidOptionError
from kerasaudio.layers.base import FrontEndLayer, SpectrogramLayer, check_float, check_int

__all__ = [
    "AddNoise",
    "FrequencyWarp",
    "MixUp",
    "RandomGain",
    "RandomTimeShift",
    "SpeedPerturbation",
]


def _check_range(low_name: str, low, high_name: str, high, *, positive: bool) -> tuple:
    low = check_float(low_name, low, positive=positive)
    high = check_float(high_name, high, positive=positive)
    if low > high:
        raise InvalidOptionError(f"{low_name}={low} must be <= {high_name}={high}.")
    return low, high


def _gather_time(ops, x, index):
    """`x[b, index[b, n], c]` for `x` `(batch, samples, channels)`, `index` `(batch, samples)`.

    One flat GATHER (builtin in TFLite, the same op on every backend) instead of a
    batched `take_along_axis`.
    """
    shape = ops.core.shape(x)
    batch, samples = shape[0], shape[1]
    offsets = ops.numpy.arange(batch, dtype="int32")[:, None] * samples
    flat = ops.numpy.reshape(x, (-1, x.shape[-1]))
    picked = ops.numpy.take(flat, ops.numpy.reshape(index + offsets, (-1,)), axis=0)
    return ops.numpy.reshape(picked, (batch, samples, x.shape[-1]))


class WaveformAugmentation(FrontEndLayer):
    """Base of the waveform layers: `(batch, samples)` or `(batch, samples, channels)` in and
    out, the identity outside training.

    Subclasses implement `_augment(x, seed)` on a float32 `(batch, samples, channels)`
    tensor.

    Args:
        seed: random seed (int) for reproducible draws; None draws differently each run.

    Example:
    ```python
    import numpy as np, kerasaudio
    gain = kerasaudio.layers.RandomGain(min_db=-6, max_db=6, seed=0)  # a subclass
    x = np.random.randn(2, 8000).astype("float32")
    gain(x, training=True).shape  # (2, 8000); gain(x) returns x unchanged
    ```
    """

    def __init__(self, *, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = check_int("seed", seed, minimum=0, allow_none=True)
        self.generator = keras.random.SeedGenerator(seed)

    def _check_shape(self, shape: tuple):
        if len(shape) not in (2, 3):
            raise InvalidAudioError(
                f"{type(self).__name__} expects audio shaped (batch, samples) or "
                f"(batch, samples, channels); got shape {shape}."
            )

    def _uniform(self, ops, batch, low: float, high: float, seed, shape=()):
        """`(batch, *shape)` uniform draws in [low, high] (exactly `low` when low == high)."""
        u = ops.random.uniform((batch, *shape), seed=seed)
        return low + (high - low) * u

    def call(self, inputs, training=None):
        if not training:
            return inputs
        ops = self.backend
        x = ops.cast(inputs, "float32")
        mono = len(x.shape) == 2
        if mono:
            x = x[:, :, None]
        y = self._augment(x, self._get_seed_generator(ops._backend))
        return y[:, :, 0] if mono else y

    def _augment(self, x, seed):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="kerasaudio")
class RandomGain(WaveformAugmentation):
    """Multiply each example by a random gain, uniform in decibels.

    `y = x * 10 ** (g / 20)` with `g ~ U[min_db, max_db]` drawn per example. Recording
    levels differ by tens of dB between speakers and microphones (in FSDD the quietest
    speaker is 18 dB below the loudest); a raw-waveform model sees that directly, while a
    log-mel model with per-utterance standardisation is invariant to it.

    Args:
        min_db: lowest gain, dB.
        max_db: highest gain, dB.
        seed: random seed (int) for reproducible draws.

    Example:
    ```python
    import numpy as np, kerasaudio
    gain = kerasaudio.layers.RandomGain(min_db=-20, max_db=6, seed=0)
    x = np.random.randn(4, 8000).astype("float32")
    y = gain(x, training=True)   # each row scaled by 0.1 to 2.0
    same = gain(x)               # identity outside training
    ```

    Reference:
        Ko, Peddinti, Povey & Khudanpur, "Audio augmentation for speech recognition",
        Interspeech 2015 (volume perturbation in Kaldi's recipes).
    """

    def __init__(self, *, min_db: float = -6.0, max_db: float = 6.0, seed: int | None = None,
                 **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.min_db, self.max_db = _check_range("min_db", min_db, "max_db", max_db,
                                                positive=False)

    def _augment(self, x, seed):
        ops = self.backend
        db = self._uniform(ops, ops.core.shape(x)[0], self.min_db, self.max_db, seed, (1, 1))
        return x * ops.numpy.power(10.0, db / 20.0)

    def get_config(self):
        return {**super().get_config(), "min_db": self.min_db, "max_db": self.max_db}


@keras.saving.register_keras_serializable(package="kerasaudio")
class AddNoise(WaveformAugmentation):
    """Add white Gaussian noise at a random signal-to-noise ratio.

    Per example, `snr ~ U[min_snr_db, max_snr_db]`; the noise is drawn, then scaled so
    that its mean power is exactly `P / 10 ** (snr / 10)`, where `P` is the example's
    mean power over all its samples and channels (padding included: for a clip
    zero-padded to twice its length the SNR over the speech itself is 3 dB higher). A
    silent example stays silent.

    Args:
        min_snr_db: lowest SNR, dB.
        max_snr_db: highest SNR, dB.
        seed: random seed (int) for reproducible draws.

    Example:
    ```python
    import numpy as np, kerasaudio
    noise = kerasaudio.layers.AddNoise(min_snr_db=10, max_snr_db=30, seed=0)
    y = noise(np.random.randn(4, 8000).astype("float32"), training=True)
    ```

    Reference:
        Hannun et al., "Deep Speech: Scaling up end-to-end speech recognition",
        arXiv:1412.5567, 2014 (noise superposition for robust speech recognition).
    """

    def __init__(self, *, min_snr_db: float = 10.0, max_snr_db: float = 40.0,
                 seed: int | None = None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.min_snr_db, self.max_snr_db = _check_range(
            "min_snr_db", min_snr_db, "max_snr_db", max_snr_db, positive=False)

    def _augment(self, x, seed):
        ops = self.backend
        batch = ops.core.shape(x)[0]
        snr = self._uniform(ops, batch, self.min_snr_db, self.max_snr_db, seed, (1, 1))
        noise = ops.random.normal(ops.core.shape(x), seed=seed)
        power = ops.numpy.mean(ops.numpy.square(x), axis=(1, 2), keepdims=True)
        noise_power = ops.numpy.mean(ops.numpy.square(noise), axis=(1, 2), keepdims=True)
        target = power * ops.numpy.power(10.0, -snr / 10.0)
        return x + noise * ops.numpy.sqrt(target / ops.numpy.maximum(noise_power, 1e-30))

    def get_config(self):
        return {**super().get_config(), "min_snr_db": self.min_snr_db,
                "max_snr_db": self.max_snr_db}


@keras.saving.register_keras_serializable(package="kerasaudio")
class RandomTimeShift(WaveformAugmentation):
    """Shift each example in time by a random whole number of samples.

    `y[n] = x[n - k]` with `k ~ U{-max_shift..max_shift}` per example; the samples
    shifted in are zeros (`mode="zeros"`) or the ones shifted out at the other end
    (`mode="wrap"`, a circular shift). The length is unchanged.

    Args:
        max_shift: largest shift in samples (e.g. 1600 for 0.2 s at 8 kHz).
        mode: `"zeros"` or `"wrap"`.
        seed: random seed (int) for reproducible draws.

    Example:
    ```python
    import numpy as np, kerasaudio
    shift = kerasaudio.layers.RandomTimeShift(max_shift=1600, seed=0)
    y = shift(np.random.randn(4, 8000).astype("float32"), training=True)
    ```

    Reference:
        Ko, Peddinti, Povey & Khudanpur, "Audio augmentation for speech recognition",
        Interspeech 2015; the time-shift augmentation of the TensorFlow Speech Commands
        recipe (Warden, "Speech Commands", arXiv:1804.03209, 2018).
    """

    MODES = ("zeros", "wrap")

    def __init__(self, *, max_shift: int = 800, mode: str = "zeros",
                 seed: int | None = None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.max_shift = check_int("max_shift", max_shift, minimum=0)
        if mode not in self.MODES:
            raise InvalidOptionError(f"mode={mode!r}: must be one of {self.MODES}.")
        self.mode = mode

    def _augment(self, x, seed):
        ops = self.backend
        shape = ops.core.shape(x)
        batch, samples = shape[0], shape[1]
        shift = ops.random.randint((batch, 1), -self.max_shift, self.max_shift + 1,
                                   seed=seed)
        source = ops.numpy.arange(samples, dtype="int32")[None, :] - shift
        if self.mode == "wrap":
            return _gather_time(ops, x, ops.numpy.mod(source, samples))
        inside = ops.numpy.logical_and(source >= 0, source < samples)
        picked = _gather_time(ops, x, ops.numpy.clip(source, 0, samples - 1))
        return picked * ops.cast(inside, "float32")[:, :, None]

    def get_config(self):
        return {**super().get_config(), "max_shift": self.max_shift, "mode": self.mode}


@keras.saving.register_keras_serializable(package="kerasaudio")
class SpeedPerturbation(WaveformAugmentation):
    """Resample each example by a random speed factor: tempo and pitch change together.

    Per example, `s ~ U[min_factor, max_factor]`, and `y[n] = x(c + (n - c) * s)` with
    `c = (samples - 1) / 2`, read by linear interpolation between neighbouring samples
    and 0 outside the input: the clip plays `s` times faster (shorter, every frequency
    times `s`) around the centre of the window, whose length is kept. This is Kaldi's
    speed perturbation (there: three copies at 0.9, 1.0 and 1.1), the standard way to
    make new "speakers" from old ones: the formants move as with another vocal tract.
    Linear interpolation is a coarse resampler (it attenuates the top of the band a
    little and does not filter before speeding up, so with `s = 1.1` the top 9% of the
    band folds back); at these factors it is what matters for training, not fidelity.

    Args:
        min_factor: lowest speed factor (> 0), e.g. 0.9.
        max_factor: highest speed factor, e.g. 1.1.
        seed: random seed (int) for reproducible draws.

    Example:
    ```python
    import numpy as np, kerasaudio
    speed = kerasaudio.layers.SpeedPerturbation(min_factor=0.9, max_factor=1.1, seed=0)
    y = speed(np.random.randn(4, 8000).astype("float32"), training=True)
    ```

    Reference:
        Ko, Peddinti, Povey & Khudanpur, "Audio augmentation for speech recognition",
        Interspeech 2015.
    """

    def __init__(self, *, min_factor: float = 0.9, max_factor: float = 1.1,
                 seed: int | None = None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.min_factor, self.max_factor = _check_range(
            "min_factor", min_factor, "max_factor", max_factor, positive=True)

    def _augment(self, x, seed):
        ops = self.backend
        shape = ops.core.shape(x)
        batch, samples = shape[0], shape[1]
        factor = self._uniform(ops, batch, self.min_factor, self.max_factor, seed, (1,))
        last = ops.cast(samples - 1, "float32")
        centre = last / 2.0
        n = ops.cast(ops.numpy.arange(samples, dtype="int32"), "float32")[None, :]
        position = centre + (n - centre) * factor
        inside = ops.numpy.logical_and(position >= 0.0, position <= last)
        position = ops.numpy.clip(position, 0.0, last)
        lower = ops.numpy.floor(position)
        frac = (position - lower)[:, :, None]
        lower = ops.cast(lower, "int32")
        upper = ops.numpy.minimum(lower + 1, samples - 1)
        y = (_gather_time(ops, x, lower) * (1.0 - frac)
             + _gather_time(ops, x, upper) * frac)
        return y * ops.cast(inside, "float32")[:, :, None]

    def get_config(self):
        return {**super().get_config(), "min_factor": self.min_factor,
                "max_factor": self.max_factor}


@keras.saving.register_keras_serializable(package="kerasaudio")
class FrequencyWarp(SpectrogramLayer):
    """Vocal-tract-length perturbation: warp the frequency axis of spectrogram features.

    Per example, `a ~ U[min_factor, max_factor]`; output bin `g` reads the input at
    bin position `w(g)` (linear interpolation between bins), where `w` is the inverse of
    the piecewise-linear warp of Jaitly & Hinton: bins up to the knee
    `k = boundary * (bins - 1) * min(a, 1)` are scaled by `a` (`w(g) = g / a`), and the
    rest of the axis is stretched linearly so that the top bin stays in place. `a > 1`
    moves the spectrum up (a shorter vocal tract), `a < 1` down. On a linear-frequency
    axis this is VTLP; on a mel axis the same warp of the band index is a close stand-in
    (the mel scale is nearly linear below 1 kHz, where the formants of an 8 kHz voice
    mostly lie). Input `(batch, frames, bins[, channels])`, same shape out; put it
    before per-utterance standardisation.

    Args:
        min_factor: lowest warp factor (> 0), e.g. 0.9.
        max_factor: highest warp factor, e.g. 1.1.
        boundary: where the knee lies, as a fraction of the axis (0 < boundary <= 1).
        seed: random seed (int) for reproducible draws.

    Example:
    ```python
    import numpy as np, kerasaudio
    warp = kerasaudio.layers.FrequencyWarp(min_factor=0.9, max_factor=1.1, seed=0)
    y = warp(np.random.randn(4, 101, 40).astype("float32"), training=True)
    ```

    Reference:
        Jaitly & Hinton, "Vocal Tract Length Perturbation (VTLP) improves speech
        recognition", ICML Workshop on Deep Learning for Audio, Speech and Language, 2013.
    """

    def __init__(self, *, min_factor: float = 0.9, max_factor: float = 1.1,
                 boundary: float = 0.8, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.min_factor, self.max_factor = _check_range(
            "min_factor", min_factor, "max_factor", max_factor, positive=True)
        self.boundary = check_float("boundary", boundary)
        if self.boundary > 1.0:
            raise InvalidOptionError(f"boundary={boundary!r}: must be in (0, 1].")
        self.seed = check_int("seed", seed, minimum=0, allow_none=True)
        self.generator = keras.random.SeedGenerator(seed)

    def _check_shape(self, shape: tuple):
        if len(shape) not in (3, 4):
            raise InvalidAudioError(
                f"FrequencyWarp expects (batch, frames, bins[, channels]); got shape {shape}."
            )

    def source_positions(self, factor, bins: int):
        """Input bin positions `w(g)` read by each output bin `g`, for `(batch, 1)` factors.

        Example:
        ```python
        import numpy as np
        warp = kerasaudio.layers.FrequencyWarp()
        warp.source_positions(np.array([[1.1]], "float32"), 5)  # [[0, .909, 1.818, ...]]
        ```
        """
        ops = self.backend
        top = float(bins - 1)
        g = ops.cast(ops.numpy.arange(bins, dtype="int32"), "float32")[None, :]
        knee = self.boundary * top * ops.numpy.minimum(factor, 1.0)
        low = g / factor
        # Above the knee: the straight line from (knee, knee / a) to (top, top).
        span = ops.numpy.maximum(top - knee, 1e-6)
        high = top - (top - knee / factor) * (top - g) / span
        return ops.numpy.clip(ops.numpy.where(g <= knee, low, high), 0.0, top)

    def call(self, inputs, training=None):
        if not training:
            return inputs
        ops = self.backend
        x = ops.cast(inputs, "float32")
        bins = x.shape[2]
        if bins is None:
            raise InvalidAudioError("FrequencyWarp needs a known number of bins.")
        seed = self._get_seed_generator(ops._backend)
        batch = ops.core.shape(x)[0]
        factor = self.min_factor + (self.max_factor - self.min_factor) * ops.random.uniform(
            (batch, 1), seed=seed)
        position = self.source_positions(factor, bins)
        lower = ops.numpy.floor(position)
        frac = position - lower
        lower = ops.cast(lower, "int32")
        upper = ops.numpy.minimum(lower + 1, bins - 1)
        # (batch, out bins, in bins) interpolation matrices: y = x @ matrix^T.
        matrix = (ops.nn.one_hot(lower, bins) * (1.0 - frac)[:, :, None]
                  + ops.nn.one_hot(upper, bins) * frac[:, :, None])
        if len(x.shape) == 3:
            return ops.numpy.einsum("btf,bgf->btg", x, matrix)
        return ops.numpy.einsum("btfc,bgf->btgc", x, matrix)

    def get_config(self):
        return {**super().get_config(), "min_factor": self.min_factor,
                "max_factor": self.max_factor, "boundary": self.boundary, "seed": self.seed}


@keras.saving.register_keras_serializable(package="kerasaudio")
class MixUp(DataLayer):
    """mixup on a batch: convex combinations of pairs of examples and of their labels.

    Called on `(data, labels)` (labels one-hot or multi-hot, float), returns
    `(lam * data + (1 - lam) * data[p], lam * labels + (1 - lam) * labels[p])` with one
    `lam ~ Beta(alpha, alpha)` per example and `p` a random permutation of the batch.
    `data` may be waveforms or features of any rank. It needs the labels, so it belongs
    in the input pipeline (train with a categorical cross-entropy on soft labels):
    `ds.map(lambda x, y: mixup((x, tf.one_hot(y, classes)), training=True))`. Map it
    sequentially (no `num_parallel_calls`) for the same draws in every run. Outside
    training, the identity.

    (`keras.layers.MixUp` does the same for images only: it expects 4-D image batches.)

    Args:
        alpha: the Beta distribution's parameter (> 0); 0.2-0.4 is usual for audio.
        seed: random seed (int) for reproducible draws.

    Example:
    ```python
    import numpy as np, kerasaudio
    mixup = kerasaudio.layers.MixUp(alpha=0.2, seed=0)
    x = np.random.randn(8, 8000).astype("float32")
    y = np.eye(10, dtype="float32")[np.arange(8)]
    mixed_x, mixed_y = mixup((x, y), training=True)
    ```

    Reference:
        Zhang, Cisse, Dauphin & Lopez-Paz, "mixup: Beyond Empirical Risk Minimization",
        ICLR 2018.
    """

    def __init__(self, *, alpha: float = 0.2, seed: int | None = None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.alpha = check_float("alpha", alpha)
        self.seed = check_int("seed", seed, minimum=0, allow_none=True)
        self.generator = keras.random.SeedGenerator(seed)

    def __call__(self, inputs, *args, **kwargs):
        if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
            raise InvalidOptionError(
                "MixUp is called on a pair (data, labels); got "
                f"{type(inputs).__name__}."
            )
        data, labels = inputs
        for what, value in (("data", data), ("labels", labels)):
            dtype = getattr(value, "dtype", None)
            dtype = keras.backend.standardize_dtype(
                np.asarray(value).dtype if dtype is None else dtype)
            if "float" not in dtype:
                raise InvalidOptionError(
                    f"MixUp: {what} must be floating point (labels one-hot or multi-hot, "
                    f"e.g. tf.one_hot(y, classes)); got dtype {dtype}."
                )
        return super().__call__(tuple(inputs), *args, **kwargs)

    def call(self, inputs, training=None):
        data, labels = inputs
        if not training:
            return data, labels
        ops = self.backend
        seed = self._get_seed_generator(ops._backend)
        batch = ops.core.shape(data)[0]
        lam = ops.random.beta((batch,), self.alpha, self.alpha, seed=seed)
        order = ops.random.shuffle(ops.numpy.arange(batch, dtype="int32"), seed=seed)

        def mix(values):
            weight = ops.numpy.reshape(lam, (-1,) + (1,) * (len(values.shape) - 1))
            other = ops.numpy.take(values, order, axis=0)
            return weight * values + (1.0 - weight) * other

        return mix(ops.cast(data, "float32")), mix(ops.cast(labels, "float32"))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "seed": self.seed}
