"""`windows`: cut a clip into fixed-length windows, as windowed inference reads it."""

from __future__ import annotations

import numpy as np

from kerasaudio.errors import InvalidOptionError

__all__ = ["windows"]

def windows(audio: np.ndarray, length: int, *, hop: int | None = None,
            ) -> tuple[np.ndarray, np.ndarray]:
    """Cut a clip into fixed-length windows: `(start_samples, windows)`.

    A clip of at most `length` samples gives one window, centred and zero-padded (as
    `kerasaudio.data.fix_length(mode="center")`); a longer one gives windows every `hop`
    samples (default `length // 2`), the last one zero-padded at the end.

    Example:
    ```python
    starts, frames = kerasaudio.audio_io.windows(np.zeros(20000, "float32"), 8000)
    starts  # array([    0,  4000,  8000, 12000])
    ```
    """
    audio = np.asarray(audio, np.float32)
    hop = length // 2 if hop is None else int(hop)
    if hop < 1:
        raise InvalidOptionError(f"hop={hop} must be >= 1 sample.")
    if len(audio) <= length:
        total = length - len(audio)
        return np.zeros(1, np.int64), np.pad(audio, (total // 2, total - total // 2))[None]
    count = 1 + int(np.ceil((len(audio) - length) / hop))
    audio = np.pad(audio, (0, (count - 1) * hop + length - len(audio)))
    starts = np.arange(count) * hop
    return starts, np.stack([audio[s:s + length] for s in starts])
