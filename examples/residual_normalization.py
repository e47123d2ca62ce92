"""ResNorm against a recording device's colouring, and a CNN built with it.

Passes a bundled FSDD clip through a band-pass "telephone" filter (300-3400 Hz), computes
the standardised log-mel of both versions, and prints how far the features move with and
without `kerasaudio.layers.ResidualNormalization` (frequency-wise instance normalisation
plus a 0.1 shortcut). Then builds the zoo's CNN with one before every conv block
(`complex_cnn(residual_norm=0.1)`, no extra weights) and exports it to TFLite.

Run: `python examples/residual_normalization.py`.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import scipy.signal

import kerasaudio
from kerasaudio import export, layers
from kerasaudio.audio_io import load_audio
from kerasaudio.datasets import fsdd


def main() -> None:
    path = fsdd.load(sample=True)["path"].iloc[0]
    clip, _ = load_audio(path, sample_rate=8000)
    audio = np.zeros(8000, np.float32)
    audio[:len(clip[:8000])] = clip[:8000]
    sos = scipy.signal.butter(4, [300, 3400], btype="bandpass", fs=8000, output="sos")
    phone = scipy.signal.sosfilt(sos, audio).astype(np.float32)

    inputs = keras.Input((8000,))
    x = layers.MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=80, n_mels=40)(inputs)
    x = layers.Standardize()(layers.PowerToDb(top_db=80.0)(x))
    features = keras.Model(inputs, keras.layers.Reshape((101, 40, 1))(x))
    resnorm = layers.ResidualNormalization(residual=0.1)
    plain = [keras.ops.convert_to_numpy(features(a[None]))[0] for a in (audio, phone)]
    normed = [keras.ops.convert_to_numpy(resnorm(p[None]))[0] for p in plain]
    for name, (a, b) in (("log-mel", plain), ("log-mel + ResNorm", normed)):
        spread = a.std()
        print(f"{name:18s}: mean change {np.abs(a - b).mean() / spread:.2f} of the "
              "features' spread under the telephone band")

    model = kerasaudio.create_model(
        "complex_cnn", input_shape=(101, 40, 1), classes=10, filters=[8, 16, 32, 64, 128],
        dense_units=128, residual_norm=0.1)
    print(f"complex_cnn(residual_norm=0.1): {model.count_params():,} parameters, "
          f"{sum('resnorm' in layer.name for layer in model.layers)} ResNorm layers")
    flatbuffer = export.convert(model, batch_size=1)
    (lite,) = export.run_tflite(flatbuffer, plain[0][None])
    print(f"TFLite: {len(flatbuffer) / 1e3:.0f} kB, max difference to Keras "
          f"{np.abs(lite - keras.ops.convert_to_numpy(model(plain[0][None]))).max():.1e}")


if __name__ == "__main__":
    main()
