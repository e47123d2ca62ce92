"""The model-info record: one `AudioInfo` per model, kept through save/load, nesting,
stacking and export, and read by the hub, embeddings, export, runtime and CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

import kerasaudio
from kerasaudio import cli, embeddings, hub, layers
from kerasaudio.audio_io import resample
from kerasaudio.errors import InvalidOptionError
from kerasaudio.info import AudioInfo, model_info
from kerasaudio.models import AudioModel, with_info
from kerasaudio.runtime import TFLiteModel, read_metadata

DIGITS = "m5_fsdd_digits"
NAMES = ("low", "mid", "high")


def roundtrip(model, tmp_path, name="model.keras"):
    path = tmp_path / name
    model.save(path)
    return keras.saving.load_model(path, safe_mode=True)


def outputs(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def tiny_classifier(*, name="tiny", info=None, cls=AudioModel):
    """Raw 8 kHz audio -> log-mel -> 3 classes: a user's own model."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8000,), name="audio")
    x = layers.MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=128, n_mels=16)(inputs)
    x = layers.PowerToDb()(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    out = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    if cls is AudioModel:
        return AudioModel(inputs, out, name=name, info=info)
    return cls(inputs, out, name=name)


# ----------------------------------------------------------------------------- the record


def test_record_checks_and_round_trips_as_json():
    info = AudioInfo(task="digits", class_names=["a", "b"], sample_rate=np.int64(8000),
                     input_length=8000, preset="p")
    assert info.class_names == ("a", "b") and type(info.sample_rate) is int
    assert AudioInfo.from_dict(info.to_dict()) == info
    assert AudioInfo().to_dict() == {} and AudioInfo().is_empty and info.classes == 2
    assert info.replace(class_names=None).to_dict() == {
        "task": "digits", "sample_rate": 8000, "input_length": 8000, "preset": "p"}
    assert AudioInfo(sample_rate=8000).merge(AudioInfo(task="x")) == AudioInfo(
        task="x", sample_rate=8000)
    for bad, match in [(dict(sample_rate=0), "sample_rate"), (dict(sample_rate=8000.0),
                       "sample_rate"), (dict(class_names="ab"), "class_names"),
                       (dict(class_names=["a", "a"]), "duplicate"), (dict(task=""), "task"),
                       (dict(input_length=True), "input_length")]:
        with pytest.raises(InvalidOptionError, match=match):
            AudioInfo(**bad)
    with pytest.raises(InvalidOptionError, match="no field"):
        AudioInfo.from_dict({"rate": 8000})
    with pytest.raises(InvalidOptionError, match="no field"):
        info.replace(labels=["x"])
    assert model_info(object()) == AudioInfo() and model_info(None).is_empty


def test_info_module_imports_no_keras():
    code = ("import sys, kerasaudio.info; "
            "assert not {'keras', 'tensorflow'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ----------------------------------------------------------------------------- keras files


@pytest.mark.jax
def test_preset_record_survives_a_keras_file_and_a_new_name(tmp_path):
    model = kerasaudio.create_model(DIGITS, name="renamed")
    preset = hub.get_preset(DIGITS)
    assert isinstance(model, AudioModel) and model.name == "renamed"
    assert model_info(model) == preset.info == AudioInfo(
        task="digits", class_names=[str(d) for d in range(10)], sample_rate=8000,
        input_length=8000, preset=DIGITS)
    loaded = roundtrip(model, tmp_path)
    assert type(loaded) is AudioModel and loaded.name == "renamed"
    assert model_info(loaded) == preset.info
    assert hub.preset_of(loaded) == preset  # by the record, not the (changed) name
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 8000)).astype("float32")
    np.testing.assert_array_equal(outputs(loaded, x), outputs(model, x))
    # a model named like a preset but without a record is not that preset
    impostor = kerasaudio.create_model("m5", name=DIGITS, frontend="default",
                                       input_shape=(8000,), classes=10, n_channel=8)
    assert hub.preset_of(impostor) is None and model_info(impostor).is_empty


def test_headless_preset_keeps_its_preset_but_not_class_names():
    model = kerasaudio.create_model(DIGITS, include_top=False, pooling="avg")
    assert model_info(model) == hub.get_preset(DIGITS).info.replace(class_names=None)
    assert hub.preset_of(model).name == DIGITS


