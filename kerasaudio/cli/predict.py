"""`kerasaudio predict FILE... --model NAME`: classify audio files, streaming each file's
result (text, JSON lines or CSV) as soon as it is computed.

A file longer than the model's input is cut into windows; it gets the mean over windows,
each window's best labels and a timeline of segments (`timeline`). `--vad` keeps only the
windows holding speech (`SpeechWindows`). Internal to the command (`kerasaudio.cli`).
"""

from __future__ import annotations

import csv
import json
import math
import sys
from typing import Any

import numpy as np

from kerasaudio.cli.classifier import Classifier
from kerasaudio.cli.output import progress, shown, top
from kerasaudio.cli.parser import FORMATS, positive
from kerasaudio.errors import InvalidAudioError, InvalidOptionError, KerasAudioError

__all__ = ["Results", "SpeechWindows", "add_command", "check_options", "run", "timeline"]


def add_command(commands) -> None:
    """Declare `predict` and its options on the `kerasaudio` subparsers `commands`."""
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
    predict.set_defaults(run=run)


def check_options(args, sample_rate: int | None = None):
    """Check `predict`'s numeric options (before any model is loaded); with `sample_rate`,
    also return the hop in samples at that rate (None: the default)."""
    positive("--top-k", args.top_k, integer=True)
    if args.max_duration is not None:
        positive("--max-duration", args.max_duration)
    threshold = getattr(args, "vad_threshold_db", None)
    if threshold is not None and not math.isfinite(threshold):
        raise InvalidOptionError(f"--vad-threshold-db must be a finite level in dB, got "
                                 f"{threshold!r}.")
    if args.hop is None:
        return None
    positive("--hop", args.hop)
    if sample_rate is None:
        return None
    hop = round(args.hop * sample_rate)
    if hop < 1:
        raise InvalidOptionError(
            f"--hop {args.hop!r} s is shorter than one sample at the model's "
            f"{sample_rate} Hz; use at least {1 / sample_rate:.3g} s.")
    return hop


class SpeechWindows:
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


def timeline(starts: np.ndarray, probabilities: np.ndarray, *, window: float, hop: float,
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


class Results:
    """Writes `predict`'s results one file at a time (text, JSON lines or CSV), flushed.

    Every file gets its `predictions`: the `top_k` labels of its mean probabilities over
    the windows classified. A file longer than one window also gets each window's start,
    end and best labels, and its timeline (`timeline`): which label where.
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
        """Write one file's result: its window starts (seconds) and probabilities
        `(windows, classes)`; `windowed` when the file was longer than one window."""
        file = shown(path)
        if not len(starts):
            self._silent(file)
            return
        overall = top(probabilities.mean(axis=0), self.names, self.k)
        windows: list[dict[str, Any]] = []
        segments: list = []
        if windowed:
            windows = [{"start": round(float(start), 3),
                        "end": round(float(start) + self.window, 3),
                        "predictions": top(p, self.names, self.k)}
                       for start, p in zip(starts, probabilities, strict=True)]
            segments = timeline(starts, probabilities, window=self.window, hop=self.hop,
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
        """Name a file that could not be classified on stderr (and as a JSON line)."""
        message = shown(message)
        print(f"kerasaudio: {message}", file=sys.stderr, flush=True)
        if self.fmt == "json":
            print(json.dumps({"file": shown(path), "error": message}), flush=True)


def run(args) -> int:
    """Classify `args.files`; 0, or 1 when some file could not be classified (each named
    on stderr, the others still classified)."""
    check_options(args)
    classifier = Classifier(args.model, max_duration=args.max_duration)
    hop = check_options(args, classifier.sample_rate)
    rate, length = classifier.sample_rate, classifier.input_length
    out = Results(args.format, classifier.class_names, args.top_k, window=length / rate,
                  hop=(hop or length // 2) / rate)
    vad = args.vad or args.vad_threshold_db is not None
    failed = 0
    for path in progress(args.files, "classifying", enabled=len(args.files) > 1):
        keep = SpeechWindows(rate, length, args.vad_threshold_db) if vad else None
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
