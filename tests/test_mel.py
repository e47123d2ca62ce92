import warnings

import keras
import librosa
import numpy as np
import pytest
from conftest import db_error

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers import MFCC, MelSpectrogram, PowerToDb

GRID = [
    (n_fft, center, pad_mode, htk, norm)
    for n_fft in (256, 400, 512, 2048, 2560)
    for center, pad_mode in ((True, "constant"), (True, "reflect"), (False, "constant"))
    for htk in (False, True)
    for norm in ("slaney", None)
]


def librosa_mel_db(y, sr, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        mel = librosa.feature.melspectrogram(y=y.astype(np.float64), sr=sr,
                                             dtype=np.float64, **kwargs)
    return librosa.power_to_db(mel, top_db=None).T


@pytest.mark.jax
@pytest.mark.parametrize(("n_fft", "center", "pad_mode", "htk", "norm"), GRID)
def test_db_mel_matches_librosa(clip, n_fft, center, pad_mode, htk, norm):
    n_mels = 64 if n_fft < 512 else 128
    kwargs = dict(n_fft=n_fft, hop_length=n_fft // 4, center=center, pad_mode=pad_mode,
                  htk=htk, norm=norm, n_mels=n_mels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        mel = MelSpectrogram(sample_rate=8000, **kwargs)
    ours = keras.ops.convert_to_numpy(PowerToDb(top_db=None)(mel(clip[None])))[0]
    ref = librosa_mel_db(clip, 8000, **kwargs)
    assert ours.shape == ref.shape
    assert db_error(ours, ref) < 0.01


@pytest.mark.jax
def test_kaggle_seed_config_matches_librosa(clip):
    """44.1 kHz, 5 s, n_fft 2560, hop 347, 128 mels from 20 Hz: the (636, 128) input."""
    y = np.resize(librosa.resample(clip, orig_sr=8000, target_sr=44100), 220500)
    kwargs = dict(n_fft=2560, hop_length=347, n_mels=128, fmin=20, fmax=22050)
    mel = MelSpectrogram(sample_rate=44100, **kwargs)
    ours = keras.ops.convert_to_numpy(PowerToDb(top_db=None)(mel(y[None])))[0]
    ref = librosa_mel_db(y, 44100, **kwargs)
    assert ours.shape == (636, 128)
    assert db_error(ours, ref) < 0.01


@pytest.mark.jax
@pytest.mark.parametrize("power", [1.0, 1.5])
def test_power_option_matches_librosa(clip, power):
    kwargs = dict(n_fft=512, hop_length=128, n_mels=40, power=power)
    ours = keras.ops.convert_to_numpy(MelSpectrogram(sample_rate=8000, **kwargs)(clip[None]))
    ref = librosa.feature.melspectrogram(y=clip.astype(np.float64), sr=8000,
                                         dtype=np.float64, **kwargs).T
    ours_db, ref_db = 10 * np.log10(np.maximum(ours[0], 1e-10)), librosa.power_to_db(ref)
    assert db_error(ours_db, ref_db) < 0.01


@pytest.mark.jax
@pytest.mark.parametrize(("n_fft", "n_mels", "n_mfcc", "lifter"),
                         [(256, 40, 13, 0), (512, 64, 20, 0), (2048, 128, 40, 22),
                          (2560, 128, 20, 0)])
def test_mfcc_matches_librosa(clip, n_fft, n_mels, n_mfcc, lifter):
    kwargs = dict(n_fft=n_fft, hop_length=n_fft // 4, n_mels=n_mels, n_mfcc=n_mfcc,
                  lifter=lifter)
    ours = keras.ops.convert_to_numpy(MFCC(sample_rate=8000, **kwargs)(clip[None]))[0]
    ref = librosa.feature.mfcc(y=clip.astype(np.float64), sr=8000, dtype=np.float64,
                               **kwargs).T
    assert ours.shape == ref.shape
    # Relative to each coefficient's scale over the clip.
    scale = np.abs(ref).max(axis=0)
    assert (np.abs(ours - ref).max(axis=0) / scale).max() < 1e-3


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"fmax": 4001}, "fmax"),
    ({"fmin": 3000, "fmax": 2000}, "fmin"),
    ({"fmin": -1}, "fmin"),
    ({"n_fft": 256, "n_mels": 200}, "n_mels"),
    ({"n_mels": 0}, "n_mels"),
    ({"power": 0}, "power"),
    ({"sample_rate": 0}, "sample_rate"),
    ({"norm": "l2"}, "norm"),
])
def test_invalid_options_fail_at_construction(kwargs, match):
    with pytest.raises(InvalidOptionError, match=match):
        MelSpectrogram(sample_rate=kwargs.pop("sample_rate", 8000), **kwargs)


def test_mfcc_rejects_more_coefficients_than_bands():
    with pytest.raises(InvalidOptionError, match="n_mfcc"):
        MFCC(sample_rate=8000, n_fft=512, n_mels=20, n_mfcc=40)


def test_empty_bands_warn():
    with pytest.warns(UserWarning, match="empty"):
        MelSpectrogram(sample_rate=44100, n_fft=256, n_mels=128)
