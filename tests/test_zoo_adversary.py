"""Speaker-adversarial training of the recipes (kerasaudio.training.adversary, the
`adversary` section).

Real Keras, the real recipe network and the bundled FSDD sample: the gradient reversal's
value and gradient, the speaker head's gradients on the shared layers, the joint labels of
the input pipeline, and a few training steps whose saved model is the plain digit model.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasaudio.datasets import fsdd
from kerasaudio.errors import InvalidOptionError
from kerasaudio.training import build, fit, pipeline, protocols
from kerasaudio.training.adversary import GradientReversal, speaker_adversary_model
from kerasaudio.training.recipe import Adversary, Recipe, load_recipe

TINY = ["training.epochs=1", "training.batch_size=8", "training.warmup_epochs=0"]
ADVERSARY = 'adversary={"factor": 0.3, "units": 16, "layer": "avg_pool"}'


def recipe(*overrides: str) -> Recipe:
    return load_recipe("logmel_cnn_fsdd_digits", [*TINY, *overrides])


@pytest.mark.parametrize("factor", [0.0, 0.3, 1.0])
def test_gradient_reversal_is_the_identity_with_a_reversed_scaled_gradient(factor):
    layer = GradientReversal(factor)
    x = tf.Variable(np.random.default_rng(0).normal(size=(4, 7)).astype("float32"))
    w = tf.constant(np.random.default_rng(1).normal(size=(4, 7)).astype("float32"))
    with tf.GradientTape() as tape:
        y = layer(x)
        loss = tf.reduce_sum(w * y)
    np.testing.assert_array_equal(y.numpy(), x.numpy())  # exactly, not within rounding
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), -factor * w.numpy(),
                               rtol=1e-6, atol=0)


def test_gradient_reversal_config_and_saving(tmp_path):
    layer = GradientReversal(0.25, name="grl")
    assert layer.get_config()["factor"] == 0.25
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(again, GradientReversal) and again.factor == 0.25
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(GradientReversal(0.5)(inputs)))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.layers[1], GradientReversal) and loaded.layers[1].factor == 0.5
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)
    with pytest.raises(ValueError, match="factor"):
        GradientReversal(-0.1)


def test_speaker_head_reverses_its_gradient_into_the_shared_layers_only():
    r = recipe()
    twin = build.build_model(r, training=True)
    audio = np.random.default_rng(0).normal(size=(4, 8000)).astype("float32") * 0.1
    speaker = tf.one_hot([0, 1, 2, 4], 5)

    def grads(factor):
        keras.utils.set_random_seed(1)  # the same head weights every time
        model = speaker_adversary_model(twin, 5, factor=factor, units=16)
        head = [model.get_layer("speaker_fc").kernel]
        with tf.GradientTape() as tape:
            # Inference mode: no dropout or augmentation draws, the same forward pass.
            _, probs = model(audio, training=False)
            loss = keras.losses.categorical_crossentropy(speaker, probs)
        shared = twin.get_layer("block1_conv").kernel
        g_shared, g_head = tape.gradient(loss, [shared, *head])
        return g_shared.numpy(), g_head.numpy(), model

    full, head_full, model = grads(1.0)
    third, head_third, _ = grads(1 / 3)
    zero, head_zero, _ = grads(0.0)
    # Into the shared layers: scaled by the factor (and reversed, see the layer's test).
    assert np.abs(full).max() > 0
    np.testing.assert_allclose(third, full / 3, rtol=1e-4, atol=1e-7)
    np.testing.assert_array_equal(zero, 0)
    # The head's own weights get the ordinary gradient whatever the factor.
    assert np.abs(head_full).max() > 0
    np.testing.assert_allclose(head_third, head_full, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(head_zero, head_full, rtol=1e-5, atol=1e-8)
    # The two outputs: the twin's digit probabilities, unchanged, and 5 speaker ones.
    digits, speakers = model(audio)
    np.testing.assert_allclose(digits, twin(audio), atol=1e-6)
    assert tuple(speakers.shape) == (4, 5)
    np.testing.assert_allclose(np.sum(speakers, axis=1), 1, atol=1e-5)
    with pytest.raises(InvalidOptionError, match="no such layer"):
        speaker_adversary_model(twin, 5, factor=0.1, layer="nope")


def test_joint_labels_are_the_digit_then_the_speaker():
    r = recipe()
    frame = fsdd.load(sample=True)
    frame = frame[frame.speaker != "theo"]
    speakers = ["george", "jackson", "lucas", "nicolas", "yweweler"]
    ds = pipeline.dataset(r, frame, train=False, speakers=speakers)
    labels = np.concatenate([y.numpy() for _, y in ds])
    assert labels.shape == (100, 15)
    np.testing.assert_array_equal(labels[:, :10].argmax(1), frame["digit"])
    np.testing.assert_array_equal(labels[:, 10:].argmax(1),
                                  [speakers.index(s) for s in frame["speaker"]])
    np.testing.assert_array_equal(labels.sum(1), 2)


@pytest.mark.slow
def test_adversarial_training_keeps_the_digit_model_only(tmp_path):
    frame = fsdd.load(sample=True)
    frame = frame[frame.speaker != "george"]
    r = recipe(ADVERSARY, "augment.mixup_alpha=0.2")
    assert r.adversary == Adversary(factor=0.3, units=16, layer="avg_pool")
    model, info = fit.train(r, frame, max_steps=3)
    a, _ = fit.train(r, frame, max_steps=3)
    history = info["history"]
    assert len(history["speaker_accuracy"]) == 1 and 0 <= history["speaker_accuracy"][0] <= 1
    # The saved model is the plain one: the same layers and parameters as without.
    plain = build.build_model(recipe())
    assert [w.shape for w in model.weights] == [w.shape for w in plain.weights]
    assert not any("speaker" in layer.name for layer in model.layers)
    for x, y in zip(model.get_weights(), a.get_weights(), strict=True):  # seeded
        np.testing.assert_array_equal(x, y)
    # The head changes the training: other weights than the same recipe without it.
    b, _ = fit.train(recipe("augment.mixup_alpha=0.2"), frame, max_steps=3)
    assert not np.array_equal(model.get_weights()[0], b.get_weights()[0])
    # A run writes the section into recipe.json / metrics.json and evaluates the digits.
    metrics = protocols.run(r, protocols=["loso"], folds=["george"], out=tmp_path,
                            sample=True, max_steps=1, log=lambda line: None)
    assert metrics["recipe"]["adversary"] == {"factor": 0.3, "units": 16,
                                              "layer": "avg_pool"}
    assert metrics["loso"]["per_speaker"]["george"]["total"] == 20
    assert json.loads((tmp_path / "config.json").read_text())["kwargs"]["classes"] == 10


@pytest.mark.parametrize("section", ['{"factor": -1}', '{"units": 0}', '{"lambda": 1}'])
def test_bad_adversary_sections_fail_before_training(section):
    with pytest.raises(InvalidOptionError, match="adversary"):
        recipe(f"adversary={section}")
