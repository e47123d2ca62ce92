"""Mel-scale layers: `MelSpectrogram` and `MFCC` (librosa conventions)."""

from __future__ import annotations

import warnings

import keras
import numpy as np

from kerasaudio import filters
from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers.base import check_float, check_int
from kerasaudio.layers.decibels import power_to_db
from kerasaudio.layers.stft import SpectralLayer

__all__ = ["MFCC", "MelSpectrogram"]

#: mel bands per block of the block-sparse projection (see `MelSpectrogram._project`).
_BLOCK = 16


@keras.saving.register_keras_serializable(package="kerasaudio")
class MelSpectrogram(SpectralLayer):
    """Mel spectrogram of `(batch, samples[, channels])` audio, as librosa's melspectrogram.

    `mel_basis @ |STFT|^power`, output `(batch, frames, n_mels)` (plus a trailing channel
    axis for multichannel input). The filter bank is `librosa.filters.mel`'s, computed
    once in float64: Slaney or HTK mel scale, Slaney (`norm="slaney"`) or no
    normalisation (`norm=None`). Matches float64 librosa within 1e-3 dB. The projection
    is block-sparse (each block of 16 bands multiplies only the FFT bins it covers),
    which skips the ~90% zeros of a 128-band bank.

    Args:
        sample_rate: sampling rate of the input, Hz.
        n_fft, hop_length, win_length, window, center, pad_mode, dft: as in `STFT`.
        power: exponent of the magnitude (2.0 power, 1.0 magnitude).
        n_mels: number of mel bands (<= `n_fft // 2 + 1`).
        fmin: lowest frequency (Hz).
        fmax: highest frequency (Hz, <= `sample_rate / 2`); default `sample_rate / 2`.
        htk: HTK mel scale instead of Slaney's.
        norm: `"slaney"`, None, or a positive number p (unit p-norm bands).
        symmetric: SpeechBrain's symmetric triangles (`kerasaudio.filters.mel`); with
            `window="hamming"`, `htk=True`, `norm=None` this is SpeechBrain's `Fbank`
            before its dB step.

    Example:
    ```python
    import numpy as np, kerasaudio
    mel = kerasaudio.layers.MelSpectrogram(sample_rate=44100, n_fft=2560,
                                           hop_length=347, n_mels=128, fmin=20)
    mel(np.zeros((4, 220500), "float32")).shape  # (4, 636, 128)
    ```

    Reference:
        Stevens, Volkmann & Newman, "A scale for the measurement of the psychological
        magnitude pitch", JASA 8, 1937; Slaney, "Auditory Toolbox", 1998.
    """

    def __init__(self, *, sample_rate: int = 22050, n_fft: int = 2048,
                 hop_length: int | None = None, win_length: int | None = None,
                 window="hann", center: bool = True, pad_mode: str = "constant",
                 power: float = 2.0, n_mels: int = 128, fmin: float = 0.0,
                 fmax: float | None = None, htk: bool = False,
                 norm: str | float | None = "slaney", symmetric: bool = False,
                 dft: str = "auto", **kwargs):
        super().__init__(n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                         window=window, center=center, pad_mode=pad_mode, dft=dft, **kwargs)
        self.sample_rate = check_int("sample_rate", sample_rate)
        self.power = check_float("power", power)
        self.n_mels = check_int("n_mels", n_mels)
        nyquist = self.sample_rate / 2.0
        self.fmin = check_float("fmin", fmin, positive=False, minimum=0.0)
        self.fmax = check_float("fmax", fmax, allow_none=True)
        fmax_value = nyquist if self.fmax is None else self.fmax
        if fmax_value > nyquist:
            raise InvalidOptionError(
                f"fmax={fmax_value} is above the Nyquist frequency sample_rate / 2 = "
                f"{nyquist} Hz; there is no content there."
            )
        if self.fmin >= fmax_value:
            raise InvalidOptionError(f"fmin={self.fmin} must be below fmax={fmax_value}.")
        if self.n_mels > self.n_bins:
            raise InvalidOptionError(
                f"n_mels={self.n_mels} is more than the {self.n_bins} FFT bins of "
                f"n_fft={self.n_fft}: most bands would be empty. Lower n_mels or raise n_fft."
            )
        self.htk = bool(htk)
        if norm != "slaney" and norm is not None:  # a p-norm: a finite p > 0
            if isinstance(norm, str):
                raise InvalidOptionError(f"norm={norm!r}: use 'slaney', None or a positive p.")
            norm = check_float("norm", norm)
        self.norm = norm
        self.symmetric = bool(symmetric)
        weights = filters.mel(sample_rate=self.sample_rate, n_fft=self.n_fft,
                              n_mels=self.n_mels, fmin=self.fmin, fmax=fmax_value,
                              htk=self.htk, norm=norm, symmetric=self.symmetric)
        empty = int(np.sum(weights.max(axis=1) == 0))
        if empty:
            warnings.warn(
                f"{empty} of {self.n_mels} mel bands are empty (no FFT bin falls inside "
                f"them) with n_fft={self.n_fft}, sample_rate={self.sample_rate}; those "
                "bands are always zero. Raise n_fft or lower n_mels.",
                stacklevel=2,
            )
        self.mel_weights = weights
        self._blocks = []
        for start in range(0, self.n_mels, _BLOCK):
            block = weights[start : start + _BLOCK]
            nonzero = np.flatnonzero(block.any(axis=0))
            lo, hi = (int(nonzero[0]), int(nonzero[-1]) + 1) if nonzero.size else (0, 1)
            self._blocks.append((lo, hi, block[:, lo:hi].T.astype(np.float32)))

    def _project(self, spectrum):
        """`spectrum @ mel_weights.T`, one small matmul per block of bands."""
        ops = self.backend
        parts = [ops.numpy.matmul(spectrum[..., lo:hi], ops.convert_to_tensor(w))
                 for lo, hi, w in self._blocks]
        return parts[0] if len(parts) == 1 else ops.numpy.concatenate(parts, axis=-1)

    def _mel(self, x):
        ops = self.backend
        spectrum = self._power(x, grouped=self.power == 2.0)
        if self.power != 2.0:
            spectrum = ops.numpy.power(spectrum, self.power / 2.0)
        return self._project(spectrum)

    def _compute(self, x):
        return self._mel(x)

    def _output_shape(self, input_shape):
        return (input_shape[0], self.n_frames(input_shape[1]), self.n_mels)

    def get_config(self):
        return {**super().get_config(), "sample_rate": self.sample_rate,
                "power": self.power, "n_mels": self.n_mels, "fmin": self.fmin,
                "fmax": self.fmax, "htk": self.htk, "norm": self.norm,
                "symmetric": self.symmetric}


