"""Batch norms after a ReLU folded before it (kerasaudio.export.folding): same outputs,
int8 files that follow the near-dead channels a trained TDNN has."""

import keras
import numpy as np
import pytest

import kerasaudio
from kerasaudio import export
from kerasaudio.export import fold_relu_batch_norms, relu_batch_norms


def _features(frames: int = 40, bands: int = 20) -> np.ndarray:
    """Log-mel features of the bundled FSDD clips, `(clips, frames, bands)`."""
    clips, _ = kerasaudio.datasets.fsdd.sample_clips()
    mel = kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=200,
                                           n_mels=bands)
    db = kerasaudio.layers.PowerToDb()
    features = np.asarray(db(mel(clips[:48])))[:, :frames]
    return ((features - features.mean()) / features.std()).astype("float32")


def _tdnn(negative: bool = False):
    """conv -> ReLU -> BN twice (fused and separate ReLU), a BN read twice, a dense head."""
    keras.utils.set_random_seed(0)
    x = inputs = keras.Input((40, 20))
    x = keras.layers.Conv1D(12, 3, activation="relu", name="a")(x)
    x = keras.layers.BatchNormalization(name="a_bn")(x)
    x = keras.layers.Conv1D(12, 3, name="b")(x)
    x = keras.layers.ReLU(name="b_relu")(x)
    x = keras.layers.BatchNormalization(name="b_bn")(x)
    y = keras.layers.Conv1D(12, 1, activation="relu", name="c")(x)
    skip = keras.layers.BatchNormalization(name="c_bn")(y)
    x = keras.layers.Add(name="add")([skip, y])  # c's output is read twice: not folded
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(6, name="head")(x))
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            sign = np.where(rng.random(n) < 0.3, -1.0, 1.0) if negative else 1.0
            layer.gamma.assign((sign * rng.uniform(0.5, 2.0, n)).astype("float32"))
            layer.beta.assign(rng.normal(0, 0.5, n).astype("float32"))
            layer.moving_mean.assign(rng.uniform(0, 0.3, n).astype("float32"))
            layer.moving_variance.assign(np.geomspace(1e-6, 2.0, n).astype("float32"))
    return model


def test_relu_batch_norms_finds_fused_and_separate_relus_only_when_read_once():
    found = relu_batch_norms(_tdnn())
    assert [(f.producer, f.relu, f.norm) for f in found] == [
        ("a", None, "a_bn"), ("b", "b_relu", "b_bn")]
    assert all(f.largest_factor > 15 for f in found)  # gamma / sqrt(1e-6 + 1e-3)


@pytest.mark.parametrize("negative", [False, True])
def test_folding_keeps_the_function_and_leaves_the_model_alone(negative):
    model = _tdnn(negative)
    before = [np.asarray(w).copy() for w in model.get_weights()]
    features = _features()
    folded, records = fold_relu_batch_norms(model)
    assert len(records) == 2
    reference = model.predict(features, verbose=0)
    np.testing.assert_allclose(folded.predict(features, verbose=0), reference,
                               rtol=1e-4, atol=1e-4 * np.abs(reference).max())
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, np.asarray(new))
    norm = folded.get_layer("a_bn")
    assert set(np.unique(np.asarray(norm.gamma))) <= {-1.0, 1.0}
    np.testing.assert_array_equal(np.asarray(norm.moving_mean), 0.0)


def test_a_model_without_the_pattern_has_nothing_to_fold():
    x = inputs = keras.Input((40, 20))
    x = keras.layers.Conv1D(8, 3, name="a")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)  # before the ReLU: Keras folds it
    x = keras.layers.ReLU()(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    assert relu_batch_norms(model) == []
    capped = keras.Sequential([keras.Input((40, 20)), keras.layers.Conv1D(8, 3),
                               keras.layers.ReLU(max_value=6.0),
                               keras.layers.BatchNormalization()])
    assert relu_batch_norms(capped) == []  # relu6 does not commute with scaling


def _int8_error(flatbuffer, features, reference) -> float:
    lite = np.concatenate([export.run_tflite(flatbuffer, f[None])[0] for f in features])
    return float(np.abs(lite - reference).max() / np.abs(reference).max())


def test_int8_file_follows_near_dead_channels_that_the_standard_converter_loses():
    """A BN factor of ~1000 after a ReLU (a channel whose activations are ~1e-3 of the
    others', as dead-ish channels of a trained TDNN are): the int8 ReLU output resolves
    that channel to a few levels, which the multiply then magnifies. kerasaudio's
    conversion folds the factor before the ReLU; TensorFlow's own converter, given the
    same model and calibration, keeps the multiply after the int8 ReLU."""
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    features = _features()
    x = inputs = keras.Input((40, 20))
    x = keras.layers.Conv1D(2, 3, activation="relu", name="a")(x)
    x = keras.layers.BatchNormalization(name="a_bn")(x)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(4, name="head")(x))
    conv, norm = model.get_layer("a"), model.get_layer("a_bn")
    kernel = np.asarray(conv.kernel).copy()
    kernel[..., 0] *= 1e-3  # channel 0: 1000x smaller activations
    conv.kernel.assign(kernel)
    activations = keras.Model(inputs, conv.output).predict(features, verbose=0)
    norm.moving_mean.assign(activations.mean(axis=(0, 1)))
    norm.moving_variance.assign(activations.var(axis=(0, 1)))
    reference = model.predict(features, verbose=0)

    ours = export.convert(model, quantization="int8", representative_data=features)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([f[None]] for f in features)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    standard = converter.convert()
    errors = {"ours": _int8_error(ours, features, reference),
              "standard": _int8_error(standard, features, reference)}
    assert errors["ours"] < 0.05, errors  # a few int8 steps of the output's range
    assert errors["ours"] < 0.5 * errors["standard"], errors


def test_min_cosine_verifies_embeddings_by_angle():
    features = _features()
    model = _tdnn()
    report = export.to_tflite(model, None, representative_data=features, min_cosine=0.9999)
    assert report.passed and report.required_cosine == 0.9999
    assert report.min_cosine > 0.9999
    assert "min cosine" in str(report)
    with pytest.raises(kerasaudio.errors.VerificationError, match="cosine similarity"):
        export.to_tflite(model, None, representative_data=features, quantization="int8",
                         min_cosine=1.0, keep_float=[])


@pytest.mark.parametrize("bad", [0, -0.5, 1.5, True, "0.9"])
def test_min_cosine_must_be_in_the_unit_interval(bad):
    with pytest.raises(kerasaudio.errors.InvalidOptionError, match="min_cosine"):
        export.to_tflite(_tdnn(), None, representative_data=_features(), min_cosine=bad)
