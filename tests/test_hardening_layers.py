"""The front-end layers' contract for empty batches and non-finite input, on TensorFlow and
JAX (the `jax` marker runs these in the KERAS_BACKEND=jax process too)."""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pytest

import kerasaudio
from kerasaudio import layers
from kerasaudio.layers.base import FrontEndLayer

#: Options for layers that need some; every other front-end layer is built with defaults.
OPTIONS = {
    "MelSpectrogram": {"sample_rate": 8000, "n_fft": 512, "n_mels": 40},
    "MFCC": {"sample_rate": 8000, "n_fft": 512, "n_mels": 40},
    "Resample": {"orig_sr": 16000, "target_sr": 8000},
    "STFT": {"n_fft": 512},
    "ComplexSpectrogram": {"n_fft": 512},
}
#: More configurations of the spectral layers (other code paths).
VARIANTS = [
    ("STFT", {"n_fft": 500, "dft": "conv", "mode": "power"}),  # a convolution DFT
    ("STFT", {"n_fft": 256, "pad_mode": "reflect", "mode": "magnitude"}),
    ("PowerToDb", {"ref": "max", "top_db": None}),
    ("AmplitudeToDb", {"ref": 0.5}),
    ("MFCC", {"sample_rate": 8000, "n_fft": 512, "n_mels": 40, "top_db": None}),
]


def front_end_layers() -> list[str]:
    return sorted(name for name in layers.__all__
                  if inspect.isclass(getattr(layers, name))
                  and issubclass(getattr(layers, name), FrontEndLayer))


def cases():
    yield from ((name, OPTIONS.get(name, {})) for name in front_end_layers())
    yield from VARIANTS


def example(layer, batch: int) -> np.ndarray:
    shape = (batch, 20, 40) if layer.expects == "features" else (batch, 8000)
    return np.random.default_rng(0).random(shape).astype("float32")


@pytest.mark.jax
@pytest.mark.parametrize("name, options", list(cases()), ids=str)
def test_an_empty_batch_gives_an_empty_batch_of_the_usual_shape(name, options):
    layer = getattr(layers, name)(**options)
    one = np.asarray(layer(example(layer, 1)))
    empty = np.asarray(layer(example(layer, 0)))
    assert empty.shape == (0, *one.shape[1:]), keras.backend.backend()


def test_every_front_end_layer_is_covered():
    assert {"PowerToDb", "AmplitudeToDb", "MFCC", "STFT", "Standardize",
            "PCEN"} <= set(front_end_layers())


