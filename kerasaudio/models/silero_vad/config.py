"""Silero VAD's two networks (16 kHz and 8 kHz): chunk sizes and front-end shapes.

Each network reads one chunk of samples together with the last `context` samples of the
previous chunk, reflect-pads the right end by `pad`, takes a magnitude spectrum with a
learned Fourier basis of `n_fft` taps and hop `hop` (so every chunk gives 4 frames), runs
four convolutions and carries an LSTM state of `UNITS` from chunk to chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

from kerasaudio.errors import InvalidOptionError

__all__ = ["CONFIGS", "UNITS", "SileroConfig", "config_for"]

#: LSTM units (the recurrent state is `(h, c)` of this size each).
UNITS = 128


@dataclass(frozen=True)
class SileroConfig:
    """One network's geometry.

    Attributes:
        sample_rate: Hz.
        chunk: samples per chunk (one probability each).
        context: samples of the previous chunk read with each chunk.
        n_fft: taps of the Fourier basis (the convolution's kernel size).
        hop: the basis' stride.
        pad: samples reflect-padded on the right of `context + chunk`.
        prefix: the TorchScript module holding this network's tensors.
    """

    sample_rate: int
    chunk: int
    context: int
    n_fft: int
    hop: int
    pad: int
    prefix: str

    @property
    def bins(self) -> int:
        """Frequency bins of the magnitude spectrum (`n_fft // 2 + 1`)."""
        return self.n_fft // 2 + 1

    @property
    def state_size(self) -> int:
        """Length of the streaming state vector: LSTM `h`, LSTM `c`, then the context."""
        return 2 * UNITS + self.context


CONFIGS = {
    16000: SileroConfig(16000, chunk=512, context=64, n_fft=256, hop=128, pad=64,
                        prefix="_model."),
    8000: SileroConfig(8000, chunk=256, context=32, n_fft=128, hop=64, pad=32,
                       prefix="_model_8k."),
}


def config_for(sample_rate: int) -> SileroConfig:
    """The network for `sample_rate` (8000 or 16000).

    Raises:
        InvalidOptionError: another rate.
    """
    try:
        return CONFIGS[int(sample_rate)]
    except (KeyError, TypeError, ValueError):
        raise InvalidOptionError(
            f"Silero VAD has networks for 8000 and 16000 Hz; got sample_rate="
            f"{sample_rate!r} (resample the audio first).") from None
