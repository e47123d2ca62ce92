"""Hugging Face checkpoints: the safetensors reader's bounds, local directories, and
`create_model("hf://...")` against a fake hub on 127.0.0.1 that speaks huggingface_hub's
protocol (revision info, tree listing, HEAD/GET resolve with X-Repo-Commit, ETag,
Content-Length): a good download, 404 repository, 404 file, truncated body, offline mode
with and without a cached snapshot. Parity with transformers on a real FSDD clip is in the
`parity` tier."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest

import kerasaudio
from kerasaudio.errors import (
    DownloadError,
    InvalidOptionError,
    ModelFileError,
    ModelFileNotFoundError,
    WeightsNotFoundError,
)
from kerasaudio.hub import HF_FAMILIES
from kerasaudio.info import model_info
from kerasaudio.models.ast import AST, save_huggingface
from kerasaudio.weights import huggingface as hf

TINY = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=48,
            max_length=100)
LABELS = ["dog", "rain", "speech"]
COMMIT = "0123456789abcdef0123456789abcdef01234567"
hub_tests = pytest.mark.requires("huggingface_hub")


class FakeHub:
    """A threaded HTTP server on 127.0.0.1 serving model repositories as the hub does.

    `repos` maps `ORG/NAME` to `{file name: bytes}`; `missing` lists files the tree lists
    but `resolve` answers 404; `truncated` files are sent with their full Content-Length
    and half their bytes. Every request is recorded in `requests`.
    """

    def __init__(self, repos: dict[str, dict[str, bytes]]):
        self.repos, self.missing, self.truncated, self.requests = repos, set(), set(), []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self.answer(body=False)

            def do_GET(self):
                self.answer(body=True)

            def send(self, code, data, headers, body, length=None):
                self.send_response(code)
                self.send_header("X-Repo-Commit", COMMIT)  # on errors too, as the hub
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data) if length is None else length))
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def answer(self, body):
                path = unquote(urlparse(self.path).path)
                hub.requests.append((self.command, path))
                json_type = ("Content-Type", "application/json")
                for repo, files in hub.repos.items():
                    if path.startswith(f"/api/models/{repo}/revision/"):
                        info = {"id": repo, "sha": COMMIT,
                                "siblings": [{"rfilename": name} for name in files]}
                        return self.send(200, json.dumps(info).encode(), [json_type], body)
                    if path.startswith(f"/api/models/{repo}/tree/"):
                        tree = [{"type": "file", "path": name, "size": len(data),
                                 "oid": hashlib.sha1(data).hexdigest()}
                                for name, data in files.items()]
                        return self.send(200, json.dumps(tree).encode(), [json_type], body)
                    if path.startswith(f"/{repo}/resolve/"):
                        name = path[len(f"/{repo}/resolve/"):].partition("/")[2]
                        if name not in files or name in hub.missing:
                            return self.send(404, b"Entry not found",
                                             [("X-Error-Code", "EntryNotFound")], body)
                        data = files[name]
                        etag = ("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                        if name in hub.truncated:
                            return self.send(200, data[: len(data) // 2], [etag], body,
                                             length=len(data))
                        return self.send(200, data, [etag], body)
                return self.send(404, b'{"error": "Repository not found"}',
                                 [("X-Error-Code", "RepoNotFound"), json_type], body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


@pytest.fixture(scope="module")
def keras_checkpoint(tmp_path_factory):
    """A tiny random AST written by `save_huggingface` (no torch needed), and its model."""
    model = AST(**TINY, classes=3, class_names=LABELS, classifier_activation=None)
    directory = tmp_path_factory.mktemp("hf") / "tiny-ast"
    save_huggingface(model, directory)
    return directory, model


@pytest.fixture
def fake_hub(monkeypatch, tmp_path, keras_checkpoint):
    files = {**_files(keras_checkpoint[0]), "README.md": b"# tiny AST\n",
             "flax_model.msgpack": b"not fetched"}
    hub = FakeHub({"org/tiny": files})
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    yield hub
    if hub.thread.is_alive():
        hub.close()


# --------------------------------------------------------------------------- the reader


def test_safetensors_round_trip_and_dtypes(tmp_path):
    tensors = {"f32": np.arange(6, dtype="float32").reshape(2, 3),
               "f16": np.array([1.5, -2.0], "float16"), "i64": np.arange(3),
               "empty": np.zeros((0, 4), "float32"), "flag": np.array([True, False])}
    hf.write_safetensors(tmp_path / "t.safetensors", tensors)
    back = hf.read_safetensors(tmp_path / "t.safetensors")
    assert sorted(back) == sorted(tensors)
    for name, array in tensors.items():
        assert back[name].dtype == array.dtype and np.array_equal(back[name], array), name


def test_bf16_is_widened_to_float32(tmp_path):
    values = np.array([1.0, -0.5, 3.140625], "float32")  # exact in bfloat16
    raw = (values.view("<u4") >> 16).astype("<u2").tobytes()
    header = json.dumps({"w": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}})
    header = header.encode() + b" " * (-len(header) % 8)
    (tmp_path / "b.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + raw)
    assert np.array_equal(hf.read_safetensors(tmp_path / "b.safetensors")["w"], values)


def _raw(tmp_path, header: bytes, data: bytes = b"", size: int | None = None) -> Path:
    path = tmp_path / "bad.safetensors"
    path.write_bytes((len(header) if size is None else size).to_bytes(8, "little")
                     + header + data)
    return path


@pytest.mark.parametrize("case, match", [
    ("huge header", "header of"),
    ("header past the end", "header of"),
    ("not json", "not JSON"),
    ("outside", "outside the file"),
    ("wrong size", "bytes for shape"),
    ("bad dtype", "malformed"),
    ("short", "too short"),
])
def test_safetensors_headers_are_bounded_and_checked(tmp_path, case, match):
    entry = {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}
    good = json.dumps({"w": entry}).encode()
    if case == "huge header":  # would allocate 2**60 bytes if trusted
        path = _raw(tmp_path, good, size=1 << 60)
    elif case == "header past the end":
        path = _raw(tmp_path, good, size=len(good) + 1)
    elif case == "not json":
        path = _raw(tmp_path, b"{not json", bytes(16))
    elif case == "outside":
        path = _raw(tmp_path, json.dumps({"w": {**entry, "data_offsets": [0, 1 << 40]}})
                    .encode(), bytes(16))
    elif case == "wrong size":
        path = _raw(tmp_path, json.dumps({"w": {**entry, "shape": [1 << 30, 1 << 30]}})
                    .encode(), bytes(16))
    elif case == "bad dtype":
        path = _raw(tmp_path, json.dumps({"w": {**entry, "dtype": "C64"}}).encode(),
                    bytes(16))
    else:
        path = tmp_path / "bad.safetensors"
        path.write_bytes(b"\x01\x02")
    with pytest.raises(ModelFileError, match=match) as info:
        hf.read_safetensors(path)
    assert info.value.path == str(path)


@pytest.mark.jax
def test_local_directory_with_and_without_trailing_slash(keras_checkpoint, clip):
    directory, reference = keras_checkpoint
    audio = np.resize(clip, 16000)[None]  # a real FSDD clip, as 16000 samples
    expected = np.asarray(reference(audio))
    for source in (str(directory), f"{directory}/", directory):
        model = kerasaudio.create_model(source)
        info = model_info(model)
        assert info.class_names == tuple(LABELS) and info.sample_rate == 16000
        assert info.task == "audio-classification"
        np.testing.assert_array_equal(np.asarray(model(audio)), expected)
    headless = kerasaudio.create_model("ast", weights=f"{directory}/", include_top=False,
                                       pooling="avg")
    assert headless.output_shape == (None, TINY["hidden_size"])
    assert model_info(headless).class_names is None


def test_checkpoint_errors_name_the_problem(keras_checkpoint, tmp_path):
    directory, _ = keras_checkpoint
    with pytest.raises(InvalidOptionError, match=r"'audio-spectrogram-transformer'.*builds "
                                                 r"\['ast'\]"):
        kerasaudio.create_model("m5", weights=str(directory))
    with pytest.raises(InvalidOptionError, match="disagrees"):
        kerasaudio.create_model("ast", weights=str(directory), hidden_size=64)
    with pytest.raises(InvalidOptionError, match="own weights"):
        kerasaudio.create_model(str(directory), weights="x.weights.h5")
    with pytest.raises(InvalidOptionError, match="transformers checkpoint"):
        kerasaudio.models.build_model("ast", weights=str(directory))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelFileNotFoundError, match=r"config\.json"):
        kerasaudio.create_model(str(empty))
    (empty / "config.json").write_text(json.dumps({"model_type":
                                                   "audio-spectrogram-transformer"}))
    with pytest.raises(ModelFileNotFoundError, match=r"no model\.safetensors"):
        kerasaudio.create_model(str(empty))
    (empty / "config.json").write_text("[1, 2]")
    with pytest.raises(ModelFileError, match="not a JSON object"):
        kerasaudio.create_model(str(empty))


def test_unsupported_model_type_lists_the_supported_ones(tmp_path):
    hf.write_checkpoint(tmp_path / "bert", {"model_type": "bert"},
                        {"w": np.zeros(2, "float32")})
    with pytest.raises(InvalidOptionError) as info:
        kerasaudio.create_model(str(tmp_path / "bert"))
    for model_type in ("'bert'", *HF_FAMILIES):
        assert model_type in str(info.value)
    hf.write_checkpoint(tmp_path / "arch", {"architectures": ["BertModel"]},
                        {"w": np.zeros(2, "float32")})
    with pytest.raises(InvalidOptionError, match="no model_type and architectures"):
        kerasaudio.create_model(str(tmp_path / "arch"))


@pytest.mark.parametrize("module", ["kerasaudio.models.no_such_family.convert",
                                    "kerasaudio.models.ast.config"])
def test_a_family_without_its_converter_says_so(tmp_path, monkeypatch, module):
    monkeypatch.setitem(HF_FAMILIES, "wavlm", (module, ("wavlm*",), "WavLM"))
    hf.write_checkpoint(tmp_path / "wavlm", {"model_type": "wavlm"},
                        {"w": np.zeros(2, "float32")})
    with pytest.raises(InvalidOptionError, match=rf"{module}\.from_huggingface.*does not "
                                                 r"have.*audio-spectrogram-transformer"):
        kerasaudio.create_model(str(tmp_path / "wavlm"))


@pytest.mark.parametrize("reference", ["hf://", "hf://org/", "hf://a/b/c", "hf://org/x@",
                                       "hf://../etc"])
def test_malformed_references_are_refused(reference):
    with pytest.raises(InvalidOptionError, match="hf://ORG/NAME"):
        hf.parse_reference(reference)


def test_references_parse():
    assert hf.parse_reference("hf://org/name") == ("org/name", None)
    assert hf.parse_reference("hf://org/name@v1.0") == ("org/name", "v1.0")
    assert hf.parse_reference("hf://org/name/") == ("org/name", None)
    assert hf.parse_reference("hf://gpt2") == ("gpt2", None)


# --------------------------------------------------------------------------- the fake hub


@hub_tests
def test_download_then_offline_from_the_cache(fake_hub, keras_checkpoint, clip, monkeypatch):
    _, reference = keras_checkpoint
    audio = np.resize(clip, 16000)[None]
    model = kerasaudio.create_model("hf://org/tiny")
    info = model_info(model)
    assert info.class_names == tuple(LABELS) and info.preset == f"hf://org/tiny@{COMMIT}"
    np.testing.assert_array_equal(np.asarray(model(audio)), np.asarray(reference(audio)))
    fetched = {path.rsplit("/", 1)[-1] for method, path in fake_hub.requests
               if method == "GET" and "/resolve/" in path}
    assert fetched == {"config.json", "model.safetensors", "preprocessor_config.json"}
    # Offline: the cached snapshot, and no request at all.
    before = len(fake_hub.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    again = kerasaudio.create_model("hf://org/tiny", include_top=False, pooling="avg")
    assert len(fake_hub.requests) == before
    assert again.output_shape == (None, TINY["hidden_size"])
    # A revision by commit resolves to the same snapshot.
    assert model_info(kerasaudio.create_model(f"hf://org/tiny@{COMMIT}")).class_names


@hub_tests
def test_offline_without_a_cached_snapshot(fake_hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError, match="not in the huggingface_hub cache") as info:
        kerasaudio.create_model("hf://org/tiny")
    assert info.value.file == "config.json" and "hf://org/tiny" in str(info.value)
    assert fake_hub.requests == []


@hub_tests
def test_unreachable_hub_without_a_cached_snapshot(fake_hub, monkeypatch):
    fake_hub.close()  # nothing listens on its port any more
    with pytest.raises(DownloadError, match="cannot be reached") as info:
        kerasaudio.create_model("hf://org/tiny")
    assert fake_hub.url in info.value.url and info.value.retryable


@hub_tests
def test_missing_repository(fake_hub):
    with pytest.raises(WeightsNotFoundError, match="no such model repository") as info:
        kerasaudio.create_model("hf://org/absent")
    assert "hf://org/absent" in str(info.value) and fake_hub.url in str(info.value)


@hub_tests
def test_missing_file(fake_hub):
    fake_hub.missing.add("model.safetensors")
    with pytest.raises(WeightsNotFoundError, match=r"hf://org/tiny: file model\.safetensors"
                       ) as info:
        kerasaudio.create_model("hf://org/tiny")
    assert info.value.file == "model.safetensors"


@hub_tests
def test_truncated_body_is_a_download_error_and_nothing_is_cached(fake_hub, monkeypatch,
                                                                  tmp_path):
    fake_hub.truncated.add("model.safetensors")
    with pytest.raises(DownloadError, match="hf://org/tiny") as info:
        kerasaudio.create_model("hf://org/tiny")
    assert info.value.retryable
    cached = list((tmp_path / "hf-cache").rglob("model.safetensors"))
    assert cached == []
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the partial download is no snapshot
    with pytest.raises(WeightsNotFoundError):
        kerasaudio.create_model("hf://org/tiny")


@hub_tests
def test_repository_without_weights(fake_hub, keras_checkpoint):
    fake_hub.repos["org/config-only"] = {"config.json":
                                         (keras_checkpoint[0] / "config.json").read_bytes()}
    with pytest.raises(WeightsNotFoundError, match=r"no model\.safetensors") as info:
        kerasaudio.create_model("hf://org/config-only")
    assert info.value.file == "model.safetensors"


# --------------------------------------------------------------------------- parity


@pytest.fixture(scope="module")
def transformers_checkpoint(tmp_path_factory):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    config = transformers.ASTConfig(**TINY, num_labels=3, id2label=dict(enumerate(LABELS)),
                                    label2id={n: i for i, n in enumerate(LABELS)})
    torch.manual_seed(0)
    reference = transformers.ASTForAudioClassification(config).eval()
    root = tmp_path_factory.mktemp("transformers")
    extractor = transformers.ASTFeatureExtractor(max_length=TINY["max_length"])
    reference.save_pretrained(root / "safetensors", safe_serialization=True)
    extractor.save_pretrained(root / "safetensors")
    # The older layout: the same config with a torch state dict (transformers >= 5 writes
    # safetensors whatever safe_serialization says).
    (root / "bin").mkdir()
    for name in ("config.json", "preprocessor_config.json"):
        (root / "bin" / name).write_bytes((root / "safetensors" / name).read_bytes())
    torch.save(reference.state_dict(), root / "bin" / "pytorch_model.bin")
    return root, reference, extractor


def _reference_logits(transformers_checkpoint, audio):
    import torch

    _, reference, extractor = transformers_checkpoint
    features = extractor(audio, sampling_rate=16000, return_tensors="pt")["input_values"]
    with torch.no_grad():
        return reference(features).logits.numpy()


@pytest.mark.parity
@pytest.mark.requires("torch", "transformers", "huggingface_hub")
def test_transformers_checkpoint_from_the_fake_hub_matches(transformers_checkpoint, clip,
                                                           monkeypatch, tmp_path):
    from kerasaudio.audio_io import resample

    root = transformers_checkpoint[0]
    assert (root / "safetensors" / "model.safetensors").is_file()
    hub = FakeHub({"org/ast": _files(root / "safetensors"), "org/ast-bin": _files(root / "bin")})
    try:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        audio = resample(clip, sample_rate=8000, target_sample_rate=16000).astype("float32")
        expected = _reference_logits(transformers_checkpoint, audio)
        for repo in ("org/ast", "org/ast-bin"):  # safetensors; pytorch_model.bin only
            model = kerasaudio.create_model(f"hf://{repo}")
            assert model_info(model).class_names == tuple(LABELS)
            ours = np.asarray(model(audio[None]))
            error = np.abs(ours - expected).max() / np.abs(expected).max()
            assert error <= 1e-4, (repo, error)
        fetched = {path.rsplit("/", 1)[-1] for method, path in hub.requests
                   if method == "GET" and "/org/ast-bin/resolve/" in path}
        assert "pytorch_model.bin" in fetched
    finally:
        hub.close()


@pytest.mark.parity
@pytest.mark.requires("torch", "transformers")
def test_save_huggingface_is_read_by_transformers(keras_checkpoint, clip):
    import torch
    import transformers

    directory, model = keras_checkpoint
    reference = transformers.ASTForAudioClassification.from_pretrained(directory).eval()
    extractor = transformers.ASTFeatureExtractor.from_pretrained(directory)
    audio = np.resize(clip, 16000).astype("float32")
    features = extractor(audio, sampling_rate=16000, return_tensors="pt")["input_values"]
    with torch.no_grad():
        expected = reference(features).logits.numpy()
    assert reference.config.id2label == dict(enumerate(LABELS))
    error = np.abs(np.asarray(model(audio[None])) - expected).max() / np.abs(expected).max()
    assert error <= 1e-4, error
