"""Verified downloads: atomic, bounded, retried, locked between processes, with a progress bar.

A download streams into a temporary file in the destination's directory
(`.<file>.<random>.part`), checks the byte count and the expected digests (sha256, or
an md5 that a publisher such as Zenodo gives), fsyncs, and only then renames it to its
name with `os.replace` (and fsyncs the directory), so a directory never holds a partial
or unverified file under the name looked for, and no temporary file survives a failure.
Connection errors, timeouts, truncated bodies and HTTP 5xx/408/429 are retried with
exponential back-off; HTTP 404 (and other 4xx), digest or size mismatches,
an exceeded deadline and an unusable destination are not. Only the standard library's
`urllib` is used.

Every download is bounded:

- bytes: never more than the expected `size` is read or written (a larger
  `Content-Length` is refused before reading, a longer body is cut at `size + 1` bytes);
  without a known size, at most `max_bytes` (`KERASAUDIO_DOWNLOAD_MAX_BYTES`, 2 GiB).
- time: each connect or read blocks at most `timeout` seconds
  (`KERASAUDIO_DOWNLOAD_TIMEOUT`, 30), and the whole download, every attempt and back-off
  included, ends after `deadline` seconds (`KERASAUDIO_DOWNLOAD_DEADLINE`, 1800): a timer
  shuts the connection's socket down at the deadline, so a server that trickles its
  headers or body a byte at a time cannot keep it alive.
- waiting: processes downloading the same file take an `fcntl` lock
  (`<dir>/.locks/<file>.lock`) so one downloads and the others then use its result; a
  process waits for the lock at most `lock_timeout` seconds (`KERASAUDIO_LOCK_TIMEOUT`,
  the deadline plus 60), then fails with a `CacheError` naming the lock file. The lock is
  released when its holder exits, however it exits. Where locking is unavailable each
  process still writes its own temporary file, verifies it and renames atomically.

The lock files stay in `.locks/` (deleting a lock file others may hold is not safe); they
are empty.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import os
import socket
import stat
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from kerasaudio._version import __version__
from kerasaudio.errors import CacheError, ChecksumError, DownloadError, InvalidOptionError
from kerasaudio.weights.env import (
    ENV_DEADLINE,
    ENV_LOCK_TIMEOUT,
    ENV_MAX_BYTES,
    ENV_PROGRESS,
    ENV_RETRIES,
    ENV_TIMEOUT,
    checked_path,
    env_flag,
    env_number,
    usual_file_mode,
)

__all__ = ["DEFAULT_BACKOFF", "DEFAULT_DEADLINE", "DEFAULT_LOCK_SLACK", "DEFAULT_MAX_BYTES",
           "DEFAULT_RETRIES", "DEFAULT_TIMEOUT", "download_file", "expected_digests",
           "file_sha256"]

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 1.0
#: Seconds one `download_file` call may take in all (attempts and back-offs).
DEFAULT_DEADLINE = 1800.0
#: The lock wait defaults to the download deadline plus this many seconds.
DEFAULT_LOCK_SLACK = 60.0
#: The most bytes a download of unknown size may write: 2 GiB.
DEFAULT_MAX_BYTES = 2 << 30
CHUNK = 1 << 16


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file, as 64 lower-case hex digits (read in 1 MB blocks).

    Raises:
        InvalidOptionError: `path` holds a NUL byte.

    Example:
    ```python
    preset = kerasaudio.weights.get_preset("m5_fsdd_digits")
    path = kerasaudio.weights.package_weights_dir() / preset.file  # shipped in the package
    kerasaudio.weights.file_sha256(path) == preset.sha256  # True
    ```
    """
    return _file_digests(checked_path(path, "path"), ["sha256"])["sha256"]


def _file_digests(path: Path, names) -> dict[str, str]:
    """`{algorithm: hex digest}` of a file for each hashlib algorithm in `names`."""
    digests = {name: _hasher(name) for name in names}
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            for digest in digests.values():
                digest.update(chunk)
    return {name: digest.hexdigest() for name, digest in digests.items()}


def _hasher(name: str):
    """A hashlib object; md5 marked as not used for security (it pins a published file,
    with its size; FIPS builds refuse md5 otherwise)."""
    return hashlib.new(name, usedforsecurity=False) if name == "md5" else hashlib.new(name)


