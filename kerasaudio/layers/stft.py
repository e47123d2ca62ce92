"""Short-time Fourier transform layers: `STFT` and `ComplexSpectrogram`."""

from __future__ import annotations

import math

import keras
import numpy as np

from kerasaudio import filters
from kerasaudio.errors import InvalidAudioError, InvalidOptionError
from kerasaudio.layers.base import (
    AudioLayer,
    check_choice,
    check_int,
    in_tflite_mode,
)

__all__ = ["STFT", "ComplexSpectrogram"]

PAD_MODES = ("constant", "reflect")
DFT_METHODS = ("auto", "fft", "conv")
#: Frames per RFFT2D call in TFLite files (see `_grouped_rfft`).
TFLITE_FFT_ROWS = 8


def _grouped_rfft(frames):
    """`rfft` of `(batch, frames, n_fft)` for TFLite: real FFTs of 8 frames per RFFT2D call.

    TFLite's RFFT2D kernel sets up its tables (in double precision) on every call and
    calls once per 2-D slice, so one slice per frame makes the set-up, not the transform,
    the cost. Grouped as slices of 8 x n_fft, one call sets up once for 8 frames; RFFT2D
    then also transforms along the 8 frames (a complex 8-point DFT), which an 8 x 8 matrix
    product undoes exactly: frame r = (1/8) sum_m Y_m exp(+2 pi i r m / 8). The values
    equal the per-frame FFT to float32 rounding (BENCHMARKS.md has the speed). TensorFlow
    only (the converter's graph); returns `(real, imag)`, each
    `(batch, frames, n_fft // 2 + 1)`.

    The undo leaves each frame float32 rounding of its group's loudest frame (~1e-7 in
    amplitude), not of itself: a silent frame next to speech is not exactly 0. In a power
    spectrum that is ~1e-14 of the peak, below any dB floor or epsilon, so only power
    spectra use it (STFT `mode="power"`, mel with `power=2`); magnitudes and complex
    spectra take `_matmul_rfft` instead, because a model may standardise each frame on its
    own (VGGVox v2 does), which would scale that rounding of a silent frame up to the
    size of a real value.
    """
    import tensorflow as tf

    rows = TFLITE_FFT_ROWS
    count, n_fft = int(frames.shape[1]), int(frames.shape[2])
    groups = -(-count // rows)
    x = tf.pad(frames, [[0, 0], [0, groups * rows - count], [0, 0]])
    spectra = tf.signal.rfft2d(tf.reshape(x, [-1, rows, n_fft]))  # (batch*groups, rows, K)
    stacked = tf.concat([tf.math.real(spectra), tf.math.imag(spectra)], axis=1)
    angle = 2.0 * np.pi * (np.outer(np.arange(rows), np.arange(rows)) % rows) / rows
    c, s = np.cos(angle) / rows, np.sin(angle) / rows  # X_r = sum_m Y_m (c + i s)[r, m]
    undo = tf.constant(np.block([[c, -s], [s, c]]).astype(np.float32))  # (2 rows, 2 rows)
    out = tf.matmul(undo[None], stacked)  # broadcast over the groups, not a copy per group
    bins = n_fft // 2 + 1
    real = tf.reshape(out[:, :rows], [-1, groups * rows, bins])[:, :count]
    imag = tf.reshape(out[:, rows:], [-1, groups * rows, bins])[:, :count]
    return real, imag


#: Smallest `n_fft` whose TFLite FFT is two matrix products (`_matmul_rfft`).
MATMUL_FFT_MIN = 16


def _fft_split(n: int) -> tuple[int, int] | None:
    """`(n1, n2)` with `n1 * n2 == n` for `_matmul_rfft`, or None where it does not pay.

    n1 is the smallest divisor of n that is >= sqrt(n) (for a power of two,
    2^ceil(log2(n) / 2)). The split needs `2 n1^2 + 2 n + 4 n2^2` constants against the
    DFT convolution's `n (n + 2)`: taken for any power of two from 16 (whose alternative
    is an RFFT2D call per frame) and otherwise when that is at most a quarter (400 =
    20 x 20, 2560 = 64 x 40), not for a prime n or one like 2 x 251.
    """
    if n < MATMUL_FFT_MIN:
        return None
    n1 = next(d for d in range(int(np.ceil(np.sqrt(n))), n + 1) if n % d == 0)
    n2 = n // n1
    if n2 < 2 or (not _is_power_of_two(n)
                  and 4 * (2 * n1 * n1 + 2 * n + 4 * n2 * n2) > n * (n + 2)):
        return None
    return n1, n2


def _matmul_rfft(frames):
    """`rfft` of `(batch, frames, n_fft)` for TFLite, as two small matrix products per frame.

    For magnitude and complex spectra, which cannot group frames (`_grouped_rfft`), one
    RFFT2D call per frame pays the kernel's set-up for every frame; for an `n_fft` that is
    not a power of two TFLite has no FFT at all, and the DFT convolution stores an
    `n_fft x (n_fft + 2)` float32 matrix (26 MB at 2560). Cooley-Tukey with n_fft = n1 x n2
    (`_fft_split`) instead: each frame as an n1 x n2 matrix, n2 DFTs of n1 points (one
    product with an n1 x 2 n1 cos/sin matrix), twiddle factors, then n1 complex DFTs of n2
    points (one product with a 2 n2 x 2 n2 matrix). The products are plain matrix
    multiplications, which XNNPACK runs; the result is within float32 rounding of the
    float64 DFT, and frames never mix (a silent frame stays exactly 0). It costs
    2 n1^2 + 2 n_fft + 4 n2^2 float32 constants (8 kB at 256, 16 kB at 512, 79 kB at
    2560), which is why power spectra of a power-of-two `n_fft` keep the grouped RFFT2D,
    which needs none (BENCHMARKS.md has the timings of all three forms). TensorFlow only
    (the converter's graph); returns `(real, imag)`, each `(batch, frames, n_fft // 2 + 1)`.
    """
    import tensorflow as tf

    n = int(frames.shape[2])
    n1, n2 = _fft_split(n)

    def exact(values):  # cos(pi / 2) is 6e-17 in float64: store the zeros as zeros
        values = np.where(np.abs(values) < 1e-12, 0.0, values)
        return values.astype(np.float32)

    inner = 2.0 * np.pi * np.outer(np.arange(n1), np.arange(n1)) / n1
    first = exact(np.concatenate([np.cos(inner), -np.sin(inner)], axis=1))  # (n1, 2 n1)
    twiddle = -2.0 * np.pi * np.outer(np.arange(n2), np.arange(n1)) / n  # (m2, k1)
    tw_re, tw_im = exact(np.cos(twiddle)), exact(np.sin(twiddle))
    outer = 2.0 * np.pi * np.outer(np.arange(n2), np.arange(n2)) / n2
    c, s = np.cos(outer), np.sin(outer)
    second = exact(np.block([[c, -s], [s, c]]))  # [re | im] (2 n2) -> [re | im] (2 n2)
    shape = tf.shape(frames)
    x = tf.transpose(tf.reshape(frames, [-1, n1, n2]), [0, 2, 1])  # (frames, m2, m1)
    y = tf.reshape(tf.matmul(tf.reshape(x, [-1, n1]), first), [-1, n2, 2 * n1])
    y_re, y_im = y[..., :n1], y[..., n1:]  # (frames, m2, k1)
    z_re = y_re * tw_re - y_im * tw_im
    z_im = y_re * tw_im + y_im * tw_re
    z = tf.concat([tf.transpose(z_re, [0, 2, 1]), tf.transpose(z_im, [0, 2, 1])], axis=-1)
    out = tf.reshape(tf.matmul(tf.reshape(z, [-1, 2 * n2]), second), [-1, n1, 2 * n2])
    bins = n // 2 + 1

    def part(block):  # (frames, k1, k2) -> bin k1 + n1 k2, the first n // 2 + 1 bins
        flat = tf.reshape(tf.transpose(block, [0, 2, 1]), [shape[0], shape[1], n])
        return flat[..., :bins]

    return part(out[..., :n2]), part(out[..., n2:])


def _in_tf_data() -> bool:
    """Whether TensorFlow is tracing a `tf.data` transformation's function (its graphs are
    named `Dataset_<transformation>_<function>`)."""
    import tensorflow as tf

    if tf.executing_eagerly():
        return False
    return str(getattr(tf.compat.v1.get_default_graph(), "name", "")).startswith("Dataset_")


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


class SpectralLayer(AudioLayer):
    """Base of the layers that compute a short-time spectrum (librosa `stft` conventions).

    Holds the STFT options, checks them, and computes `(real, imag)` of shape
    `(batch, frames, n_fft // 2 + 1)` from `(batch, samples)`.

    Args:
        n_fft, hop_length, win_length, window, center, pad_mode, dft: as in `STFT`.

    Example:
    ```python
    import numpy as np, kerasaudio
    mel = kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=256)  # a SpectralLayer
    mel.n_frames(8000)  # 126 frames for one second
    ```

    Reference:
        librosa.stft (McFee et al., "librosa: Audio and music signal analysis in Python",
        SciPy 2015).
    """

    def __init__(self, *, n_fft: int = 2048, hop_length: int | None = None,
                 win_length: int | None = None, window="hann", center: bool = True,
                 pad_mode: str = "constant", dft: str = "auto", **kwargs):
        super().__init__(**kwargs)
        self.n_fft = check_int("n_fft", n_fft, minimum=2)
        self.win_length = check_int("win_length", win_length, allow_none=True) or self.n_fft
        if self.win_length > self.n_fft:
            raise InvalidOptionError(
                f"win_length={self.win_length} must be <= n_fft={self.n_fft} (the window "
                "is zero-padded to n_fft, never truncated)."
            )
        self.hop_length = (check_int("hop_length", hop_length, allow_none=True)
                           or self.win_length // 4)
        if self.hop_length < 1:
            raise InvalidOptionError(
                f"hop_length: default win_length // 4 is 0 for win_length={self.win_length};"
                " pass hop_length explicitly."
            )
        if isinstance(window, list) and window and isinstance(window[0], str):
            window = tuple(window)  # a ("kaiser", 8.0) spec that went through JSON
        self.window = window
        self._window = filters.get_window(window, self.win_length, n_fft=self.n_fft)
        self.center = bool(center)
        self.pad_mode = check_choice("pad_mode", pad_mode, PAD_MODES)
        self.dft = check_choice("dft", dft, DFT_METHODS)
        self.n_bins = self.n_fft // 2 + 1

    # -- shapes
    def n_frames(self, samples):
        """Number of frames for `samples` input samples (None if unknown)."""
        if samples is None:
            return None
        padded = samples + 2 * (self.n_fft // 2) if self.center else samples
        return 1 + (padded - self.n_fft) // self.hop_length

    def _check_length(self, samples):
        if samples is None:
            return
        if samples == 0:
            raise InvalidAudioError(f"{type(self).__name__} got zero-length audio.")
        if not self.center and samples < self.n_fft:
            raise InvalidAudioError(
                f"{type(self).__name__}: audio of {samples} samples is shorter than "
                f"n_fft={self.n_fft} with center=False, so it has no complete frame. Pad "
                "the audio or use center=True."
            )
        if self.center and self.pad_mode == "reflect" and samples <= self.n_fft // 2:
            raise InvalidAudioError(
                f"{type(self).__name__}: pad_mode='reflect' needs more than n_fft // 2 = "
                f"{self.n_fft // 2} samples; got {samples}. Use pad_mode='constant'."
            )

    # -- computation
    def _builtin_fft(self) -> bool:
        """Whether an `n_fft` that is not a power of two avoids the FFT op (`dft="auto"`).

        True while `kerasaudio.export` traces (`tflite_mode`) and whenever the layer
        computes with TensorFlow outside a `tf.data` pipeline (a model on the TensorFlow
        backend, eager or traced): `model.export(format="litert")` and
        `tf.lite.TFLiteConverter` convert the TensorFlow graph the layer builds, and
        TFLite's RFFT2D kernel refuses such a length when the file runs. Such an `n_fft`
        is then two matrix products per frame (`_matmul_rfft`) or, without a useful split,
        the DFT convolution. JAX, and `tf.data` functions (which no converter reads, and
        where the FFT op is several times faster: BENCHMARKS.md), keep the FFT."""
        if _is_power_of_two(self.n_fft):
            return False
        if in_tflite_mode():
            return True
        return self.backend.name == "tensorflow" and not _in_tf_data()

    def _use_conv(self) -> bool:
        if self.dft != "auto":
            return self.dft == "conv"
        return self._builtin_fft() and _fft_split(self.n_fft) is None

    def _frames(self, x):
        """Windowed frames `(batch, frames, n_fft)` without a gather.

        The signal is cut into blocks of `hop_length` samples; frame j is the
        concatenation of blocks j .. j + K - 1 (K = ceil(n_fft / hop)) cut to n_fft, so
        the frames are built from K strided slices, contiguous copies instead of a
        gather's index lookups, and TFLite builtins only (RESHAPE, STRIDED_SLICE,
        CONCATENATION).
        """
        ops = self.backend
        n, hop = self.n_fft, self.hop_length
        k_blocks = -(-n // hop)
        samples = x.shape[1]
        if samples is None:
            samples = ops.core.shape(x)[1]
        n_frames = 1 + (samples - n) // hop
        tail = max(0, k_blocks * hop - n)
        if tail:
            x = ops.numpy.pad(x, ((0, 0), (0, tail)))
        n_blocks = n_frames + k_blocks - 1
        blocks = ops.numpy.reshape(x[:, : n_blocks * hop], (-1, n_blocks, hop))
        window = self._window.astype(np.float32)
        parts = []
        for k in range(k_blocks):
            width = min(hop, n - k * hop)
            segment = window[k * hop : k * hop + width]
            part = blocks[:, k : k + n_frames, :width]
            if not np.all(segment == 1.0):
                part = part * ops.convert_to_tensor(segment)
            parts.append(part)
        return parts[0] if len(parts) == 1 else ops.numpy.concatenate(parts, axis=-1)

    def _pad(self, x):
        """librosa's centring: `n_fft // 2` samples on both sides (when `center`).

        Reflection is built from two reversed slices (`x[half] .. x[1]`, then
        `x[-2] .. x[-half - 1]`), the values of a reflect pad: TensorFlow's MirrorPad
        refuses a batch of 0 clips, and the layers take empty batches like any other.
        Traced for TFLite (a fixed batch) it stays one MIRROR_PAD op."""
        if not self.center:
            return x
        ops = self.backend
        half = self.n_fft // 2
        if self.pad_mode == "constant" or in_tflite_mode():
            return ops.numpy.pad(x, ((0, 0), (half, half)), mode=self.pad_mode)
        left = ops.numpy.flip(x[:, 1:half + 1], axis=1)
        right = ops.numpy.flip(x[:, -half - 1:-1], axis=1)
        return ops.numpy.concatenate([left, x, right], axis=1)

    def _spectrum(self, x, *, grouped: bool = False):
        """`(real, imag)`, each `(batch, frames, n_bins)`, of `x` `(batch, samples)`.

        `grouped`: in TFLite files, FFT 8 frames per RFFT2D call (`_grouped_rfft`); only
        for power spectra of a power-of-two `n_fft`, where its cross-frame rounding is
        squared away. Otherwise a TFLite FFT is two matrix products per frame
        (`_matmul_rfft`; any `n_fft` with a useful split, `_fft_split`)."""
        ops = self.backend
        x = self._pad(x)
        if self._use_conv():
            kernel = filters.dft_kernel(self._window).astype(np.float32)[:, None, :]
            y = ops.nn.conv(x[:, :, None], ops.convert_to_tensor(kernel),
                            strides=self.hop_length, padding="valid")
            return y[..., : self.n_bins], y[..., self.n_bins :]
        frames = self._frames(x)
        if (grouped and in_tflite_mode() and _is_power_of_two(self.n_fft)
                and frames.shape[1] is not None and frames.shape[1] > 1):
            return _grouped_rfft(frames)
        if _fft_split(self.n_fft) is not None and (in_tflite_mode() or self._builtin_fft()):
            return _matmul_rfft(frames)
        return ops.math.rfft(frames)

    def _power(self, x, *, grouped: bool = True):
        """`|X|^2`, `(batch, frames, n_bins)`."""
        ops = self.backend
        real, imag = self._spectrum(x, grouped=grouped)
        return ops.numpy.square(real) + ops.numpy.square(imag)

    def _output_shape(self, input_shape):
        return (input_shape[0], self.n_frames(input_shape[1]), self.n_bins)

    def get_config(self):
        config = super().get_config()
        window = self.window
        if isinstance(window, np.ndarray):
            window = window.tolist()
        config.update(
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=list(window) if isinstance(window, tuple) else window,
            center=self.center,
            pad_mode=self.pad_mode,
            dft=self.dft,
        )
        return config


@keras.saving.register_keras_serializable(package="kerasaudio")
class STFT(SpectralLayer):
    """Short-time Fourier transform of `(batch, samples[, channels])` audio, like `librosa.stft`.

    Output `(batch, frames, n_fft // 2 + 1)` for `mode="magnitude"` or `"power"`, and
    `(batch, frames, n_fft // 2 + 1, 2)` (real, imaginary) for `mode="complex"`;
    multichannel input adds a channel axis after the bins. Frames follow librosa exactly
    (`center` padding by `n_fft // 2`, periodic window zero-padded to `n_fft`), and the
    result matches float64 librosa to ~1e-7 of the largest magnitude.

    Any `n_fft` works, powers of two or not. `dft` chooses how the DFT is computed:
    `"fft"` (framing + real FFT; fastest in TensorFlow and JAX), `"conv"` (a strided
    convolution with a windowed DFT kernel: O(n_fft^2) per frame and an
    `n_fft x (n_fft + 2)` constant, but TFLite builtins for any `n_fft`), or `"auto"`
    (on JAX and inside `tf.data` the FFT; in a TensorFlow model, whose graphs
    `model.export(format="litert")`, `tf.lite.TFLiteConverter` and `kerasaudio.export`
    convert, an `n_fft` that is not a power of two is two matrix products per frame (see
    below), or the convolution when it is neither a power of two nor a product of two
    similar factors, a prime for instance: TFLite's RFFT2D takes powers of two only, so
    every converter route gives a file that runs).
    In TFLite files a power spectrum's FFT of a power-of-two `n_fft` transforms 8 frames
    per RFFT2D call (so the kernel's per-call set-up is paid once per 8 frames), undone by
    an 8 x 8 product; magnitude and complex spectra, whose frames must not mix, and every
    other `n_fft` (400 = 20 x 20, 2560 = 64 x 40) run the FFT as two matrix products per
    frame, which XNNPACK runs (79 kB of constants at 2560 where a DFT convolution needs
    26 MB). Every form gives the same spectrum to float32 rounding; BENCHMARKS.md
    compares their speed and size.

    Args:
        n_fft: FFT size (>= 2).
        hop_length: samples between frames; default `win_length // 4`.
        win_length: window length, <= `n_fft` (zero-padded, centred); default `n_fft`.
        window: a `scipy.signal.get_window` spec (`"hann"`, `("kaiser", 8.0)`) or values.
        center: pad `n_fft // 2` samples on both sides so frame t is centred on
            `t * hop_length`.
        pad_mode: `"constant"` (zeros, librosa's default) or `"reflect"`.
        mode: `"complex"`, `"magnitude"` or `"power"`.
        dft: `"auto"`, `"fft"` or `"conv"` (see above).

    Example:
    ```python
    import numpy as np, kerasaudio
    stft = kerasaudio.layers.STFT(n_fft=512, hop_length=128, mode="complex")
    stft(np.zeros((2, 8000), "float32")).shape  # (2, 63, 257, 2)
    ```

    Reference:
        Allen & Rabiner, "A unified approach to short-time Fourier analysis and
        synthesis", Proc. IEEE 65(11), 1977; librosa.stft (McFee et al., 2015).
    """

    def __init__(self, *, n_fft: int = 2048, hop_length: int | None = None,
                 win_length: int | None = None, window="hann", center: bool = True,
                 pad_mode: str = "constant", mode: str = "complex", dft: str = "auto",
                 **kwargs):
        super().__init__(n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                         window=window, center=center, pad_mode=pad_mode, dft=dft, **kwargs)
        self.mode = check_choice("mode", mode, ("complex", "magnitude", "power"))

    def _compute(self, x):
        ops = self.backend
        if self.mode == "power":
            return self._power(x)
        real, imag = self._spectrum(x)
        if self.mode == "complex":
            return ops.numpy.stack([real, imag], axis=-1)
        return ops.numpy.sqrt(ops.numpy.square(real) + ops.numpy.square(imag))

    def _output_shape(self, input_shape):
        shape = super()._output_shape(input_shape)
        return (*shape, 2) if self.mode == "complex" else shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="kerasaudio")
class ComplexSpectrogram(SpectralLayer):
    """Real and imaginary STFT parts as two channels: `(batch, frames, bins, 2)`.

    The input of the complex-spectrogram CNN of the "torch for R" Speech Commands tutorial
    (docs/references.md, [S2]): keeping the phase beat magnitude-only spectrograms there.
    Defaults reproduce its `torch.stft(n_fft=512, win_length=480, hop_length=160,
    center=True, pad_mode="reflect", normalized=True)` on 16 kHz audio: 30 ms windows,
    10 ms hop; one second of audio gives `(101, 257, 2)`. `normalized=True` scales by
    `n_fft ** -0.5` as torch does. Mono input only (`(batch, samples)` or
    `(batch, samples, 1)`).

    Args:
        n_fft: FFT size.
        hop_length: samples between frames.
        win_length: window length (zero-padded to `n_fft`).
        window: window spec, as in `STFT`.
        center: centre frames (pad `n_fft // 2` on both sides).
        pad_mode: `"reflect"` (torch's default) or `"constant"`.
        normalized: multiply by `n_fft ** -0.5` (torch's `normalized=True`).
        dft: `"auto"`, `"fft"` or `"conv"`, as in `STFT`.

    Example:
    ```python
    import numpy as np, kerasaudio
    spec = kerasaudio.layers.ComplexSpectrogram()
    spec(np.zeros((1, 16000), "float32")).shape  # (1, 101, 257, 2)
    ```

    Reference:
        The "torch for R" Speech Commands tutorials of the RStudio AI Blog (Damiani,
        "Simple audio classification with torch", 2021; Keydana, "Audio classification
        with torch", 2022; docs/references.md [S2]); Trabelsi et al., "Deep Complex
        Networks", ICLR 2018.
    """

    max_channels = 1

    def __init__(self, *, n_fft: int = 512, hop_length: int | None = 160,
                 win_length: int | None = 480, window="hann", center: bool = True,
                 pad_mode: str = "reflect", normalized: bool = True, dft: str = "auto",
                 **kwargs):
        super().__init__(n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                         window=window, center=center, pad_mode=pad_mode, dft=dft, **kwargs)
        self.normalized = bool(normalized)

    def call(self, inputs):
        x = self.backend.cast(inputs, "float32")
        if len(x.shape) == 3:
            x = x[:, :, 0]
        return self._compute(x)

    def _compute(self, x):
        ops = self.backend
        real, imag = self._spectrum(x)
        out = ops.numpy.stack([real, imag], axis=-1)
        if self.normalized:
            out = out * (1.0 / math.sqrt(self.n_fft))
        return out

    def compute_output_shape(self, input_shape):
        return (*self._output_shape(tuple(input_shape[:2])), 2)

    def get_config(self):
        return {**super().get_config(), "normalized": self.normalized}
