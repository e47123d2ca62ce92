"""The weights layer under hostile mirrors and broken caches (issue 20): every download is
bounded in bytes, time and lock wait, the mirror URL is percent-encoded, an unusable cache
or a path with a NUL byte is a clear kerasaudio error naming it, and no temporary file
survives a failure.

The mirror is a real threaded HTTP server on 127.0.0.1 serving the packaged m5 weights
(435 kB) honestly or with a lying, endless or trickling body; every misbehaviour is capped
on the server side too (64 MB, 6 s), so a client without the bounds fails these tests
instead of hanging them.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest

import kerasaudio
from kerasaudio import weights
from kerasaudio.errors import (
    CacheError,
    ChecksumError,
    DownloadError,
    InvalidOptionError,
    KerasAudioError,
    ManifestError,
    WeightsNotFoundError,
)
from kerasaudio.weights.env import checked_path

NAME = "m5_fsdd_digits"
#: Every test runs without the weights layer's environment variables (conftest.py).
pytestmark = pytest.mark.usefixtures("clean_weights_env")
#: What the server may send at most (a client without a byte bound reads all of it).
SERVER_CAP_BYTES = 64_000_000
#: How long a trickling response lasts at most before the server closes it.
SERVER_CAP_SECONDS = 6.0
#: A client that stops at the expected size leaves the server far below this (the socket
#: buffers on both sides hold a few MB at most).
STOPPED_EARLY = 20_000_000


class _Handler(http.server.BaseHTTPRequestHandler):
    """GET /<mode>/<percent-encoded file>: files, huge, endless, trickle, slowheaders."""

    def do_GET(self):
        server = self.server
        mode, _, quoted = self.path.strip("/").partition("/")
        path = server.root / urllib.parse.unquote(quoted)
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        sent = 0
        try:
            if mode == "slowheaders":  # the status line and headers, a byte at a time
                head = (f"HTTP/1.0 200 OK\r\nContent-Length: {len(data)}\r\n\r\n").encode()
                end = time.monotonic() + SERVER_CAP_SECONDS
                for byte in head:
                    if time.monotonic() > end or server.release.is_set():
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.2)
                self.wfile.write(data)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if mode == "huge":  # an honest but huge Content-Length
                self.send_header("Content-Length", str(60_000_000))
            elif mode != "endless":  # endless: no length, the body ends when we close
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if mode == "files":
                self.wfile.write(data)
                sent = len(data)
            elif mode in ("huge", "endless"):
                block = bytes(1 << 16)
                cap = 60_000_000 if mode == "huge" else SERVER_CAP_BYTES
                while sent < cap:
                    self.wfile.write(block[:cap - sent])
                    sent += min(len(block), cap - sent)
            elif mode == "trickle":  # a byte every 0.2 s: each read well within a timeout
                end = time.monotonic() + SERVER_CAP_SECONDS
                while time.monotonic() < end and not server.release.is_set():
                    self.wfile.write(data[sent:sent + 1])
                    self.wfile.flush()
                    sent += 1
                    time.sleep(0.2)
        except OSError:  # the client hung up
            pass
        finally:
            with server.lock:
                server.sent[self.path] = sent
            server.done.release()


@pytest.fixture(scope="module")
def blob():
    """The packaged m5 weights file and its manifest entry."""
    preset = weights.get_preset(NAME, manifest=weights.PACKAGED_MANIFEST)
    path = weights.package_weights_dir(weights.PACKAGED_MANIFEST) / preset.file
    return {"entry": preset.entry(), "path": path, "data": path.read_bytes()}


@pytest.fixture(scope="module")
def server(tmp_path_factory, blob, local_http_server):
    root = tmp_path_factory.mktemp("served")
    shutil.copy(blob["path"], root / blob["entry"]["file"])
    return local_http_server(_Handler, root)


def write_manifest(directory: Path, entries: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "manifest.json"
    path.write_text(json.dumps({"format": 1, "presets": entries}, indent=1))
    return path


@pytest.fixture
def remote(blob, server, tmp_path, monkeypatch):
    """A manifest with nothing shipped beside it, an empty cache, the server as mirror;
    returns the cache directory."""
    manifest = write_manifest(tmp_path / "remote", {NAME: blob["entry"]})
    monkeypatch.setenv("KERASAUDIO_MANIFEST", str(manifest))
    monkeypatch.setenv("KERASAUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERASAUDIO_WEIGHTS_URL", f"{server.base}/files")
    monkeypatch.setenv("KERASAUDIO_DOWNLOAD_RETRIES", "0")
    return tmp_path / "home" / "weights"


def listing(directory: Path) -> list[str]:
    """Every file in a directory (temporary `.part` files included; `.locks/` is a
    directory)."""
    return sorted(p.name for p in directory.iterdir() if p.is_file()) if directory.exists() \
        else []


def server_sent(server, timeout: float = 10.0) -> int:
    """Bytes the server wrote in the one request of this test, once it has finished."""
    assert server.done.acquire(timeout=timeout), "the server's handler did not finish"
    with server.lock:
        (sent,) = server.sent.values()
    return sent


# --------------------------------------------------------------------------- bytes


def test_huge_content_length_is_refused_before_reading(blob, server, remote, requests,
                                                       monkeypatch):
    """A mirror announcing 60 MB for the 435 kB file: refused on the header, the body is
    never read, the cache stays empty."""
    monkeypatch.setenv("KERASAUDIO_WEIGHTS_URL", f"{server.base}/huge")
    size = blob["entry"]["size"]
    with pytest.raises(WeightsNotFoundError) as info:
        weights.weights_path(NAME)
    cause = info.value.__cause__
    assert isinstance(cause, ChecksumError) and not cause.retryable
    assert "announces 60000000 bytes (Content-Length)" in str(info.value)
    assert f"expected size is {size} bytes" in str(info.value)
    assert len(requests) == 1
    assert server_sent(server) < STOPPED_EARLY
    assert listing(remote) == []


def test_endless_body_stops_at_the_manifest_size(blob, server, remote, requests,
                                                 monkeypatch):
    """A body without Content-Length that never ends: reading stops one byte past the
    manifest's size, nothing stays in the cache."""
    monkeypatch.setenv("KERASAUDIO_WEIGHTS_URL", f"{server.base}/endless")
    size = blob["entry"]["size"]
    with pytest.raises(WeightsNotFoundError, match=rf"sent more than {size} bytes; stopped "
                                                   "reading there") as info:
        weights.weights_path(NAME)
    assert isinstance(info.value.__cause__, ChecksumError)
    assert len(requests) == 1
    assert server_sent(server) < STOPPED_EARLY
    assert listing(remote) == []


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_download_of_unknown_size_is_capped(blob, server, requests, tmp_path, monkeypatch,
                                            how):
    """Without a size, `max_bytes` (or KERASAUDIO_DOWNLOAD_MAX_BYTES) bounds the body and a
    Content-Length above it is refused before reading."""
    name = blob["entry"]["file"]
    kwargs = {"max_bytes": 100_000} if how == "argument" else {}
    if how == "environment":
        monkeypatch.setenv("KERASAUDIO_DOWNLOAD_MAX_BYTES", "100000")
    dest = tmp_path / "cache" / name
    with pytest.raises(DownloadError, match=r"sent more than 100000 bytes.*"
                                            "KERASAUDIO_DOWNLOAD_MAX_BYTES"):
        weights.download_file(f"{server.base}/endless/{name}", dest,
                              sha256=blob["entry"]["sha256"], retries=0, **kwargs)
    assert server_sent(server) < STOPPED_EARLY
    with pytest.raises(DownloadError, match=rf"announces {blob['entry']['size']} bytes "
                                            r"\(Content-Length\); refused before reading"):
        weights.download_file(f"{server.base}/files/{name}", dest,
                              sha256=blob["entry"]["sha256"], retries=0, **kwargs)
    assert listing(dest.parent) == []
    # the same file with a cap that fits downloads
    weights.download_file(f"{server.base}/files/{name}", dest,
                          sha256=blob["entry"]["sha256"], max_bytes=blob["entry"]["size"])
    assert listing(dest.parent) == [name]