def expected_digests(*, sha256: str | None, md5: str | None) -> dict[str, str]:
    """`{algorithm: lower-case hex digest}` of the digests given (None left out).

    Raises:
        InvalidOptionError: a digest that is not hex of its algorithm's length (64 for
            sha256, 32 for md5).

    Example:
    ```python
    from kerasaudio.weights.download import expected_digests
    expected_digests(sha256=None, md5="541141FA2EE191A88F24A3219FFF024E")
    # {'md5': '541141fa2ee191a88f24a3219fff024e'}
    ```
    """
    out = {}
    for name, value, length in (("sha256", sha256, 64), ("md5", md5, 32)):
        if value is None:
            continue
        text = value.lower() if isinstance(value, str) else None
        if text is None or len(text) != length or any(c not in "0123456789abcdef"
                                                      for c in text):
            raise InvalidOptionError(f"{name}={value!r} must be {length} hex digits.")
        out[name] = text
    return out


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


# --------------------------------------------------------------------------- the deadline


class _Deadline:
    """The end of one download: a timer shuts down every socket the download opened when
    it passes, so a read or a header line blocked on a trickling server returns at once."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self._fired = False
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    @property
    def expired(self) -> bool:
        return self._fired or time.monotonic() >= self.end

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def _fire(self) -> None:
        with self._lock:
            self._fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if not self._fired:
                self._sockets.add(sock)
                return
        _shutdown(sock)

    def forget_all(self) -> None:
        with self._lock:
            self._sockets.clear()

    def cancel(self) -> None:
        self._timer.cancel()
        self.forget_all()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _watching(http_class, deadline: _Deadline):
    """`http_class` (an `http.client` connection class) whose sockets `deadline` watches."""
    def connection(*args, **kwargs):
        conn = http_class(*args, **kwargs)
        create = conn._create_connection  # what `connect` opens its socket with

        def create_watched(*a, **k):
            sock = create(*a, **k)
            deadline.watch(sock)
            return sock

        conn._create_connection = create_watched
        return conn
    return connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline):
        super().__init__()
        self.deadline = deadline

    def do_open(self, http_class, req, **kwargs):
        return super().do_open(_watching(http_class, self.deadline), req, **kwargs)


def _opener(deadline: _Deadline) -> urllib.request.OpenerDirector:
    """A `urllib` opener (redirects, proxies, HTTP errors as usual) under `deadline`."""
    handlers: list[urllib.request.BaseHandler] = [_HTTPHandler(deadline)]
    if hasattr(urllib.request, "HTTPSHandler"):  # Python built with ssl
        class _HTTPSHandler(urllib.request.HTTPSHandler):
            def do_open(self, http_class, req, **kwargs):
                return super().do_open(_watching(http_class, deadline), req, **kwargs)
        handlers.append(_HTTPSHandler())
    return urllib.request.build_opener(*handlers)


def _deadline_error(url: str, deadline: _Deadline, received: int,
                    expected: int | None) -> DownloadError:
    of = f" of {expected}" if expected is not None else ""
    return DownloadError(url, f"gave up at the download deadline of {deadline.seconds:g} s "
                              f"(received {received}{of} bytes; nothing was cached). Pass "
                              f"deadline= or set {ENV_DEADLINE} to allow longer.")


# --------------------------------------------------------------------------- the destination


def _unusable(url: str, path: Path, what: str, exc: OSError | None = None) -> CacheError:
    detail = f" ({exc.strerror or exc})" if exc is not None else ""
    return CacheError(url, f"{path}: {what}{detail}; nothing was downloaded.", path=path)


def _in_the_way(path: Path) -> Path | None:
    """The first existing ancestor of `path` that is not a directory, if any."""
    for parent in [path, *path.parents]:
        with contextlib.suppress(OSError):
            if parent.exists() or parent.is_symlink():
                return None if parent.is_dir() else parent
    return None


def _make_dir(url: str, directory: Path) -> None:
    """Create `directory` (and parents), or a `CacheError` naming what prevents it."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = _in_the_way(directory)
        if blocker is not None:
            raise _unusable(url, blocker, f"is a file, not a directory, so {directory} "
                                          "cannot be created") from None
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            existing = next((p for p in directory.parents if p.is_dir()), directory)
            raise _unusable(url, existing, f"not writable, so {directory} cannot be "
                                           "created: make it writable or download "
                                           "elsewhere", exc) from None
        raise _unusable(url, directory, "cannot create the directory", exc) from None


