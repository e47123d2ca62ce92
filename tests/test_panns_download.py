"""PANNs checkpoints by name or URL through the weights layer: checksums, refusals, cache.

A real threaded HTTP server on 127.0.0.1 serves a CNN14 checkpoint written by
`torch.save` from the authors' `panns_inference.models.Cnn14` with random weights (narrow
blocks, as in `test_panns.py`), honestly or with its body cut in half
(`harness.MirrorHandler`). Checkpoints the
package's manifest does not list are checked against the caller's sha256; a manifest
entry pointing at the local server (added for the test) is checked against its md5, as
the released files are against Zenodo's. The `checkpoint_path` tests serve plain bytes
and need no torch; the end-to-end tests load the download with `create_model` and
compare the model with the reference on real FSDD audio.
"""

from __future__ import annotations

import hashlib
import urllib.parse
import warnings

import pytest
from harness import MirrorHandler

import kerasaudio
from kerasaudio.errors import (
    ChecksumError,
    DownloadError,
    InvalidOptionError,
    WeightsNotFoundError,
)
from kerasaudio.weights import checkpoints
from kerasaudio.weights.checkpoints import CHECKPOINTS, Checkpoint, checkpoint_path

pytestmark = pytest.mark.usefixtures("clean_weights_env")

BYTES = bytes(range(256)) * 400  # 102,400 bytes standing in for a checkpoint


