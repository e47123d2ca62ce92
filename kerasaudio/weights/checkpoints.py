"""Third-party checkpoints (PANNs' `.pth` files): their manifest and a verified local copy.

A *checkpoint* here is a file another project publishes (the PANNs authors' PyTorch
checkpoints on Zenodo), read by a converter (`kerasaudio.models.panns`) rather than
by Keras. `CHECKPOINTS` is their manifest: one `Checkpoint` per released file, with its
URL, its size and the checksum its publisher gives, and where that checksum comes from.
kerasaudio never invents a checksum: an entry whose publisher's digest is not recorded
says so, and downloading it needs the user's own `sha256=` or an explicit
`accept_unverified=True`.

`checkpoint_path(source, ...)` gives a verified local copy of a checkpoint named by its
file name (`"Cnn14_mAP=0.431.pth"`) or by a URL, through the weights layer's
`download_file` (atomic, locked, retried, bounded in bytes and time):

1. the digest checked is the user's `sha256=` if given, else the manifest's published
   md5 (with the published size); with neither, the call is refused before any request
   (a `ChecksumError` naming `sha256=` and `accept_unverified=True`), unless
   `accept_unverified=True`, which downloads with only the size bounded (the
   manifest's size, or `KERASAUDIO_DOWNLOAD_MAX_BYTES`) and warns;
2. the cache is `$KERASAUDIO_HOME/checkpoints/<file>` for a manifest entry and
   `$KERASAUDIO_HOME/checkpoints/<16 hex digits of the URL's sha256>/<file>` for any
   other URL (so two URLs with the same file name never share a copy). A cached copy
   is used when it has the expected digest (and size); one that does not is replaced
   by a download. With `accept_unverified=True` and no digest a cached copy is used as
   it is, with a warning;
3. `offline=True` (or `KERASAUDIO_OFFLINE=1`) uses the cache only.

The file is then read by `torch.load(weights_only=True)` (tensors only, never
arbitrary pickled objects): see `kerasaudio.models.panns.read_panns_checkpoint`.

Reference:
    Kong et al., "PANNs: Large-Scale Pretrained Audio Neural Networks for Audio Pattern
    Recognition", IEEE/ACM TASLP 28, 2020; checkpoints: Zenodo record 3987831
    (doi:10.5281/zenodo.3987831), licence CC BY 4.0.
"""

from __future__ import annotations

import hashlib
import urllib.parse
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from kerasaudio.errors import ChecksumError, InvalidOptionError, WeightsNotFoundError
from kerasaudio.weights.download import _file_digests, download_file, expected_digests
from kerasaudio.weights.env import ENV_HOME, ENV_OFFLINE, cache_dir, env_flag

__all__ = ["CHECKPOINTS", "Checkpoint", "checkpoint_path", "checkpoints_dir",
           "find_checkpoint"]

_ZENODO = "https://zenodo.org/records/3987831/files/"
#: The size of every CNN14 checkpoint file in the record (the same tensors).
_CNN14_BYTES = 327_428_481
_ZENODO_MD5 = ("md5 of the file in Zenodo record 3987831's metadata, as quoted with the "
               "record by {quoted}; size {size:,} bytes")
_NO_DIGEST = ("none recorded: Zenodo lists an md5 for every file of record 3987831, but "
              "no copy of this file's was available to record here, so no checksum is "
              "pinned; pass sha256= (the digest of a copy you trust) or "
              "accept_unverified=True")


@dataclass(frozen=True)
class Checkpoint:
    """One released third-party checkpoint file.

    Attributes:
        file: the file name, as published (`"Cnn14_mAP=0.431.pth"`).
        url: where its publisher serves it.
        architecture: the registered model it loads into (`"panns_cnn14"`; PANNs' CNN14
            checkpoints also load into `"panns_cnn14_decision_level_max"`, same tensors).
        config: the builder options it needs (`{"sample_rate": 16000}`).
        trained_on: its training data.
        metric: its publisher's metric.
        size: its size in bytes as published, or None when not recorded.
        md5: its publisher's md5, or None when not recorded (see `checksum_source`).
        checksum_source: where `md5` comes from, or why there is none.
    """

    file: str
    url: str
    architecture: str
    config: dict = field(default_factory=dict)
    trained_on: str = ""
    metric: str = ""
    size: int | None = None
    md5: str | None = None
    checksum_source: str = ""


