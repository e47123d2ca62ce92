"""Export a pretrained preset to TFLite in every mode, verified, and run it without Keras.

For each mode (float32, float16, dynamic range, int8) `kerasaudio.export.to_tflite`
converts the whole model, front end included, so the file takes raw audio; it runs the
file in LiteRT next to the Keras model on the preset's bundled FSDD clips (which also
calibrate int8) and writes it only if they agree within the mode's tolerance. The
smallest int8 file adds per-tensor weight scales, no tensor names and float16 front-end
matrices. Finally `kerasaudio.runtime.TFLiteModel`, which needs neither Keras nor
TensorFlow, classifies a bundled clip with the int8 file, reading the class names from the
file's metadata (MediaPipe's `AudioClassifier` reads the same metadata).

Run: `python examples/tflite_export.py [--preset deep_speaker_fsdd_speakers] [--out out]`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import kerasaudio
from kerasaudio import export
from kerasaudio.datasets import fsdd
from kerasaudio.runtime import TFLiteModel

MODES = {"float32": {}, "float16": {"quantization": "float16"},
         "dynamic": {"quantization": "dynamic"}, "int8": {"quantization": "int8"},
         "int8_small": {"quantization": "int8", "per_channel": False, "strip_names": True,
                        "float16_constants": True}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="logmel_cnn_fsdd_digits",
                        help="a pretrained preset (kerasaudio models --pretrained)")
    parser.add_argument("--out", default="out", help="directory for the .tflite files")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = kerasaudio.create_model(args.preset)
    sizes = {}
    for name, options in MODES.items():
        path = out / f"{args.preset}_{name}.tflite"
        report = export.to_tflite(model, path, **options)  # refuses to write on mismatch
        sizes[name] = report.size_bytes
        print(f"{name:10s} {report.size_bytes / 1e6:6.3f} MB "
              f"({report.size_bytes / sizes['float32']:.3f}x)  max |diff| "
              f"{report.max_abs_diff:.4f}  accuracy {report.tflite_accuracy:.3f} "
              f"(Keras {report.keras_accuracy:.3f})  LiteRT {report.litert_ms:.2f} ms"
              + (f"  kept float: {', '.join(report.kept_float)}" if report.kept_float else ""))
    runner = TFLiteModel(out / f"{args.preset}_int8.tflite")
    clip = fsdd.load(sample=True).iloc[0]
    probabilities = runner.predict(clip.path)
    best = probabilities.argsort()[::-1][:3]
    print(f"\n{Path(clip.path).name} (digit {clip.digit}, speaker {clip.speaker}) with the "
          f"int8 file: " + ", ".join(f"{runner.class_names[i]} {probabilities[i]:.2f}"
                                      for i in best))


if __name__ == "__main__":
    main()