# --------------------------------------------------------------------------- time


def test_trickled_body_ends_at_the_deadline(blob, server, remote, requests, monkeypatch):
    """A byte every 0.2 s never trips the 1 s read timeout; the overall deadline ends it."""
    monkeypatch.setenv("KERASAUDIO_WEIGHTS_URL", f"{server.base}/trickle")
    monkeypatch.setenv("KERASAUDIO_DOWNLOAD_TIMEOUT", "1")
    monkeypatch.setenv("KERASAUDIO_DOWNLOAD_DEADLINE", "1.5")
    monkeypatch.setenv("KERASAUDIO_DOWNLOAD_RETRIES", "3")
    start = time.monotonic()
    with pytest.raises(WeightsNotFoundError,
                       match=r"gave up at the download deadline of 1.5 s \(received \d+ of "
                             rf"{blob['entry']['size']} bytes.*KERASAUDIO_DOWNLOAD_DEADLINE"):
        weights.weights_path(NAME)
    assert 1.4 < time.monotonic() - start < 4
    assert len(requests) == 1  # not retried
    assert listing(remote) == []


def test_trickled_headers_end_at_the_deadline(blob, server, requests, tmp_path):
    """A server that sends its status line a byte at a time: the deadline also bounds the
    wait for the headers (the argument form of the bound)."""
    name = blob["entry"]["file"]
    dest = tmp_path / "cache" / name
    start = time.monotonic()
    with pytest.raises(DownloadError, match="gave up at the download deadline of 1 s"):
        weights.download_file(f"{server.base}/slowheaders/{name}", dest,
                              sha256=blob["entry"]["sha256"], timeout=1, deadline=1,
                              retries=0)
    assert time.monotonic() - start < 4
    assert listing(dest.parent) == []


