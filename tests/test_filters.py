import warnings

import librosa
import numpy as np
import pytest
import scipy.fft

from kerasaudio import filters
from kerasaudio.errors import InvalidOptionError


@pytest.mark.jax
@pytest.mark.parametrize("htk", [False, True])
def test_hz_mel_roundtrip_matches_librosa(htk):
    hz = np.array([0.0, 20.0, 440.0, 999.0, 1000.0, 1001.0, 8000.0, 22050.0])
    np.testing.assert_allclose(filters.hz_to_mel(hz, htk=htk),
                               librosa.hz_to_mel(hz, htk=htk), rtol=1e-12, atol=1e-12)
    mels = filters.hz_to_mel(hz, htk=htk)
    np.testing.assert_allclose(filters.mel_to_hz(mels, htk=htk), hz, rtol=1e-9, atol=1e-9)


@pytest.mark.jax
@pytest.mark.parametrize("sample_rate", [8000, 16000, 44100])
@pytest.mark.parametrize("n_fft", [256, 400, 2560])
@pytest.mark.parametrize("htk", [False, True])
@pytest.mark.parametrize("norm", ["slaney", None, 2.0])
def test_mel_matches_librosa(sample_rate, n_fft, htk, norm):
    n_mels = min(40, n_fft // 2 + 1)
    ours = filters.mel(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=20.0,
                       htk=htk, norm=norm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # librosa warns about empty bands
        ref = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=20.0,
                                  htk=htk, norm=norm, dtype=np.float64)
    assert ours.shape == (n_mels, n_fft // 2 + 1)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)


def test_mel_rejects_bad_norm():
    with pytest.raises(InvalidOptionError, match="norm"):
        filters.mel(sample_rate=8000, n_fft=256, norm="htk")


@pytest.mark.parametrize(("n_out", "n_in"), [(13, 40), (20, 128), (128, 128)])
def test_dct_is_orthonormal_dct_ii(n_out, n_in):
    x = np.random.default_rng(0).normal(size=(5, n_in))
    np.testing.assert_allclose(x @ filters.dct(n_out, n_in).T,
                               scipy.fft.dct(x, type=2, norm="ortho", axis=-1)[:, :n_out],
                               atol=1e-10)


@pytest.mark.parametrize(("window", "win_length", "n_fft"),
                         [("hann", 400, 512), ("hamming", 256, 256), (("kaiser", 8.0), 300, 301)])
def test_window_matches_librosa(window, win_length, n_fft):
    ref = librosa.util.pad_center(librosa.filters.get_window(window, win_length, fftbins=True),
                                  size=n_fft)
    np.testing.assert_allclose(filters.get_window(window, win_length, n_fft=n_fft), ref,
                               atol=1e-15)


@pytest.mark.parametrize("bad", [("nope",), "not-a-window", np.ones(10)])
def test_window_rejects_bad_spec(bad):
    with pytest.raises(InvalidOptionError, match="window"):
        filters.get_window(bad, 16)


@pytest.mark.parametrize("n_fft", [8, 400, 2560])
def test_dft_kernel_is_windowed_rfft(n_fft):
    window = filters.get_window("hann", n_fft)
    frame = np.random.default_rng(1).normal(size=n_fft)
    out = frame @ filters.dft_kernel(window)
    ref = np.fft.rfft(frame * window)
    bins = n_fft // 2 + 1
    np.testing.assert_allclose(out[:bins], ref.real, atol=1e-9)
    np.testing.assert_allclose(out[bins:], ref.imag, atol=1e-9)
