"""Kaldi-style log mel filter bank (`torchaudio.compliance.kaldi.fbank`), as AST uses it."""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers.base import check_float, check_int

__all__ = ["KaldiFbank", "kaldi_mel_banks"]

#: AudioSet statistics of AST's filter bank (`ASTFeatureExtractor`'s defaults).
AUDIOSET_MEAN = -4.2677393
AUDIOSET_STD = 4.5689974


def _kaldi_mel(freq):
    return 1127.0 * np.log(1.0 + np.asarray(freq, dtype="float64") / 700.0)


def kaldi_mel_banks(*, num_mel_bins: int, fft_length: int, sample_rate: int,
                    low_freq: float = 20.0, high_freq: float = 0.0) -> np.ndarray:
    """Kaldi's triangular mel filters (triangles in mel space, no area normalisation).

    Args:
        num_mel_bins: number of filters.
        fft_length: FFT size; the matrix has `fft_length // 2 + 1` rows (the Nyquist row
            is zero, as in Kaldi).
        sample_rate: sampling rate in Hz.
        low_freq: lowest filter edge in Hz.
        high_freq: highest edge in Hz; `<= 0` means Nyquist plus `high_freq` (Kaldi).

    Returns:
        float64 array `(fft_length // 2 + 1, num_mel_bins)`.

    Example:
    ```python
    from kerasaudio.layers.kaldi import kaldi_mel_banks
    kaldi_mel_banks(num_mel_bins=128, fft_length=512, sample_rate=16000).shape  # (257, 128)
    ```

    Reference:
        Povey et al., "The Kaldi Speech Recognition Toolkit", ASRU 2011 (`mel-computations.cc`).
    """
    nyquist = 0.5 * sample_rate
    high = high_freq if high_freq > 0 else nyquist + high_freq
    if not 0 <= low_freq < high <= nyquist:
        raise InvalidOptionError(
            f"kaldi_mel_banks: need 0 <= low_freq ({low_freq}) < high_freq ({high}) <= "
            f"Nyquist ({nyquist}).")
    mel_low, mel_high = _kaldi_mel(low_freq), _kaldi_mel(high)
    delta = (mel_high - mel_low) / (num_mel_bins + 1)
    left = mel_low + np.arange(num_mel_bins) * delta
    center, right = left + delta, left + 2 * delta
    bins = fft_length // 2
    mel = _kaldi_mel(np.arange(bins) * sample_rate / fft_length)[:, None]
    weights = np.maximum(0.0, np.minimum((mel - left) / (center - left),
                                         (right - mel) / (right - center)))
    return np.concatenate([weights, np.zeros((1, num_mel_bins))], axis=0)


