"""The `kerasaudio` command: list models, classify audio files, train, evaluate, export.

    kerasaudio models [--pretrained] [--format text|json|csv]
    kerasaudio predict FILE... --model NAME [--top-k 3] [--format text|json|csv]
    kerasaudio train RECIPE [--protocol official] [--set training.epochs=5] [--out DIR]
    kerasaudio evaluate NAME [--data DIR | --sample] [--out DIR]
    kerasaudio export NAME [--quantization int8] -o model.tflite

`NAME` is a pretrained preset (`kerasaudio models --pretrained`), a `.keras` file or
(for `predict`) an exported `.tflite` file. `kerasaudio COMMAND --help` explains every
option.

Exit status: 0 on success; 1 when `predict` could not classify some of its files (the
others are still classified; each failed file is named on stderr and, with `--format
json`, gets a `{"file": ..., "error": ...}` line); 2 for a usage error (an option out of
range: one line on stderr), an unknown or unreadable model, a missing file, an unusable
output path or a refused export (the message on stderr, no traceback).

`predict` streams: each file's result is printed (and flushed) as soon as it is computed,
so a failure later in a long run never loses the results before it. A file name that is
not valid UTF-8 is printed with `\\xNN` escapes for its undecodable bytes.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import pathlib
import sys
import tempfile
import warnings
from collections.abc import Sequence

import numpy as np

from kerasaudio.errors import (
    InvalidAudioError,
    InvalidOptionError,
    KerasAudioError,
    ModelFileError,
    ModelFileNotFoundError,
)
from kerasaudio.training.command import add_arguments

__all__ = ["main"]

FORMATS = ("text", "json", "csv")


# ----------------------------------------------------------------------------- classifiers


def _load_keras_file(name: str):
    """A `.keras` model file loaded in safe mode; an unreadable one is a `ModelFileError`."""
    import keras

    if "\x00" in name:
        raise ModelFileError(name.replace("\x00", "\\x00"), "the path contains a NUL byte")
    if not os.path.exists(name):
        raise ModelFileNotFoundError(name, "no such file")
    if os.path.isdir(name):
        raise ModelFileError(name, "is a directory, not a .keras file")
    try:
        return keras.saving.load_model(name, safe_mode=True)
    except Exception as exc:  # a zip, JSON or HDF5 error, or a refusal of safe mode
        raise ModelFileError(name, f"cannot be loaded as a Keras model ({type(exc).__name__}: "
                             f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''})"
                             ) from None


class _Classifier:
    """A preset, `.keras` or `.tflite` model behind one interface: windows -> probabilities.

    What the model takes and gives comes from its model-info record
    (`kerasaudio.info.model_info`: a preset's, a `.keras` file's own, a `.tflite` file's
    metadata). Unknown class names are shown as output indices; an unknown sample rate or
    input length is an error saying how to record it.
    """

    def __init__(self, name: str, *, max_duration: float | None = None):
        from kerasaudio.audio_io import MAX_DURATION
        from kerasaudio.errors import InvalidOptionError
        from kerasaudio.info import model_info

        self.max_duration = MAX_DURATION if max_duration is None else max_duration
        if name.endswith(".tflite"):
            from kerasaudio.runtime import TFLiteModel

            self._lite = TFLiteModel(name, max_duration=self.max_duration)
            self.info = self._lite.audio_info
            self.class_names = self._lite.class_names
            self.sample_rate = self._lite.sample_rate
            self.input_length = self._lite.input_length
            self.model = self.preset = None
            return
        import kerasaudio
        from kerasaudio.hub import preset_of

        self._lite = None
        if name.endswith(".keras"):
            self.model = _load_keras_file(name)
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
                               input_length=self.input_length, hop=hop,
                               max_duration=self.max_duration)


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


def _shown(text: str) -> str:
    """`text` printable in any encoding: undecodable file-name bytes (surrogate escapes)
    become `\\xNN`."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _positive(option: str, value, *, integer: bool = False):
    """`value` if it is a finite number > 0 (an int for `integer`), else a usage error."""
    ok = value is not None and math.isfinite(value) and value > 0
    if not ok or (integer and value != int(value)):
        kind = "a positive integer" if integer else "a positive finite number of seconds"
        raise InvalidOptionError(f"{option} must be {kind}, got {value!r}.")
    return value


def _predict_options(args, sample_rate: int | None = None):
    """Check `predict`'s numeric options (before any model is loaded); with `sample_rate`,
    also return the hop in samples at that rate (None: the default)."""
    _positive("--top-k", args.top_k, integer=True)
    if args.max_duration is not None:
        _positive("--max-duration", args.max_duration)
    if args.hop is None:
        return None
    _positive("--hop", args.hop)
    if sample_rate is None:
        return None
    hop = round(args.hop * sample_rate)
    if hop < 1:
        raise InvalidOptionError(
            f"--hop {args.hop!r} s is shorter than one sample at the model's "
            f"{sample_rate} Hz; use at least {1 / sample_rate:.3g} s.")
    return hop


