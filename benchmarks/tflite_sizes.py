"""int8 file size against float32 for every zoo architecture at its paper configuration.

The presets (`benchmarks/tflite.py`) are small FSDD models (0.1-3 MB) whose int8 files
carry a fixed overhead (float32 front end, flatbuffer structure, biases) of tens of kB;
this script measures the same exports for the architectures as `create_model(name)`
builds them by default (the papers' widths and class counts), with the default front end,
untrained weights (sizes do not depend on the values), calibrated on the bundled FSDD
sample clips. For each: float32, int8 (per-channel, the default) and the smallest int8
(`per_channel=False, strip_names=True, float16_constants=True`) sizes, their ratios, and
the int8 files' max difference from Keras on the calibration clips (measured, not gated:
untrained weights). The stack (made of other zoo models) and wav2vec 2.0 (an encoder; see
`benchmarks/wav2vec2.py`) are left out.

    python benchmarks/tflite_sizes.py [--models vggvox_v2,deep_speaker] [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

import kerasaudio
from kerasaudio import export
from kerasaudio.audio_io import load_audio
from kerasaudio.datasets import fsdd

#: Samples of input per architecture (its usual sample rate, about a second of audio; the
#: VGGVox nets and Deep Speaker at 16 kHz, the M-nets at 8 kHz as in their paper).
SAMPLES = {"m3": (8000, 8000), "m5": (8000, 8000), "m11": (8000, 8000), "m18": (8000, 8000),
           "m34_res": (8000, 8000), "bilstm_attention": (22050, 22050),
           "complex_cnn": (16000, 16000), "vggvox_v1": (16000, 16000),
           "vggvox_v2": (16000, 16000), "deep_speaker": (16000, 16000)}
CLIPS = 32


def clips_at(sample_rate: int, samples: int) -> np.ndarray:
    paths = fsdd.load(sample=True).path[:CLIPS]
    return np.stack([np.resize(load_audio(p, sample_rate=sample_rate)[0], samples)
                     for p in paths]).astype(np.float32)


def measure(name: str) -> dict:
    sample_rate, samples = SAMPLES[name]
    keras.utils.set_random_seed(0)
    model = kerasaudio.create_model(name, frontend="default", input_shape=(samples,))
    clips = clips_at(sample_rate, samples)
    row = {"model": name, "parameters": model.count_params()}
    for mode, options in (("float", {}),
                          ("int8", {"quantization": "int8"}),
                          ("int8_small", {"quantization": "int8", "per_channel": False,
                                          "strip_names": True, "float16_constants": True})):
        report = export.to_tflite(model, None, representative_data=clips, verify=False,
                                  keep_float=[], timeout=3600, **options)
        row[mode] = {"bytes": report.size_bytes, "max_abs_diff": report.max_abs_diff}
    for mode in ("int8", "int8_small"):
        row[mode]["x_float"] = row[mode]["bytes"] / row["float"]["bytes"]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(SAMPLES))
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    names = args.models.split(",")
    unknown = sorted(set(names) - set(SAMPLES))
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {sorted(SAMPLES)}")
    print(f"kerasaudio {kerasaudio.__version__}, keras {keras.__version__}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs, {datetime.date.today()}")
    print("| model | parameters | float MB | int8 MB | x float | smallest int8 MB | x float "
          "| int8 max diff (untrained) |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for name in names:
        row = measure(name)
        rows.append(row)
        print(f"| {name} | {row['parameters']:,} | {row['float']['bytes'] / 1e6:.3f} | "
              f"{row['int8']['bytes'] / 1e6:.3f} | {row['int8']['x_float']:.3f} | "
              f"{row['int8_small']['bytes'] / 1e6:.3f} | {row['int8_small']['x_float']:.3f} | "
              f"{row['int8']['max_abs_diff']:.3f} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
