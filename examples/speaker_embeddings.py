"""Speaker embeddings with Deep Speaker (ResCNN) on FSDD's six speakers.

Trains `deep_speaker` with its softmax head to tell the six FSDD speakers apart (takes
5-49), then embeds the held-out takes 0-4 with the unit-length embedding network and
reports:

- identification accuracy on the held-out takes: the softmax head's, and the
  embeddings' nearest speaker centroid (centroids from the training takes);
- verification EER over every pair of held-out takes (cosine scores; same speaker =
  target trial).

The model takes 8 kHz audio: the Deep Speaker front end (`default_frontend(8000)`: 64 mel
filter banks of 25 ms frames every 10 ms, normalised per frame) runs inside it. By default
a CPU-sized network (filters 16-32-64-128, 128-d embedding) trains for 4 epochs, a few
minutes on 2 cores; `--full` trains the paper-size network (24 M parameters),
`--epochs` sets the length.

Four epochs on 2,700 clips is a short training, so the EER varies with the random seed
by several points (BENCHMARKS.md, "Example results", has runs over five seeds).

Run: `python examples/speaker_embeddings.py [--epochs 4] [--full] [--data DIR]`.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

import kerasaudio
from kerasaudio.data import audio_dataset
from kerasaudio.datasets import fsdd
from kerasaudio.metrics.eer import eer
from kerasaudio.models.deep_speaker import default_frontend, embedding_model

SAMPLE_RATE = 8000
DURATION = 1.0  # seconds: 99% of the FSDD clips are shorter


def datasets(train_df, test_df, batch_size: int, seed: int):
    common = dict(classes=list(fsdd.SPEAKERS), sample_rate=SAMPLE_RATE, duration=DURATION,
                  batch_size=batch_size, cache=True, label_column="speaker")
    train = audio_dataset(train_df, shuffle=True, seed=seed, length_mode="random", **common)
    train_eval = audio_dataset(train_df, **common)
    test = audio_dataset(test_df, **common)
    return train, train_eval, test


def embed(model, dataset):
    """Embeddings and labels of a labelled dataset."""
    embeddings, labels = [], []
    for audio, label in dataset:
        embeddings.append(keras.ops.convert_to_numpy(model(audio, training=False)))
        labels.append(np.asarray(label))
    return np.concatenate(embeddings), np.concatenate(labels)


def verification_trials(embeddings: np.ndarray, labels: np.ndarray):
    """Every unordered pair: label 1 for the same speaker, score = cosine."""
    i, j = np.array(list(itertools.combinations(range(len(labels)), 2))).T
    scores = np.sum(embeddings[i] * embeddings[j], axis=1)  # unit vectors: the cosine
    return (labels[i] == labels[j]).astype(int), scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4, help="training epochs (default 4)")
    parser.add_argument("--full", action="store_true",
                        help="the paper-size network (filters 64-512, 512-d; slow on CPU)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--log", action="store_true",
                        help="dB filter banks in the front end (the reference: linear)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None, help="FSDD directory (default: find_root())")
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)
    train_df, test_df = fsdd.official_split(fsdd.load(args.data))
    train, train_eval, test = datasets(train_df, test_df, args.batch_size, args.seed)
    size = {} if args.full else dict(filters=(16, 32, 64, 128), embedding_dim=128)
    model = kerasaudio.create_model(
        "deep_speaker", frontend=default_frontend(SAMPLE_RATE, log=args.log),
        input_shape=(round(SAMPLE_RATE * DURATION),), classes=len(fsdd.SPEAKERS), **size)
    print(f"deep_speaker{'' if args.full else ' (small)'}: {model.count_params():,} "
          f"parameters; {len(train_df)} training clips, {len(test_df)} held-out clips "
          f"(takes 0-4), {len(fsdd.SPEAKERS)} speakers")
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(train, epochs=args.epochs, verbose=2, shuffle=False)  # the dataset shuffles
    print(f"trained {args.epochs} epochs in {time.perf_counter() - start:.0f} s")

    _, head_accuracy = model.evaluate(test, verbose=0)
    embedder = embedding_model(model)
    train_emb, train_labels = embed(embedder, train_eval)
    test_emb, test_labels = embed(embedder, test)
    centroids = np.stack([train_emb[train_labels == k].mean(0)
                          for k in range(len(fsdd.SPEAKERS))])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    centroid_accuracy = np.mean(np.argmax(test_emb @ centroids.T, axis=1) == test_labels)
    trial_labels, scores = verification_trials(test_emb, test_labels)
    rate, threshold = eer(trial_labels, scores)

    print(f"held-out identification accuracy: softmax head {head_accuracy:.4f}, "
          f"nearest embedding centroid {centroid_accuracy:.4f}")
    print(f"held-out verification: {trial_labels.sum()} target / "
          f"{len(trial_labels) - trial_labels.sum()} non-target pairs, "
          f"EER {rate:.4f} at cosine {threshold:.3f}")


if __name__ == "__main__":
    main()
