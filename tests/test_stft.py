import keras
import librosa
import numpy as np
import pytest

from kerasaudio.errors import InvalidAudioError, InvalidOptionError
from kerasaudio.layers import STFT, ComplexSpectrogram

GRID = [
    (n_fft, center, pad_mode)
    for n_fft in (256, 400, 512, 2048, 2560)
    for center, pad_mode in ((True, "constant"), (True, "reflect"), (False, "constant"))
]


def librosa_stft(y, **kwargs):
    """float64 librosa reference, laid out (frames, bins)."""
    return librosa.stft(y.astype(np.float64), dtype=np.complex128, **kwargs).T


@pytest.mark.jax
@pytest.mark.parametrize(("n_fft", "center", "pad_mode"), GRID)
@pytest.mark.parametrize("dft", ["fft", "conv"])
def test_complex_stft_matches_librosa(clip, n_fft, center, pad_mode, dft):
    hop = n_fft // 4
    out = STFT(n_fft=n_fft, hop_length=hop, center=center, pad_mode=pad_mode,
               mode="complex", dft=dft)(clip[None])
    out = keras.ops.convert_to_numpy(out)[0]
    ref = librosa_stft(clip, n_fft=n_fft, hop_length=hop, center=center, pad_mode=pad_mode)
    assert out.shape == (*ref.shape, 2)
    error = np.abs(out[..., 0] + 1j * out[..., 1] - ref).max() / np.abs(ref).max()
    assert error < 1e-4 if dft == "conv" else error < 1e-5


@pytest.mark.jax
@pytest.mark.parametrize(("win_length", "window"), [(400, "hann"), (300, "hamming"),
                                                    (512, ("kaiser", 8.0))])
@pytest.mark.parametrize("mode", ["magnitude", "power"])
def test_window_and_modes_match_librosa(clip, win_length, window, mode):
    layer = STFT(n_fft=512, hop_length=160, win_length=win_length, window=window, mode=mode)
    out = keras.ops.convert_to_numpy(layer(clip[None]))[0]
    ref = np.abs(librosa_stft(clip, n_fft=512, hop_length=160, win_length=win_length,
                              window=window))
    ref = ref**2 if mode == "power" else ref
    assert np.abs(out - ref).max() / ref.max() < 1e-5


@pytest.mark.jax
def test_complex_spectrogram_reproduces_torch_seed_layout(clip):
    """16 kHz, 1 s: (frames, bins, 2) = (101, 257, 2); torch's normalized=True scaling."""
    y = np.resize(librosa.resample(clip, orig_sr=8000, target_sr=16000), 16000)
    out = keras.ops.convert_to_numpy(ComplexSpectrogram()(y[None]))[0]
    assert out.shape == (101, 257, 2)
    ref = librosa_stft(y, n_fft=512, hop_length=160, win_length=480, pad_mode="reflect")
    ref = ref / np.sqrt(512)
    error = np.abs(out[..., 0] + 1j * out[..., 1] - ref).max() / np.abs(ref).max()
    assert error < 1e-5
    raw = ComplexSpectrogram(normalized=False)(y[None])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(raw)[0] / np.sqrt(512), out,
                               rtol=1e-5, atol=1e-7)


@pytest.mark.jax
def test_multichannel_layout(clips):
    n = min(map(len, clips[:2]))
    stereo = np.stack([clips[0][:n], clips[1][:n]], axis=-1)[None]  # (1, n, 2)
    for mode in ("complex", "power"):
        layer = STFT(n_fft=256, hop_length=64, mode=mode)
        out = keras.ops.convert_to_numpy(layer(stereo))
        left = keras.ops.convert_to_numpy(layer(stereo[..., 0]))
        right = keras.ops.convert_to_numpy(layer(stereo[..., 1]))
        assert out.shape[3] == 2  # channels right after the bins axis
        assert out.shape == tuple(layer.compute_output_shape(stereo.shape))
        np.testing.assert_allclose(out[:, :, :, 0], left, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(out[:, :, :, 1], right, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"hop_length": -1}, "hop_length"),
    ({"hop_length": 0}, "hop_length"),
    ({"n_fft": 1}, "n_fft"),
    ({"n_fft": 256, "win_length": 512}, "win_length"),
    ({"pad_mode": "wrap"}, "pad_mode"),
    ({"mode": "phase"}, "mode"),
    ({"dft": "matmul"}, "dft"),
    ({"window": "nope"}, "window"),
    ({"n_fft": 512.0}, "n_fft"),
])
def test_invalid_options_fail_at_construction(kwargs, match):
    with pytest.raises(InvalidOptionError, match=match):
        STFT(**kwargs)


@pytest.mark.parametrize(("x", "layer", "match"), [
    (np.zeros((1, 1000), np.int16), STFT(n_fft=256), "int16"),
    (np.zeros((1000,), np.float32), STFT(n_fft=256), "shape"),
    (np.zeros((1, 1000, 1, 1), np.float32), STFT(n_fft=256), "shape"),
    (np.zeros((1, 200), np.float32), STFT(n_fft=256, center=False), "shorter than n_fft"),
    (np.zeros((1, 0), np.float32), STFT(n_fft=256), "zero-length"),
    (np.zeros((1, 100), np.float32), STFT(n_fft=256, pad_mode="reflect"), "reflect"),
    (np.zeros((1, 16000, 2), np.float32), ComplexSpectrogram(), "channel"),
])
def test_bad_input_raises_clear_error(x, layer, match):
    with pytest.raises(InvalidAudioError, match=match):
        layer(x)