def _local_error(url: str, path: Path, exc: OSError) -> CacheError:
    if exc.errno == errno.ENOSPC or exc.errno == getattr(errno, "EDQUOT", None):
        return _unusable(url, path, "no space left to write the file", exc)
    return _unusable(url, path, "cannot write here: make it writable or download elsewhere",
                     exc)


def _holds(dest: Path, expected: dict[str, str], size: int | None) -> bool:
    """True if `dest` is a regular file with that size and those digests (False if
    unreadable, and False without a digest to check)."""
    if not expected:
        return False
    try:
        return (dest.is_file() and (size is None or dest.stat().st_size == size)
                and _file_digests(dest, expected) == expected)
    except OSError:
        return False


@contextlib.contextmanager
def _download_lock(url: str, dest: Path, timeout: float):
    """An exclusive `fcntl.flock` per destination file, waited for at most `timeout` s
    (no-op where unavailable)."""
    try:
        import fcntl
    except ImportError:  # Windows: temp file + verify + os.replace still keep it safe
        yield
        return
    lock_dir = dest.parent / ".locks"
    _make_dir(url, lock_dir)
    lock_file = lock_dir / f"{dest.name}.lock"
    try:
        handle = open(lock_file, "a")
    except OSError as exc:
        raise _local_error(url, lock_dir, exc) from None
    with handle:
        end = time.monotonic() + timeout
        pause = 0.01
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= end:
                    raise CacheError(
                        url, f"another process has held the download lock {lock_file} "
                             f"for more than {timeout:g} s (it is downloading the same "
                             f"file to {dest}). Wait for it and retry, pass lock_timeout= "
                             f"or set {ENV_LOCK_TIMEOUT} to wait longer, or stop that "
                             "process: the lock is released when it exits.",
                        path=lock_file) from None
                time.sleep(min(pause, max(0.0, end - time.monotonic())))
                pause = min(pause * 2, 0.5)
            except OSError:  # e.g. ENOLCK on some network file systems
                yield
                return
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable (best effort: not every platform can)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------- one attempt


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


def _too_large(url: str, count: int, size: int | None, limit: int, announced: bool
               ) -> DownloadError:
    said = (f"announces {count} bytes (Content-Length); refused before reading"
            if announced else f"sent more than {limit} bytes; stopped reading there")
    if size is not None:
        return ChecksumError(url, f"size mismatch: the expected size is {size} bytes but "
                                  f"the server {said}; nothing was cached")
    return DownloadError(url, f"the server {said}: {limit} bytes is the most a download "
                              f"of unknown size may take (max_bytes= or {ENV_MAX_BYTES}); "
                              "nothing was cached")