def _zenodo(file: str, architecture: str, sample_rate: int, metric: str, *,
            md5: str | None = None, quoted: str = "") -> Checkpoint:
    """A file of Zenodo record 3987831: 327,428,481 bytes with an md5 where one is
    recorded (`quoted` says where it was read), else no digest and why."""
    resampled = "," if sample_rate == 32000 else ", resampled to"
    source = (_ZENODO_MD5.format(quoted=quoted, size=_CNN14_BYTES) if md5 is not None
              else _NO_DIGEST)
    return Checkpoint(
        file=file, url=_ZENODO + urllib.parse.quote(file) + "?download=1",
        architecture=architecture, config={"sample_rate": sample_rate},
        trained_on=f"AudioSet (full training set{resampled} {sample_rate // 1000} kHz)",
        metric=f"mAP {metric} on AudioSet's evaluation set",
        size=_CNN14_BYTES if md5 is not None else None, md5=md5, checksum_source=source)


#: The PANNs CNN14 checkpoints (Zenodo record 3987831) kerasaudio loads, by file name.
CHECKPOINTS: dict[str, Checkpoint] = {c.file: c for c in (
    _zenodo("Cnn14_mAP=0.431.pth", "panns_cnn14", 32000, "0.431",
            md5="541141fa2ee191a88f24a3219fff024e",
            quoted="Labbeti/dcase2021task6 (aac/models/pann/urls.py) and "
                   "Labbeti/dcase2022task6a (dcase2022task6a/nn/urls.py)"),
    _zenodo("Cnn14_DecisionLevelMax_mAP=0.385.pth", "panns_cnn14_decision_level_max",
            32000, "0.385 (clip-wise)", md5="70539c43c18b6a289b3199c503a82c5a",
            quoted="two public install scripts that pin the PANNs SED checkpoint (found "
                   "by text search; they agree)"),
    _zenodo("Cnn14_16k_mAP=0.438.pth", "panns_cnn14", 16000, "0.438"),
    _zenodo("Cnn14_8k_mAP=0.416.pth", "panns_cnn14", 8000, "0.416"),
)}


def checkpoints_dir() -> Path:
    """Where downloaded checkpoints are cached: `$KERASAUDIO_HOME/checkpoints` (default
    `~/.keras/kerasaudio/checkpoints`, beside the presets' `weights/`).

    Example:
    ```python
    kerasaudio.weights.checkpoints.checkpoints_dir()  # .../kerasaudio/checkpoints
    ```
    """
    return cache_dir().parent / "checkpoints"


def _is_url(source) -> bool:
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def find_checkpoint(source) -> Checkpoint | None:
    """The manifest entry `source` names: its file name, or its URL; else None.

    Args:
        source: a file name such as `"Cnn14_mAP=0.431.pth"`, a URL, or anything else
            (None is returned).

    Example:
    ```python
    from kerasaudio.weights.checkpoints import find_checkpoint
    find_checkpoint("Cnn14_16k_mAP=0.438.pth").config   # {'sample_rate': 16000}
    find_checkpoint("model.weights.h5") is None          # True
    ```
    """
    if not isinstance(source, str):
        return None
    if source in CHECKPOINTS:
        return CHECKPOINTS[source]
    for entry in CHECKPOINTS.values():
        if source == entry.url:
            return entry
    return None


def _file_name(url: str) -> str:
    """The last path component of `url`, percent-decoded; refused if not a plain name."""
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    if (not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name
            or name.startswith(".")):
        raise InvalidOptionError(f"{url!r}: its path does not end in a file name to cache "
                                 "the download under.")
    return name


def _warn_unverified(what: str) -> None:
    warnings.warn(f"{what} without checksum verification (accept_unverified=True): "
                  "nothing guarantees it is the file its publisher released. Pass "
                  "sha256= to verify it.", UserWarning, stacklevel=3)


