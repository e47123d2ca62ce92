"""`resample`: soxr "HQ" resampling with librosa's length rule."""

from __future__ import annotations

import numpy as np
import soxr

__all__ = ["resample"]

def resample(audio: np.ndarray, *, sample_rate: int,
             target_sample_rate: int) -> np.ndarray:
    """Resample along axis 0 (samples) with soxr's "HQ" quality, as `librosa.resample`.

    The length is fixed to `ceil(samples * target_sample_rate / sample_rate)` (cropped or
    zero-padded at the end), librosa's rule; a `(samples, channels)` array is resampled channel by
    channel.

    Args:
        audio: `(samples,)` or `(samples, channels)` samples.
        sample_rate: their rate, Hz.
        target_sample_rate: the rate wanted, Hz.

    Returns:
        float32 samples, C-contiguous.

    Example:
    ```python
    kerasaudio.audio_io.resample(np.zeros(8000, "float32"), sample_rate=8000,
                                target_sample_rate=16000).shape  # (16000,)
    ```

    Reference:
        librosa.resample(res_type="soxr_hq").
    """
    n_out = int(np.ceil(audio.shape[0] * (float(target_sample_rate) / sample_rate)))
    if audio.ndim == 1:
        out = soxr.resample(audio, sample_rate, target_sample_rate, quality="soxr_hq")
    else:  # one channel at a time, as librosa does
        out = np.stack(
            [
                soxr.resample(np.ascontiguousarray(audio[:, c]), sample_rate, target_sample_rate,
                              quality="soxr_hq")
                for c in range(audio.shape[1])
            ],
            axis=1,
        )
    if out.shape[0] > n_out:
        out = out[:n_out]
    elif out.shape[0] < n_out:
        pad = [(0, n_out - out.shape[0])] + [(0, 0)] * (out.ndim - 1)
        out = np.pad(out, pad)
    return np.ascontiguousarray(out, dtype=np.float32)
