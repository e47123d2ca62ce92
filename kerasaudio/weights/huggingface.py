"""Hugging Face checkpoints: read a `save_pretrained` directory, download one from the hub.

A checkpoint directory is what transformers' `save_pretrained` writes and what a hub
snapshot holds: `config.json`, the tensors (`model.safetensors`, sharded
`model-00001-of-0000N.safetensors`, or `pytorch_model.bin`) and, for audio models, the
feature extractor's `preprocessor_config.json`. This module reads them as JSON and numpy
arrays and knows nothing about models (mapping tensors onto a Keras model is each family's
`convert` module; choosing the family is `kerasaudio.hub`'s job).

Safety:

- safetensors files are parsed here with numpy (no `safetensors` package needed): the
  header may be at most `MAX_HEADER_BYTES`, every tensor must lie inside the file and
  hold exactly its shape's bytes, so nothing a file says makes us allocate more than the
  file's own size.
- `pytorch_model.bin` is read only through `torch.load(..., weights_only=True)` (tensors,
  never arbitrary pickled objects), only where torch is importable, and only when the
  directory has no safetensors file.
- Downloads go through `huggingface_hub.snapshot_download` (its cache, `HF_TOKEN`/login
  token, `HF_ENDPOINT`, `HF_HUB_OFFLINE`, checked by it against the hub's ETags), limited
  to the files above; nothing downloaded is executed.

Errors: `ModelFileError` / `ModelFileNotFoundError` for a local file that is missing or
cannot be read, `WeightsNotFoundError` (repository, revision or file not on the hub, or
not cached when offline), `DownloadError` (any other failed download), and
`InvalidOptionError` for a malformed `hf://` reference or a missing optional package.

Example:
```python
from kerasaudio.weights import huggingface as hf
hf.write_checkpoint("tiny", {"model_type": "demo", "id2label": {"0": "yes", "1": "no"}},
                    {"dense.weight": np.ones((2, 3), "float32")})
hf.read_config("tiny/")["id2label"], hf.read_tensors("tiny")["dense.weight"].shape
# ({'0': 'yes', '1': 'no'}, (2, 3))
```

Reference:
    Wolf et al., "Transformers: State-of-the-Art Natural Language Processing", EMNLP
    2020 (system demonstrations): the checkpoint directory layout and `config.json`.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TypeGuard

import numpy as np

from kerasaudio.errors import (
    DownloadError,
    InvalidOptionError,
    ModelFileError,
    ModelFileNotFoundError,
    WeightsNotFoundError,
)

__all__ = ["CONFIG", "MAX_HEADER_BYTES", "PREPROCESSOR_CONFIG", "SCHEME", "class_names",
           "is_reference", "mismatch_report", "parse_reference", "read_config",
           "read_preprocessor_config", "read_safetensors", "read_tensors",
           "read_torch_tensors", "resolve", "snapshot", "tensor_array", "write_checkpoint",
           "write_safetensors"]

#: The prefix of a hub reference: `hf://ORG/NAME[@REVISION]`.
SCHEME = "hf://"
CONFIG = "config.json"
PREPROCESSOR_CONFIG = "preprocessor_config.json"
#: The largest safetensors JSON header read (the `safetensors` package's own limit).
MAX_HEADER_BYTES = 100 << 20
#: The largest `config.json` / `preprocessor_config.json` read.
MAX_CONFIG_BYTES = 16 << 20
#: Files a snapshot fetches: the configs and the safetensors tensors (sharded or not).
SAFETENSORS_FILES = (CONFIG, PREPROCESSOR_CONFIG, "model.safetensors",
                     "model-*-of-*.safetensors", "model.safetensors.index.json")
#: ... and, only for a repository without safetensors, the PyTorch tensors.
TORCH_FILES = (CONFIG, PREPROCESSOR_CONFIG, "pytorch_model.bin")

_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8",
           "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items() if k != "BF16"}
_SHARD = re.compile(r"model-\d+-of-\d+\.safetensors")
_REPO = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


# --------------------------------------------------------------------------- references


def is_reference(source: object) -> TypeGuard[str]:
    """True if `source` is a hub reference string (`hf://...`).

    Example:
    ```python
    from kerasaudio.weights.huggingface import is_reference
    is_reference("hf://MIT/ast-finetuned-audioset-10-10-0.4593"), is_reference("m5")
    # (True, False)
    ```
    """
    return isinstance(source, str) and source.startswith(SCHEME)


def parse_reference(reference: str) -> tuple[str, str | None]:
    """`(repo_id, revision)` of `hf://ORG/NAME[@REVISION]` (revision None: the default branch).

    Raises:
        InvalidOptionError: not an `hf://` reference, or not a valid repository id.

    Example:
    ```python
    from kerasaudio.weights.huggingface import parse_reference
    parse_reference("hf://MIT/ast-finetuned-speech-commands-v2@main")
    # ('MIT/ast-finetuned-speech-commands-v2', 'main')
    ```
    """
    if not is_reference(reference):
        raise InvalidOptionError(f"{reference!r} is not a hub reference: write "
                                 "'hf://ORG/NAME' or 'hf://ORG/NAME@REVISION'.")
    repo, _, revision = reference[len(SCHEME):].partition("@")
    if repo.count("/") == 2 and repo.endswith("/"):  # hf://ORG/NAME/ as a directory
        repo = repo[:-1]
    if not _REPO.fullmatch(repo) or ".." in repo or (_ and not revision):
        raise InvalidOptionError(
            f"{reference!r}: expected 'hf://ORG/NAME' or 'hf://ORG/NAME@REVISION' (a "
            "Hugging Face model id, then optionally a branch, tag or commit).")
    return repo, revision or None


# --------------------------------------------------------------------------- reading


def _directory(directory: str | os.PathLike) -> Path:
    path = Path(os.fspath(directory))
    if not path.is_dir():
        raise ModelFileNotFoundError(path, "no such checkpoint directory (a Hugging Face "
                                           "checkpoint is a directory holding config.json "
                                           "and the weights).")
    return path


def _read_json(file: Path, *, required: bool) -> dict:
    if not file.is_file():
        if required:
            raise ModelFileNotFoundError(file, "not found (every Hugging Face checkpoint "
                                               "directory has one).")
        return {}
    if file.stat().st_size > MAX_CONFIG_BYTES:
        raise ModelFileError(file, f"larger than {MAX_CONFIG_BYTES} bytes; not a config.")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(file, f"not valid JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise ModelFileError(file, "not a JSON object.")
    return data


def read_config(directory: str | os.PathLike) -> dict:
    """The parsed `config.json` of a checkpoint directory.

    Args:
        directory: the checkpoint directory (with or without a trailing slash).

    Returns:
        The config as a dict (`model_type`, `architectures`, `id2label`, the family's
        architecture options, ...).

    Raises:
        ModelFileNotFoundError: no such directory, or no `config.json` in it.
        ModelFileError: the file is not a JSON object (or larger than 16 MB).

    Example:
    ```python
    from kerasaudio.weights.huggingface import read_config, write_checkpoint
    write_checkpoint("ckpt", {"model_type": "demo"}, {"w": np.zeros(2, "float32")})
    read_config("ckpt/")["model_type"]  # 'demo'
    ```
    """
    return _read_json(_directory(directory) / CONFIG, required=True)


def read_preprocessor_config(directory: str | os.PathLike) -> dict:
    """The parsed `preprocessor_config.json` (the feature extractor's options), or `{}`.

    Args:
        directory: the checkpoint directory.

    Returns:
        The options (`sampling_rate`, `do_normalize`, `mean`, `std`, ...); `{}` when the
        directory has no such file.

    Raises:
        ModelFileNotFoundError: no such directory.
        ModelFileError: the file is not a JSON object.

    Example:
    ```python
    from kerasaudio.weights.huggingface import read_preprocessor_config
    import os; os.makedirs("bare", exist_ok=True)
    read_preprocessor_config("bare")  # {}
    ```
    """
    return _read_json(_directory(directory) / PREPROCESSOR_CONFIG, required=False)


def class_names(config: Mapping) -> list[str] | None:
    """The output names of a config's head, in output order (`id2label`), or None.

    `id2label` keys are output indices (strings in `config.json`); a config with
    `num_labels` but no `id2label` gets transformers' `LABEL_i` names.

    Raises:
        InvalidOptionError: `id2label` keys that are not the indices 0..n-1.

    Example:
    ```python
    from kerasaudio.weights.huggingface import class_names
    class_names({"id2label": {"1": "no", "0": "yes"}})  # ['yes', 'no']
    ```
    """
    id2label = config.get("id2label")
    if not id2label:
        count = config.get("num_labels")
        return [f"LABEL_{i}" for i in range(int(count))] if count else None
    try:
        labels = {int(k): str(v) for k, v in id2label.items()}
    except (TypeError, ValueError, AttributeError):
        raise InvalidOptionError(f"config id2label={id2label!r} is not a mapping of output "
                                 "indices to names.") from None
    if sorted(labels) != list(range(len(labels))):
        raise InvalidOptionError(f"config id2label has keys {sorted(labels)}; expected the "
                                 f"indices 0..{len(labels) - 1}.")
    return [labels[i] for i in range(len(labels))]


def read_safetensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The tensors of one `.safetensors` file, as numpy arrays in their stored dtype.

    BF16 tensors are widened to float32. The header is checked before anything is
    allocated: at most `MAX_HEADER_BYTES`, every tensor inside the file and exactly its
    shape's size.

    Args:
        path: the file.

    Returns:
        `{tensor name: array}`.

    Raises:
        ModelFileNotFoundError: no such file.
        ModelFileError: not a safetensors file (bad header, tensor outside the file,
            unknown dtype, ...).

    Example:
    ```python
    from kerasaudio.weights.huggingface import read_safetensors, write_safetensors
    write_safetensors("t.safetensors", {"a": np.arange(6, dtype="float32").reshape(2, 3)})
    read_safetensors("t.safetensors")["a"][1]  # array([3., 4., 5.], dtype=float32)
    ```
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise ModelFileNotFoundError(path, "no such safetensors file.")
    size = path.stat().st_size
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise ModelFileError(path, "too short for a safetensors file.")
        header_size = int.from_bytes(prefix, "little")
        if header_size > MAX_HEADER_BYTES or header_size > size - 8:
            raise ModelFileError(path, f"safetensors header of {header_size} bytes (the file "
                                       f"has {size}; at most {MAX_HEADER_BYTES} are read).")
        try:
            header = json.loads(f.read(header_size).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelFileError(path, f"safetensors header is not JSON ({exc}).") from None
    if not isinstance(header, dict):
        raise ModelFileError(path, "safetensors header is not a JSON object.")
    header.pop("__metadata__", None)
    start = 8 + header_size
    data = np.memmap(path, dtype="u1", mode="r", offset=start, shape=(size - start,)) \
        if size > start else np.zeros(0, "u1")
    tensors = {}
    for name, entry in header.items():
        try:
            dtype = np.dtype(_DTYPES[entry["dtype"]])
            shape = tuple(int(d) for d in entry["shape"])
            begin, end = (int(o) for o in entry["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise ModelFileError(path, f"tensor {name!r}: malformed header entry "
                                       f"{entry!r}.") from None
        if min(shape, default=0) < 0 or not 0 <= begin <= end <= data.size:
            raise ModelFileError(path, f"tensor {name!r} lies outside the file "
                                       f"(offsets {begin}..{end} of {data.size}).")
        if end - begin != math.prod(shape) * dtype.itemsize:
            raise ModelFileError(path, f"tensor {name!r}: {end - begin} bytes for shape "
                                       f"{list(shape)} of {entry['dtype']}.")
        array = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape)
        if entry["dtype"] == "BF16":
            array = (array.astype("<u4") << 16).view("<f4")
        tensors[name] = np.array(array)  # a copy: the file may be closed or replaced
    return tensors


def tensor_array(name: str, value, *, source: str = "the checkpoint") -> np.ndarray:
    """One state-dict entry as a numpy array: a torch tensor (floats as float32) or an array.

    Args:
        name: the entry's name, for the message.
        value: a `torch.Tensor`, a numpy array or a numpy scalar.
        source: what the state dict is, for the message.

    Returns:
        The numpy array.

    Raises:
        InvalidOptionError: anything else (not a state dict of tensors).

    Example:
    ```python
    from kerasaudio.weights.huggingface import tensor_array
    tensor_array("w", np.ones((2, 3), "float64")).shape  # (2, 3)
    ```
    """
    if hasattr(value, "detach"):  # a torch.Tensor
        value = value.detach().cpu()
        value = (value.float() if value.is_floating_point() else value).numpy()
    if not isinstance(value, (np.ndarray, np.generic)):
        raise InvalidOptionError(
            f"{source}: entry {name!r} is a {type(value).__name__}, not a tensor (is this a "
            "state dict?).")
    return np.asarray(value)


def mismatch_report(missing, unexpected, misshaped) -> str | None:
    """`"missing (n): [...]; unexpected (n): [...]; mis-shaped (n): [...]"`, the parts that
    are not empty, or None when all three are: the converters' report of tensors that do
    not fit a model.

    Example:
    ```python
    from kerasaudio.weights.huggingface import mismatch_report
    mismatch_report(["fc.bias"], [], [])  # "missing (1): ['fc.bias']"
    ```
    """
    problems = [f"{what} ({len(items)}): {list(items)}" for what, items in (
        ("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)) if items]
    return "; ".join(problems) or None


def read_torch_tensors(file: str | os.PathLike) -> dict[str, np.ndarray]:
    """The tensors of a PyTorch state-dict file, read with `torch.load(weights_only=True)`.

    Tensors, numbers and containers only, never arbitrary pickled objects; float tensors
    come back as float32 numpy arrays, entries that are not tensors are dropped.

    Args:
        file: a `pytorch_model.bin`, SpeechBrain `.ckpt` or other `torch.save` file of a
            state dict.

    Returns:
        `{name: array}`.

    Raises:
        ModelFileNotFoundError: no such file. ModelFileError: torch refused the file or
        it holds no state dict. InvalidOptionError: torch is not installed.

    Example:
    ```python
    import torch
    torch.save({"w": torch.ones(2, 3)}, "state.pt")
    kerasaudio.weights.huggingface.read_torch_tensors("state.pt")["w"].shape  # (2, 3)
    ```
    """
    file = Path(os.fspath(file))
    if not file.is_file():
        raise ModelFileNotFoundError(file, "no such PyTorch checkpoint file.")
    try:
        import torch
    except ImportError:
        raise InvalidOptionError(
            f"{file}: reading a PyTorch checkpoint needs torch (pip install torch), read "
            "with torch.load(weights_only=True); a checkpoint with model.safetensors needs "
            "nothing more.") from None
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a refused or broken file
        raise ModelFileError(file, f"not a tensors-only PyTorch checkpoint "
                                   f"(torch.load(weights_only=True) refused it: {exc}).") \
            from None
    if not isinstance(state, Mapping):
        raise ModelFileError(file, "holds no state dict of tensors.")
    return {str(k): v.detach().float().numpy() if v.is_floating_point() else v.numpy()
            for k, v in state.items() if isinstance(v, torch.Tensor)}


def read_tensors(directory: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every tensor of a checkpoint directory, floats as float32 numpy arrays, by name.

    `model.safetensors` (or its shards `model-NNNNN-of-NNNNN.safetensors`), parsed by
    `read_safetensors`; only without any, `pytorch_model.bin` through
    `torch.load(weights_only=True)` where torch is importable.

    Args:
        directory: the checkpoint directory (with or without a trailing slash).

    Returns:
        `{tensor name: array}` with the names the checkpoint stores; floating-point
        tensors as float32, others (e.g. integer buffers) in their own dtype.

    Raises:
        ModelFileNotFoundError: no such directory, or no weights file in it.
        ModelFileError: a weights file that cannot be read.
        InvalidOptionError: only `pytorch_model.bin` and torch is not installed.

    Example:
    ```python
    from kerasaudio.weights.huggingface import read_tensors, write_checkpoint
    write_checkpoint("ckpt", {"model_type": "demo"},
                     {"w": np.ones((2, 2), "float16"), "n": np.arange(3)})
    {k: v.dtype.name for k, v in read_tensors("ckpt/").items()}
    # {'n': 'int64', 'w': 'float32'}
    ```
    """
    path = _directory(directory)
    files = sorted(f for f in path.iterdir()
                   if f.name == "model.safetensors" or _SHARD.fullmatch(f.name))
    if files:
        tensors = {}
        for file in files:
            tensors.update(read_safetensors(file))
    elif (path / "pytorch_model.bin").is_file():
        tensors = read_torch_tensors(path / "pytorch_model.bin")
    else:
        raise ModelFileNotFoundError(
            path, "no model.safetensors (or shards) and no pytorch_model.bin: a Hugging "
                  "Face checkpoint directory holds config.json and one of them.")
    return {k: v.astype("float32") if v.dtype.kind == "f" else v
            for k, v in sorted(tensors.items())}


# --------------------------------------------------------------------------- writing


def _atomic_write(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_safetensors(path: str | os.PathLike, tensors: Mapping[str, np.ndarray]) -> None:
    """Write `{name: array}` as a safetensors file (atomically: a temporary file, renamed).

    Args:
        path: the file to write.
        tensors: numpy arrays (float64/32/16, int64/32/16/8, uint8 or bool).

    Raises:
        InvalidOptionError: a dtype safetensors cannot hold.

    Example:
    ```python
    from kerasaudio.weights.huggingface import write_safetensors
    write_safetensors("t.safetensors", {"bias": np.zeros(4, "float32")})
    ```
    """
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        if dtype not in _NAMES:
            raise InvalidOptionError(f"tensor {name!r}: dtype {array.dtype} cannot be "
                                     "written to safetensors.")
        raw = array.astype(dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _NAMES[dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the format aligns the data to 8 bytes
    _atomic_write(Path(os.fspath(path)),
                  len(text).to_bytes(8, "little") + text + b"".join(chunks))


def write_checkpoint(directory: str | os.PathLike, config: Mapping,
                     tensors: Mapping[str, np.ndarray], *,
                     preprocessor_config: Mapping | None = None) -> Path:
    """Write a checkpoint directory as `save_pretrained(safe_serialization=True)` does.

    `config.json`, `model.safetensors` and, when given, `preprocessor_config.json`;
    each file is written atomically. transformers' `from_pretrained` reads the result
    when `config` is a complete config of one of its models.

    Args:
        directory: created if missing.
        config: the `config.json` content.
        tensors: `{tensor name: numpy array}`.
        preprocessor_config: the feature extractor's options, or None.

    Returns:
        The directory.

    Example:
    ```python
    from kerasaudio.weights.huggingface import write_checkpoint
    write_checkpoint("ckpt", {"model_type": "demo"}, {"w": np.zeros(2, "float32")})
    sorted(p.name for p in __import__("pathlib").Path("ckpt").iterdir())
    # ['config.json', 'model.safetensors']
    ```
    """
    path = Path(os.fspath(directory))
    path.mkdir(parents=True, exist_ok=True)
    _atomic_write(path / CONFIG, json.dumps(dict(config), indent=2).encode("utf-8"))
    if preprocessor_config is not None:
        _atomic_write(path / PREPROCESSOR_CONFIG,
                      json.dumps(dict(preprocessor_config), indent=2).encode("utf-8"))
    write_safetensors(path / "model.safetensors", tensors)
    return path


# --------------------------------------------------------------------------- the hub


def _offline() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE")
    if value is not None:
        return value.strip().lower() in ("1", "true", "yes", "on")
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _has_weights(directory: Path) -> bool:
    return any(f.name in ("model.safetensors", "pytorch_model.bin") or _SHARD.fullmatch(f.name)
               for f in directory.iterdir())


def snapshot(repo_id: str, *, revision: str | None = None,
             cache_dir: str | os.PathLike | None = None, token: str | bool | None = None,
             local_files_only: bool | None = None, endpoint: str | None = None) -> Path:
    """A local snapshot of a hub model repository's checkpoint files, downloaded if needed.

    `huggingface_hub.snapshot_download` fetches `config.json`,
    `preprocessor_config.json` and the safetensors tensors (`pytorch_model.bin` only
    when the repository has no safetensors), nothing else, into its cache
    (`HF_HUB_CACHE` / `HF_HOME`, or `cache_dir`), verified against the hub's ETags and
    moved into place by huggingface_hub; a second call uses the cache.

    Args:
        repo_id: `"ORG/NAME"`.
        revision: a branch, tag or commit (None: the default branch).
        cache_dir: the huggingface_hub cache directory (None: `HF_HUB_CACHE` as set
            when called, else huggingface_hub's default, `HF_HOME/hub`).
        token: passed to huggingface_hub (None: `HF_TOKEN` or the stored login).
        local_files_only: use the cache only. None: `HF_HUB_OFFLINE` as set when called
            (`1`, `true`, `yes`, `on`), else huggingface_hub's own setting.
        endpoint: the hub's URL (None: `HF_ENDPOINT` as set when called, else
            huggingface_hub's default).

    Returns:
        The snapshot directory (holding `config.json` and the weights).

    Raises:
        WeightsNotFoundError: the repository, revision or a needed file is not on the
            hub, or (offline) not in the cache; its `file` names the missing file and
            the message names the repository.
        DownloadError: the download failed otherwise (network, HTTP error, a body
            shorter than announced); `url` names the repository.
        InvalidOptionError: huggingface_hub is not installed
            (`pip install 'kerasaudio[hf]'`).

    Example:
    ```python
    from kerasaudio.weights.huggingface import snapshot
    directory = snapshot("MIT/ast-finetuned-speech-commands-v2")
    ```
    """
    try:
        import huggingface_hub
        from huggingface_hub import errors
    except ImportError:
        raise InvalidOptionError("downloading from the Hugging Face hub needs huggingface_hub "
                                 "(pip install 'kerasaudio[hf]').") from None
    offline = _offline() if local_files_only is None else bool(local_files_only)
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    cache_dir = cache_dir or os.environ.get("HF_HUB_CACHE") or None
    where = f"hf://{repo_id}" + (f"@{revision}" if revision else "")
    server = endpoint or huggingface_hub.constants.ENDPOINT
    label = f"{where} ({server})"

    def fetch(patterns) -> Path:
        try:
            return Path(huggingface_hub.snapshot_download(
                repo_id, revision=revision, cache_dir=cache_dir, token=token,
                local_files_only=offline, allow_patterns=list(patterns), endpoint=endpoint))
        except errors.LocalEntryNotFoundError as exc:
            if not offline:  # the hub did not answer and nothing is cached
                raise DownloadError(label, f"the hub cannot be reached and no snapshot is "
                                           f"cached ({exc})", retryable=True) from None
            raise WeightsNotFoundError(
                f"{where}: not in the huggingface_hub cache and downloads are off "
                f"(HF_HUB_OFFLINE or local_files_only); download it once online, or point "
                f"HF_HUB_CACHE at a cache holding it ({exc}).", file=CONFIG,
                locations=[(label, "offline, not cached")]) from None
        except errors.RevisionNotFoundError:
            raise WeightsNotFoundError(
                f"{where}: the repository has no revision {revision!r}.", file=CONFIG,
                locations=[(label, "revision not found")]) from None
        except errors.RepositoryNotFoundError:
            raise WeightsNotFoundError(
                f"{where}: no such model repository on {server} (or it is private or "
                "gated and no token with access was given: set HF_TOKEN).", file=CONFIG,
                locations=[(label, "repository not found")]) from None
        except errors.EntryNotFoundError as exc:
            missing = getattr(getattr(exc, "response", None), "url", None) or str(exc)
            name = next((p for p in (*SAFETENSORS_FILES, *TORCH_FILES)
                         if str(missing).endswith(p)), str(missing).rsplit("/", 1)[-1])
            raise WeightsNotFoundError(
                f"{where}: file {name} is listed but not served ({exc}).", file=name,
                locations=[(label, "file not found")]) from None
        except Exception as exc:  # the transport's own error types vary by version
            status = getattr(getattr(exc, "response", None), "status_code", None)
            raise DownloadError(label, f"{type(exc).__name__}: {exc}", status=status,
                                retryable=status is None or status >= 500) from exc

    directory = fetch(SAFETENSORS_FILES)
    if not _has_weights(directory):
        directory = fetch(TORCH_FILES)
    for name in (CONFIG,):
        if not (directory / name).is_file():
            raise WeightsNotFoundError(f"{where}: the repository has no {name}; it is not a "
                                       "transformers checkpoint.", file=name,
                                       locations=[(label, f"{name} not in the repository")])
    if not _has_weights(directory):
        raise WeightsNotFoundError(
            f"{where}: the repository has no model.safetensors (or shards) and no "
            "pytorch_model.bin.", file="model.safetensors",
            locations=[(label, "no weights file in the repository")])
    return directory


def resolve(source: str | os.PathLike, **options) -> Path:
    """The local checkpoint directory of `source`: a directory as given, or a hub snapshot.

    Args:
        source: a checkpoint directory (with or without a trailing slash) or
            `"hf://ORG/NAME[@REVISION]"`.
        **options: `snapshot` options (`cache_dir`, `token`, `local_files_only`,
            `endpoint`) for a hub reference.

    Returns:
        The directory.

    Raises:
        ModelFileNotFoundError: a local directory that does not exist.
        WeightsNotFoundError: as `snapshot` raises it (not on the hub, or offline and not
            cached).
        DownloadError: as `snapshot` raises it (a failed or truncated download).

    Example:
    ```python
    from kerasaudio.weights.huggingface import resolve, write_checkpoint
    write_checkpoint("ckpt", {"model_type": "demo"}, {"w": np.zeros(2, "float32")})
    resolve("ckpt/").name  # 'ckpt'
    ```
    """
    if is_reference(source):
        repo, revision = parse_reference(source)
        return snapshot(repo, revision=revision, **options)
    return _directory(source)
