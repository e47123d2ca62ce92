"""tf.data feature throughput of the two TensorFlow FFT forms, side by side in one run.

On the TensorFlow backend a spectral layer whose `n_fft` is not a power of two computes
its FFT as two matrix products per frame (`kerasaudio.layers.stft._matmul_rfft`), so that
`model.export(format="litert")` and `tf.lite.TFLiteConverter` give files LiteRT runs
(its RFFT2D refuses such lengths). This measures what that costs where features are
made: a `tf.data` pipeline mapping `MelSpectrogram` + `PowerToDb` over batches of clips,
(a) with TensorFlow's FFT op (`tf.signal.rfft`, the form before the change: a subclass
turns the matrix form off) and (b) with the matrix products (the layer as shipped).
Power-of-two sizes are unchanged (both forms are the FFT op) and serve as a control.

Clips are real FSDD recordings, looped and resampled to the rate of each configuration.
Each pipeline runs once to warm up (tracing), then `--repeats` timed passes; the best pass
counts. Prints clips/s for both forms, the ratio (b)/(a) and the largest dB difference
between the two outputs.

    python benchmarks/tf_fft_forms.py [--clips 512] [--repeats 3]
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


def throughput(layer, clips: np.ndarray, repeats: int, batch: int = 32) -> tuple[float, np.ndarray]:
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"TensorFlow {tf.__version__}, {args.clips} clips, best of {args.repeats}")
    for name, sr, seconds, options in CONFIGS:
        clips = clips_at(sr, seconds, args.clips)
        fft_op, a = throughput(FFTOpMel(sample_rate=sr, **options), clips, args.repeats)
        products, b = throughput(kerasaudio.layers.MelSpectrogram(sample_rate=sr, **options),
                                 clips, args.repeats)
        print(f"{name}: (a) FFT op {fft_op:8.1f} clips/s | (b) as shipped {products:8.1f} "
              f"clips/s | (b)/(a) {products / fft_op:5.2f} | max |b - a| "
              f"{float(np.abs(b - a).max()):.1e} dB")


if __name__ == "__main__":
    main()
