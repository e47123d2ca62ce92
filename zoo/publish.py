"""Publishing presets: the weights file, its manifest entry, measured numbers, one writer.

The library only reads the manifest (`kerasaudio.weights`); this tooling module is the one
place that writes it. There is one manifest, the packaged
`kerasaudio/pretrained/manifest.json` of this repository (`MANIFEST`), with the weights
files in `kerasaudio/pretrained/weights/`; `$KERASAUDIO_MANIFEST` or `manifest_path=`
points a run at another one (tests do), whose weights directory is `weights/` beside it.

- `publish(model, name, ...)` saves the weights, computes sha256 and size, checks that the
  recorded config rebuilds a model the file fits (same outputs), and writes the entry.
- `record_metrics(name, metrics)` merges measured numbers into an entry's `metrics`.

Every write reads the manifest under an exclusive file lock, validates it, changes one
entry and replaces the file atomically (a temporary file, fsync, `os.replace`), so
concurrent recipes never lose each other's entries and a reader never sees half a file.

Example:
```python
from zoo.publish import publish
publish(model, "m5_fsdd_digits", task="digits", class_names=fsdd.CLASSES,
        sample_rate=8000, input_length=8000, metrics={"official_accuracy": 0.97},
        recipe="zoo/recipes/m5_fsdd_digits.py", training_data="FSDD, takes 5-49",
        license=fsdd.LICENSE)
```
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import kerasaudio.hub
from kerasaudio.ensemble import publishable_config
from kerasaudio.errors import InvalidOptionError, ManifestError
from kerasaudio.models import build_arguments, build_model, get_model_info
from kerasaudio.weights import (
    FORMAT,
    Preset,
    file_sha256,
    jsonable,
    package_weights_dir,
    serialized_frontend,
    validate_entry,
    validate_manifest,
)
from kerasaudio.weights.env import ENV_MANIFEST

__all__ = ["MANIFEST", "manifest_text", "publish", "record_metrics"]

#: The repository's manifest (packaged with kerasaudio); its weights are in `weights/`.
MANIFEST = Path(__file__).resolve().parents[1] / "kerasaudio" / "pretrained" / "manifest.json"

PathLike = str | os.PathLike


def manifest_text(presets: dict) -> str:
    """The canonical JSON text of a manifest holding `presets` (name -> entry): sorted
    keys, two-space indent, a final newline (so a diff shows only what changed).

    Example:
    ```python
    Path("manifest.json").write_text(manifest_text({}))
    ```
    """
    return json.dumps({"format": FORMAT, "presets": presets}, indent=2, sort_keys=True) + "\n"


def _manifests(manifest_path: PathLike | Sequence[PathLike] | None) -> list[Path]:
    """The manifest(s) to write: as given, else `$KERASAUDIO_MANIFEST`, else `MANIFEST`."""
    if manifest_path is None:
        env = os.environ.get(ENV_MANIFEST)
        return [Path(env).expanduser() if env else MANIFEST]
    if isinstance(manifest_path, (str, os.PathLike)):
        return [Path(manifest_path)]
    return [Path(p) for p in manifest_path]


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


def _read_entries(path: Path, *, missing_ok: bool) -> dict:
    """The validated entries of a manifest (call under its lock)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing_ok:
            return {}
        raise ManifestError(f"{path}: cannot read the manifest: file not found.") from None
    if not text.strip() and missing_ok:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}: not valid JSON: {exc}") from None
    return dict(validate_manifest(data, str(path)))


