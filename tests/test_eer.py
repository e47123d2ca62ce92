"""Equal error rate: exact cases, a brute-force threshold sweep, and the Keras metric."""

import itertools

import keras
import numpy as np
import pytest

from kerasaudio.errors import KerasAudioError
from kerasaudio.metrics.eer import EqualErrorRate, eer


def sweep_eer(labels, scores):
    """Independent EER: FAR/FRR at every distinct threshold, crossing found by a loop."""
    labels = np.asarray(labels, bool)
    scores = np.asarray(scores, np.float64)
    target, nontarget = scores[labels], scores[~labels]
    points = [(0.0, 1.0, np.inf)]  # accept nothing: FAR 0, FRR 1
    for t in sorted(set(scores.tolist()), reverse=True):
        far = np.mean(nontarget >= t)
        frr = np.mean(target < t)
        points.append((far, frr, t))
    for (far0, frr0, t0), (far1, frr1, t1) in itertools.pairwise(points):
        d0, d1 = frr0 - far0, frr1 - far1
        if d1 <= 0:
            if d1 == 0:
                return far1, t1
            w = d0 / (d0 - d1)
            return far0 + w * (far1 - far0), (t1 if np.isinf(t0) else t0 + w * (t1 - t0))
    raise AssertionError("no crossing")


def test_hand_computed_case():
    # Thresholds 0.8 -> (FAR 0, FRR 1/3); 0.5 -> (FAR 1/2, FRR 1/3). FRR - FAR goes from
    # 1/3 to -1/6: 2/3 of the way, FAR = FRR = 1/3, threshold 0.8 + 2/3 (0.5 - 0.8) = 0.6.
    rate, threshold = eer([1, 1, 1, 0, 0], [0.9, 0.8, 0.3, 0.5, 0.1])
    assert rate == pytest.approx(1 / 3, abs=1e-12)
    assert threshold == pytest.approx(0.6, abs=1e-12)


def test_exact_crossing_on_a_roc_point():
    # At threshold 0.6: FAR = 1/2 (0.6 accepted), FRR = 1/2 (0.4 rejected).
    assert eer([1, 1, 0, 0], [0.9, 0.4, 0.6, 0.1]) == (0.5, 0.6)


@pytest.mark.parametrize("seed", [0, 1])
def test_perfectly_separable_scores_give_zero(seed):
    rng = np.random.default_rng(seed)
    target, nontarget = rng.uniform(0.5, 1, 40), rng.uniform(-1, 0.4, 60)
    labels = np.r_[np.ones(40), np.zeros(60)]
    rate, threshold = eer(labels, np.r_[target, nontarget])
    assert rate == 0.0
    assert threshold == target.min()  # every target accepted, every non-target rejected


def test_identical_distributions_give_one_half():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 20000)
    rate, _ = eer(labels, rng.normal(size=20000))
    assert rate == pytest.approx(0.5, abs=0.015)
    # Constant scores carry no information at all: exactly 0.5.
    assert eer([1, 0, 1, 0], [0.3, 0.3, 0.3, 0.3])[0] == pytest.approx(0.5)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_agrees_with_brute_force_sweep(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 400))
    labels = rng.integers(0, 2, n)
    labels[:2] = (0, 1)
    scores = rng.normal(size=n) + labels * rng.uniform(0, 2)
    if seed == 3:
        scores = np.round(scores, 1)  # many ties
    rate, threshold = eer(labels, scores)
    want_rate, want_threshold = sweep_eer(labels, scores)
    assert rate == pytest.approx(want_rate, abs=1e-12)
    assert threshold == pytest.approx(want_threshold, abs=1e-12)
    # At every threshold the smaller error rate is <= EER <= the larger one.
    far = np.array([np.mean(scores[labels == 0] >= t) for t in scores])
    frr = np.array([np.mean(scores[labels == 1] < t) for t in scores])
    assert np.max(np.minimum(far, frr)) - 1e-12 <= rate <= np.min(np.maximum(far, frr)) + 1e-12


def test_invariant_to_monotonic_rescaling_and_symmetric():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 300)
    scores = rng.normal(size=300) + labels
    rate, _ = eer(labels, scores)
    assert eer(labels, np.exp(2 * scores))[0] == pytest.approx(rate, abs=1e-12)
    # Swapping the roles of the classes and negating scores swaps FAR and FRR.
    assert eer(1 - labels, -scores)[0] == pytest.approx(rate, abs=1e-12)


@pytest.mark.parametrize(("labels", "scores", "match"), [
    ([1, 1], [0.2, 0.3], "both"),
    ([0, 2], [0.2, 0.3], "0/1"),
    ([0, 1], [0.2, np.nan], "finite"),
    ([0, 1, 1], [0.2, 0.3], "same number"),
])
def test_bad_input(labels, scores, match):
    with pytest.raises(KerasAudioError, match=match):
        eer(labels, scores)


@pytest.mark.jax
def test_keras_metric_agrees_with_eer_and_accumulates():
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 2000).astype("float32")
    scores = np.tanh(rng.normal(size=2000) + 1.2 * labels).astype("float32")
    metric = EqualErrorRate()
    for start in range(0, 2000, 512):  # batch by batch
        metric.update_state(labels[start:start + 512], scores[start:start + 512])
    got = float(metric.result())
    # Scores binned at width 0.002: the curve between bin edges is the ROC's.
    assert got == pytest.approx(eer(labels, scores)[0], abs=2e-3)
    # Exact on scores that sit in distinct bins (the hand-computed case).
    metric.reset_state()
    assert float(metric.result()) == 0.0
    metric.update_state(np.array([1, 1, 1, 0, 0]), np.array([0.9, 0.8, 0.3, 0.5, 0.1]))
    assert float(metric.result()) == pytest.approx(1 / 3, abs=1e-6)
    # A sample weight of 2 counts a trial twice.
    weighted = EqualErrorRate()
    weighted.update_state(np.array([1, 1, 0]), np.array([0.9, 0.2, 0.5]),
                          sample_weight=np.array([2.0, 1.0, 1.0]))
    repeated = EqualErrorRate()
    repeated.update_state(np.array([1, 1, 1, 0]), np.array([0.9, 0.9, 0.2, 0.5]))
    assert float(weighted.result()) == pytest.approx(float(repeated.result()), abs=1e-7)
    assert float(repeated.result()) == pytest.approx(eer([1, 1, 1, 0], [0.9, 0.9, 0.2, 0.5])[0])


def test_keras_metric_config_and_compile():
    metric = EqualErrorRate(num_thresholds=101, score_range=(0.0, 1.0))
    again = EqualErrorRate.from_config(metric.get_config())
    assert (again.num_thresholds, again.score_range) == (101, (0.0, 1.0))
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))
    model.compile(loss="binary_crossentropy", metrics=[EqualErrorRate(score_range=(0, 1))])
    x = np.r_[np.linspace(-2, -0.1, 20), np.linspace(0.1, 2, 20)][:, None].astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    sign = float(np.sign(keras.ops.convert_to_numpy(model.layers[1].kernel))[0, 0])
    result = model.evaluate(x, y if sign > 0 else 1 - y, verbose=0, return_dict=True)
    assert result["eer"] == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(KerasAudioError, match="num_thresholds"):
        EqualErrorRate(num_thresholds=2)
    with pytest.raises(KerasAudioError, match="score_range"):
        EqualErrorRate(score_range=(1.0, 1.0))
