"""Shared fixtures: real FSDD recordings (the bundled sample) and reference helpers.

Also the skips for what a test needs beyond the `test` extra, always with the reason (see
`pytest -ra`): `@pytest.mark.requires("mediapipe")` (Python modules, installed by the
`test-heavy` extra) and `@pytest.mark.synth` (the speech synthesisers eSpeak NG and Flite,
installed by `make synthesizers`).
"""

from __future__ import annotations

import importlib.util
import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
import soundfile as sf

SYNTHESIZERS = ("espeak-ng", "flite")


def _missing_modules(names) -> list[str]:
    missing = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:  # a missing parent package
            found = False
        if not found:
            missing.append(name)
    return missing


def pytest_collection_modifyitems(config, items):
    tools = [tool for tool in SYNTHESIZERS if shutil.which(tool) is None]
    for item in items:
        modules = sorted({name for mark in item.iter_markers("requires") for name in mark.args})
        missing = _missing_modules(modules)
        if missing:
            item.add_marker(pytest.mark.skip(
                reason=f"needs {', '.join(missing)} (pip install -e '.[test-heavy]', or run "
                "its tier: make test-export / make test-parity)"))
        if tools and item.get_closest_marker("synth"):
            item.add_marker(pytest.mark.skip(
                reason=f"needs the speech synthesisers {' and '.join(tools)} "
                "(make synthesizers, or make test-synth)"))


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
