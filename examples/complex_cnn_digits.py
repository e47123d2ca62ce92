"""Spoken digits with the complex-spectrogram CNN (the "torch for R" tutorial's) on FSDD.

The tutorial (docs/references.md, [S2]) feeds 1 s of 16 kHz audio through
`torch.stft(n_fft=512, win_length=480, hop_length=160, normalized=True)` and keeps the real
and imaginary parts as two channels (101 x 257 x 2). Here the model takes raw audio and
computes that spectrogram itself (`frontend="default"`), so the trained model exports to
TFLite end to end. FSDD is 8 kHz: `audio_dataset` resamples it to 16 kHz with soxr (as
`librosa.load(sr=16000)` would).

    python examples/complex_cnn_digits.py            # quick run (6 epochs, ~8 min on 2 cores)
    python examples/complex_cnn_digits.py --full     # the tutorial's schedule: 50 epochs,
                                                     # early stopping (patience 3)
    python examples/complex_cnn_digits.py --loso     # also leave-one-speaker-out

Reports accuracy on FSDD's official split (takes 0-4 are the test set) and, with
`--loso`, on each held-out speaker: the honest number, since the official split has
every test speaker in the training set.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

import kerasaudio
from kerasaudio.data import audio_dataset
from kerasaudio.datasets import fsdd

SAMPLE_RATE = 16000


def dataset(frame, *, shuffle: bool, seed: int, batch_size: int):
    return audio_dataset(frame, label_column="digit", classes=fsdd.CLASSES,
                         sample_rate=SAMPLE_RATE, duration=1.0, batch_size=batch_size,
                         shuffle=shuffle, seed=seed, cache=True)


def train_and_evaluate(train, test, *, epochs: int, batch_size: int, seed: int) -> float:
    keras.utils.set_random_seed(seed)
    model = kerasaudio.create_model("complex_cnn", frontend="default",
                                    input_shape=(SAMPLE_RATE,), classes=len(fsdd.CLASSES))
    train_ds = dataset(train, shuffle=True, seed=seed, batch_size=batch_size)
    test_ds = dataset(test, shuffle=False, seed=seed, batch_size=batch_size)
    steps = epochs * int(np.ceil(len(train) / batch_size))
    # The tutorial's one-cycle schedule: warm up to 1e-2, then anneal.
    schedule = keras.optimizers.schedules.CosineDecay(
        1e-4, decay_steps=max(1, steps - steps // 4), warmup_target=1e-2,
        warmup_steps=steps // 4)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=3,
                                               restore_best_weights=True)]
    model.fit(train_ds, validation_data=test_ds, epochs=epochs, callbacks=callbacks,
              verbose=2)
    return float(model.evaluate(test_ds, verbose=0)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--full", action="store_true", help="50 epochs, early stopping")
    parser.add_argument("--loso", action="store_true", help="also leave-one-speaker-out")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None, help="FSDD directory (default: found)")
    args = parser.parse_args()
    epochs = 50 if args.full else args.epochs

    index = fsdd.load(args.data)
    train, test = fsdd.official_split(index)
    accuracy = train_and_evaluate(train, test, epochs=epochs, batch_size=args.batch_size,
                                  seed=args.seed)
    print(f"official split ({len(train)} train / {len(test)} test clips): "
          f"accuracy {accuracy:.4f}")
    if args.loso:
        scores = {}
        for speaker, train, test in fsdd.leave_one_speaker_out(index):
            scores[speaker] = train_and_evaluate(train, test, epochs=epochs,
                                                 batch_size=args.batch_size, seed=args.seed)
            print(f"  held-out speaker {speaker:9s} accuracy {scores[speaker]:.4f}")
        print(f"leave-one-speaker-out mean accuracy {np.mean(list(scores.values())):.4f}")


if __name__ == "__main__":
    main()