def _frame_matrix(frame_length: int, fft_length: int, preemphasis: float,
                  remove_dc_offset: bool, window: str) -> np.ndarray:
    """The linear map frame -> [real | imaginary] DFT, with DC removal, pre-emphasis and
    window folded in (float64, cast once)."""
    n = frame_length
    m = np.eye(n)
    if remove_dc_offset:
        m = m - np.full((n, n), 1.0 / n)
    # Pre-emphasis with Kaldi's replicated first sample: y[0] = (1 - p) x[0].
    emphasis = np.eye(n) - preemphasis * np.eye(n, k=-1)
    emphasis[0, 0] = 1.0 - preemphasis
    m = emphasis @ m
    if window == "hanning":
        w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / (n - 1))
    elif window == "povey":
        w = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / (n - 1))) ** 0.85
    elif window == "hamming":
        w = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(n) / (n - 1))
    else:  # rectangular
        w = np.ones(n)
    m = w[:, None] * m
    k = np.arange(fft_length // 2 + 1)
    angle = 2 * np.pi * np.outer(np.arange(n), k) / fft_length
    dft = np.concatenate([np.cos(angle), -np.sin(angle)], axis=1)  # (n, 2 * bins)
    return m.T @ dft  # frames (row vectors) @ this = DFT of the processed frame


@keras.saving.register_keras_serializable(package="kerasaudio")
class KaldiFbank(keras.layers.Layer):
    """Kaldi log mel filter bank of `(batch, samples)` audio, AST's front end.

    Computes what `torchaudio.compliance.kaldi.fbank(waveform, sample_frequency=16000,
    window_type="hanning", num_mel_bins=128)` does, and what transformers'
    `ASTFeatureExtractor` computes without torchaudio: frames of 25 ms every 10 ms that
    lie wholly inside the signal (Kaldi's `snip_edges`), each with its mean removed,
    pre-emphasis 0.97 (first sample replicated), a symmetric Hann window, zero-padded to
    a power-of-two FFT, power spectrum, Kaldi's mel filters (20 Hz to Nyquist, triangles
    in mel space), natural log floored at float32 epsilon. No dither (inference).
    Then, as `ASTFeatureExtractor`, the frames are cut or zero-padded to `max_length` and
    normalised as `(fbank - mean) / (2 * std)`.

    The per-frame steps before the power are linear, so they are one constant matrix:
    framing is reshapes and slices, the DFT a matrix product (TFLite builtins, any FFT
    length).

    Args:
        sample_rate: sampling rate in Hz.
        num_mel_bins: mel filters.
        frame_length_ms: frame length in milliseconds.
        frame_shift_ms: hop in milliseconds.
        preemphasis: pre-emphasis coefficient.
        remove_dc_offset: subtract each frame's mean.
        window_type: `"hanning"`, `"povey"`, `"hamming"` or `"rectangular"`.
        low_freq: lowest mel edge in Hz.
        high_freq: highest edge in Hz (`<= 0`: Nyquist plus this).
        max_length: frames out (cut or zero-padded before normalising); None keeps
            every frame.
        normalize: apply `(fbank - mean) / (2 * std)`.
        mean: normalisation mean (AudioSet's by default).
        std: normalisation standard deviation (AudioSet's by default).

    Returns (when called):
        `(batch, frames, num_mel_bins)` float32.

    Example:
    ```python
    import numpy as np, kerasaudio
    fbank = kerasaudio.layers.KaldiFbank()      # AST's: 16 kHz, 128 bins, 1024 frames
    fbank(np.zeros((1, 16000), "float32")).shape  # (1, 1024, 128)
    ```

    Reference:
        Povey et al., "The Kaldi Speech Recognition Toolkit", ASRU 2011; Gong, Chung,
        Glass, "AST: Audio Spectrogram Transformer", Interspeech 2021.
    """

    def __init__(self, *, sample_rate: int = 16000, num_mel_bins: int = 128,
                 frame_length_ms: float = 25.0, frame_shift_ms: float = 10.0,
                 preemphasis: float = 0.97, remove_dc_offset: bool = True,
                 window_type: str = "hanning", low_freq: float = 20.0,
                 high_freq: float = 0.0, max_length: int | None = 1024,
                 normalize: bool = True, mean: float = AUDIOSET_MEAN,
                 std: float = AUDIOSET_STD, **kwargs):
        super().__init__(**kwargs)
        if window_type not in ("hanning", "povey", "hamming", "rectangular"):
            raise InvalidOptionError(
                f"window_type={window_type!r}: use 'hanning', 'povey', 'hamming' or "
                "'rectangular'.")
        if max_length is not None and int(max_length) < 1:
            raise InvalidOptionError(f"max_length={max_length!r} must be >= 1 or None.")
        if normalize and not std > 0:
            raise InvalidOptionError(f"std={std!r} must be > 0.")
        self.sample_rate = check_int("sample_rate", sample_rate)
        self.num_mel_bins = check_int("num_mel_bins", num_mel_bins)
        self.frame_length_ms = check_float("frame_length_ms", frame_length_ms)
        self.frame_shift_ms = check_float("frame_shift_ms", frame_shift_ms)
        self.preemphasis = float(preemphasis)
        self.remove_dc_offset = bool(remove_dc_offset)
        self.window_type = window_type
        self.low_freq = float(low_freq)
        self.high_freq = float(high_freq)
        self.max_length = None if max_length is None else int(max_length)
        self.normalize = bool(normalize)
        self.mean = float(mean)
        self.std = float(std)
        self.frame_length = check_int(
            "frame_length", int(self.sample_rate * self.frame_length_ms * 0.001), minimum=0)
        self.frame_shift = int(self.sample_rate * self.frame_shift_ms * 0.001)
        if self.frame_shift < 1 or self.frame_length < self.frame_shift:
            raise InvalidOptionError(
                f"frame_length_ms={frame_length_ms}, frame_shift_ms={frame_shift_ms}: need "
                "0 < shift <= length.")
        self.fft_length = 2 ** math.ceil(math.log2(self.frame_length))
        self._dft = _frame_matrix(self.frame_length, self.fft_length, self.preemphasis,
                                  self.remove_dc_offset, window_type).astype("float32")
        self._mel = kaldi_mel_banks(
            num_mel_bins=self.num_mel_bins, fft_length=self.fft_length,
            sample_rate=self.sample_rate, low_freq=self.low_freq,
            high_freq=self.high_freq).astype("float32")

    def num_frames(self, samples: int) -> int:
        """Frames of `samples` of audio before `max_length` (0 if shorter than a frame)."""
        if samples < self.frame_length:
            return 0
        return 1 + (samples - self.frame_length) // self.frame_shift

    def check_samples(self, samples: int | None, *, name: str = "KaldiFbank") -> None:
        """Raise `InvalidOptionError` ('too short') when `samples` make no frame."""
        if samples is not None and samples < self.frame_length:
            raise InvalidOptionError(
                f"{name}: input too short: {samples} samples; one {self.frame_length_ms:g}"
                f" ms frame needs {self.frame_length} samples at {self.sample_rate} Hz.")

    def build(self, input_shape):
        self.check_samples(input_shape[-1])
        super().build(input_shape)

    def call(self, audio):
        x = ops.cast(audio, "float32")
        shift, length = self.frame_shift, self.frame_length
        blocks = -(-length // shift)  # hops per frame, rounded up
        samples = ops.shape(x)[-1]
        frames = (samples - length) // shift + 1
        # Frame i is the concatenation of hop-sized blocks i, i+1, ... cut to `length`.
        x = ops.pad(x, [[0, 0], [0, blocks * shift]])
        x = x[:, : (frames + blocks - 1) * shift]
        x = ops.reshape(x, (-1, frames + blocks - 1, shift))
        parts = [x[:, i: i + frames] for i in range(blocks)]
        framed = ops.concatenate(parts, axis=-1)[..., :length]
        spectrum = ops.matmul(framed, ops.convert_to_tensor(self._dft))
        bins = self.fft_length // 2 + 1
        power = ops.square(spectrum[..., :bins]) + ops.square(spectrum[..., bins:])
        mel = ops.matmul(power, ops.convert_to_tensor(self._mel))
        fbank = ops.log(ops.maximum(mel, float(np.finfo("float32").eps)))
        if self.max_length is not None:
            fbank = fbank[:, : self.max_length]
            missing = self.max_length - ops.shape(fbank)[1]
            fbank = ops.pad(fbank, [[0, 0], [0, missing], [0, 0]])
        if self.normalize:
            fbank = (fbank - self.mean) / (2.0 * self.std)
        return fbank

    def compute_output_shape(self, input_shape):
        samples = input_shape[-1]
        if self.max_length is not None:
            frames = self.max_length
        else:
            frames = None if samples is None else self.num_frames(samples)
        return (input_shape[0], frames, self.num_mel_bins)

    def get_config(self):
        return {**super().get_config(), "sample_rate": self.sample_rate,
                "num_mel_bins": self.num_mel_bins, "frame_length_ms": self.frame_length_ms,
                "frame_shift_ms": self.frame_shift_ms, "preemphasis": self.preemphasis,
                "remove_dc_offset": self.remove_dc_offset, "window_type": self.window_type,
                "low_freq": self.low_freq, "high_freq": self.high_freq,
                "max_length": self.max_length, "normalize": self.normalize,
                "mean": self.mean, "std": self.std}
