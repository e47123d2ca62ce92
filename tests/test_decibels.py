import keras
import librosa
import numpy as np
import pytest

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers import AmplitudeToDb, PowerToDb


@pytest.fixture(scope="module")
def power(clip):
    return np.abs(librosa.stft(clip, n_fft=512, hop_length=128)).T ** 2


@pytest.mark.jax
@pytest.mark.parametrize("ref", [1.0, 0.01, "max"])
@pytest.mark.parametrize("top_db", [None, 80.0, 40.0])
@pytest.mark.parametrize("amin", [1e-10, 1e-5])
def test_power_to_db_matches_librosa(power, ref, top_db, amin):
    ours = keras.ops.convert_to_numpy(PowerToDb(ref=ref, top_db=top_db, amin=amin)(power[None]))
    expected = librosa.power_to_db(power.astype(np.float64),
                                   ref=np.max if ref == "max" else ref,
                                   top_db=top_db, amin=amin)
    np.testing.assert_allclose(ours[0], expected, atol=2e-4)


@pytest.mark.jax
@pytest.mark.parametrize("ref", [1.0, 0.5, "max"])
@pytest.mark.parametrize("top_db", [None, 80.0])
def test_amplitude_to_db_matches_librosa(power, ref, top_db):
    magnitude = np.sqrt(power)
    ours = keras.ops.convert_to_numpy(AmplitudeToDb(ref=ref, top_db=top_db)(magnitude[None]))
    expected = librosa.amplitude_to_db(magnitude.astype(np.float64),
                                       ref=np.max if ref == "max" else ref, top_db=top_db)
    np.testing.assert_allclose(ours[0], expected, atol=2e-4)


@pytest.mark.jax
@pytest.mark.parametrize("layer", [PowerToDb(ref="max"), PowerToDb(top_db=60.0),
                                   AmplitudeToDb(ref="max")])
def test_top_db_and_ref_are_per_example(power, layer):
    """A clip's dB values do not move when louder, quieter or silent clips join the batch."""
    alone = keras.ops.convert_to_numpy(layer(power[None]))[0]
    batch = np.stack([power * 1e4, power, power * 1e-4, np.zeros_like(power)])
    together = keras.ops.convert_to_numpy(layer(batch))
    np.testing.assert_allclose(together[1], alone, atol=1e-5)
    assert np.isfinite(together).all()
    # Silent example: floor, not NaN; per-example floor honoured.
    floor = together.reshape(4, -1).max(axis=1) - layer.top_db
    assert (together.reshape(4, -1).min(axis=1) >= floor - 1e-4).all()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"ref": 0.0}, "ref"), ({"ref": "min"}, "ref"), ({"amin": 0}, "amin"),
    ({"top_db": -10}, "top_db"), ({"top_db": float("nan")}, "top_db"),
])
def test_invalid_options(kwargs, match):
    with pytest.raises(InvalidOptionError, match=match):
        PowerToDb(**kwargs)