def _tensorflow_conv_loses_empty_batch_channels() -> bool:
    """Whether this machine's TensorFlow gives an empty batch the input's channel count in a
    convolution (tf.nn.conv1d of (0, 50, 8) by (3, 8, 16) as (0, 50, 8)): some CPU kernels
    do, others give (0, 50, 16). Where it does, a Keras Conv layer's bias no longer
    broadcasts, whatever the front end does."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return tf.nn.conv1d(tf.zeros((0, 50, 8)), tf.zeros((3, 8, 16)), 1, "SAME").shape[-1] != 16


@pytest.mark.jax
@pytest.mark.xfail(_tensorflow_conv_loses_empty_batch_channels(), strict=True,
                   reason="this TensorFlow's CPU convolution drops an empty batch's output "
                   "channels (see _tensorflow_conv_loses_empty_batch_channels)")
def test_the_m5_preset_takes_an_empty_batch(monkeypatch, tmp_path):
    monkeypatch.setenv("KERASAUDIO_OFFLINE", "1")
    monkeypatch.setenv("KERASAUDIO_HOME", str(tmp_path))
    model = kerasaudio.create_model("m5_fsdd_digits")
    assert np.asarray(model(np.zeros((0, 8000), "float32"))).shape == (0, 10)


def spectrogram(seed=0) -> np.ndarray:
    return np.random.default_rng(seed).random((2, 6, 5)).astype("float32") + 0.01


@pytest.mark.jax
@pytest.mark.parametrize("layer_name", ["PowerToDb", "AmplitudeToDb"])
@pytest.mark.parametrize("ref", [1.0, "max", 0.25])
@pytest.mark.parametrize("top_db", [80.0, 3.0, None])
def test_non_finite_values_stay_in_their_own_bins(layer_name, ref, top_db):
    layer = getattr(layers, layer_name)(ref=ref, top_db=top_db)
    clean = spectrogram()
    dirty = clean.copy()
    dirty[0, 0, 0], dirty[0, 3, 2], dirty[1, 5, 4] = np.inf, np.nan, -np.inf
    out = np.asarray(layer(dirty))
    expected = np.asarray(layer(np.where(np.isfinite(dirty), dirty, 0.0)))
    # Each non-finite bin is +Inf/NaN (a -Inf power is floored like 0; a -Inf amplitude
    # has magnitude +Inf)...
    assert out[0, 0, 0] == np.inf and np.isnan(out[0, 3, 2])
    if layer_name == "PowerToDb":
        assert out[1, 5, 4] == expected[1, 5, 4]
    else:
        assert out[1, 5, 4] == np.inf
    # ... and every other value is what it is without them (0 is below every maximum).
    keep = np.isfinite(dirty)
    np.testing.assert_allclose(out[keep], expected[keep], rtol=0, atol=1e-5)
    assert np.isfinite(out[1]).sum() == out[1].size - (layer_name == "AmplitudeToDb")


@pytest.mark.jax
def test_an_inf_sample_spoils_only_its_frames_of_mfcc():
    audio = np.random.default_rng(1).normal(0, 0.1, (1, 8000)).astype("float32")
    audio[0, 4000] = np.inf
    mfcc = layers.MFCC(sample_rate=8000, n_fft=256, hop_length=128, n_mels=40)
    out = np.asarray(mfcc(audio))
    bad_frames = ~np.isfinite(out).all(axis=-1)[0]
    # Frame t covers samples [128 t - 128, 128 t + 128) (centred): 31 and 32 hold 4000.
    assert np.flatnonzero(bad_frames).tolist() == [31, 32]


#: One layer per size option with an upper limit (kerasaudio.layers.base.OPTION_LIMITS),
#: with the other options it needs.
LIMITED = [
    ("STFT", "n_fft", {}),
    ("STFT", "hop_length", {"n_fft": 512}),
    ("ComplexSpectrogram", "n_fft", {}),
    ("MelSpectrogram", "sample_rate", {"n_fft": 512, "n_mels": 40}),
    ("MelSpectrogram", "n_fft", {"sample_rate": 8000, "n_mels": 40}),
    ("MelSpectrogram", "n_mels", {"sample_rate": 8000, "n_fft": 512}),
    ("MFCC", "n_mfcc", {"sample_rate": 8000, "n_fft": 512, "n_mels": 40}),
    ("PCEN", "sample_rate", {}),
    ("PCEN", "hop_length", {}),
    ("KaldiFbank", "sample_rate", {}),
    ("KaldiFbank", "num_mel_bins", {}),
    ("KaldiFbank", "frame_length_ms", {}),
    ("Resample", "sample_rate", {"target_sample_rate": 8000}),
    ("Resample", "target_sample_rate", {"sample_rate": 8000}),
]


@pytest.mark.parametrize("value", [None, 2**40])  # None: one above the limit
@pytest.mark.parametrize(("name", "option", "others"), LIMITED)
def test_size_options_above_their_documented_limit_are_refused(name, option, others, value):
    """Every limited option of every front-end layer is checked against the same table,
    with the same message naming the option, the limit and the table."""
    from kerasaudio.errors import InvalidOptionError
    from kerasaudio.layers.base import OPTION_LIMITS

    if option == "frame_length_ms":  # limits the frame in samples: 4096 at 16 kHz
        limit = OPTION_LIMITS["frame_length"][0]
        frames = limit + 16 if value is None else int(value * 16)
        with pytest.raises(InvalidOptionError) as info:
            layers.KaldiFbank(frame_length_ms=frames / 16)
        assert str(info.value).startswith(f"frame_length={frames}: must be <= {limit:,} (")
        assert "kerasaudio.layers.base.OPTION_LIMITS" in str(info.value)
        return
    limit = OPTION_LIMITS[option][0]
    too_big = limit + 1 if value is None else value
    with pytest.raises(InvalidOptionError) as info:
        getattr(layers, name)(**others, **{option: too_big})
    shown = float(too_big) if name == "PCEN" and option == "sample_rate" else too_big
    assert str(info.value).startswith(f"{option}={shown!r}: must be <= {limit:,} (")
    assert "kerasaudio.layers.base.OPTION_LIMITS" in str(info.value)


@pytest.mark.integration
def test_size_options_at_their_limit_are_accepted():
    from kerasaudio.layers.base import OPTION_LIMITS

    assert layers.STFT(n_fft=OPTION_LIMITS["n_fft"][0]).n_fft == 16_384
    assert layers.STFT(n_fft=512, hop_length=OPTION_LIMITS["hop_length"][0]).hop_length \
        == 262_144
    assert layers.MelSpectrogram(sample_rate=OPTION_LIMITS["sample_rate"][0], n_fft=512,
                                 n_mels=40).sample_rate == 768_000
    assert layers.KaldiFbank(sample_rate=16_000, frame_length_ms=256.0).frame_length == 4096
