"""Every public layer and function documents itself with an example."""

import importlib
import inspect

import pytest

MODULES = ["kerasaudio.layers", "kerasaudio.filters", "kerasaudio.data",
           "kerasaudio.datasets.fsdd", "kerasaudio.export", "kerasaudio.errors",
           "kerasaudio.metrics", "kerasaudio.losses", "kerasaudio.models",
           "kerasaudio.models.mnets", "kerasaudio.models.bilstm_attention",
           "kerasaudio.models.complex_cnn", "kerasaudio.models.vggvox",
           "kerasaudio.models.deep_speaker", "kerasaudio.models.wav2vec2",
           "kerasaudio.embeddings", "kerasaudio.export.metadata", "kerasaudio.export.graph",
           "kerasaudio.audio_io", "kerasaudio.hub", "kerasaudio.weights", "kerasaudio.cli",
           "kerasaudio.ensemble", "kerasaudio.vad", "kerasaudio.export.equalization",
           "kerasaudio.export.convert", "kerasaudio.export.verify", "kerasaudio.runtime",
           "kerasaudio.models.panns", "kerasaudio.datasets.audioset", "kerasaudio.models.ast",
           "kerasaudio.weights.huggingface", "kerasaudio.models.hubert",
           "kerasaudio.models.wavlm", "kerasaudio.training.user_data",
           "kerasaudio.training.table"]


def public_objects():
    for name in MODULES:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                yield f"{name}.{attr}", obj


@pytest.mark.parametrize(("name", "obj"), list(public_objects()))
def test_public_api_has_docstring_with_example(name, obj):
    doc = inspect.getdoc(obj) or ""
    if inspect.isclass(obj) and issubclass(obj, Exception) and obj.__module__.endswith("errors"):
        assert doc, f"{name} has no docstring"
        return
    assert "Example" in doc, f"{name}: docstring without an example"


@pytest.mark.parametrize("name", ["STFT", "ComplexSpectrogram", "MelSpectrogram", "MFCC",
                                  "PowerToDb", "AmplitudeToDb", "SpecAugment", "Standardize",
                                  "FeedForwardAttention", "MaskedGlobalPooling1D",
                                  "VLADPooling"])
def test_layer_docstrings_have_args_and_reference(name):
    doc = inspect.getdoc(getattr(importlib.import_module("kerasaudio.layers"), name))
    for section in ("Args:", "Example:", "Reference:"):
        assert section in doc, f"{name}: no {section}"
