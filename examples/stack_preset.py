"""The five-model digit stack as one preset, and a stack of your own as a registered model.

1. `create_model("stack_fsdd_digits")`: every digit preset, probabilities combined by their
   geometric mean (above its best member on FSDD leave-one-speaker-out: BENCHMARKS.md);
   classify the bundled FSDD clips with it and with each member.
2. `create_model("stack", members=[...], aggregate=...)`: another stack from preset names,
   published (`zoo.publish.publish`, the repository's tooling) into a temporary manifest so
   it loads by name like any preset.
3. Export the published stack to TFLite: dynamic range (the fast small file) and int8 with
   the BiLSTM kept float32 (TFLite's integer LSTM kernel is slow).

Run from the repository root (publishing is the repository's tooling, `zoo/`):
`PYTHONPATH=. python examples/stack_preset.py [--out DIR]` (offline; about a minute on 2
CPUs).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

import kerasaudio
from kerasaudio import export, hub
from zoo.publish import publish


def accuracy(model, clips: np.ndarray, labels: np.ndarray) -> float:
    return float((model.predict(clips, verbose=0).argmax(1) == labels).mean())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="where the .tflite files go (default: a "
                                                    "temporary directory)")
    args = parser.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="kerasaudio-stack-"))
    out.mkdir(parents=True, exist_ok=True)

    stack = kerasaudio.create_model("stack_fsdd_digits")
    preset = hub.preset_of(stack)
    clips, labels = hub.representative_clips(preset)  # the 120 bundled FSDD clips
    print(f"{preset.name}: {preset.parameters:,} parameters, LOSO "
          f"{preset.metrics['loso_accuracy']:.1%}, bundled clips "
          f"{accuracy(stack, clips, labels):.1%}")
    for member in preset.config["members"]:
        name = member["name"]
        print(f"  member {name:30s} LOSO {hub.get_preset(name).metrics['loso_accuracy']:.1%}"
              f"  bundled clips {accuracy(kerasaudio.create_model(name), clips, labels):.1%}")

    # A stack of your own: preset names (their trained weights) and an aggregate.
    mine = kerasaudio.create_model("stack", members=["logmel_cnn_fsdd_digits",
                                                     "mfcc_cnn_fsdd_digits"], aggregate="mean")
    manifest = out / "manifest" / "manifest.json"
    publish(mine, "two_cnns_fsdd_digits", task="digits", class_names=preset.class_names,
            sample_rate=8000, input_length=8000, metrics={}, recipe="examples/stack_preset.py",
            training_data="the two log-mel/MFCC CNN presets", license=preset.license,
            manifest_path=manifest)
    os.environ["KERASAUDIO_MANIFEST"] = str(manifest)
    again = kerasaudio.create_model("two_cnns_fsdd_digits")
    print(f"two_cnns_fsdd_digits (published to {manifest}): bundled clips "
          f"{accuracy(again, clips, labels):.1%}")
    del os.environ["KERASAUDIO_MANIFEST"]

    for mode, options in (("dynamic", {}), ("int8", {"keep_float": ["bilstm"]})):
        path = out / f"stack_fsdd_digits_{mode}.tflite"
        report = export.to_tflite(stack, path, quantization=mode, **options)
        print(f"{path.name}: {report.size_bytes / 1e6:.3f} MB, max |diff| "
              f"{report.max_abs_diff:.3f}, LiteRT {report.litert_ms:.2f} ms/clip")
    lite = export.TFLiteModel(out / "stack_fsdd_digits_dynamic.tflite")
    probs = lite.predict(clips[0])
    print(f"TFLiteModel on one clip: {lite.class_names[int(probs.argmax())]} "
          f"(true {preset.class_names[labels[0]]})")


if __name__ == "__main__":
    main()