@keras.saving.register_keras_serializable(package="kerasaudio")
class MFCC(MelSpectrogram):
    """Mel-frequency cepstral coefficients, like `librosa.feature.mfcc`.

    DCT-II (orthonormal) over the bands of the dB mel spectrogram
    (`power_to_db(melspectrogram, ref=1.0, amin=1e-10, top_db=top_db)`, the top-dB floor
    per example), keeping the first `n_mfcc` coefficients: output `(batch, frames,
    n_mfcc)`. Optional sinusoidal liftering as librosa's `lifter`.

    Args:
        sample_rate: sampling rate of the input, Hz.
        n_mfcc: number of coefficients (<= `n_mels`).
        lifter: cepstral liftering coefficient (0: none).
        top_db: dynamic range of the dB mel spectrogram (None: no floor).
        n_fft, hop_length, win_length, window, center, pad_mode, power: as in
            `MelSpectrogram`.
        n_mels, fmin, fmax, htk, norm, dft: as in `MelSpectrogram`.

    Example:
    ```python
    import numpy as np, kerasaudio
    mfcc = kerasaudio.layers.MFCC(sample_rate=8000, n_fft=512, n_mels=40, n_mfcc=13)
    mfcc(np.random.randn(2, 8000).astype("float32")).shape  # (2, 16, 13)
    ```

    Reference:
        Davis & Mermelstein, "Comparison of parametric representations for monosyllabic
        word recognition in continuously spoken sentences", IEEE TASSP 28(4), 1980.
    """

    def __init__(self, *, sample_rate: int = 22050, n_mfcc: int = 20, lifter: float = 0.0,
                 top_db: float | None = 80.0, **kwargs):
        super().__init__(sample_rate=sample_rate, **kwargs)
        self.n_mfcc = check_int("n_mfcc", n_mfcc)
        if self.n_mfcc > self.n_mels:
            raise InvalidOptionError(
                f"n_mfcc={self.n_mfcc} must be <= n_mels={self.n_mels}."
            )
        self.lifter = check_float("lifter", lifter, positive=False, minimum=0.0)
        self.top_db = check_float("top_db", top_db, allow_none=True)
        basis = filters.dct(self.n_mfcc, self.n_mels)
        if self.lifter > 0:
            k = np.arange(1, self.n_mfcc + 1)
            basis = basis * (1.0 + (self.lifter / 2.0) * np.sin(np.pi * k / self.lifter))[:, None]
        self._dct = basis.T.astype(np.float32)

    def _compute(self, x):
        ops = self.backend
        mel = self._mel(x)
        log_mel = power_to_db(ops, mel, ref=1.0, amin=1e-10, top_db=self.top_db,
                              axes=(1, 2))
        return ops.numpy.matmul(log_mel, ops.convert_to_tensor(self._dct))

    def _output_shape(self, input_shape):
        return (input_shape[0], self.n_frames(input_shape[1]), self.n_mfcc)

    def get_config(self):
        return {**super().get_config(), "n_mfcc": self.n_mfcc, "lifter": self.lifter,
                "top_db": self.top_db}