_HOLDER = """
import fcntl, sys, time
handle = open(sys.argv[1], "a")
fcntl.flock(handle, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="fcntl locks")
def test_lock_wait_is_bounded_and_names_the_lock_file(blob, server, remote, requests,
                                                      monkeypatch):
    """Another process holds the download lock: the wait ends after
    KERASAUDIO_LOCK_TIMEOUT with a CacheError naming the lock file; nothing is fetched."""
    lock_file = remote / ".locks" / f"{blob['entry']['file']}.lock"
    lock_file.parent.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(lock_file), "8"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        monkeypatch.setenv("KERASAUDIO_LOCK_TIMEOUT", "0.5")
        start = time.monotonic()
        with pytest.raises(WeightsNotFoundError) as info:
            weights.weights_path(NAME)
        assert time.monotonic() - start < 4
        cause = info.value.__cause__
        assert isinstance(cause, CacheError) and cause.path == str(lock_file)
        message = str(info.value)
        assert f"held the download lock {lock_file} for more than 0.5 s" in message
        assert "KERASAUDIO_LOCK_TIMEOUT" in message and "lock_timeout=" in message
        assert requests == []
        assert listing(remote) == []
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone, so is its lock: the download goes ahead
    assert weights.weights_path(NAME) == remote / blob["entry"]["file"]
    assert listing(remote) == [blob["entry"]["file"]]


# --------------------------------------------------------------------------- URLs


def test_mirror_url_percent_encodes_the_file_name(blob, server, tmp_path, requests,
                                                  monkeypatch):
    """A legal file name with a space, '#', '?' and '%' reaches the mirror encoded."""
    odd = "m5 fsdd #1?%.weights.h5"
    shutil.copy(blob["path"], server.root / odd)
    entry = {**blob["entry"], "file": odd}
    monkeypatch.setenv("KERASAUDIO_MANIFEST",
                       str(write_manifest(tmp_path / "m", {NAME: entry})))
    monkeypatch.setenv("KERASAUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERASAUDIO_WEIGHTS_URL", f"{server.base}/files/")
    path = weights.weights_path(NAME, retries=0)
    assert path == tmp_path / "home" / "weights" / odd
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
    assert requests == ["/files/m5%20fsdd%20%231%3F%25.weights.h5"]


def test_download_file_takes_http_urls_only(blob, tmp_path):
    with pytest.raises(InvalidOptionError, match=r"url='file://.*' must be an http"):
        weights.download_file(blob["path"].as_uri(), tmp_path / "x.weights.h5",
                              sha256=blob["entry"]["sha256"])
    assert not (tmp_path / "x.weights.h5").exists()


# --------------------------------------------------------------------------- the cache


def test_directory_where_the_file_goes_is_never_replaced(blob, remote, requests):
    """A directory at the cache entry's path: a CacheError naming it, before any request;
    the directory and what it holds are left alone."""
    entry_dir = remote / blob["entry"]["file"]
    entry_dir.mkdir(parents=True)
    (entry_dir / "keep").write_text("mine")
    with pytest.raises(WeightsNotFoundError) as info:
        weights.weights_path(NAME)
    cause = info.value.__cause__
    assert isinstance(cause, CacheError) and cause.path == str(entry_dir)
    message = str(info.value)
    assert f"cache {entry_dir}: a directory, not the weights file" in message
    assert f"{entry_dir}: is a directory where the downloaded file should go: remove it" \
        in message
    assert requests == []
    assert (entry_dir / "keep").read_text() == "mine"
    assert listing(remote) == []


def test_home_that_is_a_file(blob, remote, requests, tmp_path, monkeypatch):
    """KERASAUDIO_HOME names a file: a shipped copy is still used; a download is a
    CacheError naming the file, before any request."""
    home = tmp_path / "home-file"
    home.write_text("not a directory")
    monkeypatch.setenv("KERASAUDIO_HOME", str(home))
    with pytest.raises(WeightsNotFoundError) as info:
        weights.weights_path(NAME)
    cause = info.value.__cause__
    assert isinstance(cause, CacheError) and cause.path == str(home)
    message = str(info.value)
    assert f"{home}: is a file, not a directory, so {home / 'weights'} cannot be created" \
        in message
    assert f"cache {home / 'weights' / blob['entry']['file']}: cannot be looked at" \
        in message
    assert requests == [] and home.read_text() == "not a directory"
    shipped = Path(os.environ["KERASAUDIO_MANIFEST"]).parent / "weights"
    shipped.mkdir()
    shutil.copy(blob["path"], shipped)
    assert weights.weights_path(NAME) == shipped / blob["entry"]["file"]


def _in_child_without_privileges(function) -> dict:
    """Run `function` in a forked child that cannot override file permissions (it drops
    to the `nobody` user when the tests run as root); its exception, described."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        try:
            os.close(read)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            try:
                function()
                result = {"error": None}
            except BaseException as exc:  # reported to the parent
                cause = exc.__cause__
                result = {"error": type(exc).__name__, "message": str(exc),
                          "cause": type(cause).__name__,
                          "path": getattr(cause, "path", None)}
            os.write(write, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(text)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_read_only_cache_directory(blob, server, requests, monkeypatch):
    """A cache directory nobody may write to: a CacheError naming it, before any request,
    nothing left in it."""
    base = Path(tempfile.mkdtemp(prefix="kerasaudio-ro-"))
    cache = base / "home" / "weights"
    try:
        base.chmod(0o755)  # reachable by the unprivileged child
        manifest = write_manifest(base / "m", {NAME: blob["entry"]})
        cache.mkdir(parents=True)
        cache.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP
                    | stat.S_IROTH | stat.S_IXOTH)
        monkeypatch.setenv("KERASAUDIO_MANIFEST", str(manifest))
        monkeypatch.setenv("KERASAUDIO_HOME", str(base / "home"))
        monkeypatch.setenv("KERASAUDIO_WEIGHTS_URL", f"{server.base}/files")
        preset = weights.get_preset(NAME)
        result = _in_child_without_privileges(lambda: weights.weights_path(preset,
                                                                           retries=0))
        assert result["error"] == "WeightsNotFoundError", result
        assert result["cause"] == "CacheError" and result["path"] == str(cache)
        assert f"{cache}: not writable, so {cache / '.locks'} cannot be created" \
            in result["message"]
        assert "set KERASAUDIO_HOME to another directory" in result["message"]
        assert requests == []
        assert list(cache.iterdir()) == []
    finally:
        if cache.exists():
            cache.chmod(0o755)
        shutil.rmtree(base)


