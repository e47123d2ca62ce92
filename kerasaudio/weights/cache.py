"""A verified local copy of a manifest entry's weights file: cache, package, then download.

`weights_path(preset)` looks, in this order, in

1. the cache: `$KERASAUDIO_HOME/weights/<file>` (default `KERASAUDIO_HOME` is
   `$KERAS_HOME/kerasaudio`, i.e. `~/.keras/kerasaudio`);
2. the weights shipped in the package: `weights/<file>` next to the manifest;
3. a download into the cache (`kerasaudio.weights.download_file`, bounded in bytes,
   time and lock wait): from the mirror `$KERASAUDIO_WEIGHTS_URL/<file>` (the file name
   percent-encoded) when that variable is set, then from the entry's `url`; never with
   `KERASAUDIO_OFFLINE=1`.

A cached or shipped file is used only if it is a regular file with the manifest's size
and sha256 (a stale or corrupted file is skipped and replaced by a download). When every
place fails, the error names the file and lists every place looked at and what happened
there. A cache that cannot take the file (`KERASAUDIO_HOME` is a file, the directory is
read-only, a directory stands where the file should go, another process holds the
download lock too long) does not stop a shipped copy from being used; when a download is
needed it is a `kerasaudio.errors.CacheError` naming the path (the cause of the
`WeightsNotFoundError`), found before any request, and no other URL is tried.
"""

from __future__ import annotations

import os
import stat
import urllib.parse
from pathlib import Path

from kerasaudio.errors import CacheError, DownloadError, InvalidOptionError, WeightsNotFoundError
from kerasaudio.weights.download import download_file, file_sha256
from kerasaudio.weights.env import (
    ENV_HOME,
    ENV_MIRROR,
    ENV_OFFLINE,
    cache_dir,
    env_flag,
    package_weights_dir,
)
from kerasaudio.weights.manifest import Preset, get_preset

__all__ = ["weights_path"]


def _verified(path: Path, preset: Preset) -> str | None:
    """None if `path` holds the preset's file; else why not (never an OSError)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"cannot be looked at: {exc.strerror or exc} (not used)"
    if stat.S_ISDIR(info.st_mode):
        return "a directory, not the weights file (not used)"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (not used)"
    if info.st_size != preset.size:
        return (f"present but {info.st_size} bytes, not the manifest's {preset.size} (stale "
                "or corrupted; not used)")
    try:
        digest = file_sha256(path)
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc} (not used)"
    if digest != preset.sha256:
        return (f"present but its sha256 {digest[:12]}... is not the manifest's "
                f"{preset.sha256[:12]}... (stale or corrupted; not used)")
    return None


def _download_urls(preset: Preset) -> list[str]:
    """Where `weights_path` downloads `preset` from: the mirror first (the file name
    percent-encoded, so `#`, `?`, `%` or a space stay part of the name), then its `url`."""
    urls = []
    mirror = os.environ.get(ENV_MIRROR, "").strip()
    if mirror and not mirror.startswith(("http://", "https://")):
        raise InvalidOptionError(f"{ENV_MIRROR}={mirror!r} must be an http:// or https:// "
                                 "base URL (put local files in the cache directory "
                                 f"{cache_dir()} instead).")
    if mirror:
        urls.append(f"{mirror.rstrip('/')}/{urllib.parse.quote(preset.file, safe='')}")
    if preset.url and preset.url not in urls:
        urls.append(preset.url)
    return urls


def weights_path(preset: str | Preset, *, offline: bool | None = None,
                 progress: bool | None = None, timeout: float | None = None,
                 retries: int | None = None, backoff: float | None = None,
                 deadline: float | None = None, lock_timeout: float | None = None) -> Path:
    """A verified local copy of a preset's weights file, downloaded into the cache if needed.

    Looks in the cache, then in the package, then downloads (mirror, then the entry's
    `url`); see the module docstring. Every file returned has the manifest's sha256.

    Args:
        preset: a preset name (looked up in the current manifest) or a `Preset`.
        offline: never use the network (default `$KERASAUDIO_OFFLINE`).
        progress: draw a progress bar on stderr (default `$KERASAUDIO_PROGRESS`, else
            only when stderr is a TTY).
        timeout: seconds a connect or read may block (default
            `$KERASAUDIO_DOWNLOAD_TIMEOUT`, else 30).
        retries: retries after a failed attempt (default `$KERASAUDIO_DOWNLOAD_RETRIES`,
            else 3).
        backoff: seconds before the first retry, doubling each time (default 1).
        deadline: seconds one download (every attempt and back-off) may take (default
            `$KERASAUDIO_DOWNLOAD_DEADLINE`, else 1800).
        lock_timeout: seconds to wait for another process downloading the same file
            (default `$KERASAUDIO_LOCK_TIMEOUT`, else the deadline plus 60).

    Returns:
        The path of the file (in the cache or the package).

    Raises:
        WeightsNotFoundError: not found and not downloaded; the message lists every
            place looked at and what happened there (its cause is the last download's
            `DownloadError`: a `CacheError` when the cache could not take the file).
        InvalidOptionError: a malformed environment variable, or a path in one that
            holds a NUL byte.

    Example:
    ```python
    path = kerasaudio.weights.weights_path("m5_fsdd_digits")
    ```
    """
    if isinstance(preset, str):
        preset = get_preset(preset)
    if offline is None:
        offline = bool(env_flag(ENV_OFFLINE))
    locations = []
    cached = cache_dir() / preset.file
    problem = _verified(cached, preset)
    if problem is None:
        return cached
    locations.append((f"cache {cached}", problem))
    shipped = package_weights_dir(preset.manifest) / preset.file
    problem = _verified(shipped, preset)
    if problem is None:
        return shipped
    locations.append((f"package {shipped}", problem))
    urls = _download_urls(preset)
    last = None
    if offline:
        locations.append(("download", f"skipped: {ENV_OFFLINE}=1 (would fetch "
                                      f"{', '.join(urls) or 'nothing: no URL'})"))
    elif not urls:
        locations.append(("download", f"no source: the manifest's url is null and "
                                      f"{ENV_MIRROR} is not set"))
    else:
        for url in urls:
            try:
                return download_file(url, cached, sha256=preset.sha256, size=preset.size,
                                     timeout=timeout, retries=retries, backoff=backoff,
                                     progress=progress, deadline=deadline,
                                     lock_timeout=lock_timeout)
            except DownloadError as exc:
                locations.append((f"download {url}", exc.reason))
                last = exc
                if isinstance(exc, CacheError):  # the same for every URL
                    break
    lines = "\n".join(f"  - {place}: {what}" for place, what in locations)
    if isinstance(last, CacheError):
        advice = (f"The cache {cached.parent} cannot take the file now ({last.path}; see "
                  f"above): fix that, set {ENV_HOME} to another directory, or pass "
                  "weights=PATH to create_model.")
    else:
        advice = (f"Put the file in {cached.parent} (or set {ENV_HOME}), set {ENV_MIRROR} "
                  f"to a mirror, {'unset ' + ENV_OFFLINE + ', ' if offline else ''}or pass "
                  "weights=PATH to create_model.")
    raise WeightsNotFoundError(
        f"weights file {preset.file!r} of preset {preset.name!r} is not available "
        f"(sha256 {preset.sha256}, {preset.size} bytes). Looked in:\n{lines}\n{advice}",
        preset.file, locations) from last