def checkpoint_path(source: str, *, sha256: str | None = None,
                    accept_unverified: bool = False, offline: bool | None = None,
                    progress: bool | None = None, timeout: float | None = None,
                    retries: int | None = None, deadline: float | None = None,
                    lock_timeout: float | None = None) -> Path:
    """A local copy of a checkpoint, verified against its checksum, downloaded if needed.

    See the module docstring for the digest chosen, the cache and the refusals.

    Args:
        source: a manifest file name (`"Cnn14_mAP=0.431.pth"`, see `CHECKPOINTS`) or
            an `http(s)://` URL (a manifest URL uses that entry).
        sha256: the file's sha256 (64 hex digits): checked instead of the manifest's
            md5, and needed for a file whose publisher's checksum is not recorded
            unless `accept_unverified=True`.
        accept_unverified: download (or use a cached copy) without any checksum,
            with a warning; only the size is bounded.
        offline: use the cache only (default `$KERASAUDIO_OFFLINE`).
        progress, timeout, retries, deadline, lock_timeout: as `download_file`.

    Returns:
        The path of the cached file.

    Raises:
        ChecksumError: no checksum to verify with (neither `sha256=` nor a published
            md5) and not `accept_unverified=True`, refused before any request; or the
            download's digest or size is wrong (nothing cached).
        WeightsNotFoundError: offline and no usable cached copy.
        DownloadError, CacheError: the download failed (see `download_file`).
        InvalidOptionError: `source` is neither a manifest name nor a URL, or `sha256`
            is malformed.

    Example:
    ```python
    import functools, hashlib, http.server, os, threading
    os.makedirs("served")
    data = b"a stand-in for a .pth file"  # checkpoint_path checks bytes, never parses
    with open("served/my_cnn14.pth", "wb") as f:
        f.write(data)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory="served")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # loopback
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/my_cnn14.pth"
    from kerasaudio.weights.checkpoints import checkpoint_path
    path = checkpoint_path(url, sha256=hashlib.sha256(data).hexdigest(),
                           offline=False)  # verified, cached, reused next time
    server.shutdown()
    server.server_close()
    path.name  # 'my_cnn14.pth'
    ```
    """
    entry = find_checkpoint(source)
    if entry is not None:
        url, file, directory = entry.url, entry.file, checkpoints_dir()
    elif _is_url(source):
        url, file = source, _file_name(source)
        directory = checkpoints_dir() / hashlib.sha256(url.encode()).hexdigest()[:16]
    else:
        raise InvalidOptionError(
            f"checkpoint {source!r} is neither a file, a URL nor a released checkpoint "
            f"kerasaudio knows; known: {sorted(CHECKPOINTS)}.")
    expected = expected_digests(sha256=sha256, md5=None)
    if not expected and entry is not None and entry.md5 is not None:
        expected = {"md5": entry.md5}
    size = entry.size if entry is not None else None
    if not expected and not accept_unverified:
        why = (f"the manifest's entry says: {entry.checksum_source}" if entry is not None
               else "it is not a checkpoint in kerasaudio's manifest")
        raise ChecksumError(url, f"no checksum to verify {file} with ({why}). Pass "
                                 "sha256='<64 hex digits>' (weights_sha256= to "
                                 "create_model) to verify it, or accept_unverified=True to "
                                 "download it without verification at your own risk; "
                                 "nothing was downloaded")
    dest = directory / file
    if dest.is_file():
        if not expected:
            _warn_unverified(f"using the cached {dest}")
            return dest
        try:
            found = _file_digests(dest, expected)
            fits = found == expected and (size is None or dest.stat().st_size == size)
        except OSError:
            fits = False
        if fits:
            return dest
    if offline is None:
        offline = bool(env_flag(ENV_OFFLINE))
    if offline:
        state = "not verified (stale or corrupted)" if dest.exists() else "missing"
        raise WeightsNotFoundError(
            f"checkpoint {file!r} is not available offline: the cache {dest} is {state} "
            f"and the download from {url} was skipped ({ENV_OFFLINE}=1 or offline=True). "
            f"Download it once online, put the file there (or set {ENV_HOME}), or pass "
            "weights=PATH.", file, [(f"cache {dest}", state), ("download", "skipped")])
    path = download_file(url, dest, sha256=expected.get("sha256"), md5=expected.get("md5"),
                         size=size, unverified=not expected, progress=progress,
                         timeout=timeout, retries=retries, deadline=deadline,
                         lock_timeout=lock_timeout)
    if not expected:
        _warn_unverified(f"downloaded {url}")
    return path

