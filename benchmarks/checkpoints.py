"""Converted checkpoints against their PyTorch reference: CNN14 speed and its TFLite files.

For PANNs CNN14 at full size on 10 s of 32 kHz audio:

1. Inference clips/s of the Keras model (TensorFlow backend, one compiled `tf.function`
   call per batch) and of the reference `panns_inference.models.Cnn14` (`eval()`,
   `torch.no_grad()`), with the same random weights (the reference's state dict, converted
   by `load_panns_weights`), at batch 1 and batch 8. The two run in alternation, call by
   call, so that a shared machine's load falls on both alike; the ratio Keras / PyTorch
   is printed (target >= 1.0x). The largest output difference between them is printed too.
2. The float32 and int8 TFLite files (`kerasaudio.export.to_tflite`, builtin ops only,
   verified in LiteRT; int8 calibrated on real FSDD digits joined to 10 s and resampled to
   32 kHz): sizes, the int8/float ratio (target <= 0.26x) and LiteRT latency per clip.

`--narrow` runs part 2 on a narrow CNN14 (the brief's fallback when the full-size int8
conversion does not fit in the time available). Run:
`python benchmarks/checkpoints.py [--repeats 5] [--narrow]` (several minutes on 2 cores;
the full-size int8 conversion dominates).

The reference is imported without running `panns_inference/__init__.py`, which downloads
a label file with `wget`.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import tempfile
import time
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

SAMPLE_RATE = 32000
SECONDS = 10
SAMPLES = SAMPLE_RATE * SECONDS
NARROW = {"filters": (8, 16, 32, 64, 128, 256), "embedding_dim": 256}


def reference_models():
    """`panns_inference.models` through a stub parent package (no `wget` at import)."""
    spec = importlib.util.find_spec("panns_inference")
    if spec is None:
        raise SystemExit("pip install --no-deps panns-inference==0.1.1 torchlibrosa==0.1.0")
    stub = types.ModuleType("panns_inference")
    stub.__path__ = list(spec.submodule_search_locations)
    sys.modules.setdefault("panns_inference", stub)
    return importlib.import_module("panns_inference.models")


def randomized_reference(torch, models, seed: int = 0):
    """Full-size `Cnn14` (32 kHz) with random weights, BatchNorm statistics and biases."""
    torch.manual_seed(seed)
    model = models.Cnn14(sample_rate=SAMPLE_RATE, window_size=1024, hop_size=320,
                         mel_bins=64, fmin=50, fmax=14000, classes_num=527)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                for tensor, low, high in ((module.weight, 0.5, 1.5),
                                          (module.bias, -0.2, 0.2),
                                          (module.running_mean, -0.5, 0.5),
                                          (module.running_var, 0.5, 2.0)):
                    tensor.copy_(torch.rand(tensor.shape, generator=generator)
                                 * (high - low) + low)
    return model.eval()


def fsdd_audio(clips: int, *, seconds: float = SECONDS) -> np.ndarray:
    """`(clips, samples)`: FSDD digits (the bundled sample) joined, at 32 kHz."""
    from kerasaudio.audio_io import load_audio
    from kerasaudio.datasets import fsdd

    paths = list(fsdd.load(sample=True).path)
    length = int(seconds * SAMPLE_RATE)
    out, cursor = [], 0
    for _ in range(clips):
        parts, total = [], 0
        while total < length:
            audio = load_audio(paths[cursor % len(paths)], sample_rate=SAMPLE_RATE)[0]
            parts.append(audio)
            total += len(audio)
            cursor += 1
        out.append(np.concatenate(parts)[:length])
    return np.stack(out).astype("float32")


def speed(repeats: int) -> None:
    import tensorflow as tf
    import torch

    import kerasaudio

    models = reference_models()
    reference = randomized_reference(torch, models)
    model = kerasaudio.create_model("panns_cnn14", input_shape=(SAMPLES,),
                                    weights=reference.state_dict())
    run = tf.function(lambda x: model(x, training=False), jit_compile=False,
                      reduce_retracing=True)
    audio = fsdd_audio(8)
    with torch.no_grad():
        theirs = reference(torch.from_numpy(audio[:2]))["clipwise_output"].numpy()
    ours = run(tf.constant(audio[:2])).numpy()
    print(f"torch threads {torch.get_num_threads()}; output max |Keras - PyTorch| "
          f"{np.abs(ours - theirs).max():.2e} (max |output| {np.abs(theirs).max():.3f})")
    for batch in (1, 8):
        x = audio[:batch]
        tf_x, torch_x = tf.constant(x), torch.from_numpy(x)
        run(tf_x)  # trace and warm up
        with torch.no_grad():
            reference(torch_x)
        keras_times, torch_times = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            run(tf_x).numpy()
            keras_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            with torch.no_grad():
                reference(torch_x)["clipwise_output"].numpy()
            torch_times.append(time.perf_counter() - start)
        keras_rate = batch / np.median(keras_times)
        torch_rate = batch / np.median(torch_times)
        print(f"batch {batch}: Keras-TF {keras_rate:.2f} clips/s, PyTorch {torch_rate:.2f} "
              f"clips/s (median of {repeats}); ratio {keras_rate / torch_rate:.2f}x")


def tflite(*, narrow: bool, clips: int) -> None:
    import kerasaudio
    from kerasaudio.datasets import audioset

    options = NARROW if narrow else {}
    model = kerasaudio.create_model("panns_cnn14", input_shape=(SAMPLES,), **options)
    audio = fsdd_audio(clips)
    names = audioset.class_names()
    reports = {}
    with tempfile.TemporaryDirectory() as directory:
        for quantization in (None, "int8"):
            start = time.perf_counter()
            reports[quantization] = report = kerasaudio.export.to_tflite(
                model, os.path.join(directory, f"cnn14_{quantization}.tflite"),
                quantization=quantization, representative_data=audio,
                sample_rate=SAMPLE_RATE, class_names=names)
            print(f"{'narrow ' if narrow else ''}CNN14 {quantization or 'float32'}: "
                  f"{report.size_bytes / 1e6:.2f} MB, LiteRT {report.litert_ms:.0f} ms per "
                  f"10 s clip (Keras {report.keras_ms:.0f} ms), max |TFLite - Keras| "
                  f"{report.max_abs_diff:.2e}, top-1 agreement {report.top1_agreement:.2f}; "
                  f"exported and verified in {time.perf_counter() - start:.0f} s")
    ratio = reports["int8"].size_bytes / reports[None].size_bytes
    speedup = reports[None].litert_ms / reports["int8"].litert_ms
    print(f"int8 / float32 size {ratio:.3f}x; int8 LiteRT is {speedup:.2f}x the float "
          "file's speed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--clips", type=int, default=8,
                        help="10 s clips for int8 calibration and verification")
    parser.add_argument("--narrow", action="store_true",
                        help="TFLite part on a narrow CNN14")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-tflite", action="store_true")
    args = parser.parse_args()
    if not args.skip_speed:
        speed(args.repeats)
    if not args.skip_tflite:
        tflite(narrow=args.narrow, clips=args.clips)


if __name__ == "__main__":
    main()