def _download_once(url: str, dest: Path, *, expected: dict[str, str], size: int | None,
                   limit: int, timeout: float, progress: bool, deadline: _Deadline) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": f"kerasaudio/{__version__}"})
    tmp: str | None
    try:
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    except OSError as exc:
        raise _local_error(url, dest.parent, exc) from None
    received = 0
    try:
        with os.fdopen(fd, "wb") as out:
            digests = {name: _hasher(name) for name in expected}
            try:
                response = _opener(deadline).open(request, timeout=timeout)
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                if deadline.expired:
                    raise _deadline_error(url, deadline, 0, size) from None
                raise _network_error(url, exc) from None
            with response:
                length = response.headers.get("Content-Length")
                length = int(length) if length and length.isdigit() else None
                if length is not None and length > limit:
                    raise _too_large(url, length, size, limit, announced=True)
                bar = _Progress(f"Downloading {dest.name}", length or size, progress)
                try:
                    while True:
                        try:  # one system call at most: returns what has arrived
                            chunk = response.read1(min(CHUNK, limit + 1 - received))
                        except (http.client.HTTPException, OSError) as exc:
                            if deadline.expired:
                                raise _deadline_error(url, deadline, received, size) from None
                            raise _network_error(url, exc) from None
                        if deadline.expired:
                            raise _deadline_error(url, deadline, received, size)
                        if not chunk:
                            break
                        if received + len(chunk) > limit:
                            raise _too_large(url, received + len(chunk), size, limit,
                                             announced=False)
                        try:
                            out.write(chunk)
                        except OSError as exc:
                            raise _local_error(url, dest.parent, exc) from None
                        for digest in digests.values():
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
            for name, digest in digests.items():
                got = digest.hexdigest()
                if got != expected[name]:
                    raise ChecksumError(url, f"{name} mismatch: expected {expected[name]}, "
                                             f"got {got}; nothing was cached")
            try:
                out.flush()
                os.fsync(out.fileno())
            except OSError as exc:
                raise _local_error(url, dest.parent, exc) from None
        try:
            os.chmod(tmp, usual_file_mode())  # mkstemp's 0600 -> as any file of the user
            os.replace(tmp, dest)
        except OSError as exc:
            raise _local_error(url, dest, exc) from None
        tmp = None
        _fsync_dir(dest.parent)
    finally:
        deadline.forget_all()
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


# --------------------------------------------------------------------------- the public call


