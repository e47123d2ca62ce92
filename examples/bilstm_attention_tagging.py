"""BiLSTM + attention tagger on spoken digits: single-label, then two-digit mixtures.

The Kaggle Freesound Audio Tagging 2019 kernel's recipe (docs/references.md, [S4]) on the
Free Spoken Digit Dataset:

1. Single-label: log-mels of 1 s clips (8 kHz) -> `bilstm_attention` with a softmax head,
   trained on the official split (takes 5-49), accuracy on takes 0-4.
2. Multi-label: mixtures of two clips of different digits, each placed at a random
   offset in a 1.5 s window (so they often overlap), labelled with both digits. Sigmoid
   head, binary cross-entropy, scored with lwlrap (the competition metric); the test
   predictions go to a Kaggle-style `submission.csv` (one row per test mixture, one
   probability column per label).

Run `python examples/bilstm_attention_tagging.py` (a few minutes on 2 cores) or with
`--full` for longer training on more mixtures. Needs the full FSDD (see
`kerasaudio.datasets.fsdd.find_root`); `--sample` uses the 120-file bundled sample (a
smoke test: too little data to learn much). Writes to `--out` (default `out/`).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pandas as pd

import kerasaudio
from kerasaudio import layers
from kerasaudio.data import audio_dataset
from kerasaudio.datasets import fsdd
from kerasaudio.metrics.lwlrap import Lwlrap, lwlrap

SAMPLE_RATE = fsdd.SAMPLE_RATE  # 8 kHz
CLIP_SECONDS = 1.0
MIX_SECONDS = 1.5
HOP = 80  # 10 ms frames
N_MELS = 40


def log_mel() -> keras.Sequential:
    """The kernel's feature recipe scaled to 8 kHz speech: mel power, dB, per-clip standardise."""
    return keras.Sequential([
        layers.MelSpectrogram(sample_rate=SAMPLE_RATE, n_fft=256, hop_length=HOP,
                              n_mels=N_MELS, fmin=20.0),
        layers.PowerToDb(),
        layers.Standardize(),
    ], name="log_mel")


def to_numpy(ds):
    xs, ys = zip(*[(np.asarray(x), np.asarray(y)) for x, y in ds], strict=True)
    return np.concatenate(xs), np.concatenate(ys)


def build(classes: int, frames: int, activation: str, units: int) -> keras.Model:
    return kerasaudio.create_model("bilstm_attention", input_shape=(frames, N_MELS),
                                   classes=classes, lstm_units=units, dense_units=units,
                                   classifier_activation=activation)


