"""Pretrained presets: the weights layer (manifest checks, resolution order, verified
downloads, the cache), the hub's resolution of names, and publishing (zoo/publish.py).

Real models are published into temporary manifests and served by a real HTTP server on
127.0.0.1 (no mocks of urllib); the concurrency test runs four real processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from harness import MirrorHandler

import kerasaudio
import zoo.publish
from kerasaudio import hub, weights
from kerasaudio.errors import (
    ChecksumError,
    DownloadError,
    InvalidOptionError,
    KerasAudioError,
    ManifestError,
    WeightsNotFoundError,
)
from kerasaudio.info import model_info
from zoo.publish import manifest_text, publish, record_metrics

DIGITS = "m5_fsdd_digits"
SPEAKERS = "bilstm_attention_fsdd_speakers"
#: m5(n_channel=8) with 10 classes: conv 80x1x8+8, BN 4x8, conv 3x8x8+8, BN 4x8,
#: conv 3x8x16+16, BN 4x16, conv 3x16x16+16, BN 4x16, Dense 16x10+10.
M5_SMALL_PARAMETERS = (80 * 8 + 8 + 32 + 3 * 8 * 8 + 8 + 32 + 3 * 8 * 16 + 16 + 64
                       + 3 * 16 * 16 + 16 + 64 + 16 * 10 + 10)
#: Every test runs without the weights layer's environment variables (conftest.py).
pytestmark = pytest.mark.usefixtures("clean_weights_env")


def probe(batch=2, samples=8000, seed=1):
    return np.random.default_rng(seed).uniform(-0.5, 0.5, (batch, samples)).astype("float32")


def outputs(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Two real presets published into a temporary manifest and its weights directory."""
    root = tmp_path_factory.mktemp("published")
    manifest = root / "pkg" / "manifest.json"
    keras.utils.set_random_seed(0)
    digits = kerasaudio.create_model("m5", n_channel=8, frontend="default",
                                     input_shape=(8000,), classes=10)
    publish(digits, DIGITS, task="digits", class_names=[str(d) for d in range(10)],
                    sample_rate=8000, input_length=8000,
                    metrics={"official_accuracy": 0.5, "loso_accuracy": 0.25,
                             "loso": {"george": 0.2}},
                    recipe="zoo/m5_fsdd_digits.py", training_data="random weights (test)",
                    license="CC BY-SA 4.0 (test)", manifest_path=manifest)
    frontend = [kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=256,
                                                 hop_length=128, n_mels=20),
                kerasaudio.layers.PowerToDb()]
    speakers = kerasaudio.create_model("bilstm_attention", frontend=frontend,
                                       input_shape=(8000,), classes=6, lstm_units=8,
                                       dense_units=8)
    publish(speakers, SPEAKERS, task="speakers",
            class_names=["george", "jackson", "lucas", "nicolas", "theo", "yweweler"],
            sample_rate=8000, input_length=8000, metrics={"official_accuracy": 0.75},
            recipe="zoo/bilstm_attention_fsdd_speakers.py",
            training_data="random weights (test)", license="CC BY-SA 4.0 (test)",
            manifest_path=manifest)
    x = probe()
    return {"manifest": manifest, "weights": manifest.parent / "weights",
            "digits": outputs(digits, x), "speakers": outputs(speakers, x), "x": x,
            "m5": digits, "entries": json.loads(manifest.read_text())["presets"]}


@pytest.fixture(scope="module")
def server(published, local_http_server):
    return local_http_server(MirrorHandler, published["weights"])


