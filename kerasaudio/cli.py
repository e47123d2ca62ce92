"""The `kerasaudio` command: list models, classify audio files, train, evaluate, export.

    kerasaudio models [--pretrained] [--format text|json|csv]
    kerasaudio predict FILE... --model NAME [--top-k 3] [--format text|json|csv]
    kerasaudio train RECIPE [--protocol official] [--set training.epochs=5] [--out DIR]
    kerasaudio evaluate NAME [--data DIR | --sample] [--out DIR]
    kerasaudio export NAME [--quantization int8] -o model.tflite

`NAME` is a pretrained preset (`kerasaudio models --pretrained`), a `.keras` file or
(for `predict`) an exported `.tflite` file. `kerasaudio COMMAND --help` explains every
option.

Exit status: 0 on success; 1 when `predict` could not read some of its files (the others
are still classified; each unreadable file is named on stderr and, with `--format json`,
gets a `{"file": ..., "error": ...}` line); 2 for a usage error, an unknown model, a
missing file or a refused export (the message on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pathlib
import sys
from collections.abc import Sequence

import numpy as np

from kerasaudio.errors import AudioFileError, InvalidAudioError, KerasAudioError
from kerasaudio.training.command import add_arguments

__all__ = ["main"]

FORMATS = ("text", "json", "csv")


# ----------------------------------------------------------------------------- classifiers


class _Classifier:
    """A preset, `.keras` or `.tflite` model behind one interface: windows -> probabilities.

    What the model takes and gives comes from its model-info record
    (`kerasaudio.info.model_info`: a preset's, a `.keras` file's own, a `.tflite` file's
    metadata). Unknown class names are shown as output indices; an unknown sample rate or
    input length is an error saying how to record it.
    """

    def __init__(self, name: str):
        from kerasaudio.errors import InvalidOptionError
        from kerasaudio.info import model_info

        if name.endswith(".tflite"):
            from kerasaudio.runtime import TFLiteModel

            self._lite = TFLiteModel(name)
            self.info = self._lite.audio_info
            self.class_names = self._lite.class_names
            self.sample_rate = self._lite.sample_rate
            self.input_length = self._lite.input_length
            self.model = self.preset = None
            return
        import keras

        import kerasaudio
        from kerasaudio.hub import preset_of

        self._lite = None
        if name.endswith(".keras"):
            self.model = keras.saving.load_model(name, safe_mode=True)
        else:
            self.model = kerasaudio.create_model(name)
        self.info = model_info(self.model)
        self.preset = preset_of(self.model)
        shape = tuple(self.model.inputs[0].shape[1:]) if len(self.model.inputs) == 1 else ()
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
            raise InvalidOptionError(
                f"{name} takes input of shape {shape or 'several inputs'}, not raw mono audio "
                "(samples,) or (samples, 1); classify with a model whose front end is inside.")
        self._channel_axis = len(shape) == 2
        width = self.model.outputs[0].shape[-1]
        names = self.info.class_names
        self.class_names = list(names) if names is not None and len(names) == width else None
        self.sample_rate = self.info.sample_rate
        self.input_length = self.info.input_length or shape[0]
        if self.sample_rate is None or self.input_length is None:
            missing = "sample rate" if self.sample_rate is None else "input length"
            raise InvalidOptionError(
                f"{name}: the {missing} of the audio the model takes is unknown (its "
                "model-info record has none). Record it before saving: model = "
                "kerasaudio.models.with_info(model, sample_rate=..., input_length=...).")

    def predict_windows(self, path: str, hop: int | None):
        """`(start_seconds, probabilities (windows, classes))` of one file."""
        if self._lite is not None:
            return self._lite.predict_windows(path, hop=hop)
        from kerasaudio.runtime import predict_windows

        def predict(clips):
            clips = clips[..., None] if self._channel_axis else clips
            return self.model.predict(clips, verbose=0)

        return predict_windows(predict, path, model_sample_rate=self.sample_rate,
                               input_length=self.input_length, hop=hop)


def _top(probabilities: np.ndarray, names: list[str] | None, k: int) -> list[dict]:
    """The `k` best classes, by name (by output index when the names are unknown)."""
    order = np.argsort(-probabilities)[:k]
    return [{"label": names[i] if names is not None else str(int(i)),
             "probability": round(float(probabilities[i]), 6)} for i in order]


# ----------------------------------------------------------------------------- commands


def _models(args) -> int:
    import kerasaudio

    table = kerasaudio.available_models(pretrained=args.pretrained)
    if args.format == "json":
        print(table.reset_index().to_json(orient="records", indent=2))
    elif args.format == "csv":
        table.to_csv(sys.stdout)
    else:
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_columns", None,
                               "display.max_colwidth", 60):
            print(table.to_string() if len(table) else "(no presets published)")
    return 0


def _predict(args) -> int:
    classifier = _Classifier(args.model)
    hop = None if args.hop is None else max(1, round(args.hop * classifier.sample_rate))
    results, failed = [], []
    for path in _progress(args.files, "classifying", enabled=len(args.files) > 1):
        try:
            starts, probabilities = classifier.predict_windows(path, hop)
        except (AudioFileError, InvalidAudioError) as exc:  # the other files still run
            failed.append(path)
            print(f"kerasaudio: {exc}", file=sys.stderr)
            if args.format == "json":
                results.append({"file": path, "error": str(exc)})
            continue
        result = {"file": path,
                  "predictions": _top(probabilities.mean(axis=0), classifier.class_names,
                                      args.top_k)}
        if len(starts) > 1:
            result["windows"] = [
                {"start": round(float(start), 3),
                 "end": round(float(start) + classifier.input_length
                              / classifier.sample_rate, 3),
                 "predictions": _top(p, classifier.class_names, args.top_k)}
                for start, p in zip(starts, probabilities, strict=True)]
        results.append(result)
    if args.format == "json":
        for result in results:
            print(json.dumps(result))
        return 1 if failed else 0
    results = [result for result in results if "error" not in result]
    if args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(["file", "window_start", "rank", "label", "probability"])
        for result in results:
            for rank, p in enumerate(result["predictions"], 1):
                writer.writerow([result["file"], "", rank, p["label"], p["probability"]])
            for window in result.get("windows", []):
                for rank, p in enumerate(window["predictions"], 1):
                    writer.writerow([result["file"], window["start"], rank, p["label"],
                                     p["probability"]])
    else:
        for result in results:
            best = ", ".join(f"{p['label']} {p['probability']:.3f}"
                             for p in result["predictions"])
            print(f"{result['file']}: {best}")
            for window in result.get("windows", []):
                top = window["predictions"][0]
                print(f"    {window['start']:7.2f}-{window['end']:7.2f} s  "
                      f"{top['label']} {top['probability']:.3f}")
    return 1 if failed else 0


def _train(args) -> int:
    """Run a packaged recipe, or the recipe `.json` file the user named (nothing else: no
    file of the current directory is read or run unless named)."""
    from kerasaudio.training.command import run_from_args, summary

    run = run_from_args(args, runs_dir=pathlib.Path("runs"),
                        log=lambda line: print(line, flush=True))
    if run.metrics:
        print(f"[{run.recipe.preset}] wrote {run.out}", flush=True)
    print(json.dumps(summary(run.recipe, run.metrics)))
    return 0


def _evaluation_clips(args, classifier):
    from kerasaudio.datasets import fsdd

    frame = fsdd.load(sample=True) if args.sample else fsdd.load(args.data)
    if not args.sample:
        frame = fsdd.official_split(frame)[1]
    task = classifier.info.task or "digits"
    labels = frame["speaker"] if task == "speakers" else frame["digit"].astype(str)
    return list(frame["path"]), list(labels)


def _evaluate(args) -> int:
    from kerasaudio.metrics import confusion_matrix, plot_confusion

    classifier = _Classifier(args.name)
    paths, labels = _evaluation_clips(args, classifier)
    names = classifier.class_names
    if names is None:
        raise SystemExit(f"kerasaudio: {args.name} has no class names in its model-info "
                         "record; evaluation compares them with the labels.")
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted(set(labels) - set(index))
    if unknown:
        raise SystemExit(f"kerasaudio: labels {unknown} are not among the model's classes.")
    predicted = []
    for path in _progress(paths, "evaluating", enabled=True):
        predicted.append(int(classifier.predict_windows(path, None)[1].mean(axis=0).argmax()))
    truth = np.array([index[label] for label in labels])
    predicted = np.array(predicted)
    confusion = confusion_matrix(truth, predicted, classes=len(names))
    accuracy = float((truth == predicted).mean())
    split = "bundled sample" if args.sample else "official test split (takes 0-4)"
    print(f"{args.name}: accuracy {accuracy:.4f} on {len(paths)} FSDD clips ({split})")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = pathlib.Path(args.name).stem
    png = out / f"{stem}_confusion.png"
    plot_confusion(confusion, names, png, title=f"{args.name}: accuracy {accuracy:.4f}")
    with open(out / f"{stem}_evaluation.json", "w") as f:
        json.dump({"model": args.name, "accuracy": accuracy, "clips": len(paths),
                   "split": split, "class_names": names,
                   "confusion": confusion.tolist()}, f, indent=2)
    print(f"wrote {png} and {out / f'{stem}_evaluation.json'}")
    return 0


def _export(args) -> int:
    from kerasaudio.export import to_tflite
    from kerasaudio.hub import representative_clips

    classifier = _Classifier(args.name)
    if classifier.model is None:
        raise SystemExit("kerasaudio: export takes a preset or a .keras model.")
    preset = classifier.preset
    if preset is None:
        raise SystemExit(f"kerasaudio: {args.name}'s model-info record names no pretrained "
                         "preset, whose bundled clips calibrate and verify the export; "
                         "use kerasaudio.export.to_tflite with clips of your own.")
    clips, labels = representative_clips(preset)
    report = to_tflite(
        classifier.model, args.output, quantization=args.quantization,
        representative_data=clips, labels=labels, sample_rate=classifier.sample_rate,
        class_names=classifier.class_names,
        metadata={"name": preset.name, "preset": preset.name, "license": preset.license,
                  "description": preset.training_data},
        keep_float=None if args.keep_float is None else
        [name.strip() for name in args.keep_float.split(",") if name.strip()],
        per_channel=not args.per_tensor, strip_names=args.strip_names,
        float16_constants=args.float16_constants,
        equalize=False if args.no_equalize else None)
    print(report)
    return 0


def _progress(items: Sequence, label: str, *, enabled: bool):
    """Yield `items`, drawing a progress bar on stderr when it is a terminal."""
    show = enabled and sys.stderr.isatty()
    total = len(items)
    for i, item in enumerate(items, 1):
        yield item
        if show:
            width = 30
            done = int(width * i / total)
            sys.stderr.write(f"\r{label} [{'#' * done}{'.' * (width - done)}] {i}/{total}")
            sys.stderr.flush()
    if show:
        sys.stderr.write("\n")


# ----------------------------------------------------------------------------- parser


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerasaudio", description="Keras audio models: list, classify, train, "
        "evaluate and export.", formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `kerasaudio COMMAND --help` for a command's options.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    models = commands.add_parser("models", help="the table of models (or presets)",
                                 description="Print kerasaudio.available_models(): one "
                                 "row per architecture, or per pretrained preset.")
    models.add_argument("--pretrained", action="store_true",
                        help="list the pretrained presets (with their metrics)")
    models.add_argument("--format", choices=FORMATS, default="text",
                        help="output format (default: text)")
    models.set_defaults(run=_models)

    predict = commands.add_parser(
        "predict", help="classify audio files",
        description="Classify audio files (any format soundfile reads, any sample rate: "
        "resampled to the model's). A file longer than the model's input is cut into "
        "windows (hop: half the input length) and each window classified; the file's "
        "result is the mean over windows.")
    predict.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    predict.add_argument("--model", required=True,
                         help="a pretrained preset (see `kerasaudio models --pretrained`), "
                         "a .keras file (its model-info record gives the sample rate and "
                         "class names), or an exported .tflite file")
    predict.add_argument("--top-k", type=int, default=3,
                         help="labels to show per file and window (default: 3)")
    predict.add_argument("--hop", type=float, default=None,
                         help="seconds between windows of long files (default: half the "
                         "model's input length)")
    predict.add_argument("--format", choices=FORMATS, default="text",
                         help="text (default); json: one object per line, {'file', "
                         "'predictions': [{'label', 'probability'}...] best first, "
                         "'windows' for long files}; csv: file, window_start, rank, label, "
                         "probability")
    predict.set_defaults(run=_predict)

    train = commands.add_parser(
        "train", help="train a preset's recipe on FSDD",
        description="Train a recipe: a packaged one by name (m5_fsdd_digits, "
        "logmel_cnn_fsdd_digits, deep_speaker_fsdd_speakers, stack_fsdd_digits, ...) or a "
        "recipe .json file you name. Runs its protocols (digits: the official split and "
        "leave-one-speaker-out; speakers: official and unseen-speaker folds) and writes "
        "the weights, config.json, metrics.json and recipe.json to runs/<preset>/ (--out "
        "elsewhere). The last line printed is a JSON summary.")
    add_arguments(train)
    train.set_defaults(run=_train)

    evaluate = commands.add_parser(
        "evaluate", help="accuracy on FSDD and a confusion-matrix PNG",
        description="Evaluate a preset (or its .keras/.tflite file) on FSDD's official "
        "test split (takes 0-4; digits or speakers, as the preset's task), print the "
        "accuracy and write a confusion-matrix PNG and a JSON summary.")
    evaluate.add_argument("name", help="preset name, .keras or .tflite file")
    evaluate.add_argument("--data", default=None,
                          help="FSDD directory (default: $KERASAUDIO_DATA or "
                          "../shared/data/fsdd)")
    evaluate.add_argument("--sample", action="store_true",
                          help="use the 120-clip sample shipped in the package instead")
    evaluate.add_argument("--out", default="out", help="output directory (default: out)")
    evaluate.set_defaults(run=_evaluate)

    export = commands.add_parser(
        "export", help="export a preset to TFLite (verified in LiteRT)",
        description="Convert a preset to a .tflite file with builtin ops only, calibrated "
        "(int8, int16x8) and verified against Keras on the preset's bundled sample clips, with "
        "metadata that MediaPipe's AudioClassifier reads. Prints the report.")
    export.add_argument("name", help="preset name or .keras file of a preset model (its "
                        "model-info record names the preset)")
    export.add_argument("--quantization",
                        choices=["float32", "float16", "dynamic", "int8", "int16x8"],
                        default="float32",
                        help="weights/activations (default: float32); int16x8 = int8 weights "
                        "with int16 activations, for raw-waveform or complex-spectrogram "
                        "models without per-clip standardisation, which int8 cannot follow "
                        "on quiet clips")
    export.add_argument("-o", "--output", required=True, help="the .tflite file to write")
    export.add_argument("--keep-float", default=None, metavar="LAYER[,LAYER...]",
                        help="layers kept float32 in a quantized file (besides the front "
                        "end). Default: none, but an int8 file that fails verification is "
                        "converted again with the first layer after the front end in float32; "
                        "'' turns that off")
    export.add_argument("--per-tensor", action="store_true",
                        help="one weight scale per tensor instead of per output channel "
                        "(dynamic, int8, int16x8): 12 bytes less per channel, coarser weights")
    export.add_argument("--no-equalize", action="store_true",
                        help="with --per-tensor: skip the cross-layer equalization of the "
                        "weights (kerasaudio.export.equalize_channels) done by default")
    export.add_argument("--strip-names", action="store_true",
                        help="drop the tensor names (the input and output keep theirs): a "
                        "smaller file with the same outputs, no layer names for debugging")
    export.add_argument("--float16-constants", action="store_true",
                        help="store the large non-negative matrices of the float32 ops "
                        "(the front end's mel filterbank) as float16 in a quantized file")
    export.set_defaults(run=_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kerasaudio` console script.

    Example:
    ```python
    from kerasaudio.cli import main
    main(["predict", "7_jackson_32.wav", "--model", "m5_fsdd_digits", "--format", "json"])
    ```
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _parser().parse_args(argv)
    if getattr(args, "quantization", None) == "float32":
        args.quantization = None
    try:
        return args.run(args)
    except KerasAudioError as exc:  # a user's mistake or a missing file: the message, no trace
        print(f"kerasaudio {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
