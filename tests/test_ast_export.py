"""AST from a Hugging Face checkpoint through `kerasaudio.export.to_tflite` in full int8:
builtin ops only, the transformer in int8 but for its attention probabilities, the Kaldi
filter bank float32, verified in
LiteRT on real FSDD clips, with the checkpoint's id2label as TFLite metadata that
MediaPipe's `AudioClassifier` reads.

The checkpoint is a tiny random AST written in transformers' format by
`save_huggingface` and loaded back through `create_model(<directory>)` (the route a hub
checkpoint takes), with a softmax head: MediaPipe reports scores, and softmax
probabilities are what int8 resolves within the default tolerance (logits are
unbounded).

A second, 64-wide AST takes AudioSet's 10.24 s input (1,214 tokens): there int8's softmax
steps of 1/256 exceed most attention probabilities, so the file verifies only with the
attention probabilities and their product with the values float32 (the scopes
`int8_float_scopes` declares); everything else runs in int8.
"""

from __future__ import annotations

import collections
import io
import itertools
import zipfile

import keras
import numpy as np
import pytest
from harness import assert_mediapipe_scores

import kerasaudio
from kerasaudio import export
from kerasaudio.audio_io import load_audio
from kerasaudio.data import fix_length
from kerasaudio.export.convert import int8_float_scopes
from kerasaudio.models.ast import AST, save_huggingface
from kerasaudio.runtime import make_interpreter, run_tflite

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
    # transformer layers, and the head), but for the attention probabilities (softmax, and
    # their product with the values: `int8_float_scopes`); the filter bank (its LOG, and
    # its DFT and mel matrices as FULLY_CONNECTED) in float32.
    counts = op_counts(path.read_bytes())
    assert counts[("CONV_2D", "int8")] == 1 and ("CONV_2D", "float32") not in counts
    assert counts[("BATCH_MATMUL", "int8")] == 2 and counts[("BATCH_MATMUL", "float32")] == 2
    assert counts[("FULLY_CONNECTED", "int8")] == 13
    assert "LOG" in report.float_ops and "SOFTMAX" in report.float_ops
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        assert archive.read("labels.txt").decode().splitlines() == LABELS


@pytest.mark.requires("mediapipe")
@pytest.mark.parametrize("exported", ["int8_export", "long_int8_export"])
def test_mediapipe_audio_classifier_loads_the_int8_file(exported, request):
    model, clips, path, _ = request.getfixturevalue(exported)
    assert_mediapipe_scores(path, clips[:3], model.predict(clips[:3], verbose=0),
                            sample_rate=16000, class_names=LABELS,
                            atol=export.DEFAULT_TOLERANCE["int8"])


def joined_clips(paths, clips: int, samples: int) -> np.ndarray:
    """`(clips, samples)`: the recordings at `paths` at 16 kHz joined into clips, in turn
    (from the first again when they run out)."""
    paths = itertools.cycle(paths)
    out = []
    for _ in range(clips):
        parts: list = []
        while sum(map(len, parts)) < samples:
            parts.append(load_audio(next(paths), sample_rate=16000)[0])
        out.append(np.concatenate(parts)[:samples])
    return np.stack(out).astype("float32")


@pytest.fixture(scope="module")
def long_int8_export(fsdd_sample, tmp_path_factory):
    """A 64-wide, 2-layer AST on AudioSet's 10.24 s input (1,024 frames, 1,214 tokens),
    its int8 file calibrated and verified on 4 clips of the sample's training recordings,
    and 3 clips of its test recordings."""
    keras.utils.set_random_seed(0)
    model = AST(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                intermediate_size=128, classes=3, class_names=LABELS,
                input_shape=(163840,))
    split = fsdd_sample.split
    clips = joined_clips(fsdd_sample.path[split == "train"], 4, 163840)
    others = joined_clips(fsdd_sample.path[split == "test"], 3, 163840)
    path = tmp_path_factory.mktemp("ast-long") / "ast_long_int8.tflite"
    report = export.to_tflite(model, path, quantization="int8",
                              representative_data=clips, sample_rate=16000,
                              class_names=LABELS)
    return model, others, path, report


def test_long_input_int8_keeps_only_the_attention_probabilities_float(long_int8_export):
    model, others, path, report = long_int8_export
    assert int8_float_scopes(model) == {
        f"audio_spectrogram_transformer/layer_{i}/attention_probs" for i in range(2)}
    assert report.passed and report.kept_float == []
    assert report.max_abs_diff <= export.DEFAULT_TOLERANCE["int8"]
    # Float32: each layer's softmax and its product with the values; int8: the patch
    # embedding, the query-key product, the 6 dense layers of each layer and the head
    # (its softmax over the 3 classes too).
    counts = op_counts(path.read_bytes())
    assert counts[("SOFTMAX", "float32")] == 2 and counts[("SOFTMAX", "int8")] == 1
    assert counts[("BATCH_MATMUL", "float32")] == 2
    assert counts[("BATCH_MATMUL", "int8")] == 2
    assert counts[("CONV_2D", "int8")] == 1 and ("CONV_2D", "float32") not in counts
    assert counts[("FULLY_CONNECTED", "int8")] == 13
    # Clips the calibration did not see score like Keras in LiteRT.
    flatbuffer = path.read_bytes()
    scores = np.concatenate([run_tflite(flatbuffer, clip[None])[0] for clip in others])
    np.testing.assert_allclose(scores, model.predict(others, verbose=0),
                               atol=export.DEFAULT_TOLERANCE["int8"])


@pytest.mark.parametrize("quantization", [None, "float16", "dynamic"])
def test_float_float16_and_dynamic_files_verify_with_labels(int8_export, tmp_path,
                                                             quantization):
    """The checkpoint's other modes: builtin ops only, verified against Keras in LiteRT
    within each mode's default bound, the labels in the metadata."""
    model, clips, _, _ = int8_export
    info = kerasaudio.info.model_info(model)
    path = tmp_path / f"ast_{quantization}.tflite"
    report = export.to_tflite(model, path, quantization=quantization,
                              representative_data=clips, sample_rate=info.sample_rate,
                              class_names=list(info.class_names))
    assert report.passed and report.max_abs_diff <= export.DEFAULT_TOLERANCE[quantization]
    assert not [op for op in report.ops if "flex" in op.lower() or "custom" in op.lower()]
    flatbuffer = path.read_bytes()
    got = np.concatenate([run_tflite(flatbuffer, clip[None])[0] for clip in clips[:4]])
    np.testing.assert_allclose(got, keras.ops.convert_to_numpy(model(clips[:4])),
                               atol=export.DEFAULT_TOLERANCE[quantization])
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        assert archive.read("labels.txt").decode().splitlines() == LABELS
