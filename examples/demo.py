"""kerasaudio demo: a pretrained spoken-digit model, offline, on real recordings.

What `make demo` runs (`make demo WAV="a.wav b.wav"` adds your own files; or
`python examples/demo.py [WAV ...] [--model NAME] [--out DIR]`):

1. prints the model zoo and the pretrained presets (`kerasaudio.available_models`);
2. loads the best pretrained digit preset with `kerasaudio.create_model(name)`: its weights
   ship inside the package (sha256-checked), so no network is needed;
3. classifies the bundled FSDD clips of the official test split (take 0 of every digit and
   speaker: clips the preset never saw in training), prints the predictions and the
   accuracy, and writes a confusion matrix (`out/demo_confusion.png`);
4. classifies every WAV you pass (any sample rate, resampled; a file longer than the
   model's input is cut into overlapping windows, each classified);
5. plots the log-mel spectrograms of a few clips with the model's own front end when it has
   one, else with `kerasaudio.layers.MelSpectrogram` (`out/demo_logmel.png`).

FSDD recordings: Jakobovski et al., Free Spoken Digit Dataset, CC BY-SA 4.0.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import kerasaudio
from kerasaudio import hub, layers, weights
from kerasaudio.audio_io import load_audio, windows
from kerasaudio.datasets import fsdd
from kerasaudio.metrics import confusion_matrix, plot_confusion


def best_digit_preset() -> str:
    """The published `*_fsdd_digits` preset with the best leave-one-speaker-out accuracy
    (then official-split accuracy)."""
    found = weights.list_presets("*_fsdd_digits")
    if not found:
        raise SystemExit("demo: no pretrained digit preset is published in the manifest "
                         f"({weights.manifest_path()}); train one with `kerasaudio train`.")

    def score(name: str) -> tuple:
        metrics = hub.get_preset(name).metrics
        return (metrics.get("loso_accuracy") or 0.0, metrics.get("official_accuracy") or 0.0)

    return max(found, key=score)


def classify(model, preset, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(window starts in seconds, probabilities (windows, classes))` of one waveform."""
    starts, clips = windows(audio, preset.input_length)
    probabilities = np.asarray(model.predict(clips, verbose=0))
    return starts / preset.sample_rate, probabilities


