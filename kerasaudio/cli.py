"""The `kerasaudio` command: list models, classify audio files, train, evaluate, export.

    kerasaudio models [--pretrained] [--format text|json|csv]
    kerasaudio predict FILE... --model NAME [--top-k 3] [--vad] [--format text|json|csv]
    kerasaudio train RECIPE [--protocol official] [--set training.epochs=5] [--out DIR]
    kerasaudio evaluate NAME [--data DIR | --sample] [--official-split] [--out DIR]
    kerasaudio export NAME [--quantization int8] -o model.tflite

`NAME` is a pretrained preset (`kerasaudio models --pretrained`), a `.keras` file or
(for `predict` and `evaluate`) an exported `.tflite` file. `evaluate` counts only the clips
the model never trained on. `kerasaudio COMMAND --help` explains every option.

Exit status: 0 on success; 1 when `predict` could not classify some of its files (the
others are still classified; each failed file is named on stderr and, with `--format
json`, gets a `{"file": ..., "error": ...}` line); 2 for a usage error (an option out of
range or malformed: one line on stderr), an unknown or unreadable model, a missing file,
an unusable output path or a refused export (the message on stderr, no traceback).

`predict` streams: each file's result is printed (and flushed) as soon as it is computed,
so a failure later in a long run never loses the results before it. A file name that is
not valid UTF-8 is printed with `\\xNN` escapes for its undecodable bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import pathlib
import shutil
import sys
import tempfile
import warnings
from collections.abc import Sequence
from typing import Any

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

            self._lite: TFLiteModel | None = TFLiteModel(name,
                                                        max_duration=self.max_duration)
            with _native_stderr_muted():  # LiteRT's one INFO line ("Created ... delegate")
                self._lite._interpreter.allocate_tensors()
            self.info = self._lite.audio_info
            self.class_names = self._lite.class_names
            self.sample_rate = self._lite.sample_rate
            self.input_length: int = self._lite.input_length
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
        rate, length = self.info.sample_rate, self.info.input_length or shape[0]
        if rate is None or length is None:
            missing = "sample rate" if rate is None else "input length"
            raise InvalidOptionError(
                f"{name}: the {missing} of the audio the model takes is unknown (its "
                "model-info record has none). Record it before saving: model = "
                "kerasaudio.models.with_info(model, sample_rate=..., input_length=...).")
        self.sample_rate, self.input_length = int(rate), int(length)

    def predict_windows(self, path: str, hop: int | None, keep=None):
        """`(start_seconds, probabilities (windows, classes))` of one file (the windows
        `keep` chooses, see `kerasaudio.runtime.predict_windows`)."""
        if self._lite is not None:
            return self._lite.predict_windows(path, hop=hop, keep=keep)
        from kerasaudio.runtime import predict_windows

        def predict(clips):  # a direct call: no per-call tracing as model.predict does
            import keras

            clips = clips[..., None] if self._channel_axis else clips
            out = self.model(clips, training=False)
            return keras.ops.convert_to_numpy(out[0] if isinstance(out, (list, tuple))
                                              else out)

        return predict_windows(predict, path, model_sample_rate=self.sample_rate,
                               input_length=self.input_length, hop=hop,
                               max_duration=self.max_duration, keep=keep)


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
    elif not len(table):
        print("(no presets published)")
    else:
        print(_fit(table))
    return 0


def _fit(table) -> str:
    """`table` as text no wider than the terminal (`shutil.get_terminal_size`, which
    honours $COLUMNS): columns wrap into blocks and long cells are cut with `...`."""
    width = shutil.get_terminal_size().columns
    index = max(len(str(label)) for label in [table.index.name or "", *table.index])
    return table.to_string(line_width=width,
                           max_colwidth=max(12, min(60, width - index - 4)))


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
    threshold = getattr(args, "vad_threshold_db", None)
    if threshold is not None and not math.isfinite(threshold):
        raise InvalidOptionError(f"--vad-threshold-db must be a finite level in dB, got "
                                 f"{threshold!r}.")
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


class _SpeechWindows:
    """`predict --vad`'s choice of windows: those holding speech found by
    `kerasaudio.vad.split` (energy VAD; adaptive threshold unless `threshold_db`) for at
    least `SPEECH_FRACTION` of their length, or a whole speech segment (a short word)."""

    SPEECH_FRACTION = 0.25

    def __init__(self, sample_rate: int, input_length: int, threshold_db: float | None):
        self.sample_rate, self.length, self.threshold_db = sample_rate, input_length, threshold_db
        self.windows = 0  # windows of the last file, before dropping the silent ones

    def __call__(self, waveform: np.ndarray, starts: np.ndarray) -> np.ndarray:
        from kerasaudio import vad

        self.windows = len(starts)
        ends = starts + self.length
        speech = np.zeros(len(starts), np.int64)
        whole = np.zeros(len(starts), bool)
        for segment in vad.split(waveform, self.sample_rate, threshold_db=self.threshold_db):
            speech += np.maximum(0, np.minimum(ends, segment.end)
                                 - np.maximum(starts, segment.start))
            whole |= (starts <= segment.start) & (ends >= segment.end)
        return whole | (speech >= self.SPEECH_FRACTION * self.length)


def _timeline(starts: np.ndarray, probabilities: np.ndarray, *, window: float, hop: float,
              names: list[str] | None) -> list[dict]:
    """Segments of a windowed file: runs of adjacent windows (`hop` apart) with the same
    best label merged, each from its first window's start to its last window's end or
    the next segment's start, whichever comes first, with the label's mean probability."""
    best = probabilities.argmax(axis=1)
    runs: list[list[int]] = []
    for i in range(len(starts)):
        adjacent = i > 0 and abs(starts[i] - starts[i - 1] - hop) < 1e-6
        if runs and adjacent and best[i] == best[runs[-1][0]]:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    segments = []
    for k, (first, last) in enumerate(runs):
        end = starts[last] + window
        if k + 1 < len(runs):
            end = min(end, starts[runs[k + 1][0]])
        label = int(best[first])
        segments.append({
            "start": round(float(starts[first]), 3), "end": round(float(end), 3),
            "label": names[label] if names is not None else str(label),
            "probability": round(float(probabilities[first:last + 1, label].mean()), 6)})
    return segments


class _Results:
    """Writes `predict`'s results one file at a time (text, JSON lines or CSV), flushed.

    Every file gets its `predictions`: the `top_k` labels of its mean probabilities over
    the windows classified. A file longer than one window also gets each window's start,
    end and best labels, and its timeline (`_timeline`): which label where.
    """

    def __init__(self, fmt: str, class_names: list[str] | None, top_k: int, *, window: float,
                 hop: float):
        self.fmt, self.names, self.k = fmt, class_names, top_k
        self.window, self.hop = window, hop
        self.csv = None
        if fmt == "csv":
            self.csv = csv.writer(sys.stdout)
            self.csv.writerow(["file", "window_start", "window_end", "rank", "label",
                               "probability"])
            sys.stdout.flush()

    def result(self, path: str, starts: np.ndarray, probabilities: np.ndarray, *,
               windowed: bool) -> None:
        file = _shown(path)
        if not len(starts):
            self._silent(file)
            return
        overall = _top(probabilities.mean(axis=0), self.names, self.k)
        windows: list[dict[str, Any]] = []
        segments: list = []
        if windowed:
            windows = [{"start": round(float(start), 3),
                        "end": round(float(start) + self.window, 3),
                        "predictions": _top(p, self.names, self.k)}
                       for start, p in zip(starts, probabilities, strict=True)]
            segments = _timeline(starts, probabilities, window=self.window, hop=self.hop,
                                 names=self.names)
        if self.fmt == "json":
            line = {"file": file, "predictions": overall}
            if windowed:
                line["windows"], line["segments"] = windows, segments
            print(json.dumps(line, allow_nan=False))
        elif self.fmt == "csv":
            assert self.csv is not None  # made in __init__ for the csv format
            for rank, p in enumerate(overall, 1):
                self.csv.writerow([file, "", "", rank, p["label"], p["probability"]])
            for window in windows:
                for rank, p in enumerate(window["predictions"], 1):
                    self.csv.writerow([file, window["start"], window["end"], rank,
                                       p["label"], p["probability"]])
        else:
            best = ", ".join(f"{p['label']} {p['probability']:.3f}" for p in overall)
            print(f"{file}: {best}")
            for segment in segments:
                print(f"    {segment['start']:7.2f}-{segment['end']:7.2f} s  "
                      f"{segment['label']} {segment['probability']:.3f}")
        sys.stdout.flush()

    def _silent(self, file: str) -> None:
        """A file in which `--vad` found no speech: said so, in every format."""
        if self.fmt == "json":
            print(json.dumps({"file": file, "predictions": [], "windows": [],
                              "segments": [], "speech": False}))
        elif self.fmt == "csv":
            print(f"kerasaudio: {file}: no speech found (--vad); nothing classified",
                  file=sys.stderr)
        else:
            print(f"{file}: no speech found (--vad)")
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
    rate, length = classifier.sample_rate, classifier.input_length
    out = _Results(args.format, classifier.class_names, args.top_k, window=length / rate,
                   hop=(hop or length // 2) / rate)
    vad = args.vad or args.vad_threshold_db is not None
    failed = 0
    for path in _progress(args.files, "classifying", enabled=len(args.files) > 1):
        keep = _SpeechWindows(rate, length, args.vad_threshold_db) if vad else None
        try:
            starts, probabilities = classifier.predict_windows(path, hop, keep)
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
        out.result(path, starts, probabilities,
                   windowed=(keep.windows if keep is not None else len(starts)) > 1)
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


def _held_out_known(args, classifier) -> None:
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
        f"{_shown(args.name)}: its model-info record {named}, so which FSDD clips it "
        "trained on is unknown and an accuracy could count them. Pass --official-split "
        "if it trained on FSDD's official training takes (5-49) only, or evaluate it on "
        "held-out clips of your own.")


def _evaluation_clips(args, classifier):
    """The FSDD clips the model never trained on: the official test takes (0-4) of the
    dataset or of the bundled sample (its take-0 clips)."""
    from kerasaudio.datasets import fsdd

    _held_out_known(args, classifier)
    frame = fsdd.load(sample=True) if args.sample else fsdd.load(args.data)
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
        raise InvalidOptionError(f"{_shown(args.name)} has no class names in its model-info "
                                 "record; evaluation compares them with the labels.")
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted(set(labels) - set(index))
    if unknown:
        raise InvalidOptionError(f"labels {unknown} are not among the model's classes "
                                 f"{names}.")
    best = [int(classifier.predict_windows(path, None)[1].mean(axis=0).argmax())
            for path in _progress(paths, "evaluating", enabled=True)]
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


def _export(args) -> int:
    from kerasaudio.export import to_tflite
    from kerasaudio.hub import representative_clips

    classifier = _Classifier(args.name)
    if classifier.model is None:
        raise InvalidOptionError(f"{_shown(args.name)}: export takes a preset or a .keras "
                                 "model, not a .tflite file.")
    preset = classifier.preset
    if preset is None:
        raise InvalidOptionError(f"{_shown(args.name)}'s model-info record names no pretrained "
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


@contextlib.contextmanager
def _native_stderr_muted():
    """Silence what C++ libraries write to file descriptor 2 (LiteRT's INFO lines) for
    the duration; Python's own `sys.stderr` writes are flushed before."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


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


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (`kerasaudio predict: error: ...`, exit 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {_shown(message)} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
        "windows (hop: half the input length) and each window classified; the file gets "
        "the mean over windows, each window's labels and a timeline of segments (adjacent "
        "windows with the same best label merged). --vad drops the silent windows.")
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
    predict.add_argument("--vad", action="store_true",
                         help="classify only the windows that overlap speech "
                         "(kerasaudio.vad.split: energy VAD, threshold adapted to the file); "
                         "a file without speech is reported as such")
    predict.add_argument("--vad-threshold-db", type=float, default=None, metavar="DB",
                         help="with --vad (implied): a fixed speech level in dB re full "
                         "scale (e.g. -40) instead of the adaptive threshold")
    predict.add_argument("--format", choices=FORMATS, default="text",
                         help="text (default): the best labels, and for long files their "
                         "timeline (start-end s, label); json: one object per line, "
                         "{'file', 'predictions': [{'label', 'probability'}...] best first; "
                         "for long files also 'windows' [{'start', 'end', 'predictions'}] "
                         "and 'segments' [{'start', 'end', 'label', 'probability'}]: "
                         "adjacent windows with the same best label merged}; csv: file, "
                         "window_start, window_end, rank, label, probability (empty "
                         "start and end: the whole file)")
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
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, its line printed)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
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
        except BrokenPipeError:  # `kerasaudio predict ... | head`: the reader has gone
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # no second error when Python exits
            return 1


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line on stderr (a file loaded with a truncated stream, ...)."""
    print(f"kerasaudio: warning: {_shown(str(message))}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
