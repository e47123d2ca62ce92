"""Pretrained presets: the manifest, resolving a preset to its weights, verified downloads.

A *preset* is an end-to-end model with trained weights: raw audio in (the front end is
inside the model), class probabilities out. It is an architecture registered in
`kerasaudio.models`, the builder options it was trained with, and a Keras `.weights.h5`
file (HDF5 arrays only; nothing is ever unpickled). Preset names are lower-case
identifiers ending in `_fsdd_digits` or `_fsdd_speakers`, usually `<architecture>_<tag>`
such as `m5_fsdd_digits` (tag `fsdd_digits`); a variant of an architecture may have its
own prefix (`logmel_cnn_fsdd_digits`, a `complex_cnn` on log-mels). Ways to load one:

```python
kerasaudio.list_models(pretrained=True)                # the preset names
model = kerasaudio.create_model("m5_fsdd_digits")      # by preset name
model = kerasaudio.create_model("m5", weights="fsdd_digits")   # architecture + tag
model = kerasaudio.create_model("complex_cnn", weights="logmel_cnn_fsdd_digits")
model = kerasaudio.create_model("m5_fsdd_digits", weights="my.weights.h5")  # own file
```

## Where the weights come from (in this order)

1. `weights=PATH`, an explicit local `.weights.h5` file (used as given: it may be a
   fine-tuned copy, so its sha256 is not checked; it must still fit the model).
2. The cache: `$KERASAUDIO_HOME/weights/<file>` (default `KERASAUDIO_HOME` is
   `$KERAS_HOME/kerasaudio`, i.e. `~/.keras/kerasaudio`).
3. The weights shipped in the package: `weights/<file>` next to the manifest
   (`kerasaudio/presets/weights/`).
4. A download into the cache: from the mirror `$KERASAUDIO_WEIGHTS_URL/<file>` when that
   variable is set, then from the entry's `url`.

A cached or shipped file is used only if its sha256 is the manifest's (a stale or
corrupted file is skipped and replaced by a download). A download streams into a
temporary file in the cache directory (`.<file>.<random>.part`), checks the byte count
and the sha256, fsyncs, and only then renames it to `<file>` with `os.replace`, so the
cache never holds a partial or unverified file under the name it looks for. Connection
errors, timeouts, truncated bodies and HTTP 5xx/408/429 are retried with exponential
back-off; HTTP 404 (and other 4xx) and sha256 mismatches are not. Processes downloading
the same file take an `fcntl` lock (`<cache>/.locks/<file>.lock`) so one downloads and
the others then load its result; where locking is unavailable each process still writes
its own temporary file, verifies it and renames atomically.

Environment variables:

- `KERASAUDIO_HOME`: cache root; weights go to `$KERASAUDIO_HOME/weights/`.
- `KERASAUDIO_MANIFEST`: the manifest file to read (default the packaged one); its
  "package" weights directory is `weights/` next to it.
- `KERASAUDIO_WEIGHTS_URL`: a mirror's base URL, tried first: `<base>/<file>`.
- `KERASAUDIO_OFFLINE=1`: never touch the network (the error names the missing file and
  every place looked at).
- `KERASAUDIO_DOWNLOAD_TIMEOUT`: seconds a connect or a read may block (default 30).
- `KERASAUDIO_DOWNLOAD_RETRIES`: retries after a failed attempt (default 3; back-off
  1 s, 2 s, 4 s).
- `KERASAUDIO_PROGRESS`: `1` always / `0` never draw the progress bar (default: when
  stderr is a TTY).

## Manifest schema (format 1)

A JSON object `{"format": 1, "presets": {<name>: <entry>, ...}}`. Every entry has
exactly these keys (a missing or unknown key is an error, so a typo cannot pass):

- `architecture` (str): a registered model name. (The preset's name, the key, matches
  `[a-z][a-z0-9_]*_fsdd_(digits|speakers)`.)
- `config` (object): the builder's keyword options, as JSON. It holds `classes` (the
  number of `class_names`) and `input_shape` (`[input_length]` or `[null]`, optionally
  with a trailing `1`: raw audio); `include_top`, if present, is true; never `weights`
  or `name`. `frontend` is `"default"`, `null`, or a list of serialized Keras layers
  (`keras.saving.serialize_keras_object`) whose classes are kerasaudio's registered
  layers or built-in `keras.layers` (not `Lambda` or wrappers of foreign code), rebuilt
  with `keras.saving.deserialize_keras_object(..., safe_mode=True)`. An ensemble preset
  (architecture `stack`, see `kerasaudio.models.stack`) lists its `members`, two or more
  objects with `architecture` (registered, not `stack`), `config` (that builder's
  options, its `frontend` checked as above), `name` and, when it differs from the
  stack's, the member's `sample_rate`: complete descriptions,
  never preset names, so the entry cannot change under its own weights file, which holds
  every member's weights. Its `class_names` and `sample_rate`, if given, are the entry's.
- `class_names` (list of str): output index -> class name (unique, non-empty).
- `sample_rate` (int): Hz of the audio the model takes.
- `input_length` (int): samples per clip in training (the model's input length).
- `task` (str): `"digits"` or `"speakers"`, matching the name's suffix.
- `file` (str): the weights file's name (bare, ending in `.weights.h5`).
- `sha256` (str): its 64 lower-case hex digits.
- `size` (int): its size in bytes.
- `url` (str or null): an `http(s)://` address of the file, or null (shipped in the
  package or served by a mirror only).
- `training_data` (str): what the model was trained on (dataset, split, preprocessing).
- `license` (str): license and attribution of the weights (FSDD: CC BY-SA 4.0).
- `metrics` (object): free-form results; its top-level numbers become table columns.
  Use `official_accuracy` (FSDD's official split) and `loso_accuracy` (mean over the
  leave-one-speaker-out folds) where they apply.
- `recipe` (str): repository-relative path of the training recipe, e.g.
  `zoo/m5_fsdd_digits.py`.
- `parameters` (int): `model.count_params()` of the preset model.

## Metadata on a loaded model

`create_model` names a preset model after its preset (unless given `name=`) and sets
`model.kerasaudio_preset` to its `Preset` (class names, sample rate, input length, license,
metrics, ...). `preset_of(model)` returns it, also for a model reloaded from a `.keras`
file (through the name). A CLI or exporter reads class names and sample rate from there.

## Publishing

`publish(model, name, ...)` saves the weights into the package's weights directory,
computes sha256 and size, checks that the recorded config rebuilds a model the file fits
(same outputs), and writes the entry into the repository's canonical `zoo/manifest.json`
and the packaged copy `kerasaudio/presets/manifest.json` (each atomically, under a file
lock); the two files are byte-identical.
"""