@pytest.fixture(scope="module")
def server(tmp_path_factory, local_http_server):
    root = tmp_path_factory.mktemp("zenodo")
    (root / "blob.pth").write_bytes(BYTES)
    return local_http_server(MirrorHandler, root)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty kerasaudio cache, no retries (a truncated body fails at once)."""
    monkeypatch.setenv("KERASAUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERASAUDIO_DOWNLOAD_RETRIES", "0")
    return tmp_path / "home"


def cached_files(home) -> list[str]:
    """Every file under the cache except the (empty) lock files."""
    return sorted(str(p.relative_to(home)) for p in home.rglob("*")
                  if p.is_file() and ".locks" not in p.parts)


def add_entry(monkeypatch, url: str, **fields) -> Checkpoint:
    entry = Checkpoint(file="Test_mAP=0.500.pth", url=url, architecture="panns_cnn14",
                       config={"sample_rate": 32000}, **fields)
    monkeypatch.setitem(CHECKPOINTS, entry.file, entry)
    return entry


# ------------------------------------------------------------- the manifest, no network


def test_manifest_records_only_published_checksums_and_says_where_they_come_from():
    assert {"Cnn14_mAP=0.431.pth", "Cnn14_DecisionLevelMax_mAP=0.385.pth",
            "Cnn14_16k_mAP=0.438.pth", "Cnn14_8k_mAP=0.416.pth"} <= set(CHECKPOINTS)
    for entry in CHECKPOINTS.values():
        assert entry.url.startswith("https://zenodo.org/records/3987831/files/")
        assert urllib.parse.unquote(entry.url.split("/")[-1].split("?")[0]) == entry.file
        assert entry.architecture in ("panns_cnn14", "panns_cnn14_decision_level_max")
        if entry.md5 is None:
            assert entry.checksum_source.startswith("none recorded")
        else:
            assert len(entry.md5) == 32 and "Zenodo record 3987831" in entry.checksum_source
            assert entry.size == 327_428_481
    assert CHECKPOINTS["Cnn14_16k_mAP=0.438.pth"].config == {"sample_rate": 16000}
    assert CHECKPOINTS["Cnn14_8k_mAP=0.416.pth"].config == {"sample_rate": 8000}


def test_a_file_without_a_recorded_checksum_is_refused_before_any_request(home):
    with pytest.raises(ChecksumError) as caught:
        checkpoint_path("Cnn14_16k_mAP=0.438.pth")  # the real Zenodo URL: never fetched
    message = str(caught.value)
    assert "sha256=" in message and "accept_unverified=True" in message
    assert "none recorded" in message and "nothing was downloaded" in message
    assert not home.exists()


def test_sample_rate_of_a_released_file_is_checked_before_downloading(home):
    with pytest.raises(InvalidOptionError, match="sample_rate=16000"):
        kerasaudio.create_model("panns_cnn14", weights="Cnn14_16k_mAP=0.438.pth",
                                accept_unverified=True)
    assert not home.exists()


def test_unknown_names_and_bad_urls_are_clear_errors(home):
    with pytest.raises(InvalidOptionError, match=r"Cnn14_mAP=0\.431\.pth"):
        checkpoint_path("Cnn99_mAP=0.999.pth")
    with pytest.raises(InvalidOptionError, match="file name"):
        checkpoint_path("http://127.0.0.1:9/dir/", accept_unverified=True)
    with pytest.raises(InvalidOptionError, match="64 hex digits"):
        checkpoint_path("http://127.0.0.1:9/x.pth", sha256="abc")
    with pytest.raises(InvalidOptionError, match=r"must end in \.pth or \.pt"):
        kerasaudio.create_model("panns_cnn14", weights="http://127.0.0.1:9/x.bin",
                                accept_unverified=True)


# ------------------------------------------------------ checkpoint_path against a server


def test_sha256_download_is_cached_and_reused_offline(server, requests, home, monkeypatch):
    url = f"{server.base}/files/blob.pth"
    path = checkpoint_path(url, sha256=hashlib.sha256(BYTES).hexdigest())
    assert path.read_bytes() == BYTES and requests == ["/files/blob.pth"]
    assert path.parent.parent == checkpoints.checkpoints_dir()  # a per-URL directory
    monkeypatch.setenv("KERASAUDIO_OFFLINE", "1")
    again = checkpoint_path(url, sha256=hashlib.sha256(BYTES).hexdigest())
    assert again == path and requests == ["/files/blob.pth"]  # no second request


def test_manifest_md5_is_checked_and_the_cache_reused(server, requests, home, monkeypatch):
    entry = add_entry(monkeypatch, f"{server.base}/files/blob.pth", size=len(BYTES),
                      md5=hashlib.md5(BYTES).hexdigest(), checksum_source="test")
    path = checkpoint_path(entry.file)
    assert path == checkpoints.checkpoints_dir() / entry.file
    assert path.read_bytes() == BYTES
    assert checkpoint_path(entry.url) == path  # its URL names the same entry
    assert requests == ["/files/blob.pth"]
    path.write_bytes(BYTES[:-1] + b"\0")  # a corrupted copy (same size) is replaced
    assert checkpoint_path(entry.file).read_bytes() == BYTES
    assert requests == ["/files/blob.pth"] * 2


@pytest.mark.parametrize("digest", ["sha256", "md5"])
def test_wrong_checksum_is_refused_and_nothing_is_cached(digest, server, requests, home,
                                                         monkeypatch):
    url = f"{server.base}/files/blob.pth"
    if digest == "sha256":
        source, options = url, {"sha256": "0" * 64}
    else:
        source, options = add_entry(monkeypatch, url, md5="0" * 32).file, {}
    with pytest.raises(ChecksumError, match=f"{digest} mismatch"):
        checkpoint_path(source, **options)
    assert requests == ["/files/blob.pth"]
    assert cached_files(home) == []  # no file and no partial download


def test_truncated_body_fails_and_nothing_is_cached(server, requests, home):
    with pytest.raises(DownloadError, match="truncated"):
        checkpoint_path(f"{server.base}/truncate/blob.pth",
                        sha256=hashlib.sha256(BYTES).hexdigest())
    assert cached_files(home) == []


def test_no_checksum_is_refused_before_any_request(server, requests, home):
    with pytest.raises(ChecksumError) as caught:
        checkpoint_path(f"{server.base}/files/blob.pth")
    assert "sha256=" in str(caught.value) and "accept_unverified=True" in str(caught.value)
    assert requests == [] and cached_files(home) == []


def test_accept_unverified_downloads_with_a_warning(server, requests, home, monkeypatch):
    url = f"{server.base}/files/blob.pth"
    with pytest.warns(UserWarning, match="without checksum verification"):
        path = checkpoint_path(url, accept_unverified=True)
    assert path.read_bytes() == BYTES
    monkeypatch.setenv("KERASAUDIO_OFFLINE", "1")
    with pytest.warns(UserWarning, match="cached"):
        assert checkpoint_path(url, accept_unverified=True) == path
    with pytest.raises(ChecksumError):  # the cached copy is no excuse to skip the option
        checkpoint_path(url)
    assert requests == ["/files/blob.pth"]


def test_offline_without_a_cached_copy_says_where_it_looked(server, requests, home):
    with pytest.raises(WeightsNotFoundError, match="not available offline"):
        checkpoint_path(f"{server.base}/files/blob.pth",
                        sha256=hashlib.sha256(BYTES).hexdigest(), offline=True)
    assert requests == []


# ------------------------------------------------------------------- create_model, torch


@pytest.fixture(scope="module")
def served_checkpoint(server):
    """A random narrow CNN14 saved as the released files are, served by `server`."""
    torch = pytest.importorskip("torch")
    from test_panns import import_reference, make_reference

    ref = make_reference(torch, import_reference(), small=True)
    path = server.root / "Cnn14_small_mAP=0.100.pth"
    torch.save({"model": ref.state_dict(), "iteration": 1}, path)
    data = path.read_bytes()
    return {"torch": torch, "ref": ref, "url": f"{server.base}/files/{path.name}",
            "sha256": hashlib.sha256(data).hexdigest(), "md5": hashlib.md5(data).hexdigest(),
            "size": len(data)}


@pytest.mark.parity
def test_create_model_downloads_verifies_and_matches_the_reference(
        served_checkpoint, server, requests, home, monkeypatch, fsdd_sample):
    from test_panns import SMALL, assert_close, audio_at, outputs, run_reference

    torch, ref, url = (served_checkpoint[k] for k in ("torch", "ref", "url"))
    import soundfile as sf

    longest = max(fsdd_sample.path, key=lambda p: sf.info(p).frames)  # > 0.31 s
    clips, _ = audio_at([longest], 32000)
    audio = clips[0][None]
    expected = run_reference(torch, ref, audio)["clipwise_output"]
    model = kerasaudio.create_model("panns_cnn14", weights=url,
                                    weights_sha256=served_checkpoint["sha256"], **SMALL)
    assert_close(outputs(model, audio), expected)
    # By name through a manifest entry (md5, as Zenodo's), then offline from the cache.
    entry = add_entry(monkeypatch, url, md5=served_checkpoint["md5"],
                      size=served_checkpoint["size"], checksum_source="test")
    sed = kerasaudio.create_model("panns_cnn14_decision_level_max", weights=entry.file,
                                  outputs="clipwise", **SMALL)
    assert sed.count_params() == model.count_params()
    monkeypatch.setenv("KERASAUDIO_OFFLINE", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a verified copy loads without a warning
        again = kerasaudio.create_model("panns_cnn14", weights=entry.file, **SMALL)
    assert_close(outputs(again, audio), expected)
    assert len(requests) == 2  # one download per cache entry, none offline


@pytest.mark.parity
def test_create_model_refuses_bad_or_missing_checksums(served_checkpoint, server, requests,
                                                       home):
    from test_panns import SMALL

    url = served_checkpoint["url"]
    with pytest.raises(ChecksumError, match="weights_sha256="):
        kerasaudio.create_model("panns_cnn14", weights=url, **SMALL)
    assert requests == []
    with pytest.raises(ChecksumError, match="sha256 mismatch"):
        kerasaudio.create_model("panns_cnn14", weights=url, weights_sha256="0" * 64, **SMALL)
    assert cached_files(home) == []
    with pytest.warns(UserWarning, match="without checksum verification"):
        model = kerasaudio.create_model("panns_cnn14", weights=url, accept_unverified=True,
                                        **SMALL)
    assert model.get_layer("fc1").kernel.shape == (16, 16)
