"""Log-mel throughput, side by side in one run, on the same files.

(a) the Kaggle Freesound Audio Tagging 2019 kernel's per-file librosa loop
    (docs/references.md, [S4]): `librosa.load` at 44.1 kHz, pad or crop to 5 s,
    `melspectrogram` (n_fft 2560, hop 347, 128 mels, fmin 20), `power_to_db`;
(b) `kerasaudio.data.audio_dataset` with kerasaudio's `MelSpectrogram` + `PowerToDb`;
(c) the same pipeline with `keras.layers.MelSpectrogram` as the feature layer.

The files are 5 s, 44.1 kHz, 16-bit WAVs made from real FSDD recordings (concatenated
and resampled with soxr), written to a temporary directory. Each method runs once to warm
up (file cache, graph tracing, XLA), then `--repeats` timed passes; the best pass counts.
Prints clips/s, the ratio to (a), and a parity line: (b) against librosa, in dB.

    python benchmarks/features.py [--clips 256] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import librosa
import numpy as np
import soundfile as sf
import soxr

import kerasaudio
from kerasaudio.data import audio_dataset
from kerasaudio.datasets import fsdd

SR = 44100
SECONDS = 5.0
N = int(SR * SECONDS)
MEL = dict(n_fft=2560, hop_length=347, n_mels=128, fmin=20, fmax=SR // 2)


def make_files(directory: str, count: int) -> list[str]:
    index = fsdd.load()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(index))
    pieces, total, paths, i = [], 0, [], 0
    while len(paths) < count:
        y, sr = sf.read(index.path.iloc[order[i % len(order)]], dtype="float32")
        i += 1
        pieces.append(soxr.resample(y, sr, SR, quality="HQ"))
        total += len(pieces[-1])
        if total >= N:
            clip = np.concatenate(pieces)[:N]
            path = os.path.join(directory, f"clip_{len(paths):04d}.wav")
            sf.write(path, clip, SR, subtype="PCM_16")
            paths.append(path)
            pieces, total = [], 0
    return paths


def librosa_features(path: str) -> np.ndarray:
    y, sr = librosa.load(path, sr=SR)
    y = librosa.util.fix_length(y, size=N)
    return librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, **MEL))


def run_librosa(paths):
    for path in paths:
        librosa_features(path)


def pipeline(paths, features, batch_size):
    return audio_dataset(paths, sample_rate=SR, duration=SECONDS, features=features,
                         batch_size=batch_size)


def run_dataset(ds):
    count = 0
    for batch in ds:
        count += int(batch.shape[0])
    return count


def best_rate(fn, clips: int, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return clips / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--intra-op-threads", type=int, default=1,
                        help="TensorFlow intra-op threads (0: TensorFlow's default)")
    args = parser.parse_args()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.intra_op_threads)

    ours = keras.Sequential([
        kerasaudio.layers.MelSpectrogram(sample_rate=SR, **MEL),
        kerasaudio.layers.PowerToDb(),
    ])
    theirs = keras.layers.MelSpectrogram(fft_length=MEL["n_fft"],
                                         sequence_stride=MEL["hop_length"],
                                         sampling_rate=SR, num_mel_bins=MEL["n_mels"],
                                         min_freq=MEL["fmin"], max_freq=MEL["fmax"])
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_files(tmp, args.clips)
        ds_ours = pipeline(paths, ours, args.batch_size)
        ds_keras = pipeline(paths, theirs, args.batch_size)
        rates = {
            "(a) librosa per-file loop": best_rate(lambda: run_librosa(paths),
                                                   len(paths), args.repeats),
            "(b) kerasaudio audio_dataset": best_rate(lambda: run_dataset(ds_ours),
                                                      len(paths), args.repeats),
            "(c) keras.layers.MelSpectrogram": best_rate(lambda: run_dataset(ds_keras),
                                                         len(paths), args.repeats),
        }
        first = next(iter(ds_ours)).numpy()
        errors = []
        for i, path in enumerate(paths[: len(first)]):
            ref = librosa_features(path).T.astype(np.float64)
            mask = ref > ref.max() - 80
            errors.append(np.abs(first[i] - ref)[mask].max())

    base = rates["(a) librosa per-file loop"]
    print(f"log-mel, {len(paths)} clips of 5 s at 44.1 kHz, n_fft 2560, hop 347, 128 mels; "
          f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"intra-op threads {args.intra_op_threads or 'default'}")
    print(f"{'method':36s} {'clips/s':>9s} {'vs (a)':>8s}")
    for name, rate in rates.items():
        print(f"{name:36s} {rate:9.1f} {rate / base:7.2f}x")
    print(f"parity (b) vs librosa: max |dB difference| within 80 dB of each clip's peak = "
          f"{max(errors):.2e} dB over {len(errors)} clips")


if __name__ == "__main__":
    main()