from __future__ import annotations

import contextlib
import copy
import fnmatch
import hashlib
import http.client
import inspect
import json
import os
import re
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kerasaudio.errors import InvalidOptionError, KerasAudioError

__all__ = [
    "FORMAT",
    "TASKS",
    "ChecksumError",
    "DownloadError",
    "ManifestError",
    "Preset",
    "WeightsNotFoundError",
    "cache_dir",
    "download_file",
    "get_preset",
    "list_presets",
    "load_manifest",
    "manifest_path",
    "package_weights_dir",
    "preset_of",
    "presets_table",
    "publish",
    "record_metrics",
    "representative_clips",
    "serialized_frontend",
    "weights_path",
]

#: The manifest format this module reads and writes.
FORMAT = 1
#: Tag suffix -> task.
TASKS = {"fsdd_digits": "digits", "fsdd_speakers": "speakers"}
#: What every preset name ends with.
SUFFIXES = tuple(f"_{suffix}" for suffix in TASKS)
#: The keys of a manifest entry, in the documented order.
ENTRY_KEYS = ("architecture", "config", "class_names", "sample_rate", "input_length", "task",
              "file", "sha256", "size", "url", "training_data", "license", "metrics",
              "recipe", "parameters")

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 1.0
CHUNK = 1 << 16

ENV_HOME = "KERASAUDIO_HOME"
ENV_MANIFEST = "KERASAUDIO_MANIFEST"
ENV_MIRROR = "KERASAUDIO_WEIGHTS_URL"
ENV_OFFLINE = "KERASAUDIO_OFFLINE"
ENV_TIMEOUT = "KERASAUDIO_DOWNLOAD_TIMEOUT"
ENV_RETRIES = "KERASAUDIO_DOWNLOAD_RETRIES"
ENV_PROGRESS = "KERASAUDIO_PROGRESS"

PACKAGED_MANIFEST = Path(__file__).resolve().with_name("manifest.json")
#: The repository's canonical manifest (exists in a source checkout only).
ZOO_MANIFEST = PACKAGED_MANIFEST.parents[2] / "zoo" / "manifest.json"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*_fsdd_(digits|speakers)$")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")
#: keras.layers classes a manifest front end may not name: they wrap foreign code.
_FORBIDDEN_LAYERS = frozenset({"Lambda", "TFSMLayer", "TorchModuleWrapper", "JaxLayer",
                               "FlaxLayer", "InputLayer"})


# --------------------------------------------------------------------------- errors


class ManifestError(KerasAudioError):
    """A manifest that is not valid JSON or does not follow the schema.

    The message names the file, the preset and the field.

    Example:
    ```python
    try:
        kerasaudio.presets.load_manifest("broken.json")
    except kerasaudio.presets.ManifestError as e:
        print(e)  # broken.json: preset 'm5_fsdd_digits': 'sha256' must be 64 hex digits
    ```
    """


class WeightsNotFoundError(KerasAudioError, FileNotFoundError):
    """A preset's weights file is in none of the places looked at, and was not downloaded.

    `file` is the file name; `locations` lists `(place, what happened)` pairs, and the
    message lists them too (cache path, package path, each download URL and its error).

    Example:
    ```python
    try:
        kerasaudio.create_model("m5_fsdd_digits")
    except kerasaudio.presets.WeightsNotFoundError as e:
        print(e.file, e.locations)
    ```
    """

    def __init__(self, message: str, file: str | None = None, locations=()):
        super().__init__(message)
        self.file = file
        self.locations = list(locations)


class DownloadError(KerasAudioError):
    """One download failed: `url`, `reason`, HTTP `status` (or None), `retryable`.

    Example:
    ```python
    try:
        kerasaudio.presets.download_file(url, "x.weights.h5", sha256=digest)
    except kerasaudio.presets.DownloadError as e:
        print(e.url, e.status, e.reason)
    ```
    """

    def __init__(self, url: str, reason: str, *, status: int | None = None,
                 retryable: bool = False):
        self.url = url
        self.reason = reason
        self.status = status
        self.retryable = retryable
        super().__init__(f"{url}: {reason}")

    def __reduce__(self):
        return (_rebuild_download_error,
                (type(self), self.url, self.reason, self.status, self.retryable))


def _rebuild_download_error(cls, url, reason, status, retryable):
    return cls(url, reason, status=status, retryable=retryable)


class ChecksumError(DownloadError):
    """A downloaded file's sha256 (or size) is not the manifest's; nothing was cached.

    Example:
    ```python
    try:
        kerasaudio.presets.download_file(url, "x.weights.h5", sha256="0" * 64)
    except kerasaudio.presets.ChecksumError as e:
        print(e.reason)  # sha256 mismatch: expected 000..., got 3f2...
    ```
    """


# --------------------------------------------------------------------------- locations


def manifest_path() -> Path:
    """The manifest `get_preset` reads: `$KERASAUDIO_MANIFEST`, else the packaged one.

    Example:
    ```python
    kerasaudio.presets.manifest_path()  # .../kerasaudio/presets/manifest.json
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
    kerasaudio.presets.package_weights_dir()  # .../kerasaudio/presets/weights
    ```
    """
    return (Path(manifest) if manifest is not None else manifest_path()).parent / "weights"


def cache_dir() -> Path:
    """The weights cache: `$KERASAUDIO_HOME/weights` (default `~/.keras/kerasaudio/weights`).

    Without `KERASAUDIO_HOME` the root is `$KERAS_HOME/kerasaudio` (Keras' own cache
    root, `~/.keras` by default). The directory is created on first download.

    Example:
    ```python
    kerasaudio.presets.cache_dir()  # PosixPath('/home/me/.keras/kerasaudio/weights')
    ```
    """
    home = os.environ.get(ENV_HOME)
    if not home:
        home = os.path.join(os.environ.get("KERAS_HOME") or "~/.keras", "kerasaudio")
    return Path(home).expanduser() / "weights"


def _env_flag(name: str) -> bool | None:
    value = os.environ.get(name)
    if value is None:
        return None
    value = value.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidOptionError(f"{name}={os.environ[name]!r}: use 1 or 0.")


def _env_number(name: str, default, kind, least):
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


# --------------------------------------------------------------------------- the manifest