def log_mel(model, preset, audio: np.ndarray) -> tuple[np.ndarray, str]:
    """Log-mel images `(clips, frames, mels)`: the model's own front end if it computes a
    mel spectrogram, else a standard 40-band one."""
    frontend = []
    for layer in model.layers:
        if isinstance(layer, layers.MelSpectrogram):
            frontend = [layer]
        elif frontend and isinstance(layer, layers.PowerToDb):
            frontend.append(layer)
            break
    if len(frontend) == 2:
        what = "the model's own front end"
    else:
        frontend = [layers.MelSpectrogram(sample_rate=preset.sample_rate, n_fft=256,
                                          hop_length=80, n_mels=40, fmin=20.0),
                    layers.PowerToDb(top_db=80.0)]
        what = "MelSpectrogram(n_fft=256, hop 80, 40 mels) + PowerToDb"
    x = audio
    for layer in frontend:
        x = layer(x)
    return np.asarray(x), what


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wavs", nargs="*", help="your own audio files to classify (any rate)")
    parser.add_argument("--model", default=None,
                        help="a pretrained digit preset (default: the best published one)")
    parser.add_argument("--out", default="out", help="output directory (default: out)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    print(f"kerasaudio {kerasaudio.__version__}\n")
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print("Architectures (kerasaudio.available_models()):")
        print(kerasaudio.available_models().drop(columns=["paper"]).to_string(), "\n")
        print("Pretrained presets (kerasaudio.available_models(pretrained=True)):")
        print(kerasaudio.available_models(pretrained=True).to_string(), "\n")

    name = args.model or best_digit_preset()
    preset = hub.get_preset(name)
    model = kerasaudio.create_model(name)
    source = weights.weights_path(preset)
    print(f"Loaded {name}: {preset.architecture}, {model.count_params():,} parameters, "
          f"{preset.sample_rate} Hz, {preset.input_length} samples per clip")
    print(f"  weights: {source} (sha256 {preset.sha256[:12]}... verified)")
    metrics = preset.metrics
    if "official_accuracy" in metrics:
        print(f"  published: official split {metrics['official_accuracy']:.4f}, "
              f"leave-one-speaker-out mean {metrics.get('loso_accuracy', float('nan')):.4f}")

    # The bundled FSDD sample: take 0 of each digit and speaker is in the official test split.
    index = fsdd.load(sample=True)
    test = index[index["take"] == 0].sort_values(["speaker", "digit"]).reset_index(drop=True)
    names = list(preset.class_names)
    truth, predicted, confidence = [], [], []
    audio = []
    for row in test.itertuples():
        clip, _ = load_audio(row.path, sample_rate=preset.sample_rate)
        audio.append(windows(clip, preset.input_length)[1][0])
        _, probabilities = classify(model, preset, clip)
        mean = probabilities.mean(axis=0)
        truth.append(names.index(str(row.digit)))
        predicted.append(int(mean.argmax()))
        confidence.append(float(mean.max()))
    truth, predicted = np.array(truth), np.array(predicted)
    print(f"\nBundled FSDD test clips (official split, take 0): {len(test)} clips, "
          f"6 speakers")
    for speaker, group in test.groupby("speaker", sort=True):
        marks = " ".join(
            f"{names[truth[i]]}>{names[predicted[i]]}" + ("" if truth[i] == predicted[i]
                                                          else "!")
            for i in group.index)
        print(f"  {speaker:9s} {marks}")
    accuracy = float((truth == predicted).mean())
    print(f"  accuracy {accuracy:.4f} ({int((truth == predicted).sum())}/{len(test)}); "
          f"mean confidence {np.mean(confidence):.3f}   (true>predicted, ! = error)")
    confusion = confusion_matrix(truth, predicted, classes=len(names))
    confusion_png = out / "demo_confusion.png"
    plot_confusion(confusion, names, confusion_png, xlabel="predicted digit",
                   ylabel="spoken digit", title=f"{name} on {len(test)} bundled FSDD test "
                   f"clips: accuracy {accuracy:.3f}")

    if args.wavs:
        print("\nYour files:")
    for path in args.wavs:
        try:
            clip, _ = load_audio(path, sample_rate=preset.sample_rate)
        except (kerasaudio.errors.KerasAudioError, OSError) as error:
            print(f"  {path}: cannot read it: {error}")
            continue
        starts, probabilities = classify(model, preset, clip)
        mean = probabilities.mean(axis=0)
        top = np.argsort(-mean)[:3]
        best = ", ".join(f"{names[i]} {mean[i]:.3f}" for i in top)
        print(f"  {path} ({len(clip) / preset.sample_rate:.2f} s): {best}")
        if len(starts) > 1:
            for start, p in zip(starts, probabilities, strict=True):
                print(f"    window at {start:6.2f} s: {names[int(p.argmax())]} "
                      f"{p.max():.3f}")

    shown = [0, 13, 27, 44]  # four speakers, four digits
    images, what = log_mel(model, preset, np.stack([audio[i] for i in shown]))
    fig, axes = plt.subplots(1, len(shown), figsize=(3.2 * len(shown), 2.8), squeeze=False)
    for ax, i, image in zip(axes[0], shown, images, strict=True):
        image = image[..., 0] if image.ndim == 3 else image
        ax.imshow(image.T, origin="lower", aspect="auto", cmap="magma")
        ax.set_title(f"'{names[truth[i]]}' by {test.speaker[i]}: predicted "
                     f"{names[predicted[i]]}", fontsize=8)
        ax.set_xlabel("frame", fontsize=7)
        ax.set_ylabel("mel band", fontsize=7)
    fig.suptitle(f"log-mel spectrograms ({what})", fontsize=9)
    fig.tight_layout()
    logmel_png = out / "demo_logmel.png"
    fig.savefig(logmel_png, dpi=100)
    plt.close(fig)
    print(f"\nwrote {confusion_png} and {logmel_png} "
          f"({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