def test_manifest_path_that_is_a_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASAUDIO_MANIFEST", str(tmp_path))
    with pytest.raises(ManifestError, match=rf"{tmp_path}: not a manifest file .*set by "
                                            "KERASAUDIO_MANIFEST"):
        weights.get_preset(NAME)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ManifestError, match="not valid JSON"):
        weights.load_manifest(binary)


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize("call", [
    lambda: weights.load_manifest("man\0ifest.json"),
    lambda: weights.get_preset(NAME, manifest="man\0ifest.json"),
    lambda: weights.list_presets(manifest=Path("man\0ifest.json")),
    lambda: weights.package_weights_dir("man\0ifest.json"),
    lambda: weights.file_sha256("we\0ights.weights.h5"),
    lambda: weights.download_file("http://127.0.0.1:9/x.weights.h5", "x\0.weights.h5",
                                  sha256="0" * 64),
    lambda: kerasaudio.create_model("m5", weights="we\0ights.weights.h5"),
    lambda: kerasaudio.create_model(NAME, weights=Path("we\0ights.weights.h5")),
], ids=["load_manifest", "get_preset", "list_presets", "package_weights_dir",
        "file_sha256", "download_file", "create_model-architecture", "create_model-preset"])
def test_nul_byte_in_a_path_is_an_invalid_option(call):
    with pytest.raises(InvalidOptionError, match=r"\\x00"):
        call()