@dataclass(frozen=True)
class Preset:
    """One manifest entry, read-only: what a preset model is and where its weights are.

    The fields are the manifest keys (see the module docstring), plus `name` and
    `manifest` (the file the entry was read from).

    Example:
    ```python
    preset = kerasaudio.presets.get_preset("m5_fsdd_digits")
    preset.class_names, preset.sample_rate, preset.input_length, preset.metrics
    preset.tag  # 'fsdd_digits'
    ```
    """

    name: str
    architecture: str
    config: dict
    class_names: tuple[str, ...]
    sample_rate: int
    input_length: int
    task: str
    file: str
    sha256: str
    size: int
    url: str | None
    training_data: str
    license: str
    metrics: dict
    recipe: str
    parameters: int
    manifest: Path | None = field(default=None, compare=False)

    @property
    def tag(self) -> str:
        """What `create_model(architecture, weights=...)` takes: the name without
        `<architecture>_` (`"fsdd_digits"`), or the whole name if it has another prefix."""
        prefix = f"{self.architecture}_"
        return self.name[len(prefix):] if self.name.startswith(prefix) else self.name

    @property
    def classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple:
        """The model's input shape without the batch axis, e.g. `(8000,)`."""
        return tuple(self.config["input_shape"])

    @property
    def size_mb(self) -> float:
        """The weights file's size in MB (10^6 bytes)."""
        return self.size / 1e6

    def entry(self) -> dict:
        """The manifest entry (a JSON-able dict, a copy)."""
        entry = {key: copy.deepcopy(getattr(self, key)) for key in ENTRY_KEYS}
        entry["class_names"] = list(self.class_names)
        return entry

    def builder_kwargs(self) -> dict:
        """The builder options: `config` with the front end rebuilt as layers.

        `input_shape` becomes a tuple and a serialized front end becomes fresh layer
        objects (`keras.saving.deserialize_keras_object` in safe mode, limited to
        kerasaudio's and Keras' own layer classes).
        """
        kwargs = copy.deepcopy(self.config)
        kwargs["input_shape"] = tuple(kwargs["input_shape"])
        frontend = kwargs.get("frontend")
        if isinstance(frontend, list):
            kwargs["frontend"] = [_deserialize_layer(item, self.name) for item in frontend]
        return kwargs


_MANIFEST_CACHE: dict[str, tuple[tuple, dict]] = {}
_CACHE_LOCK = threading.Lock()


