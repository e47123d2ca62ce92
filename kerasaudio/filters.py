"""Constant matrices for the front end: windows, mel filter banks, DCT and DFT bases.

These are computed once in NumPy (float64, cast by the caller) when a layer is built and
then used as constants in the graph, which is what makes the layers match librosa exactly:
the same filter bank, not a re-derivation in float32. Conventions follow `librosa.filters`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.signal

from kerasaudio.errors import InvalidOptionError

__all__ = [
    "dct",
    "dft_kernel",
    "get_window",
    "hz_to_mel",
    "mel",
    "mel_frequencies",
    "mel_to_hz",
]

WindowSpec = str | tuple | Sequence[float] | np.ndarray

# Slaney's mel scale: linear (200/3 Hz per mel) below 1 kHz, logarithmic above.
_SLANEY_HZ_PER_MEL = 200.0 / 3
_SLANEY_BREAK_HZ = 1000.0
_SLANEY_BREAK_MEL = _SLANEY_BREAK_HZ / _SLANEY_HZ_PER_MEL
_SLANEY_LOG_STEP = np.log(6.4) / 27.0


def get_window(window: WindowSpec, win_length: int, *, n_fft: int | None = None) -> np.ndarray:
    """A periodic analysis window, zero-padded (centred) to `n_fft` like `librosa.stft`.

    Args:
        window: a `scipy.signal.get_window` name or tuple (`"hann"`, `("kaiser", 8.0)`),
            or the window values themselves (length `win_length`).
        win_length: window length in samples.
        n_fft: pad the window with zeros on both sides to this length (default: no padding).

    Returns:
        float64 array of length `n_fft` (or `win_length`).

    Example:
    ```python
    w = kerasaudio.filters.get_window("hann", 400, n_fft=512)  # 56 zeros each side
    ```
    """
    n_fft = win_length if n_fft is None else n_fft
    if win_length > n_fft:
        raise InvalidOptionError(f"win_length={win_length} must be <= n_fft={n_fft}.")
    if isinstance(window, (str, tuple)):
        try:
            w = scipy.signal.get_window(window, win_length, fftbins=True)
        except (ValueError, TypeError) as exc:
            raise InvalidOptionError(
                f"window={window!r} is not a window scipy knows: {exc}"
            ) from None
    else:
        w = np.asarray(window, dtype=np.float64)
        if w.shape != (win_length,):
            raise InvalidOptionError(
                f"window has shape {w.shape}; an explicit window needs shape ({win_length},)."
            )
    lpad = (n_fft - win_length) // 2
    return np.pad(w.astype(np.float64), (lpad, n_fft - win_length - lpad))


def hz_to_mel(frequencies, *, htk: bool = False):
    """Hz to mels: HTK formula, or Slaney's (linear below 1 kHz, log above), as librosa.

    Args:
        frequencies: a frequency or an array of frequencies, Hz.
        htk: the HTK formula `2595 log10(1 + f / 700)` instead of Slaney's scale.

    Returns:
        The mels, a float64 array (0-d for a scalar input).

    Example:
    ```python
    kerasaudio.filters.hz_to_mel(1000.0)  # 15.0 (Slaney)
    ```
    """
    f = np.asanyarray(frequencies, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    linear = f / _SLANEY_HZ_PER_MEL
    log = _SLANEY_BREAK_MEL + np.log(np.maximum(f, 1e-300) / _SLANEY_BREAK_HZ) / _SLANEY_LOG_STEP
    return np.where(f >= _SLANEY_BREAK_HZ, log, linear)


def mel_to_hz(mels, *, htk: bool = False):
    """Mels to Hz, the inverse of `hz_to_mel`.

    Args:
        mels: a mel value or an array of them.
        htk: the HTK formula instead of Slaney's scale.

    Returns:
        The frequencies in Hz, a float64 array (0-d for a scalar input).

    Example:
    ```python
    kerasaudio.filters.mel_to_hz(15.0)  # 1000.0 (Slaney)
    ```
    """
    m = np.asanyarray(mels, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    log = _SLANEY_BREAK_HZ * np.exp(_SLANEY_LOG_STEP * (m - _SLANEY_BREAK_MEL))
    return np.where(m >= _SLANEY_BREAK_MEL, log, _SLANEY_HZ_PER_MEL * m)


def mel_frequencies(n_mels: int = 128, *, fmin: float = 0.0, fmax: float = 11025.0,
                    htk: bool = False) -> np.ndarray:
    """`n_mels` frequencies (Hz) evenly spaced on the mel scale from `fmin` to `fmax`.

    Args:
        n_mels: number of frequencies.
        fmin: the first frequency, Hz.
        fmax: the last frequency, Hz.
        htk: the HTK mel scale instead of Slaney's.

    Returns:
        float64 array `(n_mels,)`, as `librosa.mel_frequencies`.

    Example:
    ```python
    kerasaudio.filters.mel_frequencies(40, fmax=4000.0)
    ```
    """
    mels = np.linspace(hz_to_mel(fmin, htk=htk), hz_to_mel(fmax, htk=htk), n_mels)
    return mel_to_hz(mels, htk=htk)


def mel(*, sample_rate: int, n_fft: int, n_mels: int = 128, fmin: float = 0.0,
        fmax: float | None = None, htk: bool = False,
        norm: str | float | None = "slaney", symmetric: bool = False) -> np.ndarray:
    """Triangular mel filter bank, shape `(n_mels, n_fft // 2 + 1)`, as `librosa.filters.mel`.

    With `symmetric=True` the triangles are SpeechBrain's (`Filterbank(filter_shape=
    "triangular")`): band k is centred on mel edge k + 1 and falls to zero at the same
    distance in Hz on both sides, the distance from its centre to the edge below it (the
    librosa triangle's left half, mirrored). Its bands overlap their upper neighbours
    less than librosa's do.

    Args:
        sample_rate: sampling rate in Hz.
        n_fft: FFT size.
        n_mels: number of mel bands.
        fmin: lowest band edge (Hz).
        fmax: highest band edge (Hz); default `sample_rate / 2`.
        htk: HTK mel scale instead of Slaney's.
        norm: `"slaney"` (each triangle divided by its width in Hz: constant energy per
            band), `None` (peak 1), or a number p (unit p-norm per band).
        symmetric: SpeechBrain's symmetric triangles (see above) instead of librosa's.

    Returns:
        float64 array `(n_mels, n_fft // 2 + 1)`.

    Example:
    ```python
    fb = kerasaudio.filters.mel(sample_rate=8000, n_fft=512, n_mels=40)
    # SpeechBrain's Fbank(n_mels=80) filters at 16 kHz (HTK scale, peak 1):
    sb = kerasaudio.filters.mel(sample_rate=16000, n_fft=400, n_mels=80, htk=True,
                                norm=None, symmetric=True)
    ```

    Reference:
        Ravanelli et al., "SpeechBrain: A General-Purpose Speech Toolkit", arXiv:2106.04624,
        2021 (`speechbrain.processing.features.Filterbank`), for `symmetric=True`.
    """
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    fftfreqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax, htk=htk)
    widths = np.diff(edges)
    ramps = edges[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    if symmetric:  # the right slope mirrors the left one around the centre
        upper = ramps[1:-1] / widths[:-1, None] + 1.0
        spans = 2.0 * widths[:-1]
    else:
        upper = ramps[2:] / widths[1:, None]
        spans = edges[2 : n_mels + 2] - edges[:n_mels]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    if norm == "slaney":
        weights *= (2.0 / spans)[:, None]
    elif norm is not None:
        if isinstance(norm, str) or not np.isfinite(float(norm)) or float(norm) <= 0:
            raise InvalidOptionError(f"norm={norm!r}: use 'slaney', None or a positive p.")
        length = np.sum(np.abs(weights) ** float(norm), axis=1, keepdims=True) ** (1 / float(norm))
        weights = np.divide(weights, length, out=np.zeros_like(weights), where=length > 0)
    return weights


def dct(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II matrix `(n_out, n_in)`.

    `dct(k, n) @ x` equals `scipy.fft.dct(x, norm="ortho")[:k]`.

    Args:
        n_out: number of coefficients kept (rows).
        n_in: length of the transformed vectors (columns).

    Returns:
        float64 array `(n_out, n_in)` with orthonormal rows.

    Example:
    ```python
    D = kerasaudio.filters.dct(20, 128)  # MFCCs from 128 log-mel bands
    ```
    """
    n = np.arange(n_in)
    k = np.arange(n_out)[:, None]
    basis = np.cos(np.pi / n_in * (n + 0.5) * k) * np.sqrt(2.0 / n_in)
    basis[0] /= np.sqrt(2.0)
    return basis


def dft_kernel(window: np.ndarray) -> np.ndarray:
    """Windowed real-DFT basis `(n_fft, 2 * (n_fft // 2 + 1))`: `[cos | -sin]` columns.

    `frame @ dft_kernel(w)` gives the real parts then the imaginary parts of
    `numpy.fft.rfft(frame * w)`. Used as a strided convolution kernel where an FFT op is
    not available (TFLite's RFFT2D takes powers of two only).

    Args:
        window: the window, zero-padded to `n_fft` samples (`get_window(...)`).

    Returns:
        float64 array `(n_fft, 2 * (n_fft // 2 + 1))`.

    Example:
    ```python
    K = kerasaudio.filters.dft_kernel(kerasaudio.filters.get_window("hann", 400))
    ```
    """
    window = np.asarray(window, dtype=np.float64)
    n_fft = window.shape[0]
    n = np.arange(n_fft)[:, None]
    k = np.arange(n_fft // 2 + 1)[None, :]
    # Reduce n*k modulo n_fft in integers so the angle stays exact for large n_fft.
    angle = 2.0 * np.pi * ((n * k) % n_fft) / n_fft
    return np.concatenate([np.cos(angle), -np.sin(angle)], axis=1) * window[:, None]
