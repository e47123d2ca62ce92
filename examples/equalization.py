"""Cross-layer equalization before per-tensor int8 quantization.

Rescales the M5 preset's channels between consecutive layers
(`kerasaudio.export.equalize_channels`: the same outputs, balanced per-channel weight
ranges), prints each layer pair with how evenly its producer's channels are spread before
and after, and converts the preset to int8 with one weight scale per tensor with and without
equalization, printing how far each file's probabilities are from Keras on the preset's
bundled clips. `to_tflite(per_channel=False)` equalizes by default.

Run: `python examples/equalization.py [--preset NAME]`.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

import kerasaudio
from kerasaudio import export
from kerasaudio.export import equalize_channels
from kerasaudio.hub import get_preset, representative_clips


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="m5_fsdd_digits")
    args = parser.parse_args(argv)
    model = kerasaudio.create_model(args.preset)
    clips, _ = representative_clips(get_preset(args.preset))
    reference = model.predict(clips, verbose=0)

    equalized, pairs = equalize_channels(model)
    change = np.abs(equalized.predict(clips, verbose=0) - reference).max()
    print(f"{args.preset}: {len(pairs)} layer pairs equalized; Keras outputs moved by "
          f"{change:.1e}")
    for pair in pairs:
        print(f"  {pair.producer} -> {', '.join(pair.consumers)}: smallest/largest channel "
              f"range {pair.balance_before:.2f} -> {pair.balance_after:.2f}")

    for equalize in (False, True):
        flatbuffer = export.convert(model, quantization="int8", representative_data=clips,
                                    per_channel=False, equalize=equalize)
        lite = np.concatenate([export.run_tflite(flatbuffer, c[None])[0] for c in clips])
        diff = np.abs(lite - reference)
        print(f"per-tensor int8, equalize={equalize}: mean |TFLite - Keras| {diff.mean():.4f}, "
              f"max {diff.max():.3f}, top-1 agreement "
              f"{(lite.argmax(1) == reference.argmax(1)).mean():.3f}")


if __name__ == "__main__":
    main()