class _Results:
    """Writes `predict`'s results one file at a time (text, JSON lines or CSV), flushed."""

    def __init__(self, fmt: str, class_names: list[str], top_k: int, window_seconds: float):
        self.fmt, self.names, self.k, self.window = fmt, class_names, top_k, window_seconds
        self.csv = None
        if fmt == "csv":
            self.csv = csv.writer(sys.stdout)
            self.csv.writerow(["file", "window_start", "rank", "label", "probability"])
            sys.stdout.flush()

    def result(self, path: str, starts: np.ndarray, probabilities: np.ndarray) -> None:
        file = _shown(path)
        overall = _top(probabilities.mean(axis=0), self.names, self.k)
        windows = []
        if len(starts) > 1:
            windows = [{"start": round(float(start), 3),
                        "end": round(float(start) + self.window, 3),
                        "predictions": _top(p, self.names, self.k)}
                       for start, p in zip(starts, probabilities, strict=True)]
        if self.fmt == "json":
            line = {"file": file, "predictions": overall}
            if windows:
                line["windows"] = windows
            print(json.dumps(line, allow_nan=False))
        elif self.fmt == "csv":
            for rank, p in enumerate(overall, 1):
                self.csv.writerow([file, "", rank, p["label"], p["probability"]])
            for window in windows:
                for rank, p in enumerate(window["predictions"], 1):
                    self.csv.writerow([file, window["start"], rank, p["label"],
                                       p["probability"]])
        else:
            best = ", ".join(f"{p['label']} {p['probability']:.3f}" for p in overall)
            print(f"{file}: {best}")
            for window in windows:
                top = window["predictions"][0]
                print(f"    {window['start']:7.2f}-{window['end']:7.2f} s  "
                      f"{top['label']} {top['probability']:.3f}")
        sys.stdout.flush()

    def error(self, path: str, message: str) -> None:
        message = _shown(message)
        print(f"kerasaudio: {message}", file=sys.stderr, flush=True)
        if self.fmt == "json":
            print(json.dumps({"file": _shown(path), "error": message}), flush=True)


def _predict(args) -> int:
    _predict_options(args)
    classifier = _Classifier(args.model, max_duration=args.max_duration)
    hop = _predict_options(args, classifier.sample_rate)
    out = _Results(args.format, classifier.class_names, args.top_k,
                   classifier.input_length / classifier.sample_rate)
    failed = 0
    for path in _progress(args.files, "classifying", enabled=len(args.files) > 1):
        try:
            starts, probabilities = classifier.predict_windows(path, hop)
            if not np.isfinite(probabilities).all():
                raise InvalidAudioError(
                    f"{path}: the model's output holds NaN or Inf for this file (no "
                    "prediction); check the audio's level and content.")
        except KerasAudioError as exc:  # the other files still run
            failed += 1
            out.error(path, str(exc))
            continue
        except Exception as exc:  # anything else, too: the results so far are printed
            failed += 1
            out.error(path, f"{path}: could not be classified ({type(exc).__name__}: {exc})")
            continue
        out.result(path, starts, probabilities)
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

    out = _output_directory(args.out, "--out")
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


def _output_directory(path: str, option: str) -> pathlib.Path:
    """Create `path` (and its parents) and check a file can be written in it, before any
    work: a file in the way, a read-only or virtual directory is a usage error."""
    if "\x00" in path:
        raise InvalidOptionError(f"{option}: the path {path!r} contains a NUL byte.")
    out = pathlib.Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except FileExistsError:
        raise InvalidOptionError(f"{option} {_shown(path)}: a file is in the way of the "
                                 "output directory.") from None
    except OSError as exc:
        raise InvalidOptionError(f"{option} {_shown(path)}: cannot write there "
                                 f"({exc.strerror or exc}).") from None
    return out


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
                         help="labels to show per file and window (> 0; default: 3)")
    predict.add_argument("--hop", type=float, default=None,
                         help="seconds between windows of long files (> 0, at least one "
                         "sample; default: half the model's input length)")
    predict.add_argument("--max-duration", type=float, default=None, metavar="SECONDS",
                         help="refuse files longer than this (default: 3600, "
                         "kerasaudio.audio_io.MAX_DURATION)")
    predict.add_argument("--format", choices=FORMATS, default="text",
                         help="text (default); json: one object per line, {'file', "
                         "'predictions': [{'label', 'probability'}...] best first, "
                         "'windows' for long files}; csv: file, window_start, rank, label, "
                         "probability")
    predict.set_defaults(run=_predict)

    train = commands.add_parser(
        "train", help="train a recipe on FSDD, or on your own clips (--csv)",
        description="Train a recipe: a packaged one by name (m5_fsdd_digits, "
        "logmel_cnn_fsdd_digits, deep_speaker_fsdd_speakers, stack_fsdd_digits, ...) or a "
        "recipe .json file you name. Runs its protocols (digits: the official split and "
        "leave-one-speaker-out; speakers: official and unseen-speaker folds) and writes "
        "the weights, config.json, metrics.json and recipe.json to runs/<preset>/ (--out "
        "elsewhere). With --csv FILE it trains on your own clips instead, starting from a "
        "preset, recipe or architecture (see the 'own data' options). The last line "
        "printed is a JSON summary.")
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
    clip = kerasaudio.datasets.fsdd.load(sample=True).path[0]  # 0_george_0.wav, a "0"
    main(["predict", clip, "--model", "m5_fsdd_digits", "--format", "json"])  # 0
    # {"file": ".../0_george_0.wav", "predictions": [{"label": "0", ...}, ...]}
    ```
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _parser().parse_args(argv)
    if getattr(args, "quantization", None) == "float32":
        args.quantization = None
    with warnings.catch_warnings():
        if args.command in ("predict", "evaluate", "export"):
            warnings.showwarning = _show_warning
        try:
            return args.run(args)
        except KerasAudioError as exc:  # a user's mistake or a missing file: one message
            print(f"kerasaudio {args.command}: error: {_shown(str(exc))}", file=sys.stderr)
            return 2


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line on stderr (a file loaded with a truncated stream, ...)."""
    print(f"kerasaudio: warning: {_shown(str(message))}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
