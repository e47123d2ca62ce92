"""TFLite: front ends convert with builtin ops only and match Keras in LiteRT."""

import keras
import numpy as np
import pytest
from conftest import db_error

from kerasaudio import export, layers


def model_of(*chain, samples=8000):
    inp = keras.Input((samples,))
    x = inp
    for layer in chain:
        x = layer(x)
    return keras.Model(inp, x)


def audio(clips, n=8000):
    return np.stack([np.resize(c, n) for c in clips]).astype("float32")


@pytest.mark.parametrize("n_fft", [256, 400, 512, 2048, 2560])
@pytest.mark.parametrize("batch_size", [1, None])
def test_log_mel_converts_to_builtins_and_matches(clips, n_fft, batch_size):
    model = model_of(
        layers.MelSpectrogram(sample_rate=8000, n_fft=n_fft, hop_length=n_fft // 4,
                              n_mels=40, fmin=20),
        layers.PowerToDb(ref="max"))
    flatbuffer = export.convert(model, batch_size=batch_size)
    ops = export.op_names(flatbuffer)
    assert not [op for op in ops if "flex" in op.lower() or op == "CUSTOM"]
    power_of_two = n_fft & (n_fft - 1) == 0
    assert ("RFFT2D" in ops) == power_of_two
    assert ("CONV_2D" in ops) == (not power_of_two)
    x = audio(clips) if batch_size is None else audio(clips[:1])
    (lite,) = export.run_tflite(flatbuffer, x)
    keras_out = keras.ops.convert_to_numpy(model(x))
    assert lite.shape == keras_out.shape
    for i in range(len(x)):
        assert db_error(lite[i], keras_out[i].astype(np.float64)) < 1e-3


@pytest.mark.parametrize(("name", "chain"), [
    ("mfcc", lambda: [layers.MFCC(sample_rate=8000, n_fft=400, hop_length=160, n_mels=40)]),
    ("complex", lambda: [layers.ComplexSpectrogram(n_fft=512, hop_length=160, win_length=480)]),
    ("magnitude_db", lambda: [layers.STFT(n_fft=2560, hop_length=347, mode="magnitude"),
                              layers.AmplitudeToDb(ref="max"), layers.Standardize()]),
    ("augment", lambda: [layers.MelSpectrogram(sample_rate=8000, n_fft=512), layers.PowerToDb(),
                         layers.SpecAugment()]),
])
def test_other_front_ends_convert(clips, name, chain):
    model = model_of(*chain())
    flatbuffer = export.convert(model, batch_size=1)
    assert not [op for op in export.op_names(flatbuffer) if "flex" in op.lower()]
    x = audio(clips[:1])
    (lite,) = export.run_tflite(flatbuffer, x)
    ref = keras.ops.convert_to_numpy(model(x))
    scale = np.abs(ref).max()
    assert np.abs(lite - ref).max() <= 1e-4 * max(scale, 1.0)


def test_dynamic_batch_conv_front_end(clips):
    """Any n_fft, any batch size: the DFT convolution path."""
    model = model_of(layers.STFT(n_fft=400, hop_length=160, mode="power", dft="conv"))
    flatbuffer = export.convert(model, batch_size=None)
    for n in (1, 3):
        x = audio(clips[:n])
        (lite,) = export.run_tflite(flatbuffer, x)
        ref = keras.ops.convert_to_numpy(model(x))
        assert np.abs(lite - ref).max() <= 1e-5 * np.abs(ref).max()


def test_non_builtin_graph_raises_conversion_error():
    """Forcing the FFT at n_fft 400: the converter emits RFFT2D, which LiteRT cannot
    prepare (powers of two only). `convert` says so instead of returning a dead file."""
    model = model_of(layers.STFT(n_fft=400, hop_length=160, mode="power", dft="fft"))
    with pytest.raises(export.ConversionError, match="IsPowerOfTwo"):
        export.convert(model)
