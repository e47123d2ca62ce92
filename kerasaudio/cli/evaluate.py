"""`kerasaudio evaluate NAME`: accuracy on the FSDD clips a model never trained on, a
confusion-matrix PNG and a JSON summary.

Only held-out clips count: the official test takes (0-4) of FSDD or of the bundled sample,
for a model known to have trained on the other takes (`held_out_known`). Internal to the
command (`kerasaudio.cli`).
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from kerasaudio.cli.classifier import Classifier
from kerasaudio.cli.output import progress, shown
from kerasaudio.cli.parser import output_directory
from kerasaudio.errors import InvalidOptionError

__all__ = ["add_command", "evaluation_clips", "held_out_known", "run"]


def add_command(commands) -> None:
    """Declare `evaluate` and its options on the `kerasaudio` subparsers `commands`."""
    evaluate = commands.add_parser(
        "evaluate", help="accuracy on FSDD and a confusion-matrix PNG",
        description="Evaluate a preset, or a .keras/.tflite file, on FSDD clips it never "
        "trained on: the official test split (takes 0-4; with --sample the bundled "
        "sample's take-0 clips), digits or speakers as the model's task. Prints the "
        "accuracy and writes a confusion-matrix PNG and a JSON summary.")
    evaluate.add_argument("name", help="preset name, .keras or .tflite file")
    evaluate.add_argument("--data", default=None,
                          help="FSDD directory (default: $KERASAUDIO_DATA or "
                          "../shared/data/fsdd)")
    evaluate.add_argument("--sample", action="store_true",
                          help="use the sample shipped in the package instead (its 60 "
                          "test-take clips; the other 60 are training takes)")
    evaluate.add_argument("--official-split", action="store_true",
                          help="the model (a .keras or .tflite file naming no published "
                          "preset) trained on FSDD's official training takes (5-49) only: "
                          "evaluate it on the test takes. Without it such a model is "
                          "refused, since its accuracy could count clips it trained on")
    evaluate.add_argument("--out", default="out", help="output directory (default: out)")
    evaluate.set_defaults(run=run)


def held_out_known(args, classifier) -> None:
    """Refuse (a usage error) a model whose training clips are unknown: the evaluation
    must count only clips it never trained on.

    Known: a model whose model-info record names a published preset (each is trained on
    the training takes 5-49 of FSDD's official split; `kerasaudio train` of a packaged
    recipe too), or any model with `--official-split` (the user says so)."""
    from kerasaudio.weights import load_manifest

    preset = classifier.info.preset
    if args.official_split or (preset is not None and preset in load_manifest()):
        return
    named = f"names preset {preset!r}, which is not published" if preset else \
        "names no published preset"
    raise InvalidOptionError(
        f"{shown(args.name)}: its model-info record {named}, so which FSDD clips it "
        "trained on is unknown and an accuracy could count them. Pass --official-split "
        "if it trained on FSDD's official training takes (5-49) only, or evaluate it on "
        "held-out clips of your own.")


def evaluation_clips(args, classifier):
    """The FSDD clips the model never trained on: the official test takes (0-4) of the
    dataset or of the bundled sample (its take-0 clips)."""
    from kerasaudio.datasets import fsdd

    held_out_known(args, classifier)
    frame = fsdd.load(sample=True) if args.sample else fsdd.load(args.data)
    frame = fsdd.official_split(frame)[1]
    task = classifier.info.task or "digits"
    labels = frame["speaker"] if task == "speakers" else frame["digit"].astype(str)
    return list(frame["path"]), list(labels)


def run(args) -> int:
    """Evaluate `args.name` on the FSDD clips it never trained on; print the accuracy and
    write the confusion-matrix PNG and the JSON summary into `args.out`."""
    from kerasaudio.metrics import confusion_matrix, plot_confusion

    out = output_directory(args.out, "--out")
    classifier = Classifier(args.name)
    paths, labels = evaluation_clips(args, classifier)
    names = classifier.class_names
    if names is None:
        raise InvalidOptionError(f"{shown(args.name)} has no class names in its model-info "
                                 "record; evaluation compares them with the labels.")
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted(set(labels) - set(index))
    if unknown:
        raise InvalidOptionError(f"labels {unknown} are not among the model's classes "
                                 f"{names}.")
    best = [int(classifier.predict_windows(path, None)[1].mean(axis=0).argmax())
            for path in progress(paths, "evaluating", enabled=True)]
    truth = np.array([index[label] for label in labels])
    predicted = np.array(best)
    confusion = confusion_matrix(truth, predicted, classes=len(names))
    accuracy = float((truth == predicted).mean())
    split = ("bundled sample's test takes (take 0)" if args.sample else
             "official test split (takes 0-4)")
    print(f"{args.name}: accuracy {accuracy:.4f} on {len(paths)} FSDD clips ({split})")
    stem = pathlib.Path(args.name).stem
    png = out / f"{stem}_confusion.png"
    plot_confusion(confusion, names, png, title=f"{args.name}: accuracy {accuracy:.4f}")
    with open(out / f"{stem}_evaluation.json", "w") as f:
        json.dump({"model": args.name, "accuracy": accuracy, "clips": len(paths),
                   "split": split, "class_names": names,
                   "confusion": confusion.tolist()}, f, indent=2)
    print(f"wrote {png} and {out / f'{stem}_evaluation.json'}")
    return 0
