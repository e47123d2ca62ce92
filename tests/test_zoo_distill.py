"""Distillation from finished runs' models in the recipes (the `distill` section).

Real Keras and the bundled FSDD sample: which teacher weights a training gets (the same
LOSO fold, or the official model), that the loss pulls the student towards the teachers'
probabilities, and a seeded end-to-end training whose saved model is the plain student.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasaudio.datasets import fsdd
from kerasaudio.errors import InvalidOptionError
from kerasaudio.training import build, fit, protocols
from kerasaudio.training.recipe import Distill, Recipe, load_recipe

TINY = ["training.epochs=1", "training.batch_size=8", "training.warmup_epochs=0"]


def recipe(name="logmel_cnn_fsdd_digits", *overrides: str) -> Recipe:
    return load_recipe(name, [*TINY, *overrides])


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    """A tiny finished run of the MFCC CNN: the official model and the george fold."""
    out = tmp_path_factory.mktemp("teacher")
    protocols.run(recipe("mfcc_cnn_fsdd_digits"), protocols=["official", "loso"],
                  folds=["george"], out=out, sample=True, max_steps=2, log=lambda line: None)
    return out


def _same_weights(model, path):
    run_dir = path.parent.parent if path.parent.name == "loso" else path.parent
    config = json.loads((run_dir / "config.json").read_text())
    reference = build.build_from_config(config, weights=path)
    return all(np.array_equal(a, b) for a, b in
               zip(model.get_weights(), reference.get_weights(), strict=True))


@pytest.mark.slow
def test_each_training_gets_the_teachers_that_never_saw_its_test_speaker(teacher_run):
    frame = fsdd.load(sample=True)
    distill = Distill(teachers=[str(teacher_run)], weight=0.5)
    (fold,) = fit.teachers(distill, frame[frame.speaker != "george"])
    assert _same_weights(fold, teacher_run / "loso" / "george.weights.h5")
    assert not fold.trainable
    (official,) = fit.teachers(distill, frame)
    assert _same_weights(official, teacher_run / "mfcc_cnn_fsdd_digits.weights.h5")
    assert not _same_weights(official, teacher_run / "loso" / "george.weights.h5")
    with pytest.raises(InvalidOptionError, match=r"theo\.weights\.h5"):  # fold not run
        fit.teachers(distill, frame[frame.speaker != "theo"])
    with pytest.raises(InvalidOptionError, match="lack"):
        fit.teachers(distill, frame[~frame.speaker.isin(["theo", "lucas"])])
    with pytest.raises(InvalidOptionError, match="run the teacher first"):
        fit.teachers(Distill(teachers=["zoo/runs/no_such_run"]), frame)


@pytest.mark.slow
@pytest.mark.parametrize(("weight", "winner"), [(0.0, 1), (1.0, 0)])
def test_the_loss_pulls_the_student_towards_the_teachers(weight, winner):
    """Labels say class 1, the teachers 0.9 / 0.1 for class 0: the weight decides."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    student = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    teachers = []
    for p in (0.85, 0.95):  # averaged: 0.9 / 0.1 whatever the input
        constant = keras.layers.Dense(2, activation="softmax", kernel_initializer="zeros",
                                      bias_initializer=keras.initializers.Constant(
                                          np.log([p, 1 - p])))
        fixed = keras.Input((4,))
        teachers.append(keras.Model(fixed, constant(fixed)))
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = np.tile(np.float32([0, 1]), (16, 1))
    optimizer = keras.optimizers.SGD(0.5)
    optimizer.build(student.trainable_variables)
    fit.fit(student, optimizer, tf.data.Dataset.from_tensors((x, y)),
            strategy=tf.distribute.get_strategy(), epochs=1, steps=300, global_batch=16,
            label_smoothing=0.0, jit_compile=False, log=None, teacher_models=teachers,
            distill_weight=weight)
    probs = keras.ops.convert_to_numpy(student(x))
    assert (probs.argmax(1) == winner).all()
    if weight == 1.0:  # the student matches the teachers' mean, not either teacher
        np.testing.assert_allclose(probs[:, 0], 0.9, atol=0.02)


@pytest.mark.slow
def test_distilled_training_is_seeded_and_keeps_the_plain_student(teacher_run):
    frame = fsdd.load(sample=True)
    frame = frame[frame.speaker != "george"]
    r = recipe("logmel_cnn_fsdd_digits",
               f'distill={{"teachers": ["{teacher_run}"], "weight": 0.5}}')
    assert r.distill == Distill(teachers=[str(teacher_run)], weight=0.5)
    a, info = fit.train(r, frame, max_steps=3)
    b, _ = fit.train(r, frame, max_steps=3)
    plain, plain_info = fit.train(recipe(), frame, max_steps=3)
    assert [w.shape for w in a.weights] == [w.shape for w in plain.weights]
    for x, y in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)
    # The first step is the same (same data, same initial weights); the loss then
    # differs, so the weights do.
    assert not np.array_equal(a.get_weights()[0], plain.get_weights()[0])
    assert len(info["history"]["loss"]) == len(plain_info["history"]["loss"]) == 1


@pytest.mark.parametrize("section", ['{"teachers": [], "weight": 0.5}',
                                     '{"teachers": ["x"], "weight": 0}',
                                     '{"teachers": ["x"], "weight": 1.5}',
                                     '{"teachers": ["x"], "temperature": 2}'])
def test_bad_distill_sections_fail_before_training(section):
    with pytest.raises(InvalidOptionError, match="distill"):
        recipe("logmel_cnn_fsdd_digits", f"distill={section}")