def _read_manifest_file(path: Path) -> dict:
    """The validated entries of a manifest file, cached by (mtime, size, inode)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        where = f" (set by {ENV_MANIFEST})" if os.environ.get(ENV_MANIFEST) else ""
        raise ManifestError(f"{path}: manifest file not found{where}.") from None
    key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    with _CACHE_LOCK:
        cached = _MANIFEST_CACHE.get(str(path))
        if cached is not None and cached[0] == key:
            return cached[1]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}: not valid JSON: {exc}") from None
    entries = _validate_manifest(data, str(path))
    with _CACHE_LOCK:
        _MANIFEST_CACHE[str(path)] = (key, entries)
    return entries


def load_manifest(path: str | os.PathLike | None = None) -> dict[str, Preset]:
    """Read and validate a manifest: `{preset name: Preset}`.

    Args:
        path: the manifest file (default `manifest_path()`: `$KERASAUDIO_MANIFEST` or the
            packaged `kerasaudio/presets/manifest.json`).

    Raises:
        ManifestError: the file is missing, not JSON, of another format, or an entry
            breaks the schema (the message names the preset and the field).

    Example:
    ```python
    presets = kerasaudio.presets.load_manifest()
    sorted(presets)  # ['m5_fsdd_digits', ...]
    ```
    """
    path = Path(path).expanduser() if path is not None else manifest_path()
    entries = _read_manifest_file(path)
    return {name: _make_preset(name, entry, path) for name, entry in entries.items()}


def _make_preset(name: str, entry: dict, path: Path | None) -> Preset:
    entry = copy.deepcopy(entry)
    entry["class_names"] = tuple(entry["class_names"])
    return Preset(name=name, manifest=path, **entry)


def list_presets(pattern: str = "*", *, architecture: str | None = None,
                 task: str | None = None, manifest: str | os.PathLike | None = None
                 ) -> list[str]:
    """Preset names matching an fnmatch `pattern`, sorted.

    Args:
        pattern: shell-style wildcard, e.g. `"m*"` or `"*_fsdd_speakers"`.
        architecture: only presets of this architecture.
        task: only `"digits"` or `"speakers"` presets.
        manifest: the manifest file (default `manifest_path()`).

    Example:
    ```python
    kerasaudio.presets.list_presets(architecture="m5")  # ['m5_fsdd_digits']
    ```
    """
    presets = load_manifest(manifest)
    return sorted(name for name, preset in presets.items()
                  if fnmatch.fnmatchcase(name, pattern)
                  and (architecture is None or preset.architecture == architecture)
                  and (task is None or preset.task == task))


def get_preset(name: str, *, manifest: str | os.PathLike | None = None) -> Preset:
    """The `Preset` named `name` (a clear error listing the presets if there is none).

    Args:
        name: a preset name such as `"m5_fsdd_digits"`.
        manifest: the manifest file (default `manifest_path()`).

    Raises:
        InvalidOptionError: no such preset.

    Example:
    ```python
    preset = kerasaudio.presets.get_preset("m5_fsdd_digits")
    preset.class_names  # ('0', '1', ..., '9')
    ```
    """
    presets = load_manifest(manifest)
    if name not in presets:
        published = sorted(presets) or "none published yet"
        raise InvalidOptionError(f"no preset named {name!r}; presets: {published}.")
    return presets[name]


def preset_of(model) -> Preset | None:
    """The `Preset` a model was built from, or None.

    `create_model` sets `model.kerasaudio_preset`; a model without it (e.g. reloaded from
    a `.keras` file) is matched by its name, which `create_model` sets to the preset's.

    Example:
    ```python
    model = kerasaudio.create_model("m5_fsdd_digits")
    kerasaudio.presets.preset_of(model).class_names
    ```
    """
    preset = getattr(model, "kerasaudio_preset", None)
    if isinstance(preset, Preset):
        return preset
    presets = load_manifest()
    return presets.get(getattr(model, "name", None))


def representative_clips(preset: Preset) -> tuple[np.ndarray, np.ndarray]:
    """The FSDD sample shipped in the package, ready for a preset: `(clips, labels)`.

    Every bundled clip, loaded at the preset's sample rate and centred in its input length
    (cropped or zero-padded), with its label's index in `class_names` (the digit or the
    speaker, by the preset's task). Calibrates int8 export and verifies exported files
    without any external data.

    Example:
    ```python
    clips, labels = kerasaudio.presets.representative_clips(
        kerasaudio.presets.get_preset("m5_fsdd_digits"))
    clips.shape  # (120, 8000)
    ```
    """
    from kerasaudio.audio_io import load_audio
    from kerasaudio.datasets import fsdd

    frame = fsdd.load(sample=True)
    column = "speaker" if preset.task == "speakers" else "digit"
    index = {name: i for i, name in enumerate(preset.class_names)}
    n = preset.input_length
    clips, labels = [], []
    for path, label in zip(frame["path"], frame[column].astype(str), strict=True):
        if label not in index:
            continue
        audio, _ = load_audio(path, sample_rate=preset.sample_rate)
        if len(audio) >= n:
            start = (len(audio) - n) // 2
            audio = audio[start:start + n]
        else:
            total = n - len(audio)
            audio = np.pad(audio, (total // 2, total - total // 2))
        clips.append(audio)
        labels.append(index[label])
    if not clips:
        raise ManifestError(f"no bundled sample clip has a label of preset {preset.name}.")
    return np.stack(clips).astype(np.float32), np.asarray(labels)


# --------------------------------------------------------------------------- validation


def _split_name(name: str) -> tuple[str, str] | None:
    """`(tag suffix, task)` if `name` ends in a preset suffix, else None."""
    for suffix, task in TASKS.items():
        if name.endswith(f"_{suffix}"):
            return suffix, task
    return None


def _validate_manifest(data, where: str) -> dict:
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: the manifest must be a JSON object "
                            f'{{"format": {FORMAT}, "presets": {{...}}}}.')
    extra = sorted(set(data) - {"format", "presets"})
    if extra:
        raise ManifestError(f"{where}: unknown top-level key(s) {extra}; expected 'format' "
                            "and 'presets'.")
    fmt = data.get("format")
    if fmt != FORMAT:
        hint = (" (a newer kerasaudio wrote it: upgrade)"
                if isinstance(fmt, int) and fmt > FORMAT else "")
        raise ManifestError(f"{where}: 'format' is {fmt!r}; this kerasaudio reads format "
                            f"{FORMAT}{hint}.")
    presets = data.get("presets")
    if not isinstance(presets, dict):
        raise ManifestError(f"{where}: 'presets' must be an object of name -> entry.")
    return {name: _validate_entry(name, entry, where) for name, entry in presets.items()}


def _model_registry() -> dict | None:
    """The model registry, or None where Keras is not installed (a LiteRT-only runtime)."""
    try:
        from kerasaudio.models.registry import _REGISTRY, _ensure_loaded

        _ensure_loaded()
    except ImportError:
        return None
    return _REGISTRY


def _validate_entry(name, entry, where: str) -> dict:
    """Check one entry against the schema; return it (JSON types, unchanged).

    Without Keras (a LiteRT-only install) the checks that need the model registry and
    the layer classes (architecture, builder options, front-end classes) are skipped:
    the metadata still reads.
    """
    registry = _model_registry()

    def fail(message: str):
        raise ManifestError(f"{where}: preset {name!r}: {message}")

    if not isinstance(name, str) or not _NAME.match(name):
        fail(f"the name must be a lower-case identifier ending in one of {list(SUFFIXES)}.")
    if not isinstance(entry, dict):
        fail("the entry must be a JSON object.")
    missing = [key for key in ENTRY_KEYS if key not in entry]
    unknown = sorted(set(entry) - set(ENTRY_KEYS))
    if missing or unknown:
        fail(f"missing key(s) {missing}, unknown key(s) {unknown}; an entry has exactly "
             f"{list(ENTRY_KEYS)}.")

    def require(key, kinds, what):
        value = entry[key]
        if isinstance(value, bool) or not isinstance(value, kinds):
            fail(f"{key!r} must be {what}; got {value!r}.")
        return value

    def text(key):
        value = require(key, str, "a non-empty string")
        if not value.strip():
            fail(f"{key!r} must be a non-empty string.")
        return value

    def positive(key):
        value = require(key, int, "an integer >= 1")
        if value < 1:
            fail(f"{key!r} must be an integer >= 1; got {value}.")
        return value

    architecture = text("architecture")
    if registry is not None and architecture not in registry:
        fail(f"architecture {architecture!r} is not a registered model; registered: "
             f"{sorted(registry)}.")
    suffix, task = _split_name(name)
    if entry["task"] not in TASKS.values():
        fail(f"'task' must be one of {sorted(TASKS.values())}; got {entry['task']!r}.")
    if entry["task"] != task:
        fail(f"'task' is {entry['task']!r} but the name ends in '_{suffix}' ({task!r}).")
    class_names = entry["class_names"]
    if (not isinstance(class_names, list) or not class_names
            or not all(isinstance(c, str) and c for c in class_names)):
        fail("'class_names' must be a non-empty list of non-empty strings.")
    if len(set(class_names)) != len(class_names):
        fail("'class_names' has duplicates.")
    positive("sample_rate")
    input_length = positive("input_length")
    file = text("file")
    if os.path.basename(file) != file or file in (".", "..") or not file.endswith(
            ".weights.h5"):
        fail(f"'file' must be a bare file name ending in .weights.h5; got {file!r}.")
    if not _SHA256.match(require("sha256", str, "a string")):
        fail(f"'sha256' must be 64 lower-case hex digits; got {entry['sha256']!r}.")
    positive("size")
    url = entry["url"]
    if url is not None and not (isinstance(url, str)
                                and url.startswith(("http://", "https://"))):
        fail(f"'url' must be null or an http(s):// address; got {url!r}.")
    text("training_data")
    text("license")
    require("metrics", dict, "an object")
    recipe = text("recipe")
    if os.path.isabs(recipe) or ".." in Path(recipe).parts:
        fail(f"'recipe' must be a repository-relative path; got {recipe!r}.")
    positive("parameters")

    config = require("config", dict, "an object of builder options")
    if "weights" in config or "name" in config:
        fail("config may not hold 'weights' or 'name'.")
    accepted = set(config) if registry is None else (
        set(inspect.signature(registry[architecture].builder).parameters) - {"weights", "name"})
    bad = sorted(set(config) - accepted)
    if bad:
        fail(f"config has option(s) {bad} that {architecture} does not take (and "
             f"'weights'/'name' never belong there); its options: {sorted(accepted)}.")
    if config.get("include_top", True) is not True:
        fail("config 'include_top' must be true: a preset is a whole classifier.")
    if config.get("classes") != len(class_names):
        fail(f"config 'classes' is {config.get('classes')!r} but 'class_names' lists "
             f"{len(class_names)} names.")
    shape = config.get("input_shape")
    if (not isinstance(shape, list) or len(shape) not in (1, 2)
            or shape[0] not in (input_length, None) or isinstance(shape[0], bool)
            or (len(shape) == 2 and shape[1] != 1)):
        fail(f"config 'input_shape' must be [input_length] or [null] (raw audio; "
             f"optionally with a trailing 1), with input_length {input_length}; got "
             f"{shape!r}.")
    _check_frontend(config.get("frontend"), "config", fail, registry)
    if architecture == "stack":
        _check_stack_members(config, entry, fail, registry)
    return entry


def _check_frontend(frontend, where: str, fail, registry) -> None:
    """A config's `frontend`: 'default', null or allowed serialized layers."""
    if isinstance(frontend, list):
        if not frontend:
            fail(f"{where} 'frontend' is an empty list; use null or 'default'.")
        for item in frontend:
            try:
                _layer_class(item, check_class=registry is not None)
            except InvalidOptionError as exc:
                fail(f"{where} 'frontend': {exc}")
    elif frontend not in (None, "default"):
        fail(f"{where} 'frontend' must be 'default', null or a list of serialized Keras "
             f"layers; got {frontend!r}.")


