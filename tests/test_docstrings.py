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

NOT_SELF_CONTAINED = ("not runnable on its own yet: uses names or files it does not make "
                      "(to be made self-contained; issue 17)")
HF_CHECKPOINT = "needs a Hugging Face wav2vec 2.0 checkpoint directory, which is not shipped"

# Example id (module.qualname, then #n for the n-th block after the first) -> reason.
SKIP = {
    # Examples that need what the project cannot provide here.
    "kerasaudio.embeddings.extract": HF_CHECKPOINT,
    # Examples not self-contained (names they do not define, files they do not make), in
    # files this change does not edit.
    "kerasaudio.vad": "reads long.wav, which it does not make (fix in vad.py)",
    "kerasaudio.vad.Segment": "uses `audio`, which it does not define (fix in vad.py)",
    "kerasaudio.vad.speech_frames": "uses `audio`, which it does not define (fix in vad.py)",
    "kerasaudio.vad.split": "uses `audio`, which it does not define (fix in vad.py)",
    "kerasaudio.models.registry.register_model": NOT_SELF_CONTAINED,
    # Examples written before this runner existed, not yet self-contained.
    "kerasaudio.export.convert.check_quantization": NOT_SELF_CONTAINED,
    "kerasaudio.export.convert.clip_array": NOT_SELF_CONTAINED,
    "kerasaudio.export.convert.equalizes": NOT_SELF_CONTAINED,
    "kerasaudio.export.equalization.EqualizedPair": NOT_SELF_CONTAINED,
    "kerasaudio.export.equalization.equalize_channels": NOT_SELF_CONTAINED,
    "kerasaudio.export.graph.fuse_clipped_relu": NOT_SELF_CONTAINED,
    "kerasaudio.export.graph.halve_float_constants": NOT_SELF_CONTAINED,
    "kerasaudio.export.graph.in_scopes": NOT_SELF_CONTAINED,
    "kerasaudio.export.graph.restore_float_constants": NOT_SELF_CONTAINED,
    "kerasaudio.export.graph.strip_tensor_names": NOT_SELF_CONTAINED,
    "kerasaudio.export.graph.unclip_lstm_cells": NOT_SELF_CONTAINED,
    "kerasaudio.export.metadata.add_metadata": NOT_SELF_CONTAINED,
    "kerasaudio.export.verify.ExportReport": NOT_SELF_CONTAINED,
    "kerasaudio.export.verify.float_ops": NOT_SELF_CONTAINED,
    "kerasaudio.export.verify.op_names": NOT_SELF_CONTAINED,
    "kerasaudio.export.verify.to_tflite": NOT_SELF_CONTAINED,
    "kerasaudio.hub": NOT_SELF_CONTAINED,
    "kerasaudio.info.AudioInfo.from_dict": NOT_SELF_CONTAINED,
    "kerasaudio.info.AudioInfo.from_metadata": NOT_SELF_CONTAINED,
    "kerasaudio.info.AudioInfo.merge": NOT_SELF_CONTAINED,
    "kerasaudio.info.AudioInfo.replace": NOT_SELF_CONTAINED,
    "kerasaudio.info.AudioInfo.to_dict": NOT_SELF_CONTAINED,
    "kerasaudio.models.ast": NOT_SELF_CONTAINED,
    "kerasaudio.models.ast.convert.convert_state_dict": NOT_SELF_CONTAINED,
    "kerasaudio.models.ast.convert.load_huggingface_weights": NOT_SELF_CONTAINED,
    "kerasaudio.models.ast.convert.read_config": NOT_SELF_CONTAINED,
    "kerasaudio.models.ast.convert.read_weights": NOT_SELF_CONTAINED,
    "kerasaudio.models.ast.model.AST": NOT_SELF_CONTAINED,
    "kerasaudio.models.ast.model.AST.from_huggingface": NOT_SELF_CONTAINED,
    "kerasaudio.models.ast.model.ast": NOT_SELF_CONTAINED,
    "kerasaudio.models.audio_model.with_info": NOT_SELF_CONTAINED,
    "kerasaudio.models.panns": NOT_SELF_CONTAINED,
    "kerasaudio.models.panns.convert.load_panns_weights": NOT_SELF_CONTAINED,
    "kerasaudio.models.panns.convert.read_panns_checkpoint": NOT_SELF_CONTAINED,
    "kerasaudio.models.panns.model.panns_cnn14": NOT_SELF_CONTAINED,
    "kerasaudio.models.wav2vec2": NOT_SELF_CONTAINED,
    "kerasaudio.models.wav2vec2.convert.load_huggingface_weights": NOT_SELF_CONTAINED,
    "kerasaudio.models.wav2vec2.convert.read_huggingface_config": NOT_SELF_CONTAINED,
    "kerasaudio.models.wav2vec2.convert.read_huggingface_weights": NOT_SELF_CONTAINED,
    "kerasaudio.models.wav2vec2.model.Wav2Vec2": NOT_SELF_CONTAINED,
    "kerasaudio.models.wav2vec2.model.Wav2Vec2.from_huggingface": NOT_SELF_CONTAINED,
    "kerasaudio.models.wav2vec2.model.wav2vec2_base": NOT_SELF_CONTAINED,
    "kerasaudio.models.wav2vec2.model.wav2vec2_large": NOT_SELF_CONTAINED,
    "kerasaudio.models.wav2vec2.model.wav2vec2_large_lv60": NOT_SELF_CONTAINED,
    "kerasaudio.runtime.TFLiteModel": NOT_SELF_CONTAINED,
    "kerasaudio.runtime.TFLiteModel.predict": NOT_SELF_CONTAINED,
    "kerasaudio.runtime.TFLiteModel.predict_windows": NOT_SELF_CONTAINED,
    "kerasaudio.runtime.invoke": NOT_SELF_CONTAINED,
    "kerasaudio.runtime.make_interpreter": NOT_SELF_CONTAINED,
    "kerasaudio.runtime.read_metadata": NOT_SELF_CONTAINED,
    "kerasaudio.runtime.run_tflite": NOT_SELF_CONTAINED,
    "kerasaudio.runtime.split_associated_files": NOT_SELF_CONTAINED,
    "kerasaudio.weights.download.download_file": NOT_SELF_CONTAINED,
    "kerasaudio.weights.download.file_sha256": NOT_SELF_CONTAINED,
    "kerasaudio.weights.manifest.Preset.from_entry": NOT_SELF_CONTAINED,
    "kerasaudio.weights.manifest.validate_entry": NOT_SELF_CONTAINED,
    "kerasaudio.weights.manifest.validate_manifest": NOT_SELF_CONTAINED,
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
