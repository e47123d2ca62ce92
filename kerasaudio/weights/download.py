"""Verified downloads: atomic, retried, locked between processes, with a progress bar.

A download streams into a temporary file in the destination's directory
(`.<file>.<random>.part`), checks the byte count and the sha256, fsyncs, and only then
renames it to its name with `os.replace`, so a directory never holds a partial or
unverified file under the name looked for. Connection errors, timeouts, truncated bodies
and HTTP 5xx/408/429 are retried with exponential back-off; HTTP 404 (and other 4xx) and
sha256 mismatches are not. Processes downloading the same file take an `fcntl` lock
(`<dir>/.locks/<file>.lock`) so one downloads and the others then use its result; where
locking is unavailable each process still writes its own temporary file, verifies it and
renames atomically. Only the standard library's `urllib` is used.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from kerasaudio._version import __version__
from kerasaudio.errors import ChecksumError, DownloadError
from kerasaudio.weights.env import ENV_PROGRESS, ENV_RETRIES, ENV_TIMEOUT, env_flag, env_number

__all__ = ["DEFAULT_BACKOFF", "DEFAULT_RETRIES", "DEFAULT_TIMEOUT", "download_file",
           "file_sha256"]

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 1.0
CHUNK = 1 << 16


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file, as 64 lower-case hex digits (read in 1 MB blocks).

    Example:
    ```python
    kerasaudio.weights.file_sha256("m5_fsdd_digits.weights.h5")  # '3f2a...'
    ```
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _Progress:
    """A dependency-free progress bar on stderr, redrawn at most 10 times a second."""

    def __init__(self, label: str, total: int | None, enabled: bool):
        self.label, self.total, self.enabled = label, total, enabled
        self.shown = 0.0

    def update(self, done: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self.shown < 0.1):
            return
        self.shown = now
        if self.total:
            fraction = min(done / self.total, 1.0)
            bar = "#" * int(30 * fraction)
            text = (f"\r{self.label} [{bar:<30}] {100 * fraction:5.1f}% "
                    f"{done / 1e6:.2f}/{self.total / 1e6:.2f} MB")
        else:
            text = f"\r{self.label} {done / 1e6:.2f} MB"
        sys.stderr.write(text)
        sys.stderr.flush()

    def close(self, done: int) -> None:
        if self.enabled:
            self.update(done, force=True)
            sys.stderr.write("\n")
            sys.stderr.flush()


def _show_progress(progress: bool | None) -> bool:
    if progress is not None:
        return bool(progress)
    flag = env_flag(ENV_PROGRESS)
    if flag is not None:
        return flag
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


@contextlib.contextmanager
def _download_lock(dest: Path):
    """An exclusive `fcntl.flock` per destination file (no-op where unavailable)."""
    try:
        import fcntl
    except ImportError:  # Windows: temp file + verify + os.replace still keep it safe
        yield
        return
    lock_dir = dest.parent / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{dest.name}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError:  # e.g. ENOLCK on some network file systems
            yield
            return
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _network_error(url: str, exc: BaseException) -> DownloadError:
    if isinstance(exc, urllib.error.HTTPError):
        code = exc.code
        retry = code >= 500 or code in (408, 429)
        return DownloadError(url, f"HTTP {code} {exc.reason}", status=code, retryable=retry)
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        return DownloadError(url, f"timed out ({reason or 'no data'})", retryable=True)
    return DownloadError(url, f"connection error: {type(reason).__name__}: {reason}",
                         retryable=True)


def _download_once(url: str, dest: Path, *, sha256: str, size: int | None, timeout: float,
                   progress: bool) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": f"kerasaudio/{__version__}"})
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            digest = hashlib.sha256()
            received = 0
            try:
                response = urllib.request.urlopen(request, timeout=timeout)
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                raise _network_error(url, exc) from None
            with response:
                length = response.headers.get("Content-Length")
                length = int(length) if length and length.isdigit() else None
                bar = _Progress(f"Downloading {dest.name}", length or size, progress)
                try:
                    while True:
                        try:
                            chunk = response.read(CHUNK)
                        except (http.client.HTTPException, OSError) as exc:
                            raise _network_error(url, exc) from None
                        if not chunk:
                            break
                        out.write(chunk)  # a local write error propagates as it is
                        digest.update(chunk)
                        received += len(chunk)
                        bar.update(received)
                finally:
                    bar.close(received)
            if length is not None and received != length:
                raise DownloadError(url, f"truncated: received {received} of {length} bytes "
                                         "(connection closed early)", retryable=True)
            if size is not None and received < size and length is None:
                raise DownloadError(url, f"truncated: received {received} of {size} bytes",
                                    retryable=True)
            if size is not None and received != size:
                raise ChecksumError(url, f"size mismatch: received {received} bytes, the "
                                         f"manifest says {size}; nothing was cached")
            got = digest.hexdigest()
            if got != sha256:
                raise ChecksumError(url, f"sha256 mismatch: expected {sha256}, got {got}; "
                                         "nothing was cached")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
        tmp = None
    finally:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def download_file(url: str, dest: str | os.PathLike, *, sha256: str, size: int | None = None,
                  timeout: float | None = None, retries: int | None = None,
                  backoff: float | None = None, progress: bool | None = None,
                  lock: bool = True) -> Path:
    """Download `url` to `dest`, verified, atomically, retrying transient failures.

    The body streams into a temporary file next to `dest`; the byte count (against
    `Content-Length` and `size`) and the sha256 are checked before the file is renamed
    to `dest` with `os.replace`, so `dest` is never partial or unverified. If `dest`
    already holds the file (e.g. another process just downloaded it), nothing is fetched.

    Args:
        url: `http://` or `https://` address (standard-library `urllib`).
        dest: final path; its directory is created.
        sha256: expected hex digest.
        size: expected size in bytes (optional).
        timeout: seconds a connect or read may block (default
            `$KERASAUDIO_DOWNLOAD_TIMEOUT`, else 30).
        retries: retries after a failed attempt, on connection errors, timeouts,
            truncated bodies and HTTP 5xx/408/429; never on other 4xx or a checksum
            mismatch (default `$KERASAUDIO_DOWNLOAD_RETRIES`, else 3).
        backoff: seconds before the first retry, doubled for each next one (default 1).
        progress: draw a progress bar on stderr (default `$KERASAUDIO_PROGRESS`, else
            when stderr is a TTY).
        lock: hold an `fcntl` lock on `<dest dir>/.locks/<name>.lock` while downloading,
            so concurrent processes download once.

    Returns:
        `dest` as a `Path`.

    Raises:
        DownloadError: the last attempt's failure (`status` holds the HTTP code).
        ChecksumError: wrong sha256 or size (not retried; nothing written to `dest`).

    Example:
    ```python
    kerasaudio.weights.download_file("https://example.org/m5.weights.h5",
                                     "m5.weights.h5", sha256="3f2a...")
    ```
    """
    dest = Path(dest)
    if timeout is None:
        timeout = env_number(ENV_TIMEOUT, DEFAULT_TIMEOUT, float, 0.001)
    if retries is None:
        retries = env_number(ENV_RETRIES, DEFAULT_RETRIES, int, 0)
    backoff = DEFAULT_BACKOFF if backoff is None else backoff
    show = _show_progress(progress)
    sha256 = sha256.lower()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _download_lock(dest) if lock else contextlib.nullcontext():
        if dest.is_file() and (size is None or dest.stat().st_size == size) \
                and file_sha256(dest) == sha256:
            return dest
        _remove_stale_parts(dest)
        for attempt in range(retries + 1):
            try:
                _download_once(url, dest, sha256=sha256, size=size, timeout=timeout,
                               progress=show)
                return dest
            except DownloadError as exc:
                if not exc.retryable or attempt == retries:
                    if attempt:
                        exc.reason = f"{exc.reason} (after {attempt + 1} attempts)"
                        exc.args = (f"{url}: {exc.reason}",)
                    raise
                time.sleep(backoff * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _remove_stale_parts(dest: Path, age: float = 86400.0) -> None:
    """Delete temporary files of `dest` left for a day by killed processes."""
    now = time.time()
    for part in dest.parent.glob(f".{dest.name}.*.part"):
        with contextlib.suppress(OSError):
            if now - part.stat().st_mtime > age:
                part.unlink()
