"""Feature throughput of the two TensorFlow FFT forms, side by side in one run.

In a TensorFlow model a spectral layer whose `n_fft` is not a power of two computes its
FFT as two matrix products per frame (`kerasaudio.layers.stft._matmul_rfft`), so that
`model.export(format="litert")` and `tf.lite.TFLiteConverter` give files LiteRT runs (its
RFFT2D refuses such lengths); inside `tf.data`, which no converter reads, it keeps
TensorFlow's FFT op. This measures both places with `MelSpectrogram` + `PowerToDb`:
- `tf.data`: the layers mapped over batches of clips, (a) forced to the FFT op (a subclass
  turns the matrix form off) against (b) the layers as shipped (the FFT op there too);
- `model.predict` on the TensorFlow backend with the layers inside the model, (c) forced
  to the FFT op against (d) as shipped (the matrix products): the cost of the design.
Power-of-two sizes use the FFT op everywhere and serve as a control.

Clips are real FSDD recordings, looped and resampled to the rate of each configuration.
Each pipeline runs once to warm up (tracing), then `--repeats` timed passes; the best pass
counts. Prints clips/s, the ratios (b)/(a) and (d)/(c), and the largest dB difference
between the two forms' outputs.

    python benchmarks/tf_fft_forms.py [--clips 256] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import soundfile as sf
import soxr
import tensorflow as tf

import kerasaudio
from kerasaudio.datasets import fsdd

#: (name, sample rate, clip seconds, MelSpectrogram options)
CONFIGS = [
    ("16 kHz, n_fft 400 (25 ms), hop 160", 16000, 1.0,
     dict(n_fft=400, hop_length=160, n_mels=64)),
    ("44.1 kHz, n_fft 2560, hop 347 (Freesound kernel)", 44100, 5.0,
     dict(n_fft=2560, hop_length=347, n_mels=128, fmin=20)),
    ("16 kHz, n_fft 512, hop 160 (control: power of two)", 16000, 1.0,
     dict(n_fft=512, hop_length=160, n_mels=64)),
]


class FFTOpMel(kerasaudio.layers.MelSpectrogram):
    """`MelSpectrogram` computing with TensorFlow's FFT op for every `n_fft` (form (a))."""

    def _builtin_fft(self) -> bool:
        return False


def clips_at(sample_rate: int, seconds: float, count: int) -> np.ndarray:
    index = fsdd.load()
    samples = int(sample_rate * seconds)
    rows = []
    for i in range(count):
        y, sr = sf.read(index.path.iloc[i % len(index)], dtype="float32")
        y = soxr.resample(y, sr, sample_rate)
        rows.append(np.resize(y, samples))
    return np.stack(rows).astype("float32")


def pipeline(layer, clips: np.ndarray, repeats: int, batch: int = 32):
    """clips/s of `tf.data` mapping `layer` + `PowerToDb`, and the features."""
    db = kerasaudio.layers.PowerToDb()
    data = (tf.data.Dataset.from_tensor_slices(clips).batch(batch)
            .map(lambda x: db(layer(x))).prefetch(2))
    first = np.concatenate([b.numpy() for b in data])  # warm-up (tracing)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in data:
            pass
        best = min(best, time.perf_counter() - start)
    return len(clips) / best, first


def predict(layer, clips: np.ndarray, repeats: int, batch: int = 32):
    """clips/s of `model.predict` with `layer` + `PowerToDb` inside the model."""
    import keras

    inp = keras.Input(clips.shape[1:])
    model = keras.Model(inp, kerasaudio.layers.PowerToDb()(layer(inp)))
    first = model.predict(clips, batch_size=batch, verbose=0)  # warm-up (tracing)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(clips, batch_size=batch, verbose=0)
        best = min(best, time.perf_counter() - start)
    return len(clips) / best, first


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"TensorFlow {tf.__version__}, {args.clips} clips, best of {args.repeats}")
    for name, sr, seconds, options in CONFIGS:
        clips = clips_at(sr, seconds, args.clips)
        mel = kerasaudio.layers.MelSpectrogram
        a, fa = pipeline(FFTOpMel(sample_rate=sr, **options), clips, args.repeats)
        b, fb = pipeline(mel(sample_rate=sr, **options), clips, args.repeats)
        c, fc = predict(FFTOpMel(sample_rate=sr, **options), clips, args.repeats)
        d, fd = predict(mel(sample_rate=sr, **options), clips, args.repeats)
        print(f"{name}:\n  tf.data: (a) FFT op {a:7.1f} | (b) as shipped {b:7.1f} clips/s | "
              f"(b)/(a) {b / a:4.2f} | max |b - a| {float(np.abs(fb - fa).max()):.1e} dB\n"
              f"  model.predict: (c) FFT op {c:7.1f} | (d) as shipped {d:7.1f} clips/s | "
              f"(d)/(c) {d / c:4.2f} | max |d - c| {float(np.abs(fd - fc).max()):.1e} dB",
              flush=True)


if __name__ == "__main__":
    main()