def download_file(url: str, dest: str | os.PathLike, *, sha256: str | None,
                  size: int | None = None, timeout: float | None = None,
                  retries: int | None = None, backoff: float | None = None,
                  progress: bool | None = None, lock: bool = True,
                  deadline: float | None = None, lock_timeout: float | None = None,
                  max_bytes: int | None = None, md5: str | None = None,
                  unverified: bool = False) -> Path:
    """Download `url` to `dest`, verified, atomically, bounded, retrying transient failures.

    The body streams into a temporary file next to `dest`; the byte count (against
    `Content-Length` and `size`) and the digests given (`sha256`, `md5`) are checked
    before the file is renamed to `dest` with `os.replace`, so `dest` is never partial
    or unverified, and the temporary file is removed on every failure. If `dest`
    already holds the file (e.g. another process just downloaded it), nothing is
    fetched. A directory at `dest` is never removed: it is a `CacheError`, before any
    request. Without any digest (`unverified=True`, for a caller that the user told to
    accept the risk) only the byte count is checked and `dest` is always fetched anew.

    Args:
        url: `http://` or `https://` address (standard-library `urllib`).
        dest: final path; its directory is created.
        sha256: expected hex digest, or None when `md5` is given or `unverified=True`.
        size: expected size in bytes (optional). A larger `Content-Length` is refused
            before reading and the body is never read past it.
        timeout: seconds a connect or read may block (default
            `$KERASAUDIO_DOWNLOAD_TIMEOUT`, else 30).
        retries: retries after a failed attempt, on connection errors, timeouts,
            truncated bodies and HTTP 5xx/408/429; never on other 4xx, a checksum or
            size mismatch, an exceeded deadline or a `CacheError` (default
            `$KERASAUDIO_DOWNLOAD_RETRIES`, else 3).
        backoff: seconds before the first retry, doubled for each next one (default 1).
        progress: draw a progress bar on stderr (default `$KERASAUDIO_PROGRESS`, else
            when stderr is a TTY).
        lock: hold an `fcntl` lock on `<dest dir>/.locks/<name>.lock` while downloading,
            so concurrent processes download once.
        deadline: seconds the whole download (every attempt and back-off, not the lock
            wait) may take (default `$KERASAUDIO_DOWNLOAD_DEADLINE`, else 1800).
        lock_timeout: seconds to wait for another process holding the lock (default
            `$KERASAUDIO_LOCK_TIMEOUT`, else `deadline` + 60).
        max_bytes: the most bytes to accept when `size` is None (default
            `$KERASAUDIO_DOWNLOAD_MAX_BYTES`, else 2 GiB).
        md5: an expected md5 hex digest (the one a publisher such as Zenodo gives);
            checked as well as `sha256` when both are given.
        unverified: allow a download with neither `sha256` nor `md5` (only its size is
            bounded and checked).

    Returns:
        `dest` as a `Path`.

    Raises:
        DownloadError: the last attempt's failure (`status` holds the HTTP code), the
            deadline, or more bytes than `max_bytes`.
        ChecksumError: wrong sha256 or size, including a `Content-Length` or a body
            larger than `size` (not retried; nothing written to `dest`).
        CacheError: `dest`'s directory cannot be created or written (its `path` names
            the file in the way or the read-only directory), a directory is at `dest`,
            or the lock wait timed out (`path` is the lock file).
        InvalidOptionError: `url` is not http(s), `dest` holds a NUL byte, a digest is
            malformed, neither digest is given without `unverified=True`, or an
            environment variable is malformed.

    Example:
    ```python
    import functools, http.server, threading
    preset = kerasaudio.weights.get_preset("m5_fsdd_digits")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,  # a local mirror
                                directory=kerasaudio.weights.package_weights_dir())
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/{preset.file}"
    path = kerasaudio.weights.download_file(url, f"downloads/{preset.file}",
                                            sha256=preset.sha256, size=preset.size)
    server.shutdown()
    path.stat().st_size == preset.size  # True
    ```
    """
    dest = checked_path(dest, "dest")
    if not (isinstance(url, str) and url.lower().startswith(("http://", "https://"))):
        raise InvalidOptionError(f"url={url!r} must be an http:// or https:// address.")
    if timeout is None:
        timeout = env_number(ENV_TIMEOUT, DEFAULT_TIMEOUT, float, 0.001)
    if retries is None:
        retries = env_number(ENV_RETRIES, DEFAULT_RETRIES, int, 0)
    if deadline is None:
        deadline = env_number(ENV_DEADLINE, DEFAULT_DEADLINE, float, 0.001)
    if lock_timeout is None:
        lock_timeout = env_number(ENV_LOCK_TIMEOUT, deadline + DEFAULT_LOCK_SLACK, float, 0)
    if max_bytes is None:
        max_bytes = env_number(ENV_MAX_BYTES, DEFAULT_MAX_BYTES, int, 1)
    backoff = DEFAULT_BACKOFF if backoff is None else backoff
    show = _show_progress(progress)
    expected = expected_digests(sha256=sha256, md5=md5)
    if not expected and not unverified:
        raise InvalidOptionError(f"download_file({url!r}): give sha256= (or md5=), or "
                                 "unverified=True to download without a checksum.")
    limit = size if size is not None else max_bytes
    _make_dir(url, dest.parent)
    with _download_lock(url, dest, lock_timeout) if lock else contextlib.nullcontext():
        try:
            mode = dest.lstat().st_mode
        except OSError:
            mode = 0
        if stat.S_ISDIR(mode):
            raise _unusable(url, dest, "is a directory where the downloaded file should "
                                       "go: remove it (kerasaudio never deletes a "
                                       "directory)")
        if _holds(dest, expected, size):
            return dest
        _remove_stale_parts(dest)
        clock = _Deadline(deadline)
        try:
            for attempt in range(retries + 1):
                try:
                    _download_once(url, dest, expected=expected, size=size, limit=limit,
                                   timeout=timeout, progress=show, deadline=clock)
                    return dest
                except DownloadError as exc:
                    if not exc.retryable or attempt == retries or clock.expired:
                        if attempt:
                            exc.reason = f"{exc.reason} (after {attempt + 1} attempts)"
                            exc.args = (f"{url}: {exc.reason}",)
                        raise
                    pause = backoff * 2**attempt
                    if pause >= clock.remaining():
                        exc.reason = (f"{exc.reason} (after {attempt + 1} attempts; no "
                                      f"time left for a retry before the deadline of "
                                      f"{deadline:g} s, see {ENV_DEADLINE})")
                        exc.args = (f"{url}: {exc.reason}",)
                        raise
                    time.sleep(pause)
        finally:
            clock.cancel()
    raise AssertionError("unreachable")  # pragma: no cover


def _remove_stale_parts(dest: Path, age: float = 86400.0) -> None:
    """Delete temporary files of `dest` left for a day by killed processes."""
    now = time.time()
    for part in dest.parent.glob(f".{dest.name}.*.part"):
        with contextlib.suppress(OSError):
            if now - part.stat().st_mtime > age:
                part.unlink()
