"""Train the raw-waveform M5 (the torchaudio tutorial's) on the Free Spoken Digit Dataset.

The tutorial's recipe: M5 with `n_channel=32` (25,290 trainable parameters) on 8 kHz
audio, Adam with learning rate 0.01 and weight decay 1e-4, batch 256, cross-entropy.
FSDD is already 8 kHz, so nothing is resampled. One change: the learning rate decays
from 0.01 to 0 along a cosine over the run (`--constant-lr` keeps the tutorial's constant
rate; its StepLR, x0.1 every 20 epochs, does not fire within its 10 epochs). With FSDD's 11
batches per epoch and a constant 0.01, the test accuracy swings by tens of points from
one epoch to the next: the weights move faster than the BatchNorm running statistics
follow (accuracy in training mode stays high while inference-mode accuracy on the
training clips drops). The decay lets both settle.

Clip length: by default every clip is centred in 1 s (8,000 samples; the 0.7% of FSDD
clips longer than that are cropped). `--batch-padding` does what the tutorial's collate
function does instead, zero-padding each batch to its longest clip. FSDD clips are short
(median 0.42 s), and the tutorial's M5 ("valid" convolutions, first stride 16, four
pools) needs at least 6,848 samples (`minimum_samples("m5", n_channel=32)`): a batch
whose clips are all shorter would leave nothing to pool. So with `--batch-padding` each
batch is padded to its longest clip or 6,848 samples, whichever is longer.

Run: `python examples/m5_digits.py` (20 epochs on the official split, about a minute on
2 cores), `--full` for 50 epochs, `--loso` to add the six leave-one-speaker-out folds
(each trained from scratch: six times as long again).

Expect M5 below the log-mel models on both splits, and far below on leave-one-speaker-out:
a raw-waveform network needs more data than FSDD's 2,700 training clips (BENCHMARKS.md,
"Example results", has a run).
The data come from `kerasaudio.datasets.fsdd.load()` (set KERASAUDIO_DATA or pass
`--data`; nothing is downloaded).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

import kerasaudio
from kerasaudio.data import audio_dataset
from kerasaudio.datasets import fsdd
from kerasaudio.models.mnets import minimum_samples

SAMPLE_RATE = fsdd.SAMPLE_RATE  # 8 kHz, the rate the tutorial resamples to
N_CHANNEL = 32
QUICK_EPOCHS = 20
FULL_EPOCHS = 50


def datasets(train_df, test_df, *, batch_size: int, batch_padding: bool, seed: int):
    """(train, test) `tf.data` pipelines of `(waveforms, digits)` batches."""
    options = dict(classes=fsdd.CLASSES, label_column="digit", sample_rate=SAMPLE_RATE,
                   duration=None if batch_padding else 1.0, batch_size=batch_size,
                   cache=True)
    train = audio_dataset(train_df, shuffle=True, seed=seed, **options)
    test = audio_dataset(test_df, **options)
    if batch_padding:
        least = minimum_samples("m5", n_channel=N_CHANNEL)

        def pad(audio, digits):
            short = tf.maximum(least - tf.shape(audio)[1], 0)
            return tf.pad(audio, [[0, 0], [0, short]]), digits

        train, test = train.map(pad), test.map(pad)
    return train.prefetch(tf.data.AUTOTUNE), test.prefetch(tf.data.AUTOTUNE)


def train_and_test(train_df, test_df, args, *, verbose: int) -> float:
    """Train a fresh M5 on `train_df`; return its accuracy on `test_df`."""
    keras.utils.set_random_seed(args.seed)
    train, test = datasets(train_df, test_df, batch_size=args.batch_size,
                           batch_padding=args.batch_padding, seed=args.seed)
    model = kerasaudio.create_model(
        "m5", frontend="default", n_channel=N_CHANNEL, classes=len(fsdd.CLASSES),
        input_shape=(None,) if args.batch_padding else (SAMPLE_RATE,))
    rate = args.lr
    if not args.constant_lr:
        rate = keras.optimizers.schedules.CosineDecay(args.lr, args.epochs * len(train))
    model.compile(optimizer=keras.optimizers.Adam(rate, weight_decay=args.weight_decay),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train, epochs=args.epochs, verbose=verbose, shuffle=False)  # ds shuffles
    return float(model.evaluate(test, verbose=0)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"training epochs (default {QUICK_EPOCHS}; {FULL_EPOCHS} "
                             "with --full)")
    parser.add_argument("--full", action="store_true", help=f"{FULL_EPOCHS} epochs")
    parser.add_argument("--loso", action="store_true",
                        help="also run the six leave-one-speaker-out folds")
    parser.add_argument("--batch-padding", action="store_true",
                        help="pad each batch to its longest clip (the tutorial's collate) "
                             "instead of fixing every clip to 1 s")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--constant-lr", action="store_true",
                        help="keep the learning rate constant (the tutorial) instead of "
                             "the cosine decay to 0")
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None,
                        help="FSDD directory, or a directory containing fsdd/")
    args = parser.parse_args()
    if args.epochs is None:
        args.epochs = FULL_EPOCHS if args.full else QUICK_EPOCHS

    index = fsdd.load(args.data)
    length = "padded per batch" if args.batch_padding else "1 s per clip"
    print(f"FSDD: {len(index)} clips at {SAMPLE_RATE} Hz ({length}); M5 n_channel="
          f"{N_CHANNEL}, {args.epochs} epochs, batch {args.batch_size}, Adam lr {args.lr} "
          f"({'constant' if args.constant_lr else 'cosine decay'}), "
          f"weight decay {args.weight_decay}")

    start = time.perf_counter()
    train_df, test_df = fsdd.official_split(index)
    accuracy = train_and_test(train_df, test_df, args, verbose=2)
    print(f"official split (train takes 5-49: {len(train_df)} clips, test takes 0-4: "
          f"{len(test_df)}): test accuracy {accuracy:.4f} "
          f"[{time.perf_counter() - start:.0f} s]")

    if args.loso:
        scores = {}
        for speaker, train_df, test_df in fsdd.leave_one_speaker_out(index):
            scores[speaker] = train_and_test(train_df, test_df, args, verbose=0)
            print(f"  held out {speaker:9s} ({len(test_df)} clips): accuracy "
                  f"{scores[speaker]:.4f}")
        print(f"leave-one-speaker-out: mean accuracy {np.mean(list(scores.values())):.4f} "
              f"(min {min(scores.values()):.4f}) [{time.perf_counter() - start:.0f} s total]")


if __name__ == "__main__":
    main()