def test_architecture_record_holds_only_what_its_layers_fix(tmp_path):
    plain = kerasaudio.create_model("m5", input_shape=(8000, 1), classes=5, n_channel=8)
    assert isinstance(plain, AudioModel) and model_info(plain).is_empty
    assert model_info(roundtrip(plain, tmp_path, "plain.keras")).is_empty
    mel = kerasaudio.create_model(
        "bilstm_attention", frontend="default", input_shape=(22050,), classes=5,
        lstm_units=8, dense_units=8)
    assert model_info(mel) == AudioInfo(sample_rate=44100, input_length=22050)
    assert model_info(roundtrip(mel, tmp_path, "mel.keras")) == model_info(mel)
    # variable length: the rate is fixed, the length is not
    assert model_info(kerasaudio.create_model(
        "deep_speaker", include_top=False, frontend="default", filters=(8, 16, 32, 64),
        blocks=1, embedding_dim=16)) == AudioInfo(sample_rate=16000)
    # a family's default front end defined for 16 kHz records it; features in: nothing
    assert model_info(kerasaudio.create_model(
        "vggvox_v2", include_top=False, frontend="default", bottleneck_dim=16,
        embedding_dim=16, stage_filters=((8, 8, 16),) * 4,
        stage_blocks=(1, 1, 1, 1))).sample_rate == 16000
    assert model_info(kerasaudio.create_model(
        "vggvox_v2", input_shape=(257, 100, 1), classes=5)).is_empty
    assert model_info(kerasaudio.create_model(
        "wav2vec2_base", hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
        intermediate_size=48, conv_dim=(16,) * 7, num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4)) == AudioInfo(sample_rate=16000)


@pytest.mark.jax
def test_record_survives_nesting_in_another_model(tmp_path):
    inner = kerasaudio.create_model(DIGITS)
    audio = keras.Input((8000,))
    outer = keras.Model(audio, keras.layers.Dense(2, name="new_head")(inner(audio)))
    assert model_info(outer).is_empty  # the outer model is a new model
    loaded = roundtrip(outer, tmp_path)
    nested = [layer for layer in loaded.layers if isinstance(layer, AudioModel)]
    assert len(nested) == 1 and model_info(nested[0]) == hub.get_preset(DIGITS).info


def test_clone_model_drops_the_record_and_with_info_restores_it():
    model = kerasaudio.create_model(DIGITS)
    clone = keras.models.clone_model(model)
    assert isinstance(clone, AudioModel) and model_info(clone).is_empty
    assert with_info(clone, model_info(model)) is clone
    assert model_info(clone) == model_info(model) and hub.preset_of(clone).name == DIGITS


@pytest.mark.jax
def test_with_info_on_a_user_model(tmp_path):
    plain = tiny_classifier(cls=keras.Model)
    model = with_info(plain, class_names=NAMES, sample_rate=8000, input_length=8000)
    assert isinstance(model, AudioModel) and not isinstance(plain, AudioModel)
    assert model.weights[0] is plain.weights[0] and model.name == plain.name
    assert model_info(plain).is_empty and model_info(model).class_names == NAMES
    assert with_info(model, task="pitch") is model
    assert model_info(model) == AudioInfo(task="pitch", class_names=NAMES, sample_rate=8000,
                                          input_length=8000)
    assert model_info(roundtrip(model, tmp_path)) == model_info(model)
    assert model_info(with_info(model, AudioInfo(sample_rate=16000))) == AudioInfo(
        sample_rate=16000)
    with pytest.raises(InvalidOptionError, match="duplicate"):
        with_info(model, class_names=["a", "a", "b"])
    with pytest.raises(InvalidOptionError, match=r"keras\.Model"):
        with_info("model.keras", sample_rate=8000)


