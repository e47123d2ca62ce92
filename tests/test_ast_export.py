"""AST from a Hugging Face checkpoint through `kerasaudio.export.to_tflite` in full int8:
builtin ops only, the transformer in int8 and the Kaldi filter bank float32, verified in
LiteRT on real FSDD clips, with the checkpoint's id2label as TFLite metadata that
MediaPipe's `AudioClassifier` reads.

The checkpoint is a tiny random AST written in transformers' format by
`save_huggingface` and loaded back through `create_model(<directory>)` (the route a hub
checkpoint takes), with a softmax head: MediaPipe reports scores, and softmax
probabilities are what int8 resolves within the default tolerance (logits are
unbounded).
"""

from __future__ import annotations

import collections
import io
import zipfile

import keras
import numpy as np
import pytest
from harness import assert_mediapipe_scores

import kerasaudio
from kerasaudio import export
from kerasaudio.audio_io import load_audio
from kerasaudio.data import fix_length
from kerasaudio.models.ast import AST, save_huggingface
from kerasaudio.runtime import make_interpreter

pytestmark = pytest.mark.export

LABELS = ["dog", "rain", "speech"]


def op_counts(flatbuffer: bytes) -> collections.Counter:
    """`(op name, "int8" or "float32")` -> how many ops of that type compute in it (by
    their first input's dtype)."""
    interpreter = make_interpreter(flatbuffer)
    dtypes = {t["index"]: np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()}
    return collections.Counter(
        (op["op_name"], dtypes[op["inputs"][0]]) for op in interpreter._get_ops_details()
        if op["inputs"].size and op["inputs"][0] >= 0)


@pytest.fixture(scope="module")
def int8_export(fsdd_sample, tmp_path_factory):
    keras.utils.set_random_seed(0)
    root = tmp_path_factory.mktemp("ast-export")
    save_huggingface(AST(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=48, max_length=100, classes=3,
                         class_names=LABELS), root / "checkpoint")
    model = kerasaudio.create_model(str(root / "checkpoint"), input_shape=(16000,),
                                    classifier_activation="softmax")
    paths = list(fsdd_sample.path[::max(1, len(fsdd_sample) // 12)])[:12]
    clips = np.stack([fix_length(load_audio(p, sample_rate=16000)[0], 16000)
                      for p in paths]).astype("float32")
    info = kerasaudio.info.model_info(model)
    report = export.to_tflite(model, root / "ast_int8.tflite", quantization="int8",
                              representative_data=clips, sample_rate=info.sample_rate,
                              class_names=list(info.class_names))
    return model, clips, root / "ast_int8.tflite", report


def test_int8_file_is_verified_and_the_transformer_is_integer(int8_export):
    _, _, path, report = int8_export
    assert report.passed and report.kept_float == []
    assert report.max_abs_diff <= export.DEFAULT_TOLERANCE["int8"]
    assert not [op for op in report.ops if "flex" in op.lower() or "custom" in op.lower()]
    # The patch embedding, attention and MLP run in int8 (6 dense layers in each of the 2
    # transformer layers, and the head); the filter bank (its LOG, and its DFT and mel
    # matrices as FULLY_CONNECTED) in float32.
    counts = op_counts(path.read_bytes())
    assert counts[("CONV_2D", "int8")] == 1 and ("CONV_2D", "float32") not in counts
    assert counts[("BATCH_MATMUL", "int8")] == 4 and ("BATCH_MATMUL", "float32") not in counts
    assert counts[("FULLY_CONNECTED", "int8")] == 13
    assert "LOG" in report.float_ops
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        assert archive.read("labels.txt").decode().splitlines() == LABELS


@pytest.mark.requires("mediapipe")
def test_mediapipe_audio_classifier_loads_the_int8_file(int8_export):
    model, clips, path, _ = int8_export
    assert_mediapipe_scores(path, clips[:3], model.predict(clips[:3], verbose=0),
                            sample_rate=16000, class_names=LABELS,
                            atol=export.DEFAULT_TOLERANCE["int8"])
