"""Where the weights layer looks: environment variables, the manifest, the package, the cache.

Environment variables (read on every call, so a test or a long-running process can change
them):

- `KERASAUDIO_HOME`: cache root; weights go to `$KERASAUDIO_HOME/weights/`.
- `KERASAUDIO_MANIFEST`: the manifest file to read (default the packaged one); its
  "package" weights directory is `weights/` next to it.
- `KERASAUDIO_WEIGHTS_URL`: a mirror's base URL, tried first: `<base>/<file>`.
- `KERASAUDIO_OFFLINE=1`: never touch the network.
- `KERASAUDIO_DOWNLOAD_TIMEOUT`: seconds a connect or a read may block (default 30).
- `KERASAUDIO_DOWNLOAD_RETRIES`: retries after a failed attempt (default 3).
- `KERASAUDIO_PROGRESS`: `1` always / `0` never draw the progress bar (default: when
  stderr is a TTY).
"""

from __future__ import annotations

import os
from pathlib import Path

from kerasaudio.errors import InvalidOptionError

__all__ = [
    "ENV_HOME",
    "ENV_MANIFEST",
    "ENV_MIRROR",
    "ENV_OFFLINE",
    "ENV_PROGRESS",
    "ENV_RETRIES",
    "ENV_TIMEOUT",
    "PACKAGED_MANIFEST",
    "cache_dir",
    "env_flag",
    "env_number",
    "manifest_path",
    "package_weights_dir",
]

ENV_HOME = "KERASAUDIO_HOME"
ENV_MANIFEST = "KERASAUDIO_MANIFEST"
ENV_MIRROR = "KERASAUDIO_WEIGHTS_URL"
ENV_OFFLINE = "KERASAUDIO_OFFLINE"
ENV_TIMEOUT = "KERASAUDIO_DOWNLOAD_TIMEOUT"
ENV_RETRIES = "KERASAUDIO_DOWNLOAD_RETRIES"
ENV_PROGRESS = "KERASAUDIO_PROGRESS"

#: The manifest shipped in the package; its weights files are in `weights/` beside it.
PACKAGED_MANIFEST = Path(__file__).resolve().parents[1] / "pretrained" / "manifest.json"

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def manifest_path() -> Path:
    """The manifest presets are read from: `$KERASAUDIO_MANIFEST`, else the packaged one.

    Example:
    ```python
    kerasaudio.weights.manifest_path()  # .../kerasaudio/pretrained/manifest.json
    ```
    """
    env = os.environ.get(ENV_MANIFEST)
    return Path(env).expanduser() if env else PACKAGED_MANIFEST


def package_weights_dir(manifest: str | os.PathLike | None = None) -> Path:
    """Where shipped weights live: `weights/` next to the manifest.

    Args:
        manifest: a manifest path (default `manifest_path()`).

    Example:
    ```python
    kerasaudio.weights.package_weights_dir()  # .../kerasaudio/pretrained/weights
    ```
    """
    return (Path(manifest) if manifest is not None else manifest_path()).parent / "weights"


def cache_dir() -> Path:
    """The weights cache: `$KERASAUDIO_HOME/weights` (default `~/.keras/kerasaudio/weights`).

    Without `KERASAUDIO_HOME` the root is `$KERAS_HOME/kerasaudio` (Keras' own cache
    root, `~/.keras` by default). The directory is created on first download.

    Example:
    ```python
    kerasaudio.weights.cache_dir()  # PosixPath('/home/me/.keras/kerasaudio/weights')
    ```
    """
    home = os.environ.get(ENV_HOME)
    if not home:
        home = os.path.join(os.environ.get("KERAS_HOME") or "~/.keras", "kerasaudio")
    return Path(home).expanduser() / "weights"


def env_flag(name: str) -> bool | None:
    """An on/off environment variable: True, False, or None when unset.

    Raises:
        InvalidOptionError: a value other than 1/0, true/false, yes/no, on/off.

    Example:
    ```python
    offline = bool(kerasaudio.weights.env.env_flag("KERASAUDIO_OFFLINE"))
    ```
    """
    value = os.environ.get(name)
    if value is None:
        return None
    value = value.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidOptionError(f"{name}={os.environ[name]!r}: use 1 or 0.")


def env_number(name: str, default, kind, least):
    """A numeric environment variable of type `kind` and at least `least` (`default` when
    unset or empty).

    Raises:
        InvalidOptionError: not a number of that kind, or below `least`.

    Example:
    ```python
    timeout = kerasaudio.weights.env.env_number("KERASAUDIO_DOWNLOAD_TIMEOUT", 30.0,
                                                float, 0.001)
    ```
    """
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        number = kind(value)
    except ValueError:
        number = None
    if number is None or number < least:
        raise InvalidOptionError(f"{name}={value!r} must be a {kind.__name__} >= {least}.")
    return number
