"""Quantized TFLite exports of every pretrained preset, side by side in one run.

For each preset in the manifest and each mode (float32, float16, dynamic-range, full int8):

- export end to end from raw audio with `kerasaudio.export.to_tflite` (builtins only,
  batch 1, verified in LiteRT against Keras before writing); int8 is calibrated on 200
  clips of the official *training* split (takes 5-49), never on test clips; int8 keeps
  the front end in float32 (the default); `--modes ...,int8_whole` adds int8 with the
  front end quantized too, `int8_first` int8 with the first layer after the front end
  float32 too, `int8_small` int8 with per-tensor weight scales, no tensor names and float16
  front-end matrices (comparison rows, not recorded);
- size of the file, and its ratio to the float32 file;
- accuracy of the file in LiteRT on the FSDD official test split (takes 0-4, 300 clips)
  next to the Keras model's;
- leave-one-speaker-out accuracy (digit presets, `--loso`): each fold model of the
  recipe (`zoo/runs/<preset>/loso/<speaker>.weights.h5`, trained without that speaker)
  exported in the same mode and run on the held-out speaker's 500 clips; mean over the
  folds found;
- latency at batch 1 on the same clips: LiteRT (`ai_edge_litert`, default threads) and
  Keras `predict_on_batch`, ms per clip, and their ratios.

With `--record` the sizes and accuracies go into the manifest entries (`int8_size_mb`,
`int8_official_accuracy`, ... via `zoo.publish.record_metrics`), so
`kerasaudio.available_models(pretrained=True)` shows them.

    python benchmarks/tflite.py [--presets m5_fsdd_digits,...] [--modes float,int8]
                                [--loso] [--record] [--json out/tflite.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

import kerasaudio
from kerasaudio import export, hub, runtime
from kerasaudio.data import audio_dataset
from kerasaudio.datasets import fsdd
from kerasaudio.weights import list_presets

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODES = {"float": None, "float16": "float16", "dynamic": "dynamic", "int8": "int8",
         "int16x8": "int16x8", "int8_whole": "int8", "int8_first": "int8",
         "int8_small": "int8"}
#: Comparison rows, never recorded: `int8_whole` quantizes the front end too
#: (`float_frontend=False`); `int8_first` keeps the first layer after the front end float32
#: as well (what `to_tflite` falls back to when the all-int8 file fails verification).
#: `int8_small`: int8 with one weight scale per tensor, no tensor names and float16
#: front-end matrices (`per_channel=False, strip_names=True, float16_constants=True`), the
#: smallest int8 file.
COMPARISON_MODES = ("int8_whole", "int8_first", "int8_small")
CALIBRATION_CLIPS = 200


def clips_of(preset, frame) -> tuple[np.ndarray, np.ndarray]:
    """Waveforms (centred in the preset's input length) and integer labels of `frame`."""
    column = "speaker" if preset.task == "speakers" else "digit"
    ds = audio_dataset(frame, classes=list(preset.class_names) if column == "speaker"
                       else fsdd.CLASSES, label_column=column,
                       sample_rate=preset.sample_rate,
                       duration=preset.input_length / preset.sample_rate, batch_size=100,
                       shuffle=False, length_mode="center")
    xs, ys = zip(*ds.as_numpy_iterator(), strict=True)
    return np.concatenate(xs), np.concatenate(ys)


def lite_accuracy(path: pathlib.Path, x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of a `.tflite` file in LiteRT, clip by clip at batch 1."""
    interpreter = runtime.make_interpreter(path.read_bytes())
    allocated: list = []
    predicted = [int(runtime.invoke(interpreter, [clip[None]], allocated=allocated)[0].argmax())
                 for clip in x]
    return float((np.asarray(predicted) == y).mean())


def keras_accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return float((np.asarray(model.predict(x, batch_size=100, verbose=0)).argmax(1) == y).mean())


def fold_model(preset_name: str, speaker: str):
    """The leave-one-speaker-out fold model of a recipe trained without `speaker`, or None.

    For a stack preset: the stack of its members' fold models without `speaker`, combined
    as the preset combines them (None unless every member has that fold)."""
    preset = hub.get_preset(preset_name)
    if preset.architecture == "stack":
        import kerasaudio.ensemble as ens

        folds = [fold_model(m["name"], speaker) for m in preset.config["members"]]
        if any(f is None for f in folds):
            return None
        return ens.stack(folds, aggregate=preset.config.get("aggregate", "gmean"),
                         class_names=list(preset.class_names),
                         sample_rates=preset.sample_rate)
    run = ROOT / "zoo" / "runs" / preset_name
    weights = run / "loso" / f"{speaker}.weights.h5"
    if not (run / "config.json").exists() or not weights.exists():
        return None
    sys.path.insert(0, str(ROOT))
    from kerasaudio.training.build import build_from_config

    return build_from_config(json.loads((run / "config.json").read_text()), weights=weights)


def fold_models(preset_name: str):
    """`(speaker, model)` for each saved leave-one-speaker-out fold of a recipe."""
    for speaker in fsdd.SPEAKERS:
        model = fold_model(preset_name, speaker)
        if model is not None:
            yield speaker, model


def export_mode(model, mode: str, calibration: np.ndarray, directory: pathlib.Path,
                stem: str, preset=None, verify: bool = True):
    path = directory / f"{stem}_{mode}.tflite"
    extra = {}
    if preset is not None:
        extra = dict(sample_rate=preset.sample_rate, class_names=list(preset.class_names))
    if mode == "int8_small":
        extra.update(per_channel=False, strip_names=True, float16_constants=True)
    if mode == "int8_first":
        extra["keep_float"] = export.first_layers_after_frontend(model)
    report = export.to_tflite(model, path, quantization=MODES[mode],
                              representative_data=calibration,
                              float_frontend=mode != "int8_whole",
                              # the comparison row is measured, not gated
                              verify=verify and mode != "int8_whole", **extra)
    return path, report


def bench_preset(name: str, modes: list[str], *, index, loso: bool, directory: pathlib.Path,
                 log) -> dict:
    preset = hub.get_preset(name)
    model = kerasaudio.create_model(name)
    train, test = fsdd.official_split(index)
    rng = np.random.default_rng(0)
    calib_frame = train.iloc[rng.permutation(len(train))[:CALIBRATION_CLIPS]]
    calibration, _ = clips_of(preset, calib_frame)
    x_test, y_test = clips_of(preset, test)
    result = {"preset": name, "architecture": preset.architecture,
              "parameters": model.count_params(),
              "keras_official_accuracy": keras_accuracy(model, x_test, y_test), "modes": {}}
    log(f"\n{name}: {preset.architecture}, {model.count_params():,} parameters, Keras "
        f"official accuracy {result['keras_official_accuracy']:.4f}")
    for mode in modes:
        started = time.perf_counter()
        try:
            path, report = export_mode(model, mode, calibration, directory, name, preset)
        except (export.ConversionError, export.VerificationError) as error:
            log(f"  {mode:8s} FAILED: {str(error).splitlines()[0]}")
            result["modes"][mode] = {"error": str(error).splitlines()[0]}
            if isinstance(error, export.VerificationError):
                # What the refused file would have given (measured, never recorded as a
                # preset's number).
                path, report = export_mode(model, mode, calibration, directory, name,
                                           preset, verify=False)
                accuracy = lite_accuracy(path, x_test, y_test)
                result["modes"][mode].update(unverified_size_bytes=report.size_bytes,
                                             unverified_official_accuracy=accuracy)
                log(f"  {'':8s} unverified file: {report.size_bytes / 1e6:.3f} MB, "
                    f"official {accuracy:.4f}")
            continue
        accuracy = lite_accuracy(path, x_test, y_test)
        row = {"size_bytes": report.size_bytes, "max_abs_diff": report.max_abs_diff,
               "official_accuracy": accuracy, "litert_ms": report.litert_ms,
               "keras_ms": report.keras_ms, "float_ops": report.float_ops,
               "ops": report.ops}
        result["modes"][mode] = row
        log(f"  {mode:8s} {report.size_bytes / 1e6:8.3f} MB  official {accuracy:.4f}  "
            f"max|diff| {report.max_abs_diff:.4f}  LiteRT {report.litert_ms:6.2f} ms  "
            f"Keras {report.keras_ms:6.2f} ms  ({time.perf_counter() - started:.0f} s)"
            + (f"  float ops: {', '.join(report.float_ops)}" if report.float_ops else ""))
    if loso and preset.task == "digits":
        per_mode: dict[str, dict] = {m: {} for m in modes}
        for speaker, fold in fold_models(name):
            held = index[index.speaker == speaker]
            x_held, y_held = clips_of(preset, held)
            fold_calib, _ = clips_of(preset, index[index.speaker != speaker].sample(
                CALIBRATION_CLIPS, random_state=0))
            keras_acc = keras_accuracy(fold, x_held, y_held)
            per_mode.setdefault("keras", {})[speaker] = keras_acc
            for mode in modes:
                try:
                    path, _ = export_mode(fold, mode, fold_calib, directory,
                                          f"{name}_{speaker}")
                except (export.ConversionError, export.VerificationError) as error:
                    log(f"  LOSO {speaker} {mode}: FAILED {str(error).splitlines()[0]}")
                    continue
                per_mode[mode][speaker] = lite_accuracy(path, x_held, y_held)
                path.unlink()
            log(f"  LOSO held out {speaker:9s} Keras {keras_acc:.4f}  " + "  ".join(
                f"{m} {per_mode[m].get(speaker, float('nan')):.4f}" for m in modes))
        result["loso"] = {m: {"per_speaker": v, "mean": float(np.mean(list(v.values())))}
                          for m, v in per_mode.items() if v}
    float_row = result["modes"].get("float")
    if float_row and "size_bytes" in float_row:
        for row in result["modes"].values():
            if "size_bytes" in row:
                row["size_ratio"] = row["size_bytes"] / float_row["size_bytes"]
                row["latency_ratio"] = row["litert_ms"] / float_row["litert_ms"]
                row["accuracy_delta"] = row["official_accuracy"] - float_row[
                    "official_accuracy"]
    return result


def metrics_for_manifest(result: dict) -> dict:
    """The numbers `--record` writes into the preset's manifest entry."""
    out = {}
    for mode, row in result["modes"].items():
        if "size_bytes" not in row or mode in ("float", *COMPARISON_MODES):
            continue
        out[f"{mode}_size_mb"] = round(row["size_bytes"] / 1e6, 4)
        out[f"{mode}_official_accuracy"] = round(row["official_accuracy"], 5)
        loso = result.get("loso", {}).get(mode)
        if loso and len(loso["per_speaker"]) == len(fsdd.SPEAKERS):
            out[f"{mode}_loso_accuracy"] = round(loso["mean"], 5)
    if "float" in result["modes"] and "size_bytes" in result["modes"]["float"]:
        out["tflite_float_size_mb"] = round(result["modes"]["float"]["size_bytes"] / 1e6, 4)
    return out


def summary(results: list[dict]) -> str:
    lines = ["| preset | mode | size MB | x float | official acc (Keras) | LOSO mean | "
             "LiteRT ms | x float | Keras predict ms | LiteRT / Keras | float ops |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for result in results:
        for mode, row in result["modes"].items():
            if "size_bytes" not in row:
                unverified = ""
                if "unverified_official_accuracy" in row:
                    unverified = (f" (unverified file: {row['unverified_size_bytes'] / 1e6:.3f}"
                                  f" MB, official {row['unverified_official_accuracy']:.4f})")
                lines.append(f"| {result['preset']} | {mode} | failed: {row['error']}"
                             f"{unverified} |" + " |" * 8)
                continue
            loso = result.get("loso", {}).get(mode)
            loso_text = (f"{loso['mean']:.4f} ({len(loso['per_speaker'])} folds)" if loso
                         else "-")
            lines.append(
                f"| {result['preset']} | {mode} | {row['size_bytes'] / 1e6:.3f} | "
                f"{row.get('size_ratio', float('nan')):.3f} | {row['official_accuracy']:.4f} "
                f"({result['keras_official_accuracy']:.4f}) | {loso_text} | "
                f"{row['litert_ms']:.2f} | {row.get('latency_ratio', float('nan')):.2f} | "
                f"{row['keras_ms']:.2f} | {row['litert_ms'] / row['keras_ms']:.3f} | "
                f"{', '.join(row['float_ops']) or '-'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=None,
                        help="comma-separated preset names (default: every published one)")
    parser.add_argument("--modes", default="float,float16,dynamic,int8,int16x8")
    parser.add_argument("--loso", action="store_true",
                        help="also leave-one-speaker-out accuracy from the recipe's fold "
                             "models (zoo/runs/<preset>/loso/)")
    parser.add_argument("--record", action="store_true",
                        help="write quantized sizes and accuracies into the manifests")
    parser.add_argument("--data", default=None, help="FSDD directory (default: "
                        "$KERASAUDIO_DATA or ../shared/data/fsdd)")
    parser.add_argument("--json", default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    modes = args.modes.split(",")
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}; choose from {list(MODES)}")
    names = args.presets.split(",") if args.presets else list_presets()
    if not names:
        parser.error("no presets are published")
    index = fsdd.load(args.data)
    print(f"kerasaudio {kerasaudio.__version__}, keras {keras.__version__}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{datetime.date.today().isoformat()}; load average {os.getloadavg()[0]:.2f}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            results.append(bench_preset(name, modes, index=index, loso=args.loso,
                                        directory=pathlib.Path(tmp),
                                        log=lambda s: print(s, flush=True)))
            if args.record:
                recorded = metrics_for_manifest(results[-1])
                sys.path.insert(0, str(ROOT))
                from zoo.publish import record_metrics

                record_metrics(name, recorded)
                print(f"  recorded in the manifest: {recorded}")
    print("\n" + summary(results))
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    if args.json:
        pathlib.Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