def publish(model, name: str, *, task: str, class_names: Sequence[str], sample_rate: int,
            input_length: int, metrics: dict, recipe: str, training_data: str, license: str,
            url: str | None = None, architecture: str | None = None, config: dict | None = None,
            manifest_path: PathLike | Sequence[PathLike] | None = None,
            weights_dir: PathLike | None = None) -> Preset:
    """Save a trained model's weights as a preset and write its manifest entry.

    Saves `<weights_dir>/<name>.weights.h5`, computes its sha256 and size, rebuilds the
    model from the recorded config and checks the file loads into it with the same
    outputs, then adds (or replaces) the entry in each manifest, atomically and under a
    file lock.

    Args:
        model: the trained Keras model (raw audio in, `len(class_names)` outputs).
        name: the preset name: a lower-case identifier, usually `<architecture>_<tag>`.
        task: what the model does, free-form (`"digits"`, `"speakers"`, `"tagging"`).
        class_names: output index -> class name.
        sample_rate: Hz of the audio the model takes.
        input_length: samples per clip in training.
        metrics: results (JSON); use `official_accuracy` and `loso_accuracy` where they
            apply, they become columns of `available_models(pretrained=True)`.
        recipe: repository-relative path of the recipe, e.g. `"zoo/recipes/x.py"`.
        training_data: the data, split and preprocessing, in words.
        license: license and attribution (FSDD: `kerasaudio.datasets.fsdd.LICENSE`).
        url: where the file will be downloadable from (None: shipped in the package or
            served by a mirror only).
        architecture: the registered name (default: what `create_model` built `model`
            as).
        config: the builder options (default: those `create_model` was given; a front
            end given as layers is serialized). `classes` and `input_shape` are filled in
            from `class_names` and the model when missing.
        manifest_path: the manifest(s) to update (default: `$KERASAUDIO_MANIFEST`, else
            `MANIFEST`, the repository's packaged manifest).
        weights_dir: where the weights file goes (default: `weights/` next to the last
            manifest).

    Returns:
        The published `Preset`.

    Raises:
        InvalidOptionError: a bad name, no architecture/config known, a model that is
            not raw audio in or does not have `len(class_names)` outputs, or a config
            that does not rebuild the model.
        ManifestError: the entry (or a manifest written to) breaks the schema.

    Example:
    ```python
    model = kerasaudio.create_model("m5", n_channel=32, frontend="default",
                                    input_shape=(8000,), classes=10)
    ...  # train
    publish(model, "m5_fsdd_digits", task="digits", class_names=fsdd.CLASSES,
            sample_rate=8000, input_length=8000,
            metrics={"official_accuracy": 0.85, "loso_accuracy": 0.52},
            recipe="zoo/recipes/m5_fsdd_digits.py",
            training_data="FSDD official split, takes 5-49", license=fsdd.LICENSE)
    ```
    """
    import keras
    import numpy as np

    recorded = build_arguments(model)
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
    get_model_info(architecture)  # a clear error for an unknown architecture
    config = dict(config)
    for key in ("weights", "name"):
        config.pop(key, None)
    if architecture == "stack":
        config = publishable_config(config, class_names=class_names, sample_rate=sample_rate)
    if config.get("frontend") is not None:
        config["frontend"] = serialized_frontend(config["frontend"])
    class_names = [str(c) for c in class_names]
    config.setdefault("classes", len(class_names))
    shape = tuple(model.inputs[0].shape[1:])
    config.setdefault("input_shape", list(shape))
    try:
        config = jsonable(config)
    except TypeError as exc:
        raise InvalidOptionError(f"publish: config is not JSON-able: {exc}") from None
    if len(model.outputs) != 1 or model.outputs[0].shape[-1] != len(class_names):
        raise InvalidOptionError(
            f"publish: the model's output {[tuple(t.shape) for t in model.outputs]} does "
            f"not have {len(class_names)} classes (class_names).")
    if tuple(config["input_shape"]) != shape:
        raise InvalidOptionError(f"publish: config input_shape {config['input_shape']} is "
                                 f"not the model's input {shape}.")

    manifests = _manifests(manifest_path)
    weights_dir = Path(weights_dir) if weights_dir is not None else package_weights_dir(
        manifests[-1])
    weights_dir.mkdir(parents=True, exist_ok=True)
    file = f"{name}.weights.h5"
    entry = {
        "architecture": architecture, "config": config, "class_names": class_names,
        "sample_rate": sample_rate, "input_length": input_length, "task": task,
        "file": file, "sha256": "0" * 64, "size": 1, "url": url,
        "training_data": training_data, "license": license, "metrics": jsonable(metrics),
        "recipe": recipe, "parameters": model.count_params(),
    }
    try:  # everything but the file, before writing it
        validate_entry(name, entry, "publish")
        kerasaudio.hub.check_preset(Preset.from_entry(name, entry))
    except ManifestError as exc:
        raise InvalidOptionError(str(exc)) from None

    fd, tmp = tempfile.mkstemp(dir=weights_dir, prefix=f".{name}.", suffix=".weights.h5")
    os.close(fd)
    try:
        model.save_weights(tmp, overwrite=True)
        entry["sha256"] = file_sha256(tmp)
        entry["size"] = os.path.getsize(tmp)
        preset = Preset.from_entry(name, entry)
        rebuilt = build_model(architecture, weights=tmp, **preset.builder_kwargs())
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
        with _locked(path):
            presets = _read_entries(path, missing_ok=True)
            presets[name] = entry
            _write_atomically(path, manifest_text(presets))
    return Preset.from_entry(name, entry, manifests[-1])


def record_metrics(name: str, metrics: dict, *,
                   manifest_path: PathLike | Sequence[PathLike] | None = None) -> Preset:
    """Merge measured numbers into a published preset's `metrics`.

    Top-level keys of `metrics` replace those of the entry (nested objects are replaced
    whole); everything else in the entry, the weights file included, is untouched. The
    update is atomic and under the same lock as `publish`. The TFLite benchmark records
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
    record_metrics("m5_fsdd_digits", {"int8_size_mb": 0.04})
    ```
    """
    if not isinstance(metrics, dict):
        raise InvalidOptionError(f"record_metrics: metrics must be a dict, got "
                                 f"{type(metrics).__name__}.")
    try:
        metrics = jsonable(metrics)
    except TypeError as exc:
        raise InvalidOptionError(f"record_metrics: metrics are not JSON-able: {exc}") from None
    manifests = _manifests(manifest_path)
    entry = None
    for path in manifests:
        if not path.is_file():
            raise ManifestError(f"{path}: cannot read the manifest: file not found.")
        with _locked(path):
            presets = _read_entries(path, missing_ok=False)
            if name not in presets:
                raise InvalidOptionError(f"record_metrics: no preset {name!r} in {path}; "
                                         f"published: {sorted(presets)}.")
            entry = dict(presets[name])
            entry["metrics"] = {**entry.get("metrics", {}), **metrics}
            validate_entry(name, entry, f"record_metrics({path})")
            presets[name] = entry
            _write_atomically(path, manifest_text(presets))
    return Preset.from_entry(name, entry, manifests[-1])