def _check_stack_members(config: dict, entry: dict, fail, registry) -> None:
    """A `stack` preset's members: self-contained dicts (never preset names, whose entries
    could change under the published weights), each a registered non-stack architecture
    with options it takes and an allowed front end."""
    for key in ("class_names", "sample_rate"):
        if key in config and config[key] != entry[key]:
            fail(f"config {key!r} {config[key]!r} is not the entry's {entry[key]!r}.")
    members = config.get("members")
    if not isinstance(members, list) or len(members) < 2:
        fail("a stack's config 'members' must be a list of two or more member objects.")
    for i, member in enumerate(members):
        where = f"config 'members'[{i}]"
        if not isinstance(member, dict) or not (
                {"architecture", "config", "name"} <= set(member)
                <= {"architecture", "config", "name", "sample_rate"}):
            fail(f"{where} must be an object with 'architecture', 'config' and 'name' (and "
                 f"optionally 'sample_rate'); got {member!r:.200}.")
        rate = member.get("sample_rate", 1)
        if isinstance(rate, bool) or not isinstance(rate, int) or rate < 1:
            fail(f"{where} 'sample_rate' must be an integer >= 1; got {rate!r}.")
        architecture, options, name = member["architecture"], member["config"], member["name"]
        if not isinstance(name, str) or not name:
            fail(f"{where} 'name' must be a non-empty string.")
        if not isinstance(architecture, str) or architecture == "stack" or (
                registry is not None and architecture not in registry):
            fail(f"{where} 'architecture' {architecture!r} is not a registered model "
                 "(stacks do not nest).")
        if not isinstance(options, dict) or "weights" in options or "name" in options:
            fail(f"{where} 'config' must be an object of builder options without "
                 "'weights' or 'name'.")
        if registry is not None:
            accepted = set(inspect.signature(registry[architecture].builder).parameters)
            bad = sorted(set(options) - accepted)
            if bad:
                fail(f"{where}: {architecture} takes no option(s) {bad}.")
        _check_frontend(options.get("frontend"), where, fail, registry)


def _layer_class(item, *, check_class: bool = True):
    """The layer class a serialized front-end layer names, if it is an allowed one.

    With `check_class=False` (no Keras installed) only the form is checked; returns None.
    """
    if not (isinstance(item, dict) and isinstance(item.get("class_name"), str)
            and isinstance(item.get("config"), dict)):
        raise InvalidOptionError(f"{item!r} is not a serialized Keras layer (a dict with "
                                 "'class_name' and 'config').")
    registered = item.get("registered_name")
    class_name = item["class_name"]
    kerasaudio_layer = isinstance(registered, str) and registered.startswith("kerasaudio>")
    keras_layer = registered in (None, class_name) and item.get("module") == "keras.layers"
    if keras_layer and class_name in _FORBIDDEN_LAYERS:
        raise InvalidOptionError(f"keras.layers.{class_name} is not allowed in a "
                                 "manifest (it runs foreign code).")
    if not (kerasaudio_layer or keras_layer):
        raise InvalidOptionError(
            f"layer {class_name!r} (module {item.get('module')!r}, registered name "
            f"{registered!r}) is neither a registered kerasaudio layer nor a keras.layers "
            "class.")
    if not check_class:
        return None
    import keras

    if kerasaudio_layer:
        cls = keras.saving.get_registered_object(registered)
        if not (inspect.isclass(cls) and cls.__module__.startswith("kerasaudio.")):
            raise InvalidOptionError(f"{registered!r} is not a registered kerasaudio layer.")
    else:
        cls = getattr(keras.layers, class_name, None)
    if not (inspect.isclass(cls) and issubclass(cls, keras.layers.Layer)):
        raise InvalidOptionError(f"{class_name!r} is not a Keras layer class.")
    return cls


def _deserialize_layer(item, preset_name: str):
    import keras

    cls = _layer_class(item)
    layer = keras.saving.deserialize_keras_object(item, safe_mode=True)
    if type(layer) is not cls:
        raise ManifestError(f"preset {preset_name!r}: front-end layer {item['class_name']!r}"
                            f" deserialized to {type(layer).__name__}.")
    return layer


def _serialize_layer(layer) -> dict:
    import keras

    item = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    item["config"].pop("name", None)  # auto-generated; a fresh one on rebuild
    try:
        _layer_class(item)
    except InvalidOptionError as exc:
        raise InvalidOptionError(f"cannot publish front-end layer {layer.name!r}: {exc}") \
            from None
    return item


def serialized_frontend(frontend):
    """A builder's `frontend` option as a manifest holds it: `"default"` or None as given,
    layers (one or a list) serialized (already serialized dicts kept).

    Example:
    ```python
    kerasaudio.presets.serialized_frontend([kerasaudio.layers.Standardize()])
    ```
    """
    import keras

    if frontend is None or isinstance(frontend, str):
        return frontend
    layers = [frontend] if isinstance(frontend, keras.layers.Layer) else list(frontend)
    return [f if isinstance(f, dict) else _serialize_layer(f) for f in layers]


def _jsonable(value):
    """Tuples -> lists, recursively (how JSON will hold the value)."""
    return json.loads(json.dumps(value))


# --------------------------------------------------------------------------- create_model


def is_local_path(weights) -> bool:
    """True if `weights` names a local file rather than a preset tag."""
    if isinstance(weights, os.PathLike):
        return True
    if not isinstance(weights, str):
        return False
    return (weights.endswith(".weights.h5") or os.sep in weights
            or bool(os.altsep and os.altsep in weights) or os.path.isfile(weights))


