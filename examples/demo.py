"""kerasaudio demo: features of a few real FSDD clips, computed and plotted.

Run with `make demo` (or `python examples/demo.py [WAV ...]`). Works offline: the clips
come from the FSDD sample bundled in the package. Writes `out/demo_features.png`.
"""

from __future__ import annotations

import argparse
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import kerasaudio
from kerasaudio import layers
from kerasaudio.data import fix_length, load_audio
from kerasaudio.datasets import fsdd

SAMPLE_RATE = 8000
SAMPLES = SAMPLE_RATE  # one second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wavs", nargs="*", help="extra audio files to show (any rate)")
    parser.add_argument("--out", default="out", help="output directory (default: out)")
    args = parser.parse_args()

    index = fsdd.load(sample=True)
    wanted = {0: "jackson", 3: "nicolas", 7: "theo"}
    picks = index[(index["take"] == 0)
                  & index.apply(lambda r: wanted.get(r["digit"]) == r["speaker"], axis=1)]
    paths = list(picks.path) + args.wavs
    titles = [f"digit {d} ({s})" for d, s in zip(picks["digit"], picks["speaker"], strict=True)]
    titles += [pathlib.Path(p).name for p in args.wavs]
    audio = np.stack([fix_length(load_audio(p, sample_rate=SAMPLE_RATE)[0], SAMPLES)
                      for p in paths])

    front_ends = {
        "log-mel (dB)": [layers.MelSpectrogram(sample_rate=SAMPLE_RATE, n_fft=512,
                                               hop_length=128, n_mels=64, fmin=20),
                         layers.PowerToDb(ref="max")],
        "MFCC": [layers.MFCC(sample_rate=SAMPLE_RATE, n_fft=512, hop_length=128,
                             n_mels=64, n_mfcc=20)],
        "complex STFT (real part)": [layers.ComplexSpectrogram(n_fft=256, hop_length=80,
                                                               win_length=240)],
    }
    print(f"kerasaudio {kerasaudio.__version__}: {len(paths)} clips, "
          f"input {audio.shape} at {SAMPLE_RATE} Hz")
    results = {}
    for name, chain in front_ends.items():
        x = audio
        for layer in chain:
            x = layer(x)
        results[name] = np.asarray(x)
        print(f"  {name:26s} -> {results[name].shape}")

    fig, axes = plt.subplots(len(front_ends), len(paths),
                             figsize=(3.2 * len(paths), 2.6 * len(front_ends)),
                             squeeze=False)
    for row, (name, values) in enumerate(results.items()):
        for col in range(len(paths)):
            image = values[col]
            if image.ndim == 3:  # real part, signed log compression to show structure
                image = np.sign(image[..., 0]) * np.log1p(100 * np.abs(image[..., 0]))
            elif name == "MFCC":  # each coefficient on its own scale
                image = (image - image.mean(0)) / (image.std(0) + 1e-6)
            axes[row, col].imshow(image.T, origin="lower", aspect="auto", cmap="magma")
            axes[row, col].set_title(f"{titles[col]}\n{name}", fontsize=8)
            axes[row, col].set_xlabel("frame", fontsize=7)
    fig.tight_layout()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "demo_features.png", dpi=100)
    print(f"wrote {out / 'demo_features.png'}")


if __name__ == "__main__":
    main()
