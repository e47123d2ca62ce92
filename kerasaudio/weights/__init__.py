"""The weights layer: the manifest of pretrained weights, its checks, the cache, downloads.

A *preset* is an end-to-end model with trained weights: raw audio in (the front end is
inside the model), class probabilities out. Its manifest entry (`Preset`) names the
registered architecture, the builder options it was trained with, and a Keras
`.weights.h5` file (HDF5 arrays only; nothing is ever unpickled) with its sha256 and size.
This package reads and checks that entry and produces a verified local copy of the file;
it knows nothing about models (building one from an entry is `kerasaudio.hub`'s job, and
publishing one is the tooling's, `zoo/publish.py`).

- `kerasaudio.weights.manifest`: the schema (documented there), `load_manifest`,
  `get_preset`, `list_presets`, `preset_of`, `Preset`.
- `kerasaudio.weights.frontend`: front-end layers in a manifest, checked by class name and
  rebuilt in safe mode.
- `kerasaudio.weights.cache`: `weights_path`, the resolution cache -> package -> download.
- `kerasaudio.weights.download`: `download_file`, verified, atomic, retried, locked, and
  bounded in bytes, time and lock wait.
- `kerasaudio.weights.checkpoints`: third-party checkpoints (PANNs' `.pth` files): their
  manifest `CHECKPOINTS` with the checksums their publisher gives, and `checkpoint_path`,
  a verified cached copy by file name or URL.
- `kerasaudio.weights.env`: the environment variables (`KERASAUDIO_HOME`,
  `KERASAUDIO_MANIFEST`, `KERASAUDIO_WEIGHTS_URL`, `KERASAUDIO_OFFLINE`,
  `KERASAUDIO_DOWNLOAD_TIMEOUT`, `KERASAUDIO_DOWNLOAD_RETRIES`,
  `KERASAUDIO_DOWNLOAD_DEADLINE`, `KERASAUDIO_LOCK_TIMEOUT`,
  `KERASAUDIO_DOWNLOAD_MAX_BYTES`, `KERASAUDIO_PROGRESS`), `cache_dir`, `manifest_path`,
  `package_weights_dir`.

The packaged manifest is `kerasaudio/pretrained/manifest.json`, its weights files in
`kerasaudio/pretrained/weights/`. Errors: `kerasaudio.errors.ManifestError`,
`WeightsNotFoundError`, `DownloadError`, `ChecksumError`, `CacheError`, and
`InvalidOptionError` for a bad option, environment variable or path.

Example:
```python
preset = kerasaudio.weights.get_preset("m5_fsdd_digits")
path = kerasaudio.weights.weights_path(preset)   # verified; downloaded if needed
```
"""

from kerasaudio.weights.cache import weights_path
from kerasaudio.weights.download import download_file, file_sha256
from kerasaudio.weights.env import (
    PACKAGED_MANIFEST,
    cache_dir,
    manifest_path,
    package_weights_dir,
)
from kerasaudio.weights.frontend import deserialize_layer, serialized_frontend
from kerasaudio.weights.manifest import (
    ENTRY_KEYS,
    FORMAT,
    MEMBER_KEYS,
    Preset,
    get_preset,
    jsonable,
    list_presets,
    load_manifest,
    preset_of,
    validate_entry,
    validate_manifest,
)

__all__ = [
    "ENTRY_KEYS",
    "FORMAT",
    "MEMBER_KEYS",
    "PACKAGED_MANIFEST",
    "Preset",
    "cache_dir",
    "deserialize_layer",
    "download_file",
    "file_sha256",
    "get_preset",
    "jsonable",
    "list_presets",
    "load_manifest",
    "manifest_path",
    "package_weights_dir",
    "preset_of",
    "serialized_frontend",
    "validate_entry",
    "validate_manifest",
    "weights_path",
]
