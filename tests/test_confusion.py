"""Confusion matrices: counts against a direct loop, the PNG, and bad input."""

import numpy as np
import pytest

from kerasaudio.errors import InvalidOptionError
from kerasaudio.metrics import confusion_matrix, plot_confusion


@pytest.mark.parametrize("classes", [2, 10, 30])
def test_counts_match_a_direct_loop(classes):
    rng = np.random.default_rng(classes)
    truth = rng.integers(0, classes, 500)
    predicted = np.where(rng.random(500) < 0.7, truth, rng.integers(0, classes, 500))
    expected = np.zeros((classes, classes), int)
    for t, p in zip(truth, predicted, strict=True):
        expected[t, p] += 1
    counts = confusion_matrix(truth, predicted, classes=classes)
    np.testing.assert_array_equal(counts, expected)
    assert counts.sum() == 500 and np.trace(counts) == (truth == predicted).sum()


@pytest.mark.parametrize(("truth", "predicted", "match"), [
    ([0, 1], [0], "equal 1-D"),
    ([0, 2], [0, 1], "truth has class indices outside 0..1"),
    ([0, 1], [-1, 1], "predicted has class indices outside"),
])
def test_bad_input_is_refused(truth, predicted, match):
    with pytest.raises(InvalidOptionError, match=match):
        confusion_matrix(truth, predicted, classes=2)


@pytest.mark.parametrize("classes", [2, 10, 30])
def test_png_is_written(tmp_path, classes):
    counts = confusion_matrix(np.arange(classes), np.arange(classes), classes=classes)
    path = tmp_path / "confusion.png"
    plot_confusion(counts, [f"class {i}" for i in range(classes)], path, title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    with pytest.raises(InvalidOptionError, match="does not match 3 class names"):
        plot_confusion(counts, ["a", "b", "c"], path)
