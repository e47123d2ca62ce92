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
- `KERASAUDIO_DOWNLOAD_DEADLINE`: seconds one download (every attempt and back-off) may
  take in all (default 1800).
- `KERASAUDIO_LOCK_TIMEOUT`: seconds to wait for another process's download of the same
  file (default: the download deadline plus 60).
- `KERASAUDIO_DOWNLOAD_MAX_BYTES`: the most bytes a download whose size is not known
  beforehand may write (default 2 GiB); a manifest's file is capped at its `size`.
- `KERASAUDIO_PROGRESS`: `1` always / `0` never draw the progress bar (default: when
  stderr is a TTY).

A path with a NUL byte, in one of these variables or in a path argument of the weights
layer, is an `InvalidOptionError` naming it (`checked_path`), never the `ValueError`
the operating system's calls raise.
"""

from __future__ import annotations

import os
from pathlib import Path

from kerasaudio.errors import InvalidOptionError

__all__ = [
    "ENV_DEADLINE",
    "ENV_HOME",
    "ENV_LOCK_TIMEOUT",
    "ENV_MANIFEST",
    "ENV_MAX_BYTES",
    "ENV_MIRROR",
    "ENV_OFFLINE",
    "ENV_PROGRESS",
    "ENV_RETRIES",
    "ENV_TIMEOUT",
    "PACKAGED_MANIFEST",
    "cache_dir",
    "checked_path",
    "env_flag",
    "env_number",
    "manifest_path",
    "package_weights_dir",
    "usual_file_mode",
]

ENV_HOME = "KERASAUDIO_HOME"
ENV_MANIFEST = "KERASAUDIO_MANIFEST"
ENV_MIRROR = "KERASAUDIO_WEIGHTS_URL"
ENV_OFFLINE = "KERASAUDIO_OFFLINE"
ENV_TIMEOUT = "KERASAUDIO_DOWNLOAD_TIMEOUT"
ENV_RETRIES = "KERASAUDIO_DOWNLOAD_RETRIES"
ENV_PROGRESS = "KERASAUDIO_PROGRESS"
ENV_DEADLINE = "KERASAUDIO_DOWNLOAD_DEADLINE"
ENV_LOCK_TIMEOUT = "KERASAUDIO_LOCK_TIMEOUT"
ENV_MAX_BYTES = "KERASAUDIO_DOWNLOAD_MAX_BYTES"

#: The manifest shipped in the package; its weights files are in `weights/` beside it.
PACKAGED_MANIFEST = Path(__file__).resolve().parents[1] / "pretrained" / "manifest.json"

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def checked_path(value, what: str) -> Path:
    """`value` (a `str` or `os.PathLike` path) as a `Path`, refusing what no file system
    takes.

    Args:
        value: the path.
        what: what to name in the error (an argument or an environment variable).

    Raises:
        InvalidOptionError: not a str/PathLike path, or it holds a NUL byte (the
            operating system would raise a bare `ValueError`).

    Example:
    ```python
    kerasaudio.weights.env.checked_path("m5.weights.h5", "weights")  # PosixPath(...)
    ```
    """
    try:
        text = os.fspath(value)
    except TypeError:
        raise InvalidOptionError(f"{what}={value!r} is not a path (str or os.PathLike)."
                                 ) from None
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if "\0" in text:
        raise InvalidOptionError(f"{what}={text!r} contains a NUL byte; no path can.")
    return Path(text)


def manifest_path() -> Path:
    """The manifest presets are read from: `$KERASAUDIO_MANIFEST`, else the packaged one.

    Example:
    ```python
    kerasaudio.weights.manifest_path()  # .../kerasaudio/pretrained/manifest.json
    ```
    """
    env = os.environ.get(ENV_MANIFEST)
    return checked_path(env, ENV_MANIFEST).expanduser() if env else PACKAGED_MANIFEST


def package_weights_dir(manifest: str | os.PathLike | None = None) -> Path:
    """Where shipped weights live: `weights/` next to the manifest.

    Args:
        manifest: a manifest path (default `manifest_path()`).

    Example:
    ```python
    kerasaudio.weights.package_weights_dir()  # .../kerasaudio/pretrained/weights
    ```
    """
    if manifest is None:
        return manifest_path().parent / "weights"
    return checked_path(manifest, "manifest").parent / "weights"


def usual_file_mode() -> int:
    """The permissions `open(path, "w")` gives a new file here: `0o666 & ~umask`.

    Files written atomically (a temporary file from `tempfile.mkstemp`, mode 0600, then
    renamed: cached weights, `to_tflite` outputs) are set to this mode before the rename,
    so they are readable by whoever the user's umask lets read their other files. The
    umask is read from `/proc/self/status` where there is one (nothing changes), else
    with `os.umask` (set and restored at once).

    Example:
    ```python
    oct(kerasaudio.weights.env.usual_file_mode())  # '0o644' with umask 022
    ```
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


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
    if home:
        return checked_path(home, ENV_HOME).expanduser() / "weights"
    keras_home = checked_path(os.environ.get("KERAS_HOME") or "~/.keras", "KERAS_HOME")
    return keras_home.expanduser() / "kerasaudio" / "weights"


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