def single_label(train_df, test_df, *, epochs: int, units: int, batch: int) -> None:
    print(f"\n== 1. single-label digits: {len(train_df)} train / {len(test_df)} test clips")
    options = dict(classes=fsdd.CLASSES, label_column="digit", sample_rate=SAMPLE_RATE,
                   duration=CLIP_SECONDS, features=log_mel(), batch_size=batch)
    train = audio_dataset(train_df, shuffle=True, seed=0, cache=True, **options)
    test = audio_dataset(test_df, **options)
    frames = int(train.element_spec[0].shape[1])
    model = build(len(fsdd.CLASSES), frames, "softmax", units)
    print(f"   features ({frames}, {N_MELS}); model {model.count_params():,} parameters")
    model.compile(optimizer=keras.optimizers.Adam(2e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.time()
    history = model.fit(train, epochs=epochs, verbose=0, shuffle=False)  # ds is shuffled
    x_test, y_test = to_numpy(test)
    probs = model.predict(x_test, verbose=0)
    accuracy = float((probs.argmax(1) == y_test).mean())
    onehot = np.eye(len(fsdd.CLASSES))[y_test]
    print(f"   {epochs} epochs in {time.time() - start:.0f} s; train accuracy "
          f"{history.history['accuracy'][-1]:.3f}; test accuracy {accuracy:.3f}, "
          f"test lwlrap {lwlrap(onehot, probs):.3f}")


def load_waveforms(df, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Every clip as a 1 s waveform (speech at the start, zero-padded) and its digit."""
    ds = audio_dataset(df, classes=fsdd.CLASSES, label_column="digit",
                       sample_rate=SAMPLE_RATE, duration=CLIP_SECONDS, length_mode="left",
                       batch_size=batch)
    return to_numpy(ds)


def mixtures(audio, digits, count: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """`count` sums of two clips of different digits at random offsets, with multi-hot
    labels. The second clip's gain is random within +-6 dB of the first's."""
    clip, window = audio.shape[1], round(MIX_SECONDS * SAMPLE_RATE)
    mixed = np.zeros((count, window), np.float32)
    labels = np.zeros((count, len(fsdd.CLASSES)), np.float32)
    for i in range(count):
        a = rng.integers(len(audio))
        b = rng.choice(np.flatnonzero(digits != digits[a]))
        gain = 10 ** (rng.uniform(-6, 6) / 20) * np.abs(audio[a]).max() / max(
            np.abs(audio[b]).max(), 1e-6)
        for index, scale in ((a, 1.0), (b, gain)):
            offset = rng.integers(window - clip + 1)
            mixed[i, offset:offset + clip] += scale * audio[index]
        mixed[i] /= max(np.abs(mixed[i]).max(), 1e-6)
        labels[i, [digits[a], digits[b]]] = 1.0
    return mixed, labels


def features_of(audio: np.ndarray, frontend, batch: int = 256) -> np.ndarray:
    return np.concatenate([np.asarray(frontend(audio[i:i + batch]))
                           for i in range(0, len(audio), batch)])


def multi_label(train_df, test_df, *, epochs: int, units: int, batch: int, n_train: int,
                n_test: int, out: pathlib.Path) -> None:
    print(f"\n== 2. multi-label two-digit mixtures: {n_train} train / {n_test} test")
    rng = np.random.default_rng(0)
    start = time.time()
    train_audio, train_digits = load_waveforms(train_df, batch)
    test_audio, test_digits = load_waveforms(test_df, batch)
    # Train mixtures from train clips only, test mixtures from test clips only.
    train_mix, y_train = mixtures(train_audio, train_digits, n_train, rng)
    test_mix, y_test = mixtures(test_audio, test_digits, n_test, rng)
    frontend = log_mel()
    x_train, x_test = features_of(train_mix, frontend), features_of(test_mix, frontend)
    print(f"   mixtures and features ({x_train.shape[1]}, {N_MELS}) in "
          f"{time.time() - start:.0f} s")
    model = build(len(fsdd.CLASSES), x_train.shape[1], "sigmoid", units)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="binary_crossentropy",
                  metrics=[Lwlrap()])
    start = time.time()
    history = model.fit(x_train, y_train, batch_size=batch, epochs=epochs, verbose=0)
    probs = model.predict(x_test, batch_size=batch, verbose=0)
    score = lwlrap(y_test, probs)
    top2 = np.argsort(-probs, axis=1)[:, :2]
    both = float(np.mean([set(t) == set(np.flatnonzero(y)) for t, y in
                          zip(top2, y_test, strict=True)]))
    print(f"   {epochs} epochs in {time.time() - start:.0f} s; train lwlrap "
          f"{history.history['lwlrap'][-1]:.3f}; test lwlrap {score:.3f}; "
          f"both digits in the top 2: {both:.3f}")

    submission = pd.DataFrame(probs, columns=list(fsdd.CLASSES))
    submission.insert(0, "fname", [f"mix_{i:05d}.wav" for i in range(len(probs))])
    out.mkdir(parents=True, exist_ok=True)
    submission.to_csv(out / "submission.csv", index=False, float_format="%.6f")
    truth = pd.DataFrame(y_test.astype(int), columns=list(fsdd.CLASSES))
    truth.insert(0, "fname", submission["fname"])
    truth.to_csv(out / "solution.csv", index=False)
    print(f"   wrote {out / 'submission.csv'} ({len(submission)} rows x "
          f"{len(fsdd.CLASSES)} labels) and {out / 'solution.csv'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true",
                        help="long run: 40/30 epochs, 20,000 train mixtures")
    parser.add_argument("--epochs", type=int, help="epochs of both parts (overrides)")
    parser.add_argument("--units", type=int, default=64, help="LSTM and dense units")
    parser.add_argument("--sample", action="store_true", help="use the bundled sample")
    parser.add_argument("--root", help="FSDD directory (default: fsdd.find_root())")
    parser.add_argument("--out", default="out", help="output directory (default: out)")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    epochs_single, epochs_multi = (40, 30) if args.full else (8, 8)
    if args.epochs:
        epochs_single = epochs_multi = args.epochs
    n_train, n_test = (20_000, 1_000) if args.full else (4_000, 500)
    batch = 64
    df = fsdd.load(sample=True) if args.sample else fsdd.load(args.root)
    train_df, test_df = fsdd.official_split(df)
    print(f"kerasaudio {kerasaudio.__version__}, Keras {keras.__version__} "
          f"({keras.backend.backend()}): FSDD {len(df)} clips")
    single_label(train_df, test_df, epochs=epochs_single, units=args.units, batch=batch)
    multi_label(train_df, test_df, epochs=epochs_multi, units=args.units, batch=batch,
                n_train=n_train, n_test=n_test, out=pathlib.Path(args.out))


if __name__ == "__main__":
    main()
