"""Acoustic embeddings + a scikit-learn classifier on FSDD (the wav2vec 2.0 recipe, in Keras).

The recipe (docs/references.md, [S3]): load a pretrained wav2vec 2.0, feed 16 kHz audio,
mean-pool the last hidden state over time, train a classifier on the utterance
embeddings. Here every model goes
through `kerasaudio.embeddings.extract` (FSDD's 8 kHz recordings are resampled to each
model's rate; clips of different lengths are batched with padding masks, which never
change an embedding), then a standardised logistic regression is trained and scored:

- digits, official split (takes 0-4 of every speaker are the test set);
- digits, leave-one-speaker-out (mean over the six folds: unseen voices);
- speakers, official split (six speakers).

Models compared:

- `--checkpoint DIR`: a Hugging Face wav2vec 2.0 directory (`config.json` +
  `model.safetensors` or `pytorch_model.bin`, e.g. a downloaded facebook/wav2vec2-base),
  converted offline: the recipe's real setting.
- every pretrained FSDD speaker preset in the zoo (`*_fsdd_speakers`, their embedding
  layer), when published. They were trained to tell these six speakers apart on the
  training takes, so their speaker scores are in-domain, not transfer.
- baselines that need no download: mean and standard deviation of 20 MFCCs (no
  learning at all), and wav2vec 2.0 base with RANDOM weights (`--no-random` skips it):
  a lower bound for the architecture, never a pretrained result.

There is no model hub access here, so without `--checkpoint` no pretrained wav2vec 2.0
number is produced: the output says which rows are random-weight baselines.

The speaker embeddings do what they were trained for (speakers) and learn to ignore what
is said: on unseen voices their digit accuracy stays far below plain MFCC statistics
(BENCHMARKS.md, "Example results", has the table of a run). A pretrained wav2vec 2.0
(`--checkpoint`) is the model the recipe uses for content.

Run: `python examples/embeddings.py [--checkpoint DIR] [--data DIR] [--limit N]`.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import librosa
import numpy as np
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import kerasaudio
from kerasaudio import embeddings
from kerasaudio.datasets import fsdd


def classifier_accuracy(x_train, y_train, x_test, y_test) -> float:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=1.0))
    model.fit(x_train, y_train)
    return float((model.predict(x_test) == y_test).mean())


def evaluate(features: np.ndarray, df) -> dict:
    """Digit (official, LOSO) and speaker (official) accuracy of one feature matrix."""
    train, test = (df.split == "train").to_numpy(), (df.split == "test").to_numpy()
    digits, speakers = df.digit.to_numpy(), df.speaker.to_numpy()
    result = {"digits_official": classifier_accuracy(features[train], digits[train],
                                                     features[test], digits[test])}
    folds = {}
    for speaker in sorted(set(speakers)):
        held = speakers == speaker
        folds[speaker] = classifier_accuracy(features[~held], digits[~held],
                                             features[held], digits[held])
    result["digits_loso_mean"] = float(np.mean(list(folds.values())))
    result["digits_loso_folds"] = folds
    result["speakers_official"] = classifier_accuracy(features[train], speakers[train],
                                                      features[test], speakers[test])
    return result


def mfcc_baseline(clips) -> np.ndarray:
    rows = []
    for clip in clips:
        mfcc = librosa.feature.mfcc(y=clip, sr=fsdd.SAMPLE_RATE, n_mfcc=20, n_fft=256,
                                    hop_length=80)
        rows.append(np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)]))
    return np.asarray(rows, "float32")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a Hugging Face wav2vec 2.0 directory")
    parser.add_argument("--data", help="FSDD root (default: found by kerasaudio)")
    parser.add_argument("--limit", type=int, help="keep only takes 0..N-1 of every digit "
                        "and speaker, N >= 6 (quick runs; takes 0-4 are the test set)")
    parser.add_argument("--layer", type=int, default=-1, help="wav2vec 2.0 hidden state")
    parser.add_argument("--no-random", action="store_true",
                        help="skip the random-weight wav2vec 2.0 baseline")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args(argv)

    df = fsdd.load(args.data)
    if args.limit:
        if args.limit < 6:
            parser.error("--limit must be at least 6 (takes 0-4 are the official test set)")
        df = df[df["take"] < args.limit].reset_index(drop=True)
    clips = [sf.read(path, dtype="float32")[0] for path in df.path]
    print(f"FSDD: {len(df)} clips, {df.speaker.nunique()} speakers, "
          f"{(df.split == 'test').sum()} official test clips")

    models = {}
    if args.checkpoint:
        from kerasaudio.models.wav2vec2 import Wav2Vec2

        models[f"wav2vec2 {os.path.basename(os.path.normpath(args.checkpoint))} "
               "(pretrained checkpoint)"] = lambda: Wav2Vec2.from_huggingface(args.checkpoint)
    presets = kerasaudio.list_models("*_fsdd_speakers", pretrained=True)
    for name in presets:
        models[f"{name} (pretrained preset, trained on FSDD speakers)"] = (
            lambda name=name: kerasaudio.create_model(name, input_shape=(None,)))
    if not presets:
        print("No *_fsdd_speakers preset is published in this install: speaker presets "
              "skipped.")
    if not args.no_random:
        def random_wav2vec2():
            import keras

            keras.utils.set_random_seed(0)
            return kerasaudio.create_model("wav2vec2_base", frontend="default")

        models["wav2vec2_base RANDOM WEIGHTS (baseline, not pretrained)"] = random_wav2vec2

    results = {}
    start = time.perf_counter()
    results["MFCC mean+std (baseline, no learning)"] = evaluate(mfcc_baseline(clips), df)
    print(f"MFCC baseline: {time.perf_counter() - start:.1f} s")
    for label, build in models.items():
        start = time.perf_counter()
        model = build()
        layer = args.layer if "wav2vec2" in label else -1
        features = embeddings.extract(model, clips, sample_rate=fsdd.SAMPLE_RATE,
                                      layer=layer, batch_size=args.batch_size)
        elapsed = time.perf_counter() - start
        results[label] = evaluate(features, df)
        print(f"{label}: {features.shape[1]}-d embeddings of {len(clips)} clips in "
              f"{elapsed:.0f} s ({len(clips) / elapsed:.1f} clips/s)")

    print("\n| embeddings | digits, official split | digits, leave-one-speaker-out "
          "(mean) | speakers, official split |\n| --- | --- | --- | --- |")
    for label, r in results.items():
        print(f"| {label} | {r['digits_official']:.3f} | {r['digits_loso_mean']:.3f} | "
              f"{r['speakers_official']:.3f} |")
    print("\nLeave-one-speaker-out digit accuracy per held-out speaker:")
    for label, r in results.items():
        folds = ", ".join(f"{k} {v:.2f}" for k, v in r["digits_loso_folds"].items())
        print(f"  {label}: {folds}")


if __name__ == "__main__":
    main()
