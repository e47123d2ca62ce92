"""Every docstring example in kerasaudio runs.

Collects the ```python fenced blocks (the project's `Example:` sections) from the docstrings
of every public module, class, function and method of the package and executes each one in
a fresh namespace holding `kerasaudio`, `keras` and `np`, in an empty working directory,
offline (`KERASAUDIO_OFFLINE=1`, an empty weights cache). An example that cannot run here is
listed in `SKIP` with the reason; an example that needs a heavier test tier (torch, a long
verified export) is listed in `TIERS` and runs there, with that tier's marker, in
`test_docstring_example_runs_in_its_tier`. Both lists are checked against the examples
found, so an entry does not outlive its example. Registrations an example makes in the
model registry are undone after it.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import shutil
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

import kerasaudio
from kerasaudio.models import registry

FENCE = re.compile(r"^[ \t]*```python[ \t]*\n(.*?)^[ \t]*```", re.S | re.M)


# Example id (module.qualname, then #n for the n-th block after the first) -> reason.
SKIP = {
    # Examples that need what the project cannot provide here.
    "kerasaudio.weights.huggingface.snapshot": "downloads from the Hugging Face hub "
    "(tests/test_hf_hub.py runs it against a fake hub on 127.0.0.1)",
}

# Examples that need a heavier test tier: they run in that tier (marker, required modules).
PANNS_REFERENCE = ("writes a PANNs checkpoint with the authors' PyTorch CNN14 (torch, "
                   "panns-inference: the test-heavy extra)", "parity",
                   ("torch", "panns_inference"))
PRESET_EXPORT = ("a verified TFLite export of a preset (a converter process, verification "
                 "on the 120 bundled clips)", "export", ())
MODEL_EXPORT = ("a verified TFLite conversion of a model (a converter process, LiteRT)",
                "integration", ())
RECIPE_RUN = ("a recipe's training run (a few epochs on the bundled clips)", "integration", ())
SILERO_REFERENCE = ("reads the TorchScript file of the silero-vad package (torch, silero-vad: "
                    "the test-heavy extra)", "parity", ("torch", "silero_vad"))
TORCH_CHECKPOINT = ("writes a PyTorch checkpoint with torch.save (torch: the test-heavy "
                    "extra)", "parity", ("torch",))
TIERS = {
    "kerasaudio.models.ecapa_tdnn": TORCH_CHECKPOINT,
    "kerasaudio.models.ecapa_tdnn.convert.read_speechbrain_checkpoint": TORCH_CHECKPOINT,
    "kerasaudio.weights.huggingface.read_torch_tensors": TORCH_CHECKPOINT,
    "kerasaudio.models.silero_vad.convert.read_torchscript": SILERO_REFERENCE,
    "kerasaudio.models.panns": PANNS_REFERENCE,
    "kerasaudio.models.panns.convert.load_panns_weights": PANNS_REFERENCE,
    "kerasaudio.models.panns.convert.read_panns_checkpoint": PANNS_REFERENCE,
    "kerasaudio.export.verify.ExportReport": PRESET_EXPORT,
    "kerasaudio.export.verify.to_tflite": MODEL_EXPORT,
    "kerasaudio.training.speakers.run": RECIPE_RUN,
    "kerasaudio.training.stack.run": RECIPE_RUN,
    "kerasaudio.errors.VerificationError": MODEL_EXPORT,
}

# Examples that read the full FSDD (skipped with that reason where it is not found).
FULL_FSDD = {"kerasaudio.datasets.fsdd.official_split",
             "kerasaudio.datasets.fsdd.leave_one_speaker_out"}


def _public_modules():
    yield kerasaudio
    for info in pkgutil.walk_packages(kerasaudio.__path__, "kerasaudio."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            yield importlib.import_module(info.name)


def _documented(module):
    """(qualified name, object) for the module, its public classes and functions defined
    there, and their public methods (and properties)."""
    yield module.__name__, module
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        yield f"{module.__name__}.{name}", obj
        if inspect.isclass(obj):
            for attr, member in sorted(vars(obj).items()):
                member = getattr(member, "__func__", member)
                member = member.fget if isinstance(member, property) else member
                if not attr.startswith("_") and inspect.isfunction(member):
                    yield f"{module.__name__}.{name}.{attr}", member


def collect_examples() -> dict[str, str]:
    """Example id -> code, for every fenced python block in a public docstring."""
    examples = {}
    for module in _public_modules():
        for name, obj in _documented(module):
            doc = obj.__doc__ if inspect.ismodule(obj) else inspect.getdoc(obj)
            for n, block in enumerate(FENCE.finditer(doc or "")):
                examples[name if n == 0 else f"{name}#{n}"] = textwrap.dedent(block.group(1))
    return examples


EXAMPLES = collect_examples()


def test_examples_are_found_and_skips_are_current():
    assert len(EXAMPLES) > 100
    for module in ("layers.stft", "filters", "losses", "metrics.eer", "data", "models.mnets"):
        assert any(name.startswith(f"kerasaudio.{module}.") for name in EXAMPLES), module
    stale = sorted((set(SKIP) | set(TIERS)) - set(EXAMPLES))
    assert not stale, f"SKIP or TIERS lists examples that no longer exist: {stale}"
    assert not set(SKIP) & set(TIERS)


def _run(name: str, directory: Path, monkeypatch) -> None:
    """Execute example `name` in `directory`, offline, with an empty weights cache."""
    monkeypatch.chdir(directory)
    monkeypatch.setenv("KERASAUDIO_OFFLINE", "1")
    monkeypatch.setenv("KERASAUDIO_HOME", str(directory / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    namespace = {"__name__": "__example__", "kerasaudio": kerasaudio, "keras": keras,
                 "np": np}
    exec(compile(EXAMPLES[name], f"<example {name}>", "exec"), namespace)


@pytest.mark.parametrize("name", sorted(set(EXAMPLES) - set(TIERS)))
def test_docstring_example_runs(name, tmp_path, monkeypatch):
    if name in SKIP:
        pytest.skip(SKIP[name])
    if name in FULL_FSDD:
        from kerasaudio.errors import DatasetNotFoundError

        try:
            kerasaudio.datasets.fsdd.find_root()
        except DatasetNotFoundError:
            pytest.skip("needs the full FSDD ($KERASAUDIO_DATA or ../shared/data/fsdd)")
    _run(name, tmp_path, monkeypatch)


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=[getattr(pytest.mark, marker)]
                 + ([pytest.mark.requires(*modules)] if modules else []))
    for name, (_, marker, modules) in sorted(TIERS.items())])
def test_docstring_example_runs_in_its_tier(name, tmp_path_factory, monkeypatch):
    """The examples of `TIERS`, each in its tier. Their directory is removed afterwards
    (a PANNs checkpoint is 0.3 GB). `panns_inference` reads AudioSet's label file from
    `~/panns_data` when imported (and runs `wget` for it when missing): HOME is a
    directory holding that file, the copy kerasaudio ships, so the import stays offline."""
    directory = tmp_path_factory.mktemp("example")
    home = directory / "home"
    (home / "panns_data").mkdir(parents=True)
    shutil.copy(Path(kerasaudio.datasets.audioset.__file__).with_name(
        "class_labels_indices.csv"), home / "panns_data")
    monkeypatch.setenv("HOME", str(home))
    try:
        _run(name, directory, monkeypatch)
    finally:
        monkeypatch.chdir(tmp_path_factory.getbasetemp())
        shutil.rmtree(directory, ignore_errors=True)
