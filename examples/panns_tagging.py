"""PANNs CNN14 from a PyTorch checkpoint: AudioSet tags, sound event detection, transfer.

1. Tagging: `panns_cnn14` on FSDD clips (8 kHz, resampled to the model's 32 kHz by
   `kerasaudio.embeddings` / `load_audio`), the five most probable of AudioSet's 527
   classes for each clip.
2. Sound event detection: `panns_cnn14_decision_level_max` on three clips joined by
   0.5 s silences; its `framewise_output` has one row per 10 ms log-mel frame, and the
   example prints the most probable class of every 0.32 s step.
3. Transfer: the 2048-d embedding (`include_top=False`) of the bundled FSDD sample, a
   logistic regression on takes 5 (training) scored on takes 0 (test): digits.
4. Fine-tuning: the embedding model (`include_top=False`) under a new Dense softmax
   head, every layer trained for a few epochs on the same training clips (1 s at 32
   kHz), scored on the test clips. With `--checkpoint` this fine-tunes the published
   CNN14 (2048-d); without one the weights are random and, to keep the run short, the
   network is a narrow CNN14 (`filters=`, `embedding_dim=`) without PANNs' training
   dropout (60 clips from scratch do not train through it): the same code path, and a
   digit accuracy that says only that the training loop works.

With `--checkpoint Cnn14_mAP=0.431.pth` (and, for part 2,
`--sed-checkpoint Cnn14_DecisionLevelMax_mAP=0.385.pth`; both from the PANNs Zenodo
record, https://zenodo.org/records/3987831) the models carry the published weights: a
local file, or that name alone, which downloads the file once into the kerasaudio cache
and checks it against Zenodo's md5 (`kerasaudio.weights.checkpoints`). Reading them
needs torch (`torch.load(weights_only=True)`). Without them the weights are
random: the code runs the same, the tags and the digit accuracy mean nothing.

Run `python examples/panns_tagging.py [--checkpoint PATH] [--sed-checkpoint PATH]
[--epochs N]` (two to three minutes on 2 cores without checkpoints; the fine-tuning
about one).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import kerasaudio
from kerasaudio.audio_io import load_audio
from kerasaudio.data import fix_length
from kerasaudio.datasets import audioset, fsdd
from kerasaudio.models.panns import min_samples

SAMPLE_RATE = 32000
#: The narrow CNN14 fine-tuned when no checkpoint is given (random weights).
NARROW = {"filters": (16, 32, 32, 64, 64, 128), "embedding_dim": 128, "dropout": False}


def at_least(audio: np.ndarray, rate: int) -> np.ndarray:
    """Zero-pad a clip at `rate` to CNN14's shortest input at 32 kHz (0.31 s)."""
    least = -(-min_samples(SAMPLE_RATE) * rate // SAMPLE_RATE)
    return np.pad(audio, (0, max(0, least - len(audio))))


def tag(model, paths, names, top: int = 5) -> None:
    for path in paths:
        audio = at_least(load_audio(path, sample_rate=SAMPLE_RATE)[0], SAMPLE_RATE)
        scores = keras.ops.convert_to_numpy(model(audio[None]))[0]
        best = np.argsort(scores)[::-1][:top]
        print(f"  {os.path.basename(path)}: "
              + ", ".join(f"{names[i]} {scores[i]:.3f}" for i in best))


def detect(model, paths, names) -> None:
    silence = np.zeros(SAMPLE_RATE // 2, "float32")
    parts = []
    for path in paths:
        parts += [load_audio(path, sample_rate=SAMPLE_RATE)[0], silence]
    audio = np.concatenate(parts)
    out = model(audio[None])
    frames = keras.ops.convert_to_numpy(out["framewise_output"])[0]  # (frames, 527)
    hop_seconds = 320 / SAMPLE_RATE
    print(f"  {len(audio) / SAMPLE_RATE:.2f} s -> {frames.shape[0]} frames of "
          f"{hop_seconds * 1000:.0f} ms; top class per 0.32 s step:")
    for start in range(0, frames.shape[0], 32):
        step = frames[start]
        best = int(np.argmax(step))
        print(f"    {start * hop_seconds:5.2f} s  {names[best]} ({step[best]:.3f})")


def transfer(embedder) -> None:
    table = fsdd.load(sample=True)
    train, test = fsdd.official_split(table)

    def embed(rows):
        clips = [at_least(load_audio(p)[0], fsdd.SAMPLE_RATE) for p in rows.path]
        return np.asarray(kerasaudio.embeddings.extract(embedder, clips,
                                                        sample_rate=fsdd.SAMPLE_RATE))

    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    classifier.fit(embed(train), train.digit)
    accuracy = classifier.score(embed(test), test.digit)
    print(f"  logistic regression on the embedding: {accuracy:.1%} on {len(test)} test "
          f"clips ({len(train)} training clips)")


def fine_tune(embedder, *, epochs: int = 10) -> None:
    table = fsdd.load(sample=True)
    train, test = fsdd.official_split(table)

    def audio(rows):
        return np.stack([fix_length(load_audio(p, sample_rate=SAMPLE_RATE)[0], SAMPLE_RATE)
                         for p in rows.path]).astype("float32")

    inputs = keras.Input((SAMPLE_RATE,), name="audio")
    x = embedder(inputs)
    x = keras.layers.Dropout(0.3, name="head_dropout")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="digits")(x)
    model = keras.Model(inputs, outputs, name="cnn14_digits")
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(audio(train), train.digit.to_numpy(), epochs=epochs, batch_size=8,
              shuffle=True, verbose=0)
    _, accuracy = model.evaluate(audio(test), test.digit.to_numpy(), verbose=0)
    print(f"  fine-tuned ({embedder.count_params():,} parameters, {epochs} epochs): "
          f"{accuracy:.1%} on {len(test)} test clips ({len(train)} training clips)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a PANNs Cnn14 checkpoint (.pth), 32 kHz: a path or "
                        "Cnn14_mAP=0.431.pth (downloaded and verified)")
    parser.add_argument("--sed-checkpoint", help="a Cnn14_DecisionLevelMax checkpoint")
    parser.add_argument("--epochs", type=int, default=10, help="fine-tuning epochs")
    args = parser.parse_args()
    names = audioset.class_names()
    paths = list(fsdd.load(sample=True).path[:3])

    print("1. tagging" + ("" if args.checkpoint else " (random weights)"))
    tagger = kerasaudio.create_model("panns_cnn14", weights=args.checkpoint)
    tag(tagger, paths, names)

    print("2. sound event detection" + ("" if args.sed_checkpoint else " (random weights)"))
    sed = kerasaudio.create_model("panns_cnn14_decision_level_max",
                                  weights=args.sed_checkpoint)
    detect(sed, paths, names)

    print("3. transfer: FSDD digits from the embedding")
    embedder = kerasaudio.create_model("panns_cnn14", include_top=False,
                                       weights=args.checkpoint)
    transfer(embedder)

    print("4. fine-tuning the embedding with a Dense head"
          + ("" if args.checkpoint else " (random weights, narrow CNN14)"))
    keras.utils.set_random_seed(0)
    base = kerasaudio.create_model("panns_cnn14", include_top=False,
                                   weights=args.checkpoint,
                                   **({} if args.checkpoint else NARROW))
    fine_tune(base, epochs=args.epochs)


if __name__ == "__main__":
    main()