def test_wav2vec2_record_round_trips(tmp_path):
    model = kerasaudio.create_model(
        "wav2vec2_base", include_top=True, classes=2, input_shape=(4000,), hidden_size=32,
        num_hidden_layers=1, num_attention_heads=4, intermediate_size=48,
        conv_dim=(16, 16, 16), conv_kernel=(10, 3, 3), conv_stride=(5, 2, 2),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
    assert model_info(model) == AudioInfo(sample_rate=16000, input_length=4000)
    with_info(model, class_names=["no", "yes"])
    loaded = roundtrip(model, tmp_path)
    assert type(loaded).__name__ == "Wav2Vec2" and model_info(loaded) == AudioInfo(
        class_names=["no", "yes"], sample_rate=16000, input_length=4000)
    assert embeddings.model_sample_rate(loaded) == 16000


# ----------------------------------------------------------------------------- stacking


@pytest.mark.integration
def test_a_stack_gets_its_own_record(tmp_path):
    members = ["logmel_cnn_fsdd_digits", "mfcc_cnn_fsdd_digits"]
    stack = kerasaudio.create_model("stack", members=members)
    digits = tuple(str(d) for d in range(10))
    assert model_info(stack) == AudioInfo(class_names=digits, sample_rate=8000,
                                          input_length=8000)
    loaded = roundtrip(stack, tmp_path)
    assert model_info(loaded) == model_info(stack)
    nested = [model_info(layer) for layer in loaded.layers if isinstance(layer, AudioModel)]
    # each member keeps its own record inside the stack (here what its front end fixes)
    assert [record.sample_rate for record in nested] == [8000, 8000]
    published = kerasaudio.create_model("stack_fsdd_digits")
    assert model_info(published) == hub.get_preset("stack_fsdd_digits").info


# ----------------------------------------------------------------------------- readers


def test_embeddings_need_a_known_rate_to_resample(clips):
    model = kerasaudio.create_model(
        "deep_speaker", include_top=False, frontend="default", filters=(8, 16, 32, 64),
        blocks=1, embedding_dim=16)
    assert embeddings.model_sample_rate(model) == 16000  # its MelSpectrogram's
    clip = clips[1]  # 8 kHz
    at_16k = resample(clip, sample_rate=8000, target_sample_rate=16000).astype("float32")
    with_info(model, sample_rate=None)
    with pytest.raises(InvalidOptionError, match=r"sample rate .* is unknown.*with_info"):
        embeddings.model_sample_rate(model)
    with pytest.raises(InvalidOptionError, match="with_info"):
        embeddings.extract(model, clip, sample_rate=8000)
    expected = embeddings.extract(model, at_16k)  # audio already at the model's rate
    with_info(model, sample_rate=16000)
    np.testing.assert_allclose(embeddings.extract(model, clip, sample_rate=8000), expected,
                               atol=1e-6)


@pytest.mark.integration
def test_export_writes_the_record_and_the_runtime_reads_it(tmp_path, clips):
    record = AudioInfo(task="pitch", class_names=NAMES, sample_rate=8000, input_length=8000)
    model = tiny_classifier(info=record)
    audio = np.stack([kerasaudio.data.fix_length(c, 8000) for c in clips]).astype("float32")
    path = tmp_path / "tiny.tflite"
    report = kerasaudio.export.to_tflite(model, path, representative_data=audio)
    assert report.passed
    metadata = read_metadata(path.read_bytes())
    assert metadata["class_names"] == list(NAMES) and metadata["sample_rate"] == 8000
    assert (metadata["input_length"], metadata["task"]) == (8000, "pitch")
    assert "labels.txt" in metadata["associated_files"]
    runner = TFLiteModel(path)
    assert runner.audio_info == model_info(runner) == record
    np.testing.assert_allclose(runner.predict(audio[0]), outputs(model, audio[:1])[0],
                               atol=1e-4)


@pytest.fixture
def wav(fsdd_sample):
    return str(fsdd_sample.path.iloc[0])


def test_cli_predict_reads_a_user_keras_file(tmp_path, wav, capsys):
    named = tmp_path / "named.keras"
    tiny_classifier(info=AudioInfo(class_names=NAMES, sample_rate=8000)).save(named)
    assert cli.main(["predict", wav, "--model", str(named), "--top-k", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{wav}: ") and all(name in out for name in NAMES)
    # a record without class names: the output indices are printed
    indices = tmp_path / "indices.keras"
    tiny_classifier(info=AudioInfo(sample_rate=8000)).save(indices)
    assert cli.main(["predict", wav, "--model", str(indices), "--format", "json"]) == 0
    labels = {p["label"] for p in json.loads(capsys.readouterr().out)["predictions"]}
    assert labels == {"0", "1", "2"}
    # no record at all: the sample rate is unknown, one message and exit status 2
    bare = tmp_path / "bare.keras"
    tiny_classifier(cls=keras.Model).save(bare)
    assert cli.main(["predict", wav, "--model", str(bare)]) == 2
    err = capsys.readouterr().err
    assert "sample rate" in err and "with_info" in err and "Traceback" not in err
