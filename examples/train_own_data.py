"""Train on your own clips: a CSV of files and labels, fine-tuning a pretrained preset.

The clips here are Free Spoken Digit Dataset recordings standing in for your data: the
script writes a Freesound-style CSV (`fname`, `labels`, several labels separated by
commas, and a `speaker` column) tagging each clip with its digit and its speaker, then
runs what `kerasaudio train` runs:

    kerasaudio train m5_fsdd_digits --csv OUT/tags.csv --audio-dir FSDD/recordings \\
        --group-column speaker --epochs 5 --out OUT/run

The M5 digit preset is the start: its trained layers, a new sigmoid head for the 10 + 6
tags. Each speaker is one fold, so `oof_predictions.csv` scores every clip with a model
that never heard its speaker, and `metrics.json` holds the lwlrap of those predictions
(speaker tags of an unheard speaker cannot be right: expect a modest number, the digit
tags carry it). Run it again after an interruption and it continues from its checkpoints.

Run: `python examples/train_own_data.py [--data FSDD_DIR] [--out DIR] [--takes N]`
(N takes of every digit and speaker; the default 3 gives 180 clips, a few minutes on 2
cores). FSDD comes from `kerasaudio.datasets.fsdd.load()` (KERASAUDIO_DATA or `--data`).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kerasaudio.datasets import fsdd
from kerasaudio.training.user_data import train_table


def write_table(frame, path: Path, takes: int) -> Path:
    """A Freesound-style CSV of the first `takes` takes: digit and speaker tags."""
    chosen = frame[frame["take"] < takes]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["fname", "labels", "speaker"])
        for clip in chosen.itertuples():
            writer.writerow([os.path.basename(clip.path), f"{clip.digit},{clip.speaker}",
                             clip.speaker])
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="FSDD directory")
    parser.add_argument("--out", default="runs/own-data", help="output directory")
    parser.add_argument("--takes", type=int, default=3, help="takes per digit and speaker")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    frame = fsdd.load(args.data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = write_table(frame, out / "tags.csv", args.takes)
    _, metrics = train_table(
        "m5_fsdd_digits", table, out=out / "run",
        audio_dir=os.path.dirname(frame["path"].iloc[0]), group_column="speaker",
        epochs=args.epochs, batch_size=16)
    print(json.dumps({key: metrics[key] for key in ("task", "accuracy", "lwlrap",
                                                   "evaluated_on")}))
    print(f"wrote {out / 'run'}: {', '.join(metrics['files'])}")


if __name__ == "__main__":
    main()