def write_manifest(directory: Path, entries: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "manifest.json"
    path.write_text(manifest_text(entries))
    return path


@pytest.fixture
def remote(published, server, tmp_path, monkeypatch):
    """A manifest with nothing shipped beside it, an empty cache, the server as mirror."""
    manifest = write_manifest(tmp_path / "remote", published["entries"])
    monkeypatch.setenv("KERASAUDIO_MANIFEST", str(manifest))
    monkeypatch.setenv("KERASAUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERASAUDIO_WEIGHTS_URL", f"{server.base}/files")
    return tmp_path / "home" / "weights"


def cache_listing(cache: Path) -> list[str]:
    """Every file in the cache directory (locks live in .locks/, a directory)."""
    return sorted(p.name for p in cache.iterdir() if p.is_file()) if cache.exists() else []


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --------------------------------------------------------------------------- downloads


@pytest.mark.jax
def test_good_download_is_cached_verified_and_loads(published, remote, requests):
    model = kerasaudio.create_model(DIGITS)
    np.testing.assert_allclose(outputs(model, published["x"]), published["digits"], atol=1e-6)
    entry = published["entries"][DIGITS]
    assert cache_listing(remote) == [entry["file"]]
    assert sha256(remote / entry["file"]) == entry["sha256"]
    assert requests == [f"/files/{entry['file']}"]
    # metadata for a later CLI / exporter
    assert model.name == DIGITS
    preset = hub.preset_of(model)
    assert preset == hub.get_preset(DIGITS) and model_info(model) == preset.info
    assert preset.class_names == tuple(str(d) for d in range(10))
    assert (preset.sample_rate, preset.input_length, preset.task) == (8000, 8000, "digits")
    assert preset.parameters == model.count_params() == M5_SMALL_PARAMETERS == 2394
    # the second load comes from the cache, by either spelling
    again = kerasaudio.create_model("m5", weights="fsdd_digits")
    np.testing.assert_array_equal(outputs(again, published["x"]), outputs(model, published["x"]))
    assert len(requests) == 1


def test_sha256_mismatch_caches_nothing_and_is_not_retried(published, server, remote,
                                                           requests, monkeypatch):
    monkeypatch.setenv("KERASAUDIO_WEIGHTS_URL", f"{server.base}/corrupt")
    entry = published["entries"][DIGITS]
    with pytest.raises(WeightsNotFoundError, match="sha256 mismatch") as info:
        weights.weights_path(DIGITS, retries=3, backoff=0.01)
    assert isinstance(info.value.__cause__, ChecksumError)
    assert entry["sha256"] in str(info.value)
    assert len(requests) == 1
    assert cache_listing(remote) == []


def test_truncated_body_is_retried_then_fails_with_nothing_cached(published, server, remote,
                                                                   requests, monkeypatch):
    monkeypatch.setenv("KERASAUDIO_WEIGHTS_URL", f"{server.base}/truncate")
    size = published["entries"][DIGITS]["size"]
    with pytest.raises(WeightsNotFoundError,
                       match=rf"truncated: received {size // 2} of {size} bytes"):
        weights.weights_path(DIGITS, retries=2, backoff=0.01)
    assert len(requests) == 3
    assert cache_listing(remote) == []


@pytest.mark.parametrize(("code", "attempts"), [(404, 1), (500, 3), (503, 3)])
def test_http_errors_5xx_retried_404_not(published, server, remote, requests, monkeypatch,
                                         code, attempts):
    monkeypatch.setenv("KERASAUDIO_WEIGHTS_URL", f"{server.base}/status/{code}")
    start = time.monotonic()
    with pytest.raises(WeightsNotFoundError, match=f"HTTP {code}") as info:
        weights.weights_path(DIGITS, retries=2, backoff=0.05)
    cause = info.value.__cause__
    assert isinstance(cause, DownloadError) and cause.status == code
    assert cause.retryable == (code >= 500)
    assert len(requests) == attempts
    if attempts > 1:  # exponential back-off: 0.05 s, then 0.1 s
        assert time.monotonic() - start >= 0.15
        assert f"after {attempts} attempts" in str(info.value)
    assert cache_listing(remote) == []


def test_stalled_server_times_out_with_nothing_cached(server, remote, requests, monkeypatch):
    monkeypatch.setenv("KERASAUDIO_WEIGHTS_URL", f"{server.base}/stall")
    monkeypatch.setenv("KERASAUDIO_DOWNLOAD_TIMEOUT", "0.3")
    monkeypatch.setenv("KERASAUDIO_DOWNLOAD_RETRIES", "1")
    start = time.monotonic()
    with pytest.raises(WeightsNotFoundError, match="timed out"):
        kerasaudio.create_model(DIGITS)
    assert time.monotonic() - start < 5  # 2 x 0.3 s and a 1 s back-off
    assert len(requests) == 2
    assert cache_listing(remote) == []


def test_bad_environment_values_fail_clearly(remote, monkeypatch):
    monkeypatch.setenv("KERASAUDIO_DOWNLOAD_TIMEOUT", "soon")
    with pytest.raises(InvalidOptionError, match="KERASAUDIO_DOWNLOAD_TIMEOUT"):
        weights.weights_path(DIGITS)
    monkeypatch.delenv("KERASAUDIO_DOWNLOAD_TIMEOUT")
    monkeypatch.setenv("KERASAUDIO_WEIGHTS_URL", "mirror.example.org/weights")
    with pytest.raises(InvalidOptionError, match=r"KERASAUDIO_WEIGHTS_URL=.* must be an http"):
        weights.weights_path(DIGITS)
    monkeypatch.setenv("KERASAUDIO_OFFLINE", "maybe")
    with pytest.raises(InvalidOptionError, match="KERASAUDIO_OFFLINE"):
        weights.weights_path(DIGITS)


def test_progress_bar_on_stderr_only_when_asked(published, server, tmp_path, capsys):
    entry = published["entries"][DIGITS]
    url = f"{server.base}/files/{entry['file']}"
    weights.download_file(url, tmp_path / "a" / entry["file"], sha256=entry["sha256"],
                          size=entry["size"], progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"Downloading {entry['file']}" in captured.err and "100.0%" in captured.err
    weights.download_file(url, tmp_path / "b" / entry["file"], sha256=entry["sha256"],
                          progress=False)
    assert capsys.readouterr().err == ""


_CHILD = """
import json, sys
import numpy as np
import kerasaudio
from kerasaudio.models import registry  # import everything before the start signal
print("ready", flush=True)
sys.stdin.readline()
model = kerasaudio.create_model(sys.argv[1])
x = np.random.default_rng(1).uniform(-0.5, 0.5, (2, 8000)).astype("float32")
print(json.dumps(np.asarray(model(x, training=False)).tolist()), flush=True)
"""


@pytest.mark.slow
def test_four_processes_download_at_once(published, server, remote, requests, monkeypatch):
    monkeypatch.setenv("KERASAUDIO_WEIGHTS_URL", f"{server.base}/slow")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    children = [subprocess.Popen([sys.executable, "-c", _CHILD, DIGITS], env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(4)]
    try:
        for child in children:  # every process has imported keras: start them together
            assert child.stdout.readline().strip() == "ready", child.stderr.read()
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        results = [child.communicate(timeout=120) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    for child, (out, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err
        np.testing.assert_allclose(np.array(json.loads(out)), published["digits"], atol=1e-6)
    entry = published["entries"][DIGITS]
    assert cache_listing(remote) == [entry["file"]]  # one entry, no temporary files
    assert sha256(remote / entry["file"]) == entry["sha256"]
    assert len(requests) == 1  # the lock: one process downloads, the others wait for it


def test_concurrent_downloads_without_the_lock_still_end_with_one_good_file(
        published, server, tmp_path, requests):
    entry = published["entries"][DIGITS]
    dest = tmp_path / "cache" / entry["file"]
    errors = []

    def fetch():
        try:
            weights.download_file(f"{server.base}/slow/{entry['file']}", dest,
                                  sha256=entry["sha256"], size=entry["size"], lock=False)
        except Exception as exc:  # pragma: no cover (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(requests) == 4  # each downloaded its own temporary copy
    assert cache_listing(dest.parent) == [entry["file"]]
    assert sha256(dest) == entry["sha256"]


# --------------------------------------------------------------------------- resolution


def test_offline_with_an_empty_cache_lists_every_location(published, server, remote,
                                                          requests, monkeypatch):
    monkeypatch.setenv("KERASAUDIO_OFFLINE", "1")
    entry = published["entries"][DIGITS]
    with pytest.raises(WeightsNotFoundError) as info:
        kerasaudio.create_model(DIGITS)
    message = str(info.value)
    manifest = Path(os.environ["KERASAUDIO_MANIFEST"])
    for where in (remote / entry["file"], manifest.parent / "weights" / entry["file"],
                  f"{server.base}/files/{entry['file']}", "KERASAUDIO_OFFLINE=1"):
        assert str(where) in message
    assert isinstance(info.value, FileNotFoundError) and info.value.file == entry["file"]
    assert [place.split()[0] for place, _ in info.value.locations] == [
        "cache", "package", "download"]
    assert requests == []
    assert cache_listing(remote) == []


@pytest.mark.jax
def test_resolution_order_local_path_cache_package_download(published, server, remote,
                                                            requests, tmp_path, monkeypatch):
    entry = published["entries"][DIGITS]
    shipped = Path(os.environ["KERASAUDIO_MANIFEST"]).parent / "weights" / entry["file"]
    cached = remote / entry["file"]
    # nothing local: download into the cache
    assert weights.weights_path(DIGITS) == cached and len(requests) == 1
    # package and cache: the cache wins
    shipped.parent.mkdir()
    shutil.copy(published["weights"] / entry["file"], shipped)
    assert weights.weights_path(DIGITS) == cached
    # a corrupted cache entry is skipped: the package's copy is used
    cached.write_bytes(b"\0" * entry["size"])
    assert weights.weights_path(DIGITS) == shipped
    # package only
    cached.unlink()
    assert weights.weights_path(DIGITS) == shipped
    assert len(requests) == 1
    # a stale cache entry and nothing shipped: downloaded again, replacing it
    shipped.unlink()
    cached.write_bytes(b"stale")
    assert weights.weights_path(DIGITS) == cached and sha256(cached) == entry["sha256"]
    assert len(requests) == 2
    # an explicit local file beats everything, even offline with nothing anywhere
    cached.unlink()
    monkeypatch.setenv("KERASAUDIO_OFFLINE", "1")
    keras.utils.set_random_seed(7)
    other = kerasaudio.create_model("m5", n_channel=8, frontend="default",
                                    input_shape=(8000,), classes=10)
    local = tmp_path / "mine.weights.h5"
    other.save_weights(local)
    model = kerasaudio.create_model(DIGITS, weights=str(local))
    x = published["x"]
    np.testing.assert_array_equal(outputs(model, x), outputs(other, x))
    assert not np.allclose(outputs(model, x), published["digits"])
    assert model_info(model).preset == DIGITS and len(requests) == 2


def test_mirror_is_tried_before_the_manifest_url(published, server, tmp_path, monkeypatch,
                                                 requests):
    entries = json.loads(json.dumps(published["entries"]))
    entries[DIGITS]["url"] = f"{server.base}/files/{entries[DIGITS]['file']}"
    monkeypatch.setenv("KERASAUDIO_MANIFEST", str(write_manifest(tmp_path / "m", entries)))
    monkeypatch.setenv("KERASAUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERASAUDIO_WEIGHTS_URL", f"{server.base}/status/404/")
    assert weights.weights_path(DIGITS, backoff=0.01).is_file()
    assert [r.split("/")[1] for r in requests] == ["status", "files"]
    monkeypatch.delenv("KERASAUDIO_WEIGHTS_URL")
    monkeypatch.setenv("KERASAUDIO_HOME", str(tmp_path / "home2"))
    weights.weights_path(DIGITS)
    assert len(requests) == 3


def test_no_url_and_no_mirror_says_so(published, tmp_path, monkeypatch):
    monkeypatch.setenv("KERASAUDIO_MANIFEST",
                       str(write_manifest(tmp_path / "m", published["entries"])))
    monkeypatch.setenv("KERASAUDIO_HOME", str(tmp_path / "home"))
    with pytest.raises(WeightsNotFoundError, match="url is null and KERASAUDIO_WEIGHTS_URL"):
        weights.weights_path(DIGITS)


# --------------------------------------------------------------------------- manifest checks


@pytest.fixture
def shipped(published, monkeypatch, tmp_path):
    """The published manifest with its weights beside it, offline."""
    monkeypatch.setenv("KERASAUDIO_MANIFEST", str(published["manifest"]))
    monkeypatch.setenv("KERASAUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERASAUDIO_OFFLINE", "1")
    return published


@pytest.mark.jax
def test_speaker_preset_with_serialized_frontend_loads(shipped):
    model = kerasaudio.create_model(SPEAKERS)
    np.testing.assert_allclose(outputs(model, shipped["x"]), shipped["speakers"], atol=1e-5)
    frontend = shipped["entries"][SPEAKERS]["config"]["frontend"]
    assert [f["registered_name"] for f in frontend] == ["kerasaudio>MelSpectrogram",
                                                        "kerasaudio>PowerToDb"]
    assert model_info(model).class_names[0] == "george"
    # the bundled FSDD clips, labelled by speaker for a speaker preset
    clips, labels = hub.representative_clips(SPEAKERS)
    frame = kerasaudio.datasets.fsdd.load(sample=True)
    assert clips.shape == (120, 8000) and clips.dtype == np.float32
    assert [model_info(model).class_names[i] for i in labels] == list(frame.speaker)


@pytest.mark.parametrize(("name", "kwargs", "match"), [
    ("m5", {"weights": "fsdd_digits", "classes": 12},
     r"m5_fsdd_digits has 10 classes \['0', '1', '2'"),
    (DIGITS, {"input_shape": (4000,)}, r"takes input_shape=\(8000,\) \(8000 samples at 8000"),
    (DIGITS, {"n_channel": 16}, "trained with n_channel=8; got n_channel=16"),
    (DIGITS, {"frontend": None}, "the front end is part of the preset"),
    ("m5", {"weights": "imagenet"}, r"'imagenet'.*Presets for m5: \['fsdd_digits'\]"),
    ("m3", {"weights": DIGITS}, "is a preset of architecture 'm5', not 'm3'"),
    ("m5", {"weights": "fsdd_speakers"}, r"Presets for m5: \['fsdd_digits'\]"),
    ("m5_fsdd_speakers", {}, "no preset named 'm5_fsdd_speakers'; did you mean .*presets: "),
    (DIGITS, {"weights": "imagenet"}, "a preset takes None"),
    (DIGITS, {"no_such_option": 1}, "no_such_option"),
])
def test_mismatch_with_the_manifest_fails_before_building(shipped, tmp_path, name, kwargs,
                                                          match):
    # the package's weights are hidden: reaching resolution would raise WeightsNotFound
    with pytest.raises(InvalidOptionError, match=match):
        kerasaudio.create_model(name, **kwargs)


def test_options_equal_to_the_preset_are_accepted(shipped):
    model = kerasaudio.create_model("m5", weights="fsdd_digits", classes=10, n_channel=8,
                                    frontend="default", input_shape=[8000], stride=None)
    np.testing.assert_allclose(outputs(model, shipped["x"]), shipped["digits"], atol=1e-6)


def test_free_options_and_variable_length(shipped):
    model = kerasaudio.create_model(DIGITS, input_shape=(None,), classifier_activation=None,
                                    name="digits")
    assert model.name == "digits" and model.inputs[0].shape == (None, None)
    logits = outputs(model, shipped["x"])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.softmax(logits)),
                               shipped["digits"], atol=1e-5)
    features = kerasaudio.create_model(DIGITS, include_top=False, pooling="avg")
    full = shipped["m5"]
    for layer in features.layers:
        if layer.weights:
            for a, b in zip(layer.weights, full.get_layer(layer.name).weights, strict=True):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert features.output_shape == (None, 16)


@pytest.mark.filterwarnings("ignore:Skipping nested container:UserWarning")
def test_weights_of_another_architecture_do_not_fit(published, tmp_path, monkeypatch):
    keras.utils.set_random_seed(0)
    m3 = kerasaudio.create_model("m3", frontend="default", input_shape=(8000,), classes=10,
                                 channels=(8, 8))
    directory = tmp_path / "m"
    (directory / "weights").mkdir(parents=True)
    entries = json.loads(json.dumps(published["entries"]))
    path = directory / "weights" / entries[DIGITS]["file"]
    m3.save_weights(path)
    entries[DIGITS].update(sha256=sha256(path), size=path.stat().st_size)
    monkeypatch.setenv("KERASAUDIO_MANIFEST", str(write_manifest(directory, entries)))
    monkeypatch.setenv("KERASAUDIO_HOME", str(tmp_path / "home"))
    with pytest.raises(InvalidOptionError, match="does not fit"):
        kerasaudio.create_model(DIGITS)


def _mutate(entry, key, value):
    if key.startswith("config."):
        entry["config"][key.split(".", 1)[1]] = value
    elif value is KeyError:
        del entry[key]
    else:
        entry[key] = value


@pytest.mark.parametrize(("key", "value", "match"), [
    ("config.classes", 12, "'classes' is 12 but 'class_names' lists 10 names"),
    ("class_names", ["a", "a"], "duplicates"),
    ("config.input_shape", [4000], "'input_shape' must be .* input_length 8000"),
    ("config.include_top", False, "include_top"),
    ("config.weights", "x.weights.h5", "config may not hold 'weights'"),
    ("config.frontend", [{"module": "keras.layers", "class_name": "Lambda",
                          "config": {}, "registered_name": None}], "not allowed"),
    ("config.frontend", [{"module": "os", "class_name": "system", "config": {},
                          "registered_name": "os>system"}], "neither a registered"),
    ("task", "", "'task' must be a non-empty string"),
    ("file", "../m5.weights.h5", "bare file name"),
    ("sha256", "abc", "64 lower-case hex"),
    ("size", 0, "'size' must be an integer >= 1"),
    ("url", "ftp://x/y", "http"),
    ("license", "", "'license' must be a non-empty string"),
    ("recipe", "/abs/path.py", "repository-relative"),
    ("metrics", [], "'metrics' must be an object"),
    ("sample_rate", True, "'sample_rate' must be an integer"),
    ("license", KeyError, r"missing key\(s\) \['license'\]"),
    ("licence", "x", r"unknown key\(s\) \['licence'\]"),
])
def test_manifest_schema_is_validated_on_load(published, tmp_path, key, value, match):
    entries = json.loads(json.dumps(published["entries"]))
    _mutate(entries[DIGITS], key, value)
    path = write_manifest(tmp_path, entries)
    with pytest.raises(ManifestError, match=f"preset '{DIGITS}': .*{match}"):
        weights.load_manifest(path)


@pytest.mark.parametrize(("key", "value", "match"), [
    ("architecture", "m6", "architecture 'm6' is not a registered model"),
    ("architecture", "m3", r"config has option\(s\) \['n_channel'\] that m3 does not"),
    ("config.n_channels", 8, "n_channels"),
])
def test_entries_are_checked_against_the_registry_when_resolved(published, tmp_path,
                                                                monkeypatch, key, value,
                                                                match):
    """The weights layer reads an entry whatever its architecture (it knows no models);
    the hub refuses it, with the manifest, preset and field named, before building."""
    entries = json.loads(json.dumps(published["entries"]))
    _mutate(entries[DIGITS], key, value)
    path = write_manifest(tmp_path, entries)
    assert weights.load_manifest(path)[DIGITS].architecture == entries[DIGITS]["architecture"]
    with pytest.raises(ManifestError, match=f"{path}: preset '{DIGITS}': .*{match}"):
        hub.get_preset(DIGITS, manifest=path)
    monkeypatch.setenv("KERASAUDIO_MANIFEST", str(path))
    monkeypatch.setenv("KERASAUDIO_OFFLINE", "1")
    with pytest.raises(ManifestError, match=match):
        kerasaudio.create_model(DIGITS)
    with pytest.raises(ManifestError, match=match):
        kerasaudio.create_model("stack", members=[DIGITS, SPEAKERS])


@pytest.mark.parametrize(("text", "match"), [
    ('{"format": 2, "presets": {}}', "format 1 .*upgrade"),
    ('{"format": 1}', "'presets' must be an object"),
    ('{"format": 1, "presets": {"m5-digits": {}}}', "must be a lower-case identifier"),
    ('{"format": 1, "presets": {"M5_fsdd_digits": {}}}', "must be a lower-case identifier"),
    ("{", "not valid JSON"),
])
def test_manifest_file_level_errors(tmp_path, text, match):
    path = tmp_path / "manifest.json"
    path.write_text(text)
    with pytest.raises(ManifestError, match=match):
        weights.load_manifest(path)


# --------------------------------------------------------------------------- listing, publish


def test_list_models_and_tables(shipped):
    assert kerasaudio.list_models(pretrained=True) == [SPEAKERS, DIGITS]
    assert kerasaudio.list_models("m*", pretrained=True) == [DIGITS]
    assert weights.list_presets(task="speakers") == [SPEAKERS]
    assert "m5" in kerasaudio.list_models()  # architectures unchanged
    table = kerasaudio.available_models(pretrained=True)
    assert list(table.index) == [SPEAKERS, DIGITS]
    assert list(table.columns) == ["architecture", "task", "classes", "sample_rate",
                                   "input_length", "parameters", "size_mb",
                                   "loso_accuracy", "official_accuracy"]
    row = table.loc[DIGITS]
    assert (row.architecture, row.task, row.classes, row.sample_rate) == ("m5", "digits", 10,
                                                                           8000)
    assert row.parameters == M5_SMALL_PARAMETERS
    size = (shipped["weights"] / f"{DIGITS}.weights.h5").stat().st_size
    assert row.size_mb == round(size / 1e6, 2)
    assert (row.official_accuracy, row.loso_accuracy) == (0.5, 0.25)
    assert np.isnan(table.loc[SPEAKERS, "loso_accuracy"])
    assert len(kerasaudio.available_models()) == len(kerasaudio.list_models())


def test_publish_writes_every_manifest_identically_and_atomically(published, tmp_path,
                                                                  monkeypatch):
    model = published["m5"]
    first, second = tmp_path / "a" / "manifest.json", tmp_path / "pkg" / "manifest.json"
    for name in ("m5_small_fsdd_digits", "tiny_raw_fsdd_digits"):
        preset = publish(
            model, name, task="digits", class_names=list("0123456789"), sample_rate=8000,
            input_length=8000, metrics={}, recipe="zoo/x.py", training_data="t", license="l",
            url=f"https://example.org/{name}.weights.h5",
            manifest_path=[first, second], weights_dir=tmp_path / "w")
    assert first.read_bytes() == second.read_bytes()
    assert sorted(json.loads(first.read_text())["presets"]) == [
        "m5_small_fsdd_digits", "tiny_raw_fsdd_digits"]
    assert preset.tag == "tiny_raw_fsdd_digits" and preset.url.startswith("https://")
    assert sorted(os.listdir(tmp_path / "w")) == ["m5_small_fsdd_digits.weights.h5",
                                                  "tiny_raw_fsdd_digits.weights.h5"]
    assert preset.sha256 == sha256(tmp_path / "w" / preset.file)
    assert weights.load_manifest(second)["tiny_raw_fsdd_digits"] == preset
    # load them back by architecture + tag and by the other prefix's full name
    monkeypatch.setenv("KERASAUDIO_MANIFEST", str(second))
    monkeypatch.setenv("KERASAUDIO_HOME", str(tmp_path / "home"))
    (second.parent / "weights").symlink_to(tmp_path / "w")
    x = published["x"]
    for name, tag in (("m5", "small_fsdd_digits"), ("m5", "tiny_raw_fsdd_digits"),
                      ("tiny_raw_fsdd_digits", None)):
        again = kerasaudio.create_model(name, weights=tag)
        np.testing.assert_array_equal(outputs(again, x), outputs(model, x))
    with pytest.raises(InvalidOptionError, match="must be a lower-case identifier"):
        publish(model, "M5-digits", task="digits", class_names=list("0123456789"),
                sample_rate=8000, input_length=8000, metrics={}, recipe="zoo/x.py",
                training_data="t", license="l", manifest_path=second)
    with pytest.raises(InvalidOptionError, match="does not have 6 classes"):
        publish(model, "m5_fsdd_speakers", task="speakers", class_names=list("abcdef"),
                sample_rate=8000, input_length=8000, metrics={}, recipe="zoo/x.py",
                training_data="t", license="l", manifest_path=second)
    with pytest.raises(InvalidOptionError, match="'task' must be a non-empty string"):
        publish(model, "m5_untasked", task="", class_names=list("0123456789"),
                sample_rate=8000, input_length=8000, metrics={}, recipe="zoo/x.py",
                training_data="t", license="l", manifest_path=second)


def test_any_lower_case_name_and_free_form_task(published, tmp_path, monkeypatch):
    """A preset name need not end in an FSDD tag and the task is free text: the next
    presets are AudioSet taggers and converted checkpoints."""
    path = tmp_path / "manifest.json"
    preset = publish(published["m5"], "m5_keywords_demo", task="keyword spotting",
                     class_names=list("0123456789"), sample_rate=8000, input_length=8000,
                     metrics={}, recipe="zoo/x.py", training_data="t", license="l",
                     manifest_path=path)
    assert (preset.task, preset.tag) == ("keyword spotting", "keywords_demo")
    monkeypatch.setenv("KERASAUDIO_MANIFEST", str(path))
    monkeypatch.setenv("KERASAUDIO_HOME", str(tmp_path / "home"))
    assert kerasaudio.list_models(pretrained=True) == ["m5_keywords_demo"]
    assert weights.list_presets(task="keyword spotting") == ["m5_keywords_demo"]
    model = kerasaudio.create_model("m5", weights="keywords_demo")
    x = published["x"]
    np.testing.assert_array_equal(outputs(model, x), outputs(published["m5"], x))
    with pytest.raises(InvalidOptionError, match="has no bundled clips"):
        hub.representative_clips(preset)


@pytest.mark.parametrize(("training", "expected"), [
    ({"epochs": 40, "official_seconds": 135.2, "loso_seconds": 1393.0}, (40, 135.2)),
    ({"date": "2026-11-27"}, (None, None)),
])
def test_table_reads_nested_training_numbers(published, tmp_path, training, expected):
    """Digit recipes nest epochs and seconds under metrics["training"]; speaker recipes
    write them at the top level: the table shows both as `epochs` and `train_seconds`."""
    path = tmp_path / "manifest.json"
    publish(published["m5"], "m5_small_fsdd_digits", task="digits",
            class_names=list("0123456789"), sample_rate=8000, input_length=8000,
            metrics={"official_accuracy": 0.9, "training": training},
            recipe="zoo/x.py", training_data="t", license="l", manifest_path=path,
            weights_dir=tmp_path / "w")
    table = hub.presets_table(path)
    row = table.loc["m5_small_fsdd_digits"]
    if expected[0] is None:
        assert "epochs" not in table.columns and "train_seconds" not in table.columns
    else:
        assert (row.epochs, row.train_seconds) == expected
    assert row.official_accuracy == 0.9


@pytest.mark.parametrize("manifests", [1, 2])
def test_record_metrics_merges_into_every_manifest(published, tmp_path, manifests):
    paths = [tmp_path / f"m{i}" / "manifest.json" for i in range(manifests)]
    preset = publish(
        published["m5"], "m5_small_fsdd_digits", task="digits",
        class_names=list("0123456789"), sample_rate=8000, input_length=8000,
        metrics={"official_accuracy": 0.9}, recipe="zoo/x.py", training_data="t",
        license="l", manifest_path=paths, weights_dir=tmp_path / "w")
    before = {p: json.loads(p.read_text()) for p in paths}
    updated = record_metrics(
        "m5_small_fsdd_digits", {"int8_size_mb": 0.031, "int8_official_accuracy": 0.89,
                                 "quantized": {"int8": {"max_abs_diff": 0.004}}},
        manifest_path=paths)
    assert updated.metrics == {"official_accuracy": 0.9, "int8_size_mb": 0.031,
                               "int8_official_accuracy": 0.89,
                               "quantized": {"int8": {"max_abs_diff": 0.004}}}
    assert updated.sha256 == preset.sha256 and updated.file == preset.file
    for path in paths:
        entry = json.loads(path.read_text())["presets"]["m5_small_fsdd_digits"]
        old = before[path]["presets"]["m5_small_fsdd_digits"]
        assert {k: v for k, v in entry.items() if k != "metrics"} == {
            k: v for k, v in old.items() if k != "metrics"}
        assert entry["metrics"]["int8_size_mb"] == 0.031
        assert not [f for f in os.listdir(path.parent) if f.endswith(".tmp")]
    table = hub.presets_table(paths[-1])
    assert table.loc["m5_small_fsdd_digits", "int8_official_accuracy"] == 0.89
    with pytest.raises(InvalidOptionError, match="no preset 'nope_fsdd_digits'"):
        record_metrics("nope_fsdd_digits", {"x": 1}, manifest_path=paths)
    with pytest.raises(InvalidOptionError, match="JSON-able"):
        record_metrics("m5_small_fsdd_digits", {"x": object()}, manifest_path=paths)
    with pytest.raises(ManifestError, match="file not found"):
        record_metrics("m5_small_fsdd_digits", {"x": 1}, manifest_path=tmp_path / "none.json")


def test_the_one_manifest_is_packaged_canonical_and_resolvable():
    """The repository has one manifest, the packaged one that zoo/publish.py writes; it is
    in canonical form, every entry fits the registry, every shipped file its sha256."""
    assert zoo.publish.MANIFEST == weights.PACKAGED_MANIFEST
    assert not (zoo.publish.MANIFEST.parents[2] / "zoo" / "manifest.json").exists()
    text = weights.PACKAGED_MANIFEST.read_text()
    assert text == manifest_text(json.loads(text)["presets"])
    presets = weights.load_manifest(weights.PACKAGED_MANIFEST)
    assert presets
    for name, preset in presets.items():
        assert hub.check_preset(preset) is preset
        shipped = weights.package_weights_dir(weights.PACKAGED_MANIFEST) / preset.file
        assert weights.file_sha256(shipped) == preset.sha256, name


def test_metadata_reads_without_keras(published):
    """A LiteRT-only install (no Keras) still reads class names and sample rates."""
    script = ("import sys; sys.modules['keras'] = None\n"
              "from kerasaudio import weights\n"
              f"p = weights.get_preset({SPEAKERS!r}, manifest={str(published['manifest'])!r})\n"
              "print(p.class_names[0], p.sample_rate, 'tensorflow' in sys.modules,\n"
              "      'kerasaudio.models' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["george", "8000", "False", "False"]


def test_error_hierarchy_and_pickling():
    """Bad manifests stay ValueErrors, missing weights FileNotFoundErrors, failed downloads
    OSErrors (not ValueErrors); all are KerasAudioErrors and pickle with their fields."""
    import pickle

    assert issubclass(ManifestError, ValueError) and issubclass(ManifestError, KerasAudioError)
    assert issubclass(WeightsNotFoundError, FileNotFoundError)
    assert issubclass(DownloadError, OSError) and not issubclass(DownloadError, ValueError)
    assert issubclass(ChecksumError, DownloadError)
    assert not issubclass(KerasAudioError, ValueError)
    errors = [ChecksumError("http://x/y", "sha256 mismatch", status=None),
              DownloadError("http://x/y", "HTTP 503", status=503, retryable=True),
              WeightsNotFoundError("gone", "m5.weights.h5", [("cache /c", "missing")]),
              ManifestError("m.json: preset 'x': bad")]
    for error in errors:
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error) and str(again) == str(error)
        assert vars(again) == vars(error)


def test_public_api_documents_itself():
    for module in (weights, hub, zoo.publish):
        for name in module.__all__:
            obj = getattr(module, name)
            if callable(obj):
                assert "Example" in (obj.__doc__ or ""), f"{module.__name__}.{name}"