def test_symbolic_shapes_and_dynamic_length():
    layer = STFT(n_fft=400, hop_length=160, mode="complex")
    assert layer.compute_output_shape((None, 16000)) == (None, 101, 201, 2)
    assert layer.compute_output_shape((None, None, 3)) == (None, None, 201, 3, 2)
    inp = keras.Input((None,))
    model = keras.Model(inp, STFT(n_fft=400, hop_length=160, mode="power")(inp))
    for n in (16000, 12345):
        assert model.predict(np.zeros((2, n), np.float32), verbose=0).shape == \
            (2, 1 + n // 160, 201)


def tflite_stft_ops(clips, *, n_fft, hop, samples, mode, batch_size) -> list[str]:
    """Convert an STFT model to TFLite, check it against float64 librosa (1e-6 of the peak)
    on three clips, at batch 1 or with a dynamic batch; return the file's op names."""
    from kerasaudio import export

    inp = keras.Input((samples,))
    model = keras.Model(inp, STFT(n_fft=n_fft, hop_length=hop, mode=mode)(inp))
    flatbuffer = export.convert(model, batch_size=batch_size)
    x = np.stack([np.resize(c, samples) for c in clips[:3]]).astype("float32")
    if batch_size == 1:
        out = np.concatenate([export.run_tflite(flatbuffer, row[None])[0] for row in x])
    else:
        out = export.run_tflite(flatbuffer, x)[0]
    for row, got in zip(x, out, strict=True):
        spectrum = librosa_stft(row, n_fft=n_fft, hop_length=hop)
        ref = {"power": np.abs(spectrum) ** 2, "magnitude": np.abs(spectrum),
               "complex": np.stack([spectrum.real, spectrum.imag], axis=-1)}[mode]
        assert got.shape == ref.shape
        assert np.abs(got - ref).max() < 1e-6 * np.abs(ref).max()
    return export.op_names(flatbuffer)


@pytest.mark.parametrize("samples", [600, 2000, 8000])  # 2, 9 (not a multiple of 8), 51 frames
@pytest.mark.parametrize("batch_size", [1, None])
def test_tflite_groups_frames_per_rfft2d_and_matches_librosa(clips, samples, batch_size):
    """In TFLite files a power spectrum's FFT runs as RFFT2D over groups of 8 frames (the
    kernel's per-call set-up dominated one call per frame), undone by an 8 x 8 product."""
    ops = tflite_stft_ops(clips, n_fft=256, hop=40, samples=samples, mode="power",
                          batch_size=batch_size)
    assert "RFFT2D" in ops and "BATCH_MATMUL" in ops


@pytest.mark.export
@pytest.mark.parametrize(("n_fft", "samples"), [(16, 300), (256, 600), (256, 8000),
                                                (512, 2000), (2048, 8000)])
@pytest.mark.parametrize("mode", ["magnitude", "complex"])
@pytest.mark.parametrize("batch_size", [1, None])
def test_tflite_ungrouped_fft_is_two_matrix_products(clips, n_fft, samples, mode,
                                                      batch_size):
    """Magnitude and complex spectra (frames must not mix) run a power-of-two FFT as
    Cooley-Tukey in two matrix products per frame, not one RFFT2D call per frame:
    librosa's values to 1e-6 of the peak, fixed and dynamic batch."""
    ops = tflite_stft_ops(clips, n_fft=n_fft, hop=n_fft // 4, samples=samples, mode=mode,
                          batch_size=batch_size)
    assert "RFFT2D" not in ops and "FULLY_CONNECTED" in ops


@pytest.mark.parametrize("mode", ["magnitude", "complex"])
def test_tflite_magnitudes_of_silent_frames_stay_exact(clips, mode):
    """Grouping would give a silent frame ~1e-7 of its loud neighbours; standardised per
    frame (VGGVox v2) that became 0.17. Magnitude and complex spectra are not grouped: their
    matrix-product FFT keeps every frame to itself."""
    from kerasaudio import export
    from kerasaudio.layers import Standardize

    inp = keras.Input((8000,))
    spec = STFT(n_fft=256, hop_length=160, win_length=200, mode=mode, pad_mode="reflect")(inp)
    out = Standardize(axis=2, epsilon=1e-6)(spec)
    model = keras.Model(inp, out)
    clip = np.zeros(8000, "float32")
    clip[3000:5000] = clips[0][:2000]  # speech in the middle, digital silence around
    flatbuffer = export.convert(model)
    assert not {"BATCH_MATMUL", "RFFT2D"} & set(export.op_names(flatbuffer))
    expected = keras.ops.convert_to_numpy(model(clip[None]))
    assert np.abs(export.run_tflite(flatbuffer, clip[None])[0] - expected).max() < 1e-4
