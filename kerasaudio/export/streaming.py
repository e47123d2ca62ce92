"""Streaming voice-activity TFLite files: Silero VAD's one-chunk model, verified in LiteRT.

The file takes one chunk and the state vector and returns the speech probability and the
next state (`kerasaudio.models.silero_vad.silero_vad_streaming`, batch 1, builtin ops).
Before it is written, LiteRT runs it chunk by chunk over a verification recording and its
probabilities are compared with the Keras whole-recording model's: a file that does not
follow the Keras model within the mode's tolerance is not written.

How an app feeds it: keep a float32 state vector of `state_size` zeros; for every
`chunk_size` new samples (mono, at the file's rate, float in [-1, 1]), set the inputs
`chunk` `(1, chunk_size)` and `state` `(1, state_size)`, invoke, read the probability and
copy the `state` output into the state vector; zero it to start a new stream.
`kerasaudio.runtime.StreamingVAD` does exactly this in Python.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kerasaudio.errors import InvalidOptionError, VerificationError

__all__ = ["MIN_AGREEMENT", "STREAMING_TOLERANCE", "StreamingReport", "streaming_vad_tflite"]

#: Largest accepted |LiteRT - Keras| probability difference per mode over the
#: verification recording. A float32 file follows Keras to rounding; float16 and int8
#: weights (`"dynamic"`) move probabilities away from 0 and 1 and near the threshold, so
#: those files are also held to `MIN_AGREEMENT`. Full int8 (activations too) is not
#: offered: the state vector carries both the LSTM state and raw samples, whose ranges
#: one int8 scale cannot cover, and such a file does not follow the Keras model.
STREAMING_TOLERANCE = {None: 1e-4, "float16": 0.05, "dynamic": 0.4}
#: Least fraction of chunks a file must put on the same side of 0.5 as Keras.
MIN_AGREEMENT = 0.98


@dataclass(frozen=True)
class StreamingReport:
    """What `streaming_vad_tflite` wrote and how it verified.

    Attributes:
        path: the file written.
        quantization: the mode (None for float32).
        sample_rate: Hz.
        chunk_size: samples per call.
        state_size: floats in the state vector.
        size_bytes: the file's size.
        max_difference: largest |LiteRT - Keras| probability over the recording.
        agreement: fraction of chunks on the same side of 0.5 in both.
        tolerance: the accepted `max_difference`.

    Example:
    ```python
    import tempfile
    audio = np.zeros(8000, "float32")   # one second of silence at 8 kHz
    report = kerasaudio.export.streaming_vad_tflite(
        tempfile.mkdtemp() + "/vad.tflite", sample_rate=8000, audio=audio)
    report.chunk_size, report.state_size, report.max_difference < 1e-4  # (256, 288, True)
    ```
    """

    path: str
    quantization: str | None
    sample_rate: int
    chunk_size: int
    state_size: int
    size_bytes: int
    max_difference: float
    agreement: float
    tolerance: float


def _verification_audio(sample_rate: int) -> np.ndarray:
    """Speech and silence: the bundled FSDD sample clips joined with 0.5 s gaps, at
    `sample_rate`."""
    from kerasaudio.audio_io import load_audio
    from kerasaudio.datasets import fsdd

    paths = list(fsdd.load(sample=True).path[:12])
    parts = []
    for path in paths:
        audio, _ = load_audio(path, sample_rate=sample_rate)
        parts += [np.zeros(sample_rate // 2, np.float32), np.asarray(audio, np.float32)]
    return np.concatenate(parts)


def streaming_vad_tflite(path: str | os.PathLike, *, sample_rate: int = 16000,
                         quantization: str | None = None,
                         audio: np.ndarray | None = None) -> StreamingReport:
    """Write Silero VAD's streaming model as a TFLite file verified in LiteRT.

    Args:
        path: the `.tflite` file to write (replaced atomically).
        sample_rate: 16000 or 8000.
        quantization: None (float32), `"float16"` or `"dynamic"` (int8 weights, float
            activations).
        audio: the verification recording at `sample_rate`; default:
            the bundled FSDD clips joined with silences.

    Returns:
        A `StreamingReport`.

    Raises:
        VerificationError: LiteRT's probabilities differ from Keras' by more than
            `STREAMING_TOLERANCE[quantization]`, or agree on fewer than `MIN_AGREEMENT`
            of the chunks (nothing is written).
        InvalidOptionError: an unknown mode or rate.

    Example:
    ```python
    import tempfile
    report = kerasaudio.export.streaming_vad_tflite(tempfile.mkdtemp() + "/vad.tflite")
    report.max_difference, report.size_bytes
    ```
    """
    from kerasaudio.export.convert import convert
    from kerasaudio.models.silero_vad import config_for, silero_vad, silero_vad_streaming
    from kerasaudio.runtime import StreamingVAD

    if quantization not in STREAMING_TOLERANCE:
        raise InvalidOptionError(f"quantization={quantization!r}; streaming files take "
                                 f"{sorted(STREAMING_TOLERANCE, key=str)}.")
    cfg = config_for(sample_rate)
    audio = _verification_audio(cfg.sample_rate) if audio is None else \
        np.asarray(audio, np.float32).reshape(-1)
    expected = np.asarray(silero_vad(sample_rate=cfg.sample_rate).predict_on_batch(audio[None]))[0]
    step = silero_vad_streaming(sample_rate=cfg.sample_rate, batch_size=1)
    flatbuffer = convert(step, batch_size=1, quantization=quantization, float_frontend=False)
    runner = StreamingVAD(flatbuffer)
    got = runner.probabilities(audio)
    difference = float(np.max(np.abs(got - expected)))
    agreement = float(np.mean((got >= 0.5) == (expected >= 0.5)))
    path = Path(path)
    report = StreamingReport(str(path), quantization, cfg.sample_rate, cfg.chunk,
                             cfg.state_size, len(flatbuffer), difference, agreement,
                             STREAMING_TOLERANCE[quantization])
    if not (difference <= report.tolerance and agreement >= MIN_AGREEMENT):
        raise VerificationError(
            f"streaming VAD ({quantization or 'float32'}): LiteRT differs from Keras by "
            f"{difference:.3g} (tolerance {report.tolerance}), agreeing on {agreement:.1%} "
            f"of {len(got)} chunks (at least {MIN_AGREEMENT:.0%}); not written.",
            report)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(flatbuffer)
    os.replace(temporary, path)
    return report
