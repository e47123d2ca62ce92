"""A verified local copy of a manifest entry's weights file: cache, package, then download.

`weights_path(preset)` looks, in this order, in

1. the cache: `$KERASAUDIO_HOME/weights/<file>` (default `KERASAUDIO_HOME` is
   `$KERAS_HOME/kerasaudio`, i.e. `~/.keras/kerasaudio`);
2. the weights shipped in the package: `weights/<file>` next to the manifest;
3. a download into the cache (`kerasaudio.weights.download_file`): from the mirror
   `$KERASAUDIO_WEIGHTS_URL/<file>` when that variable is set, then from the entry's
   `url`; never with `KERASAUDIO_OFFLINE=1`.

A cached or shipped file is used only if its size and sha256 are the manifest's (a stale
or corrupted file is skipped and replaced by a download). When every place fails, the
error names the file and lists every place looked at and what happened there.
"""

from __future__ import annotations

import os
from pathlib import Path

from kerasaudio.errors import DownloadError, InvalidOptionError, WeightsNotFoundError
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
    """None if `path` holds the preset's file; else why not."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "missing"
    if size != preset.size:
        return (f"present but {size} bytes, not the manifest's {preset.size} (stale or "
                "corrupted; not used)")
    digest = file_sha256(path)
    if digest != preset.sha256:
        return (f"present but its sha256 {digest[:12]}... is not the manifest's "
                f"{preset.sha256[:12]}... (stale or corrupted; not used)")
    return None


def _download_urls(preset: Preset) -> list[str]:
    """Where `weights_path` downloads `preset` from: the mirror first, then its `url`."""
    urls = []
    mirror = os.environ.get(ENV_MIRROR, "").strip()
    if mirror and not mirror.startswith(("http://", "https://")):
        raise InvalidOptionError(f"{ENV_MIRROR}={mirror!r} must be an http:// or https:// "
                                 "base URL (put local files in the cache directory "
                                 f"{cache_dir()} instead).")
    if mirror:
        urls.append(f"{mirror.rstrip('/')}/{preset.file}")
    if preset.url and preset.url not in urls:
        urls.append(preset.url)
    return urls


def weights_path(preset: str | Preset, *, offline: bool | None = None,
                 progress: bool | None = None, timeout: float | None = None,
                 retries: int | None = None, backoff: float | None = None) -> Path:
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

    Returns:
        The path of the file (in the cache or the package).

    Raises:
        WeightsNotFoundError: not found and not downloaded; the message lists every
            place looked at and what happened there.
        InvalidOptionError: a malformed environment variable.

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
                                     progress=progress)
            except DownloadError as exc:
                locations.append((f"download {url}", exc.reason))
                last = exc
    lines = "\n".join(f"  - {place}: {what}" for place, what in locations)
    raise WeightsNotFoundError(
        f"weights file {preset.file!r} of preset {preset.name!r} is not available "
        f"(sha256 {preset.sha256}, {preset.size} bytes). Looked in:\n{lines}\n"
        f"Put the file in {cached.parent} (or set {ENV_HOME}), set {ENV_MIRROR} to a "
        f"mirror, {'unset ' + ENV_OFFLINE + ', ' if offline else ''}or pass "
        "weights=PATH to create_model.",
        preset.file, locations) from last
