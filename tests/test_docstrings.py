"""Every docstring example in kerasaudio runs.

Collects the ```python fenced blocks (the project's `Example:` sections) from the docstrings
of every public module, class, function and method of the package and executes each one in
a fresh namespace holding `kerasaudio`, `keras` and `np`, in an empty working directory,
offline (`KERASAUDIO_OFFLINE=1`, an empty weights cache). An example that cannot run here is
listed in `SKIP` with the reason; the list is checked against the examples found, so an
entry does not outlive its example.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import textwrap

import keras
import numpy as np
import pytest

import kerasaudio

FENCE = re.compile(r"^[ \t]*```python[ \t]*\n(.*?)^[ \t]*```", re.S | re.M)

RESTRUCTURED = "module being restructured"
HF_CHECKPOINT = "needs a Hugging Face wav2vec 2.0 checkpoint directory, which is not shipped"

# Example id (module.qualname, then #n for the n-th block after the first) -> reason.
SKIP = {
    # Examples that need what the project cannot provide here.
    "kerasaudio.models.wav2vec2.Wav2Vec2": HF_CHECKPOINT,
    "kerasaudio.models.wav2vec2.Wav2Vec2.from_huggingface": HF_CHECKPOINT,
    "kerasaudio.models.wav2vec2.read_huggingface_config": HF_CHECKPOINT,
    "kerasaudio.models.wav2vec2.read_huggingface_weights": HF_CHECKPOINT,
    "kerasaudio.models.wav2vec2.load_huggingface_weights": HF_CHECKPOINT,
    "kerasaudio.models.wav2vec2.wav2vec2_base": HF_CHECKPOINT,
    "kerasaudio.models.wav2vec2.wav2vec2_large": HF_CHECKPOINT,
    "kerasaudio.models.wav2vec2.wav2vec2_large_lv60": HF_CHECKPOINT,
    "kerasaudio.embeddings.extract": HF_CHECKPOINT,
    "kerasaudio.presets.download_file": "downloads from the network",
    "kerasaudio.presets.publish": "writes into the installed package's manifest",
    "kerasaudio.presets.record_metrics": "writes into the installed package's manifest",
    # Examples not self-contained (names they do not define, files they do not make), in
    # files this change does not edit.
    "kerasaudio.audio_io.load_audio": RESTRUCTURED,
    "kerasaudio.cli.main": RESTRUCTURED,
    "kerasaudio.vad": "reads long.wav, which it does not make (fix in vad.py)",
    "kerasaudio.vad.Segment": "uses `audio`, which it does not define (fix in vad.py)",
    "kerasaudio.vad.speech_frames": "uses `audio`, which it does not define (fix in vad.py)",
    "kerasaudio.vad.split": "uses `audio`, which it does not define (fix in vad.py)",
    "kerasaudio.ensemble": RESTRUCTURED,
    "kerasaudio.ensemble.Member": RESTRUCTURED,
    "kerasaudio.ensemble.stack": RESTRUCTURED,
    "kerasaudio.ensemble.ensemble_info": RESTRUCTURED,
    "kerasaudio.ensemble.ClassificationStack": RESTRUCTURED,
    "kerasaudio.ensemble.classification_stack": RESTRUCTURED,
    "kerasaudio.ensemble.meta_features": RESTRUCTURED,
    "kerasaudio.ensemble.fit_meta": RESTRUCTURED,
    "kerasaudio.ensemble.FitRecord": RESTRUCTURED,
    "kerasaudio.ensemble.StackerFit": RESTRUCTURED,
    "kerasaudio.ensemble.fit_stacker": RESTRUCTURED,
    "kerasaudio.equalization.EqualizedPair": RESTRUCTURED,
    "kerasaudio.equalization.equalize_channels": RESTRUCTURED,
    "kerasaudio.export.ConversionError": RESTRUCTURED,
    "kerasaudio.export.VerificationError": RESTRUCTURED,
    "kerasaudio.export.op_names": RESTRUCTURED,
    "kerasaudio.export.float_ops": RESTRUCTURED,
    "kerasaudio.export.run_tflite": RESTRUCTURED,
    "kerasaudio.export.ExportReport": RESTRUCTURED,
    "kerasaudio.export.to_tflite": RESTRUCTURED,
    "kerasaudio.export.TFLiteModel": RESTRUCTURED,
    "kerasaudio.export.TFLiteModel.predict_windows": RESTRUCTURED,
    "kerasaudio.export.TFLiteModel.predict": RESTRUCTURED,
    "kerasaudio.models.registry.register_model": RESTRUCTURED,
    "kerasaudio.models.stack.stack": RESTRUCTURED,
    "kerasaudio.presets": RESTRUCTURED,
    "kerasaudio.presets.DownloadError": RESTRUCTURED,
    "kerasaudio.presets.ChecksumError": RESTRUCTURED,
    "kerasaudio.tflite_graph.restore_float_constants": RESTRUCTURED,
    "kerasaudio.tflite_graph.in_scopes": RESTRUCTURED,
    "kerasaudio.tflite_graph.unclip_lstm_cells": RESTRUCTURED,
    "kerasaudio.tflite_graph.fuse_clipped_relu": RESTRUCTURED,
    "kerasaudio.tflite_graph.strip_tensor_names": RESTRUCTURED,
    "kerasaudio.tflite_graph.halve_float_constants": RESTRUCTURED,
    "kerasaudio.tflite_metadata.add_metadata": RESTRUCTURED,
    "kerasaudio.tflite_metadata.read_metadata": RESTRUCTURED,
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
    stale = sorted(set(SKIP) - set(EXAMPLES))
    assert not stale, f"SKIP lists examples that no longer exist: {stale}"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_docstring_example_runs(name, tmp_path, monkeypatch):
    if name in SKIP:
        pytest.skip(SKIP[name])
    if name in FULL_FSDD:
        from kerasaudio.errors import DatasetNotFoundError

        try:
            kerasaudio.datasets.fsdd.find_root()
        except DatasetNotFoundError:
            pytest.skip("needs the full FSDD ($KERASAUDIO_DATA or ../shared/data/fsdd)")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERASAUDIO_OFFLINE", "1")
    monkeypatch.setenv("KERASAUDIO_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace = {"__name__": "__example__", "kerasaudio": kerasaudio, "keras": keras,
                 "np": np}
    exec(compile(EXAMPLES[name], f"<example {name}>", "exec"), namespace)
