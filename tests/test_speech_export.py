"""wav2vec 2.0, HuBERT and WavLM sequence classifiers through `kerasaudio.export.to_tflite`:
float32, float16, dynamic range and int8, builtin ops only, verified in LiteRT on real
FSDD speech at 16 kHz, with the checkpoint's id2label as TFLite metadata that MediaPipe's
`AudioClassifier` reads.

Each checkpoint is a small random classifier of the family written in transformers'
format (`config.json` with `id2label` + `model.safetensors`; norms, biases and gates
perturbed away from their initial values as in tests/speech_parity.py) and loaded back
through `create_model(<directory>)`, the route a hub checkpoint takes, with a softmax
head: MediaPipe reports scores, and probabilities are what the int8 tolerance applies to.
In int8 files the feature encoder (raw-waveform convolutions, their norms and
activations, the projection's layer norm) stays float32 (`int8_float_scopes`); the
projection and the transformer run in int8.
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
from kerasaudio.errors import VerificationError
from kerasaudio.export.convert import int8_float_scopes
from kerasaudio.models.wav2vec2.convert import to_state_dict
from kerasaudio.runtime import make_interpreter
from kerasaudio.weights.huggingface import write_checkpoint

pytestmark = pytest.mark.export

LABELS = ["zero", "one", "two"]
SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
             conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
#: Base-size layouts (group-norm feature encoder, post-norm layers) and, for wav2vec 2.0,
#: the large-lv60 one (layer norms after every convolution, pre-norm layers).
GROUP = dict(feat_extract_norm="group", do_stable_layer_norm=False, conv_bias=False)
LAYER = dict(feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True)
CHECKPOINTS = {
    "wav2vec2": ("Wav2Vec2ForSequenceClassification", GROUP),
    "wav2vec2_lv60": ("Wav2Vec2ForSequenceClassification", LAYER),
    "hubert": ("HubertForSequenceClassification", GROUP),
    "wavlm": ("WavLMForSequenceClassification",
              {**GROUP, "num_buckets": 16, "max_bucket_distance": 20}),
}


def write_classifier(name: str, directory) -> None:
    """A random `*ForSequenceClassification` checkpoint of the family, with id2label."""
    family = name.split("_")[0]
    architecture, layout = CHECKPOINTS[name]
    seed = sorted(CHECKPOINTS).index(name)
    keras.utils.set_random_seed(seed)
    model = kerasaudio.create_model(f"{family}_base", include_top=True, classes=3,
                                    head="sequence_classification", classifier_proj_size=8,
                                    **SMALL, **layout)
    rng = np.random.default_rng(seed)
    tensors = {key: value + 0.2 * rng.standard_normal(value.shape).astype("float32")
               if "norm" in key or key.endswith("bias") or "gru_rel_pos_const" in key
               else value for key, value in to_state_dict(model).items()}
    encoder = model.get_layer(family).get_config()
    config = {"model_type": family, "architectures": [architecture],
              **{key: encoder[key] for key in type(model).architecture_defaults},
              "classifier_proj_size": 8, "id2label": dict(enumerate(LABELS)),
              "label2id": {label: i for i, label in enumerate(LABELS)}}
    write_checkpoint(directory, config, tensors)


@pytest.fixture(scope="module")
def speech(fsdd_sample):
    """FSDD recordings of the digits 0-2 by every speaker (36), resampled to 16 kHz, 1 s."""
    paths = fsdd_sample[fsdd_sample.digit <= 2].path
    return np.stack([fix_length(load_audio(p, sample_rate=16000)[0], 16000)
                     for p in paths]).astype("float32")


@pytest.fixture(scope="module", params=sorted(CHECKPOINTS))
def classifier(request, tmp_path_factory):
    """(checkpoint name, the converted classifier with softmax, its directory)."""
    directory = tmp_path_factory.mktemp(request.param)
    write_classifier(request.param, directory)
    model = kerasaudio.create_model(str(directory), input_shape=(16000,),
                                    classifier_activation="softmax")
    return request.param, model, directory


def op_counts(flatbuffer: bytes) -> collections.Counter:
    """`(op name, dtype name)` -> ops of that type computing in it (first input's dtype)."""
    interpreter = make_interpreter(flatbuffer)
    dtypes = {t["index"]: np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()}
    return collections.Counter(
        (op["op_name"], dtypes[op["inputs"][0]]) for op in interpreter._get_ops_details()
        if op["inputs"].size and op["inputs"][0] >= 0)


def labels_in(path) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        return archive.read("labels.txt").decode().splitlines()


def check_report(report, quantization) -> None:
    assert report.passed and report.quantization == quantization
    assert not [op for op in report.ops if "flex" in op.lower() or "custom" in op.lower()]
    assert report.max_abs_diff <= export.DEFAULT_TOLERANCE[quantization]


@pytest.mark.requires("mediapipe")
def test_int8_file_verifies_and_mediapipe_reads_its_labels(classifier, speech, tmp_path):
    name, model, _ = classifier
    family = name.split("_")[0]
    assert model.audio_info.class_names == tuple(LABELS)  # id2label, through the record
    assert int8_float_scopes(model) == {f"{family}/feature_encoder"}
    path = tmp_path / f"{name}_int8.tflite"
    report = export.to_tflite(model, path, quantization="int8", representative_data=speech)
    check_report(report, "int8")
    assert report.kept_float == [] and report.clips == len(speech)
    # The feature encoder's 7 convolutions stay float32; the projection, attention and
    # feed-forward layers and the head run in int8 (2 transformer layers of 6 dense
    # layers, WavLM's gate projection in each, the projection, the projector and the
    # classifier).
    counts = op_counts(path.read_bytes())
    assert counts[("CONV_2D", "float32")] == 7
    dense = 2 * (6 + (family == "wavlm")) + 3
    assert counts[("FULLY_CONNECTED", "int8")] == dense
    assert ("FULLY_CONNECTED", "float32") not in counts
    assert counts[("BATCH_MATMUL", "int8")] == 4 and ("BATCH_MATMUL", "float32") not in counts
    assert labels_in(path) == LABELS
    # MediaPipe scores like Keras (within the int8 tolerance), with the same top class.
    clips = speech[::6]
    keras_scores = model.predict(clips, verbose=0)
    scores = assert_mediapipe_scores(path, clips, keras_scores, sample_rate=16000,
                                     class_names=LABELS, atol=export.DEFAULT_TOLERANCE["int8"])
    np.testing.assert_array_equal(scores.argmax(1), keras_scores.argmax(1))


def test_int8_verifies_across_recording_levels_only_with_the_float_encoder(speech,
                                                                           tmp_path):
    """Clips at levels spread over 40 dB: the raw waveform's convolution in int8 resolves
    the quiet ones coarsely, and the group norm after it and the projection's layer norm
    scale that error up. With the feature encoder float32 (the default) the file
    verifies; with everything int8 (`float_frontend=False`) it does not."""
    write_classifier("wav2vec2", tmp_path)
    model = kerasaudio.create_model(str(tmp_path), input_shape=(16000,),
                                    classifier_activation="softmax")
    gains = np.geomspace(1.0, 0.01, len(speech))[np.random.default_rng(0).permutation(
        len(speech))]
    levels = (speech * gains[:, None]).astype("float32")
    check_report(export.to_tflite(model, None, quantization="int8",
                                  representative_data=levels), "int8")
    with pytest.raises(VerificationError) as failed:
        export.to_tflite(model, None, quantization="int8", representative_data=levels,
                         float_frontend=False, keep_float=[])
    assert failed.value.report.max_abs_diff > export.DEFAULT_TOLERANCE["int8"]


@pytest.mark.slow
@pytest.mark.parametrize("quantization", [None, "float16", "dynamic"])
def test_float_float16_and_dynamic_files_verify(classifier, speech, tmp_path, quantization):
    name, model, _ = classifier
    path = tmp_path / f"{name}.tflite"
    report = export.to_tflite(model, path, quantization=quantization,
                              representative_data=speech[::3])
    check_report(report, quantization)
    assert report.top1_agreement == 1.0
    assert labels_in(path) == LABELS
    assert export.read_metadata(path.read_bytes())["sample_rate"] == 16000
