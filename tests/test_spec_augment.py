import keras
import numpy as np
import pytest

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers import SpecAugment


def masked(x, y):
    return keras.ops.convert_to_numpy(y) != x


@pytest.mark.jax
def test_identity_outside_training():
    x = np.random.default_rng(0).normal(size=(4, 50, 40)).astype("float32") + 10
    layer = SpecAugment(freq_mask_param=10, time_mask_param=20, seed=1)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)


@pytest.mark.jax
@pytest.mark.parametrize(("n_freq", "n_time", "F", "T"), [(1, 0, 8, 0), (0, 1, 0, 15),
                                                          (2, 2, 8, 15)])
def test_masks_are_bands_and_spans_within_bounds(n_freq, n_time, F, T):
    x = np.random.default_rng(0).normal(size=(64, 100, 40)).astype("float32") + 10
    layer = SpecAugment(freq_mask_param=F, time_mask_param=T, n_freq_masks=n_freq,
                        n_time_masks=n_time, seed=3)
    m = masked(x, layer(x, training=True))
    full_bins = m.all(axis=1)    # (batch, bins) masked in every frame
    full_frames = m.all(axis=2)  # (batch, frames) masked in every bin
    # Every masked cell lies in a fully masked band or span.
    assert (m == (full_bins[:, None, :] | full_frames[:, :, None])).all()
    assert full_bins.sum(axis=1).max() <= n_freq * F
    assert full_frames.sum(axis=1).max() <= n_time * T
    if n_freq:
        assert full_bins.any()
        # Examples draw their own masks.
        assert len({tuple(row) for row in full_bins}) > 10


@pytest.mark.jax
def test_mask_value_mean_and_channels():
    x = np.random.default_rng(0).normal(size=(8, 30, 20, 2)).astype("float32") + 5
    y = keras.ops.convert_to_numpy(
        SpecAugment(freq_mask_param=5, time_mask_param=5, mask_value="mean", seed=0)(
            x, training=True))
    m = y != x
    assert m.any()
    # Channels share the masks.
    np.testing.assert_array_equal(m[..., 0], m[..., 1])
    means = x.reshape(8, -1).mean(axis=1)
    for i in range(8):
        np.testing.assert_allclose(y[i][m[i]], means[i], rtol=1e-5)


def test_seeded_masks_are_reproducible():
    x = np.ones((4, 50, 40), "float32")
    a = SpecAugment(freq_mask_param=10, time_mask_param=10, seed=7)(x, training=True)
    b = SpecAugment(freq_mask_param=10, time_mask_param=10, seed=7)(x, training=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"freq_mask_param": -1}, "freq_mask_param"), ({"n_time_masks": 1.5}, "n_time_masks"),
    ({"mask_value": "median"}, "mask_value"),
])
def test_invalid_options(kwargs, match):
    with pytest.raises(InvalidOptionError, match=match):
        SpecAugment(**kwargs)
