"""lwlrap: NumPy function against scikit-learn, per-class form, and the Keras metric."""

import keras
import numpy as np
import pytest
from sklearn.metrics import label_ranking_average_precision_score

from kerasaudio.errors import KerasAudioError
from kerasaudio.metrics.lwlrap import Lwlrap, lwlrap, lwlrap_per_class


def sklearn_lwlrap(y_true, y_score):
    """The competition's formula: scikit-learn LRAP weighted by labels, unlabelled dropped."""
    y_true = np.asarray(y_true) > 0
    weight = y_true.sum(axis=1)
    keep = weight > 0
    return label_ranking_average_precision_score(y_true[keep], np.asarray(y_score)[keep],
                                                  sample_weight=weight[keep])


def multilabel(rng, samples, classes, mean_labels, *, ties=False):
    """Multi-hot truth with about `mean_labels` labels per sample, some samples unlabelled,
    and scores that lean towards the truth (rounded to one decimal for many ties)."""
    truth = rng.random((samples, classes)) < mean_labels / classes
    truth[: samples // 10] = False  # some samples without labels
    scores = rng.random((samples, classes)) + 0.5 * truth
    if ties:
        scores = np.round(scores, 1)
    return truth.astype("float32"), scores.astype("float32")


def test_hand_computed_example():
    y_true = [[1, 0, 0], [0, 1, 1], [0, 0, 0]]
    y_score = [[0.9, 0.2, 0.1], [0.8, 0.5, 0.3], [0.1, 0.2, 0.3]]
    # sample 1: 1; sample 2: label 1 -> 1/2, label 2 -> 2/3; sample 3 has no label.
    assert lwlrap(y_true, y_score) == pytest.approx((1 + 1 / 2 + 2 / 3) / 3, abs=1e-15)
    per_class, weights = lwlrap_per_class(y_true, y_score)
    np.testing.assert_allclose(per_class, [1, 1 / 2, 2 / 3], atol=1e-15)
    np.testing.assert_allclose(weights, [1 / 3] * 3, atol=1e-15)


@pytest.mark.parametrize(("samples", "classes", "mean_labels", "ties"), [
    (200, 10, 2.0, False),
    (200, 10, 2.0, True),
    (500, 80, 1.2, False),  # the competition's shape: 80 labels, 1.2 labels per clip
    (500, 80, 1.2, True),
    (50, 4, 3.5, True),  # many samples with every label true
])
@pytest.mark.parametrize("seed", [0, 1])
def test_equals_sklearn_label_weighted(samples, classes, mean_labels, ties, seed):
    y_true, y_score = multilabel(np.random.default_rng(seed), samples, classes, mean_labels,
                                 ties=ties)
    assert lwlrap(y_true, y_score) == pytest.approx(sklearn_lwlrap(y_true, y_score),
                                                    abs=1e-12)


def test_all_scores_tied_is_label_fraction():
    # Every label tied: the precision at each true label is (labels / classes).
    y_true = np.array([[1, 1, 0, 0], [1, 0, 0, 0]])
    y_score = np.zeros((2, 4))
    expected = (2 * (2 / 4) + 1 * (1 / 4)) / 3
    assert lwlrap(y_true, y_score) == pytest.approx(expected, abs=1e-15)
    assert sklearn_lwlrap(y_true, y_score) == pytest.approx(expected, abs=1e-15)


def test_per_class_weighted_sum_equals_overall():
    y_true, y_score = multilabel(np.random.default_rng(3), 300, 20, 1.5, ties=True)
    y_true[:, 7] = 0  # a class nobody has
    per_class, weights = lwlrap_per_class(y_true, y_score)
    assert np.isnan(per_class[7]) and weights[7] == 0
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.nansum(per_class * weights) == pytest.approx(lwlrap(y_true, y_score), abs=1e-12)


def test_perfect_ranking_scores_one_and_order_only_matters():
    y_true, y_score = multilabel(np.random.default_rng(4), 100, 12, 2.0)
    assert lwlrap(y_true, y_true + 0.01 * y_score) == 1.0
    assert lwlrap(y_true, y_score) == lwlrap(y_true, np.log(y_score) * 3 - 2)


def test_large_inputs_are_processed_in_blocks():
    # 2,000 x 200 x 200 comparisons: more than one block of the NumPy code.
    y_true, y_score = multilabel(np.random.default_rng(5), 2000, 200, 3.0, ties=True)
    assert lwlrap(y_true, y_score) == pytest.approx(sklearn_lwlrap(y_true, y_score),
                                                    abs=1e-12)


@pytest.mark.parametrize(("y_true", "y_score", "match"), [
    (np.ones((2, 3)), np.ones((2, 4)), "same shape"),
    (np.ones(3), np.ones(3), "2-D"),
    (np.full((2, 3), 0.5), np.ones((2, 3)), "binary"),
    (np.eye(3), np.array([[0, np.nan, 0]] * 3), "finite"),
    (np.zeros((2, 3)), np.ones((2, 3)), "no positive"),
])
def test_bad_inputs_fail_clearly(y_true, y_score, match):
    with pytest.raises(KerasAudioError, match=match):
        lwlrap(y_true, y_score)


@pytest.mark.jax
def test_keras_metric_over_batches_equals_numpy_on_concatenation():
    y_true, y_score = multilabel(np.random.default_rng(6), 500, 80, 1.2, ties=True)
    metric = Lwlrap()
    for start in range(0, 500, 64):  # 8 batches, the last one short
        metric.update_state(y_true[start:start + 64], y_score[start:start + 64])
    assert float(metric.result()) == pytest.approx(lwlrap(y_true, y_score), abs=1e-6)
    metric.reset_state()
    assert float(metric.result()) == 0.0


@pytest.mark.jax
def test_keras_metric_sample_weight_repeats_samples():
    y_true, y_score = multilabel(np.random.default_rng(7), 60, 10, 2.0, ties=True)
    weight = np.arange(60) % 3  # 0, 1 or 2 copies of each sample
    metric = Lwlrap()
    metric.update_state(y_true, y_score, sample_weight=weight.astype("float32"))
    repeated = np.repeat(np.arange(60), weight)
    assert float(metric.result()) == pytest.approx(
        lwlrap(y_true[repeated], y_score[repeated]), abs=1e-6)


@pytest.mark.jax
def test_keras_metric_in_compile_and_evaluate():
    keras.utils.set_random_seed(0)
    y_true, _ = multilabel(np.random.default_rng(8), 96, 6, 1.5)
    x = np.random.default_rng(9).normal(size=(96, 5)).astype("float32")
    inputs = keras.Input((5,))
    model = keras.Model(inputs, keras.layers.Dense(6, activation="sigmoid")(inputs))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[Lwlrap()])
    history = model.fit(x, y_true, batch_size=32, epochs=1, verbose=0)
    assert 0 < history.history["lwlrap"][0] <= 1
    result = model.evaluate(x, y_true, batch_size=32, verbose=0, return_dict=True)
    predictions = model.predict(x, batch_size=32, verbose=0)
    assert result["lwlrap"] == pytest.approx(lwlrap(y_true, predictions), abs=1e-6)


def test_keras_metric_serializes(tmp_path):
    metric = Lwlrap(name="tags_lwlrap")
    again = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert isinstance(again, Lwlrap) and again.name == "tags_lwlrap"
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="sigmoid")(inputs))
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[metric])
    x, y = np.ones((2, 4), "float32"), np.array([[1, 0, 0], [0, 1, 1]], "float32")
    model.train_on_batch(x, y)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    result = loaded.evaluate(x, y, verbose=0, return_dict=True)
    assert "tags_lwlrap" in result
