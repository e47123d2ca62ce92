"""Shared fixtures: real FSDD recordings (the bundled sample) and reference helpers."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
import soundfile as sf


@pytest.fixture(scope="session")
def fsdd_sample():
    """The bundled FSDD sample as a DataFrame (path, digit, speaker, take, split)."""
    from kerasaudio.datasets import fsdd

    return fsdd.load(sample=True)


@pytest.fixture(scope="session")
def clips(fsdd_sample):
    """Three real 8 kHz clips as float32 arrays, longest first (different speakers)."""
    audio = []
    for speaker in ("jackson", "nicolas", "george"):
        paths = fsdd_sample[fsdd_sample.speaker == speaker].path
        longest = max(paths, key=lambda p: sf.info(p).frames)
        audio.append(sf.read(longest, dtype="float32")[0])
    return sorted(audio, key=len, reverse=True)


@pytest.fixture(scope="session")
def clip(clips):
    """The longest of `clips` (8 kHz, float32)."""
    return clips[0]


def db_error(ours: np.ndarray, ref_db: np.ndarray, *, range_db: float = 80.0) -> float:
    """Largest |difference| in dB over the bins within `range_db` of the reference maximum."""
    mask = ref_db > ref_db.max() - range_db
    return float(np.abs(np.asarray(ours, np.float64) - ref_db)[mask].max())