def find_for(name: str, weights) -> Preset | None:
    """The preset `create_model(name, weights=...)` asks for, or None for a plain build.

    Raises:
        InvalidOptionError: `weights` is a tag (not a path) that `name` has no preset
            for (listing the presets that exist for it), or `name` is neither a
            registered model nor a preset.
    """
    from kerasaudio.models.registry import _REGISTRY, _ensure_loaded, get_model_info

    _ensure_loaded()
    if name in _REGISTRY:
        if weights is None or not isinstance(weights, str) or is_local_path(weights):
            return None
        presets = load_manifest()
        for candidate in (weights, f"{name}_{weights}"):
            preset = presets.get(candidate)
            if preset is not None and preset.architecture == name:
                return preset
        mine = sorted(p for p, preset in presets.items() if preset.architecture == name)
        if weights in presets:
            raise InvalidOptionError(
                f"{name}: weights={weights!r} is a preset of architecture "
                f"{presets[weights].architecture!r}, not {name!r}; presets for {name}: "
                f"{mine or 'none published yet'}.")
        tags = [presets[p].tag for p in mine]
        raise InvalidOptionError(
            f"{name}: weights={weights!r} is neither None, a .weights.h5 path, nor a "
            f"preset of {name} (there are no ImageNet audio weights). Presets for {name}: "
            f"{tags or 'none published yet'}"
            f"{'' if tags else '; kerasaudio.list_models(pretrained=True) lists them all'}.")
    presets = load_manifest()
    if name not in presets:
        if _split_name(name) is not None:
            raise InvalidOptionError(f"no preset named {name!r}; presets: "
                                     f"{sorted(presets) or 'none published yet'}.")
        get_model_info(name)  # raises: no model named ...
    preset = presets[name]
    if weights is not None and not is_local_path(weights) and weights not in (
            preset.name, preset.tag):
        raise InvalidOptionError(
            f"{name}: weights={weights!r}; a preset takes None (its published weights), "
            f"{preset.tag!r}, or a path to a .weights.h5 file.")
    return preset


#: Options a caller may change on a preset model: they do not change the weights.
FREE_OPTIONS = ("include_top", "pooling", "classifier_activation", "name")


def builder_options(preset: Preset, kwargs: dict) -> dict:
    """The builder's options for `preset` with the caller's `kwargs`, checked before building.

    `include_top`, `pooling`, `classifier_activation` and `name` are free; `classes` must
    be the preset's; `input_shape` must be the preset's (its time axis may be None:
    variable length); every other option must equal the preset's config.
    """
    from kerasaudio.models.registry import get_model_info

    defaults = inspect.signature(get_model_info(preset.architecture).builder).parameters
    options = preset.builder_kwargs()
    include_top = kwargs.get("include_top", True)
    for key, value in kwargs.items():
        if key in FREE_OPTIONS:
            continue
        if key == "classes":
            if include_top and value != preset.classes:
                raise InvalidOptionError(
                    f"{preset.name} has {preset.classes} classes {list(preset.class_names)}"
                    f"; got classes={value!r}. Load the preset with its classes (or "
                    "include_top=False for its features) and train a new head for others.")
            continue
        if key == "input_shape":
            given = tuple(value) if isinstance(value, (list, tuple)) else value
            want = preset.input_shape
            if not (isinstance(given, tuple) and len(given) == len(want)
                    and given[0] in (want[0], None) and given[1:] == want[1:]):
                raise InvalidOptionError(
                    f"{preset.name} takes input_shape={want} ({preset.input_length} samples"
                    f" at {preset.sample_rate} Hz); got input_shape={value!r}. Pass "
                    f"{want} or {(None, *want[1:])} (any length).")
            options["input_shape"] = given
            continue
        if key == "frontend":
            if value != preset.config.get("frontend"):
                raise InvalidOptionError(
                    f"{preset.name}: the front end is part of the preset "
                    f"(frontend={preset.config.get('frontend')!r} in its manifest entry); "
                    f"got frontend={value!r}. Leave it out.")
            continue
        trained = preset.config[key] if key in preset.config else defaults[key].default
        try:
            same = _jsonable(value) == _jsonable(trained)
        except TypeError:
            same = False
        if not same:
            raise InvalidOptionError(
                f"{preset.name} was trained with {key}={trained!r}; got {key}={value!r}. "
                "Only include_top, pooling, classifier_activation, name, and an "
                "input_shape with a None time axis may differ from the preset.")
    options.update({k: kwargs[k] for k in FREE_OPTIONS if k in kwargs})
    options.setdefault("name", preset.name)
    return options


# --------------------------------------------------------------------------- resolution


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verified(path: Path, preset: Preset) -> str | None:
    """None if `path` holds the preset's file; else why not."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "missing"
    if size != preset.size:
        return (f"present but {size} bytes, not the manifest's {preset.size} (stale or "
                "corrupted; not used)")
    digest = _sha256(path)
    if digest != preset.sha256:
        return (f"present but its sha256 {digest[:12]}... is not the manifest's "
                f"{preset.sha256[:12]}... (stale or corrupted; not used)")
    return None


def download_urls(preset: Preset) -> list[str]:
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
        preset: a preset name or `Preset`.
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

    Example:
    ```python
    path = kerasaudio.presets.weights_path("m5_fsdd_digits")
    ```
    """
    if isinstance(preset, str):
        preset = get_preset(preset)
    if offline is None:
        offline = bool(_env_flag(ENV_OFFLINE))
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
    urls = download_urls(preset)
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