@pytest.mark.parametrize("variable", ["KERASAUDIO_HOME", "KERASAUDIO_MANIFEST"])
def test_environment_paths_are_checked_the_same_way(variable):
    """A POSIX environment cannot hold a NUL byte (`os.environ` refuses it before
    kerasaudio runs), so the check the variables go through is tested directly."""
    with pytest.raises(InvalidOptionError, match=rf"{variable}='a\\x00b' contains a NUL"):
        checked_path("a\0b", variable)
    assert checked_path(Path("a/b"), variable) == Path("a/b")
    with pytest.raises(InvalidOptionError, match="is not a path"):
        checked_path(3, variable)


# --------------------------------------------------------------------------- options, errors


@pytest.mark.parametrize(("variable", "value"), [
    ("KERASAUDIO_DOWNLOAD_DEADLINE", "soon"), ("KERASAUDIO_DOWNLOAD_DEADLINE", "0"),
    ("KERASAUDIO_LOCK_TIMEOUT", "-1"), ("KERASAUDIO_DOWNLOAD_MAX_BYTES", "1.5e9")])
def test_bad_bound_values_fail_clearly(remote, requests, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidOptionError, match=rf"{variable}='{value}' must be"):
        weights.weights_path(NAME)
    assert requests == []


def test_cache_error_is_a_download_error_that_pickles():
    assert issubclass(CacheError, DownloadError) and issubclass(CacheError, KerasAudioError)
    assert issubclass(CacheError, OSError) and not issubclass(CacheError, ValueError)
    error = CacheError("http://x/y.weights.h5", "/c: not writable", path="/c")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is CacheError and vars(again) == vars(error)
    assert str(again) == "http://x/y.weights.h5: /c: not writable" and not again.retryable


def test_a_downloaded_file_gets_the_usual_permissions(blob, remote, requests):
    """The cache entry is written through a 0600 temporary file; once verified it has the
    mode any new file of the user gets (0666 & ~umask)."""
    umask = 0o027
    old = os.umask(umask)
    try:
        path = weights.weights_path(NAME)
    finally:
        os.umask(old)
    assert path.read_bytes() == blob["data"] and len(requests) == 1
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~umask)  # 0o640
