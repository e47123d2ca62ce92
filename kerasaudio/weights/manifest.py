"""The weights manifest: its schema, its validation, and the `Preset` entries it holds.

## Manifest schema (format 1)

A JSON object `{"format": 1, "presets": {<name>: <entry>, ...}}`. A preset's name (the
key) is a lower-case identifier (`[a-z][a-z0-9_]*`), usually `<architecture>_<tag>` such
as `m5_fsdd_digits`. Every entry has exactly these keys (a missing or unknown key is an
error, so a typo cannot pass):

- `architecture` (str): the registered model name the weights are for. That it is
  registered, and that `config` holds only options its builder takes, is checked where
  models and weights meet (`kerasaudio.hub`), when the preset is resolved.
- `config` (object): the builder's keyword options, as JSON. It holds `classes` (the
  number of `class_names`) and `input_shape` (`[input_length]` or `[null]`, optionally
  with a trailing `1`: raw audio); `include_top`, if present, is true; never `weights`
  or `name`. `frontend` is `"default"`, `null`, or a list of serialized Keras layers
  whose classes are kerasaudio's registered layers or built-in `keras.layers` (see
  `kerasaudio.weights.frontend`). An ensemble preset (architecture `stack`) lists its
  `members`, two or more objects with `architecture` (not `stack`: stacks do not nest),
  `config` (that builder's options, its `frontend` checked as above), `name` and, when
  it differs from the stack's, the member's `sample_rate`: complete descriptions, never
  preset names, so the entry cannot change under its own weights file, which holds every
  member's weights. Its `class_names` and `sample_rate`, if given, are the entry's.
- `class_names` (list of str): output index -> class name (unique, non-empty).
- `sample_rate` (int): Hz of the audio the model takes.
- `input_length` (int): samples per clip in training (the model's input length).
- `task` (str): what the model does, free-form (`"digits"`, `"speakers"`, `"tagging"`).
- `file` (str): the weights file's name (bare, ending in `.weights.h5`).
- `sha256` (str): its 64 lower-case hex digits.
- `size` (int): its size in bytes.
- `url` (str or null): an `http(s)://` address of the file, or null (shipped in the
  package or served by a mirror only).
- `training_data` (str): what the model was trained on (dataset, split, preprocessing).
- `license` (str): license and attribution of the weights.
- `metrics` (object): free-form results; its top-level numbers become table columns.
- `recipe` (str): repository-relative path of the training recipe.
- `parameters` (int): `model.count_params()` of the preset model.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG
from typing import NoReturn

from kerasaudio.errors import InvalidOptionError, ManifestError
from kerasaudio.info import AudioInfo, model_info
from kerasaudio.weights.env import ENV_MANIFEST, checked_path, manifest_path
from kerasaudio.weights.frontend import deserialize_layer, keras_available, layer_class

__all__ = [
    "ENTRY_KEYS",
    "FORMAT",
    "MEMBER_KEYS",
    "Preset",
    "get_preset",
    "jsonable",
    "list_presets",
    "load_manifest",
    "preset_of",
    "validate_entry",
    "validate_manifest",
]

#: The manifest format this module reads.
FORMAT = 1
#: The keys of a manifest entry, in the documented order.
ENTRY_KEYS = ("architecture", "config", "class_names", "sample_rate", "input_length", "task",
              "file", "sha256", "size", "url", "training_data", "license", "metrics",
              "recipe", "parameters")
#: The keys a stack preset's member may have (`sample_rate` optional).
MEMBER_KEYS = ("architecture", "config", "name", "sample_rate")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def jsonable(value):
    """`value` as JSON holds it (tuples become lists, recursively).

    Raises:
        TypeError: a value JSON cannot hold.

    Example:
    ```python
    kerasaudio.weights.jsonable({"input_shape": (8000, 1)})  # {'input_shape': [8000, 1]}
    ```
    """
    return json.loads(json.dumps(value))


@dataclass(frozen=True)
class Preset:
    """One manifest entry, read-only: what a preset model is and where its weights are.

    The fields are the manifest keys (see the module docstring), plus `name` and
    `manifest` (the file the entry was read from).

    Example:
    ```python
    preset = kerasaudio.weights.get_preset("m5_fsdd_digits")
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

    @classmethod
    def from_entry(cls, name: str, entry: dict, manifest: Path | None = None) -> Preset:
        """A `Preset` from a validated manifest entry (a deep copy of it).

        Example:
        ```python
        import json
        manifest = json.loads(kerasaudio.weights.PACKAGED_MANIFEST.read_text())
        entry = kerasaudio.weights.validate_entry(  # from_entry takes a checked entry
            "m5_fsdd_digits", manifest["presets"]["m5_fsdd_digits"], "manifest.json")
        preset = kerasaudio.weights.Preset.from_entry("m5_fsdd_digits", entry)
        preset.tag, preset.classes, preset.input_shape  # ('fsdd_digits', 10, (8000,))
        ```
        """
        entry = copy.deepcopy(entry)
        entry["class_names"] = tuple(entry["class_names"])
        return cls(name=name, manifest=manifest, **entry)

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

    @property
    def info(self) -> AudioInfo:
        """The model-info record of this preset's model (`kerasaudio.info.AudioInfo`):
        task, class names, sample rate, input length and the preset's name.

        Example:
        ```python
        kerasaudio.weights.get_preset("m5_fsdd_digits").info.sample_rate  # 8000
        ```
        """
        return AudioInfo(task=self.task, class_names=self.class_names,
                         sample_rate=self.sample_rate, input_length=self.input_length,
                         preset=self.name)

    def entry(self) -> dict:
        """The manifest entry (a JSON-able dict, a copy)."""
        entry = {key: copy.deepcopy(getattr(self, key)) for key in ENTRY_KEYS}
        entry["class_names"] = list(self.class_names)
        return entry

    def builder_kwargs(self) -> dict:
        """The builder options: `config` with the front end rebuilt as layers.

        `input_shape` becomes a tuple and a serialized front end becomes fresh layer
        objects (`kerasaudio.weights.deserialize_layer`: safe mode, limited to
        kerasaudio's and Keras' own layer classes). A stack's members stay JSON (the
        stack builder rebuilds their front ends the same way).
        """
        kwargs = copy.deepcopy(self.config)
        kwargs["input_shape"] = tuple(kwargs["input_shape"])
        frontend = kwargs.get("frontend")
        if isinstance(frontend, list):
            kwargs["frontend"] = [deserialize_layer(item, f"preset {self.name!r}")
                                  for item in frontend]
        return kwargs


# --------------------------------------------------------------------------- reading


_MANIFEST_CACHE: dict[str, tuple[tuple, dict]] = {}
_CACHE_LOCK = threading.Lock()


def _read_manifest_file(path: Path) -> dict:
    """The validated entries of a manifest file, cached by (mtime, size, inode)."""
    where = f" (set by {ENV_MANIFEST})" if os.environ.get(ENV_MANIFEST) else ""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest file not found{where}.") from None
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read the manifest{where}: "
                            f"{exc.strerror or exc}.") from None
    if not S_ISREG(stat.st_mode):
        raise ManifestError(f"{path}: not a manifest file (a directory or another "
                            f"non-regular file){where}.")
    key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    with _CACHE_LOCK:
        cached = _MANIFEST_CACHE.get(str(path))
        if cached is not None and cached[0] == key:
            return cached[1]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: not valid JSON: {exc}") from None
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read the manifest{where}: "
                            f"{exc.strerror or exc}.") from None
    entries = validate_manifest(data, str(path))
    with _CACHE_LOCK:
        _MANIFEST_CACHE[str(path)] = (key, entries)
    return entries


def load_manifest(path: str | os.PathLike | None = None) -> dict[str, Preset]:
    """Read and validate a manifest: `{preset name: Preset}`.

    Args:
        path: the manifest file (default `manifest_path()`: `$KERASAUDIO_MANIFEST` or the
            packaged `kerasaudio/pretrained/manifest.json`).

    Raises:
        ManifestError: the file is missing, unreadable, a directory, not JSON, of another
            format, or an entry breaks the schema (the message names the preset and the
            field).
        InvalidOptionError: `path` is not a path or holds a NUL byte.

    Example:
    ```python
    presets = kerasaudio.weights.load_manifest()
    sorted(presets)  # ['bilstm_attention_fsdd_digits', ...]
    ```
    """
    path = checked_path(path, "manifest").expanduser() if path is not None else manifest_path()
    entries = _read_manifest_file(path)
    return {name: Preset.from_entry(name, entry, path) for name, entry in entries.items()}


def list_presets(pattern: str = "*", *, architecture: str | None = None,
                 task: str | None = None, manifest: str | os.PathLike | None = None
                 ) -> list[str]:
    """Preset names matching an fnmatch `pattern`, sorted.

    Args:
        pattern: shell-style wildcard, e.g. `"m*"` or `"*_fsdd_speakers"`.
        architecture: only presets of this architecture.
        task: only presets of this task (e.g. `"digits"`).
        manifest: the manifest file (default `manifest_path()`).

    Example:
    ```python
    kerasaudio.weights.list_presets(architecture="m5")  # ['m5_fsdd_digits']
    ```
    """
    presets = load_manifest(manifest)
    return sorted(name for name, preset in presets.items()
                  if fnmatch.fnmatchcase(name, pattern)
                  and (architecture is None or preset.architecture == architecture)
                  and (task is None or preset.task == task))


def get_preset(name: str, *, manifest: str | os.PathLike | None = None) -> Preset:
    """The `Preset` named `name` (a clear error listing the presets if there is none).

    This reads the manifest only; `kerasaudio.hub.get_preset` also checks the entry
    against the model registry.

    Args:
        name: a preset name such as `"m5_fsdd_digits"`.
        manifest: the manifest file (default `manifest_path()`).

    Raises:
        InvalidOptionError: no such preset.

    Example:
    ```python
    preset = kerasaudio.weights.get_preset("m5_fsdd_digits")
    preset.class_names  # ('0', '1', ..., '9')
    ```
    """
    presets = load_manifest(manifest)
    if name not in presets:
        published = sorted(presets) or "none published yet"
        raise InvalidOptionError(f"no preset named {name!r}; presets: {published}.")
    return presets[name]


def preset_of(model, *, manifest: str | os.PathLike | None = None) -> Preset | None:
    """The `Preset` a model's weights came from: the manifest entry its record names.

    The model-info record (`kerasaudio.info.model_info`) keeps the preset's name, which
    `kerasaudio.create_model` sets and a `.keras` file keeps; the entry of that name is
    read from the manifest. A model whose record names no preset (or one this manifest
    does not hold) has None. The model's own name plays no part.

    Args:
        model: a Keras model (or anything `model_info` reads).
        manifest: the manifest file (default `manifest_path()`).

    Example:
    ```python
    model = kerasaudio.create_model("m5_fsdd_digits", name="renamed")
    kerasaudio.weights.preset_of(model).class_names  # ('0', ..., '9')
    ```
    """
    name = model_info(model).preset
    if name is None:
        return None
    return load_manifest(manifest).get(name)


# --------------------------------------------------------------------------- validation


def validate_manifest(data, where: str) -> dict:
    """Check a parsed manifest against the schema; return its entries (name -> dict).

    Args:
        data: the parsed JSON.
        where: what to name in errors (usually the file's path).

    Raises:
        ManifestError: the first problem found, naming the preset and the field.

    Example:
    ```python
    import json
    entry = kerasaudio.weights.get_preset("m5_fsdd_digits").entry()
    with open("manifest.json", "w") as f:  # a manifest of one preset, as JSON
        json.dump({"format": 1, "presets": {"my_m5": entry}}, f)
    text = open("manifest.json").read()
    entries = kerasaudio.weights.validate_manifest(json.loads(text), "manifest.json")
    list(entries), entries["my_m5"]["architecture"]  # (['my_m5'], 'm5')
    ```
    """
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
    return {name: validate_entry(name, entry, where) for name, entry in presets.items()}


def validate_entry(name, entry, where: str) -> dict:
    """Check one entry against the schema; return it (JSON types, unchanged).

    Front-end layer classes are looked up when Keras is installed (only their form and
    names otherwise, so the metadata of a LiteRT-only install still reads). Whether the
    architecture is registered is not checked here (see the module docstring).

    Raises:
        ManifestError: the first problem found, naming the preset and the field.

    Example:
    ```python
    entry = kerasaudio.weights.get_preset("m5_fsdd_digits").entry()
    entry["sha256"] = "3f2a"  # a truncated digest
    try:
        kerasaudio.weights.validate_entry("m5_fsdd_digits", entry, "my manifest")
    except kerasaudio.errors.ManifestError as e:
        print(e)  # my manifest: preset 'm5_fsdd_digits': ...sha256...
    ```
    """
    check_class = keras_available()

    def fail(message: str) -> NoReturn:
        raise ManifestError(f"{where}: preset {name!r}: {message}")

    if not isinstance(name, str) or not _NAME.match(name):
        fail("the name must be a lower-case identifier ([a-z][a-z0-9_]*).")
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
    text("task")
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
    _check_frontend(config.get("frontend"), "config", fail, check_class)
    if architecture == "stack":
        _check_stack_members(config, entry, fail, check_class)
    return entry


def _check_frontend(frontend, where: str, fail: Callable[[str], NoReturn],
                    check_class: bool) -> None:
    """A config's `frontend`: 'default', null or allowed serialized layers."""
    if isinstance(frontend, list):
        if not frontend:
            fail(f"{where} 'frontend' is an empty list; use null or 'default'.")
        for item in frontend:
            try:
                layer_class(item, check_class=check_class)
            except InvalidOptionError as exc:
                fail(f"{where} 'frontend': {exc}")
    elif frontend not in (None, "default"):
        fail(f"{where} 'frontend' must be 'default', null or a list of serialized Keras "
             f"layers; got {frontend!r}.")


def _check_stack_members(config: dict, entry: dict, fail: Callable[[str], NoReturn],
                         check_class: bool) -> None:
    """A `stack` preset's members: self-contained objects (never preset names, whose
    entries could change under the published weights), none of them a stack, each with
    an allowed front end."""
    for key in ("class_names", "sample_rate"):
        if key in config and config[key] != entry[key]:
            fail(f"config {key!r} {config[key]!r} is not the entry's {entry[key]!r}.")
    members = config.get("members")
    if not isinstance(members, list) or len(members) < 2:
        fail("a stack's config 'members' must be a list of two or more member objects.")
    required = set(MEMBER_KEYS) - {"sample_rate"}
    for i, member in enumerate(members):
        where = f"config 'members'[{i}]"
        if not isinstance(member, dict) or not required <= set(member) <= set(MEMBER_KEYS):
            fail(f"{where} must be an object with 'architecture', 'config' and 'name' (and "
                 f"optionally 'sample_rate'); got {member!r:.200}.")
        rate = member.get("sample_rate", 1)
        if isinstance(rate, bool) or not isinstance(rate, int) or rate < 1:
            fail(f"{where} 'sample_rate' must be an integer >= 1; got {rate!r}.")
        architecture, options, name = member["architecture"], member["config"], member["name"]
        if not isinstance(name, str) or not name:
            fail(f"{where} 'name' must be a non-empty string.")
        if not isinstance(architecture, str) or not architecture or architecture == "stack":
            fail(f"{where} 'architecture' {architecture!r} must name a registered model "
                 "other than 'stack' (stacks do not nest).")
        if not isinstance(options, dict) or "weights" in options or "name" in options:
            fail(f"{where} 'config' must be an object of builder options without "
                 "'weights' or 'name'.")
        _check_frontend(options.get("frontend"), where, fail, check_class)