# --------------------------------------------------------------------------- downloading


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
    flag = _env_flag(ENV_PROGRESS)
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
    from kerasaudio import __version__

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
    kerasaudio.presets.download_file("https://example.org/m5.weights.h5",
                                     "m5.weights.h5", sha256="3f2a...")
    ```
    """
    dest = Path(dest)
    if timeout is None:
        timeout = _env_number(ENV_TIMEOUT, DEFAULT_TIMEOUT, float, 0.001)
    if retries is None:
        retries = _env_number(ENV_RETRIES, DEFAULT_RETRIES, int, 0)
    backoff = DEFAULT_BACKOFF if backoff is None else backoff
    show = _show_progress(progress)
    sha256 = sha256.lower()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _download_lock(dest) if lock else contextlib.nullcontext():
        if dest.is_file() and (size is None or dest.stat().st_size == size) \
                and _sha256(dest) == sha256:
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


# --------------------------------------------------------------------------- tables


def _metric_numbers(metrics: dict) -> dict:
    """The top-level numbers of a preset's metrics, plus `epochs` and `train_seconds` from
    `metrics["training"]` (`epochs`, `official_seconds`) where the top level lacks them."""
    def number(value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    values = {key: value for key, value in metrics.items() if number(value)}
    training = metrics.get("training")
    if isinstance(training, dict):
        for key, source in (("epochs", "epochs"), ("train_seconds", "official_seconds")):
            if key not in values and number(training.get(source)):
                values[key] = training[source]
    return values


def presets_table(manifest: str | os.PathLike | None = None):
    """One row per preset: architecture, task, classes, sample rate, parameters, size, metrics.

    `size_mb` is the weights file's size (the download) in MB; every top-level number in
    the entries' `metrics` (e.g. `official_accuracy`, `loso_accuracy`) is a column, and
    so are `epochs` and `train_seconds` (the official-split training) when a recipe
    nested them under `metrics["training"]`.
    `kerasaudio.available_models(pretrained=True)` returns this table.

    Returns:
        A `pandas.DataFrame` indexed by preset name (empty when no preset is published).

    Example:
    ```python
    print(kerasaudio.presets.presets_table().to_string())
    ```
    """
    import pandas as pd

    presets = load_manifest(manifest)
    columns = ["preset", "architecture", "task", "classes", "sample_rate", "input_length",
               "parameters", "size_mb"]
    numbers = {name: _metric_numbers(preset.metrics) for name, preset in presets.items()}
    metric_columns = sorted({key for values in numbers.values() for key in values})
    rows = []
    for name in sorted(presets):
        preset = presets[name]
        row = {"preset": name, "architecture": preset.architecture, "task": preset.task,
               "classes": preset.classes, "sample_rate": preset.sample_rate,
               "input_length": preset.input_length, "parameters": preset.parameters,
               "size_mb": round(preset.size_mb, 2)}
        row.update({key: numbers[name].get(key) for key in metric_columns})
        rows.append(row)
    return pd.DataFrame(rows, columns=columns + metric_columns).set_index("preset")


# --------------------------------------------------------------------------- publishing


def _default_manifests() -> list[Path]:
    if os.environ.get(ENV_MANIFEST):
        return [manifest_path()]
    paths = [PACKAGED_MANIFEST]
    if ZOO_MANIFEST.parent.is_dir():
        paths.insert(0, ZOO_MANIFEST)
    return paths


@contextlib.contextmanager
def _locked(path: Path):
    """Exclusive lock on `path` itself, re-opened until the lock is on the current file."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = open(path, "a+")  # closed below
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError:
            handle.close()
            yield
            return
        try:
            if os.fstat(handle.fileno()).st_ino == path.stat().st_ino:
                break
        except FileNotFoundError:
            pass
        handle.close()  # replaced while we waited: lock the new file
    try:
        yield
    finally:
        handle.close()


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def manifest_text(presets: dict) -> str:
    """The canonical JSON text of a manifest holding `presets` (name -> entry)."""
    return json.dumps({"format": FORMAT, "presets": presets}, indent=2, sort_keys=True) + "\n"


def _update_manifest(path: Path, name: str, entry: dict) -> None:
    with _locked(path):
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        if text.strip():
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ManifestError(f"{path}: not valid JSON: {exc}") from None
            presets = dict(_validate_manifest(data, str(path)))
        else:
            presets = {}
        presets[name] = entry
        _write_atomically(path, manifest_text(presets))


def publish(model, name: str, *, class_names: Sequence[str], sample_rate: int,
            input_length: int, metrics: dict, recipe: str, training_data: str, license: str,
            url: str | None = None, architecture: str | None = None, config: dict | None = None,
            manifest_path: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
            weights_dir: str | os.PathLike | None = None) -> Preset:
    """Save a trained model's weights as a preset and write its manifest entry.

    Saves `<weights_dir>/<name>.weights.h5`, computes its sha256 and size, rebuilds the
    model from the recorded config and checks the file loads into it with the same
    outputs, then adds (or replaces) the entry in each manifest, atomically and under a
    file lock. Recipes in `zoo/` call this.

    Args:
        model: the trained Keras model (raw audio in, `len(class_names)` outputs).
        name: the preset name: a lower-case identifier ending in `_fsdd_digits` or
            `_fsdd_speakers` (the task follows from it), usually `<architecture>_<tag>`.
        class_names: output index -> class name.
        sample_rate: Hz of the audio the model takes.
        input_length: samples per clip in training.
        metrics: results (JSON); use `official_accuracy` and `loso_accuracy` where they
            apply, they become columns of `available_models(pretrained=True)`.
        recipe: repository-relative path of the recipe, e.g. `"zoo/m5_fsdd_digits.py"`.
        training_data: the data, split and preprocessing, in words.
        license: license and attribution (FSDD: `kerasaudio.datasets.fsdd.LICENSE`).
        url: where the file will be downloadable from (None: shipped in the package or
            served by a mirror only).
        architecture: the registered name (default: what `create_model` built `model`
            as).
        config: the builder options (default: those `create_model` was given; a front
            end given as layers is serialized). `classes` and `input_shape` are filled in
            from `class_names` and the model when missing.
        manifest_path: the manifest(s) to update. Default: `$KERASAUDIO_MANIFEST` if set;
            else the canonical `zoo/manifest.json` (in a source checkout) and the
            packaged `kerasaudio/presets/manifest.json`.
        weights_dir: where the weights file goes (default: `weights/` next to the first
            manifest when `$KERASAUDIO_MANIFEST` or `manifest_path` is given, else
            `kerasaudio/presets/weights/`).

    Returns:
        The published `Preset`.

    Raises:
        InvalidOptionError: a bad name, no architecture/config known, a model that is
            not raw audio in or does not have `len(class_names)` outputs, or a config
            that does not rebuild the model.

    Example:
    ```python
    model = kerasaudio.create_model("m5", n_channel=32, frontend="default",
                                    input_shape=(8000,), classes=10)
    ...  # train
    kerasaudio.presets.publish(
        model, "m5_fsdd_digits", class_names=fsdd.CLASSES, sample_rate=8000,
        input_length=8000, metrics={"official_accuracy": 0.85, "loso_accuracy": 0.52},
        recipe="zoo/m5_fsdd_digits.py", training_data="FSDD official split, takes 5-49",
        license=fsdd.LICENSE, url="https://example.org/m5_fsdd_digits.weights.h5")
    ```
    """
    import keras
    import numpy as np

    from kerasaudio.models.registry import _build_arguments, get_model_info

    recorded = _build_arguments(model)
    if architecture is None:
        if recorded is None:
            raise InvalidOptionError(
                "publish: pass architecture= and config=: the model was not built by "
                "kerasaudio.create_model, so its options are unknown.")
        architecture = recorded[0]
    if config is None:
        if recorded is None or recorded[0] != architecture:
            raise InvalidOptionError(f"publish: pass config= (the {architecture} builder "
                                     "options the model was built with).")
        config = recorded[1]
    info = get_model_info(architecture)
    if not _NAME.match(name):
        raise InvalidOptionError(f"publish: name {name!r} must be a lower-case identifier "
                                 f"ending in one of {list(SUFFIXES)}, usually "
                                 f"'{architecture}_<tag>'.")
    config = dict(config)
    for key in ("weights", "name"):
        config.pop(key, None)
    if architecture == "stack":
        from kerasaudio.models.stack import publishable_config

        config = publishable_config(config, class_names=class_names, sample_rate=sample_rate)
    if config.get("frontend") is not None:
        config["frontend"] = serialized_frontend(config["frontend"])
    class_names = [str(c) for c in class_names]
    config.setdefault("classes", len(class_names))
    shape = tuple(model.inputs[0].shape[1:])
    config.setdefault("input_shape", list(shape))
    try:
        config = _jsonable(config)
    except TypeError as exc:
        raise InvalidOptionError(f"publish: config is not JSON-able: {exc}") from None
    if len(model.outputs) != 1 or model.outputs[0].shape[-1] != len(class_names):
        raise InvalidOptionError(
            f"publish: the model's output {[tuple(t.shape) for t in model.outputs]} does "
            f"not have {len(class_names)} classes (class_names).")
    if tuple(config["input_shape"]) != shape:
        raise InvalidOptionError(f"publish: config input_shape {config['input_shape']} is "
                                 f"not the model's input {shape}.")

    if manifest_path is None:
        manifests = _default_manifests()
        explicit = bool(os.environ.get(ENV_MANIFEST))
    elif isinstance(manifest_path, (str, os.PathLike)):
        manifests, explicit = [Path(manifest_path)], True
    else:
        manifests, explicit = [Path(p) for p in manifest_path], True
    if weights_dir is None:
        weights_dir = (package_weights_dir(manifests[-1]) if explicit
                       else package_weights_dir(PACKAGED_MANIFEST))
    weights_dir = Path(weights_dir)
    weights_dir.mkdir(parents=True, exist_ok=True)
    file = f"{name}.weights.h5"
    entry = {
        "architecture": architecture, "config": config, "class_names": class_names,
        "sample_rate": sample_rate, "input_length": input_length, "task": TASKS[
            _split_name(name)[0]], "file": file, "sha256": "0" * 64, "size": 1,
        "url": url, "training_data": training_data, "license": license,
        "metrics": _jsonable(metrics), "recipe": recipe, "parameters": model.count_params(),
    }
    _validate_entry(name, entry, "publish")  # everything but the file, before writing it

    fd, tmp = tempfile.mkstemp(dir=weights_dir, prefix=f".{name}.", suffix=".weights.h5")
    os.close(fd)
    try:
        model.save_weights(tmp, overwrite=True)
        entry["sha256"] = _sha256(Path(tmp))
        entry["size"] = os.path.getsize(tmp)
        preset = _make_preset(name, entry, None)
        rebuilt = info.builder(weights=tmp, **builder_options(preset, {}))
        length = input_length if shape[0] is None else shape[0]
        probe = np.random.default_rng(0).uniform(
            -0.5, 0.5, (2, length, *shape[1:])).astype("float32")
        ours = keras.ops.convert_to_numpy(model(probe, training=False))
        theirs = keras.ops.convert_to_numpy(rebuilt(probe, training=False))
        if ours.shape != theirs.shape or not np.allclose(ours, theirs, atol=1e-5):
            raise InvalidOptionError(
                f"publish: {architecture}(**config) with the saved weights does not "
                f"reproduce the model's outputs; check config={config}.")
        os.chmod(tmp, 0o644)
        os.replace(tmp, weights_dir / file)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    for path in manifests:
        _update_manifest(path, name, entry)
    return _make_preset(name, entry, manifests[-1])


def record_metrics(name: str, metrics: dict, *,
                   manifest_path: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
                   ) -> Preset:
    """Merge measured numbers into a published preset's `metrics`, in every manifest.

    Top-level keys of `metrics` replace those of the entry (nested objects are replaced
    whole); everything else in the entry, the weights file included, is untouched. The
    update is atomic and under the same lock as `publish`. `benchmarks/tflite.py` records
    each preset's quantized sizes and accuracies this way (`int8_size_mb`,
    `int8_official_accuracy`, ...), and they become columns of
    `kerasaudio.available_models(pretrained=True)`.

    Args:
        name: a published preset.
        metrics: JSON-able numbers and objects to merge.
        manifest_path: the manifest(s) to update (default: as `publish`).

    Returns:
        The updated `Preset` (from the last manifest written).

    Raises:
        InvalidOptionError: `name` is not in a manifest, or `metrics` is not JSON-able.

    Example:
    ```python
    kerasaudio.presets.record_metrics("m5_fsdd_digits", {"int8_size_mb": 0.04})
    ```
    """
    if not isinstance(metrics, dict):
        raise InvalidOptionError(f"record_metrics: metrics must be a dict, got "
                                 f"{type(metrics).__name__}.")
    try:
        metrics = _jsonable(metrics)
        json.dumps(metrics)
    except TypeError as exc:
        raise InvalidOptionError(f"record_metrics: metrics are not JSON-able: {exc}") from None
    if manifest_path is None:
        manifests = _default_manifests()
    elif isinstance(manifest_path, (str, os.PathLike)):
        manifests = [Path(manifest_path)]
    else:
        manifests = [Path(p) for p in manifest_path]
    entry = None
    for path in manifests:
        with _locked(path):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (FileNotFoundError, json.JSONDecodeError) as exc:
                raise ManifestError(f"{path}: cannot read the manifest: {exc}") from None
            presets = dict(_validate_manifest(data, str(path)))
            if name not in presets:
                raise InvalidOptionError(f"record_metrics: no preset {name!r} in {path}; "
                                         f"published: {sorted(presets)}.")
            entry = dict(presets[name])
            entry["metrics"] = {**entry.get("metrics", {}), **metrics}
            _validate_entry(name, entry, f"record_metrics({path})")
            presets[name] = entry
            _write_atomically(path, manifest_text(presets))
    return _make_preset(name, entry, manifests[-1])
