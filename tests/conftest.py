"""Shared fixtures: real FSDD recordings (the bundled sample) and reference helpers.

Also the skips for what a test needs beyond the `test` extra, always with the reason (see
`pytest -ra`): `@pytest.mark.requires("mediapipe")` (Python modules, installed by the
`test-heavy` extra) and `@pytest.mark.synth` (the speech synthesisers eSpeak NG and Flite,
installed by `make synthesizers`).

`local_http_server` starts loopback HTTP servers (the only network tests use).
"""

from __future__ import annotations

import http.server
import importlib.util
import os
import shutil
import threading
from pathlib import Path

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


@pytest.fixture(scope="module")
def local_http_server():
    """`start(handler, root)`: a threaded HTTP server on 127.0.0.1 serving with `handler`
    (a `BaseHTTPRequestHandler` class with a `do_GET`) for the test module.

    The server logs nothing and appends the path of every GET to `requests` before the
    handler's `do_GET` runs. It has `root` (a `Path`, for the handler), `base` (its
    URL), `requests` and `sent` (a list and a dict recorded in under `lock`), `done` (a
    semaphore the handler may release when it finishes), `release` (an event set when
    the module ends, so a handler that waits on it returns) and `reset()` (empties
    `requests` and `sent`, drains `done`, returns `requests`: call it when a test
    starts). Every server started is shut down when the module ends.
    """
    servers = []

    def start(handler, root) -> http.server.ThreadingHTTPServer:
        class Recording(handler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                with self.server.lock:
                    self.server.requests.append(self.path)
                handler.do_GET(self)

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recording)
        httpd.root = Path(root)
        httpd.requests, httpd.sent = [], {}
        httpd.lock = threading.Lock()
        httpd.done = threading.Semaphore(0)
        httpd.release = threading.Event()
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"

        def reset() -> list:
            with httpd.lock:
                httpd.requests.clear()
                httpd.sent.clear()
            while httpd.done.acquire(blocking=False):
                pass
            return httpd.requests

        httpd.reset = reset
        servers.append(httpd)
        return httpd

    yield start
    for httpd in servers:
        httpd.release.set()
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def requests(server):
    """The paths the test module's `server` (from `local_http_server`) is asked for during
    this test."""
    return server.reset()


@pytest.fixture
def clean_weights_env(monkeypatch):
    """None of the weights layer's environment variables (`kerasaudio.weights.env`: cache,
    manifest, mirror, offline mode, download limits, progress) is set during the test."""
    from kerasaudio.weights import env

    for key, name in vars(env).items():
        if key.startswith("ENV_") and isinstance(name, str):
            monkeypatch.delenv(name, raising=False)


def db_error(ours: np.ndarray, ref_db: np.ndarray, *, range_db: float = 80.0) -> float:
    """Largest |difference| in dB over the bins within `range_db` of the reference maximum."""
    mask = ref_db > ref_db.max() - range_db
    return float(np.abs(np.asarray(ours, np.float64) - ref_db)[mask].max())
