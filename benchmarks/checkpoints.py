"""Converted checkpoints against their PyTorch reference: CNN14 and AST speed, TFLite files.

For PANNs CNN14 at full size on 10 s of 32 kHz audio (`--model cnn14`):

1. Inference clips/s of the Keras model (TensorFlow backend, one compiled `tf.function`
   call per batch) and of the reference `panns_inference.models.Cnn14` (`eval()`,
   `torch.no_grad()`), with the same random weights (the reference's state dict, converted
   by `load_panns_weights`), at batch 1 and batch 8. The two run in alternation, call by
   call, so that a shared machine's load falls on both alike; the ratio Keras / PyTorch
   is printed (target >= 1.0x). The largest output difference between them is printed too.
2. The float32 and int8 TFLite files (`kerasaudio.export.to_tflite`, builtin ops only,
   verified in LiteRT; int8 calibrated on real FSDD digits joined to 10 s and resampled to
   32 kHz): sizes, the int8/float ratio (target <= 0.26x) and LiteRT latency per clip.

For the Audio Spectrogram Transformer at full size (transformers' `ASTConfig` defaults,
the AudioSet checkpoints' architecture, 527 classes) on 10.24 s of 16 kHz audio
(`--model ast`; 1024 filter-bank frames, AST's `max_length`):

1. Clips/s of the Keras model converted from a random `ASTForAudioClassification`
   (`save_pretrained`, then `kerasaudio.models.ast.from_huggingface`), against the
   reference in `eval()` and `torch.no_grad()`, alternating call by call, at batch 1 and
   batch 4, twice: end to end (Keras: audio in, the `KaldiFbank` front end inside;
   transformers: `ASTFeatureExtractor` on the audio, then the model) and the network
   alone (both given the same normalised filter-bank features). The largest logit
   difference is printed.
2. The float32 and int8 TFLite files of the end-to-end model with sigmoid scores (AudioSet
   is multi-label; bounded scores are what int8 resolves, logits are not), as for CNN14
   (int8 calibrated on FSDD digits joined to 10.24 s at 16 kHz). When `to_tflite` keeps
   a layer float32 to pass verification, the file with every layer quantized is
   measured too (its size and error, which verification refused).

The random AST's class and distillation tokens and position embeddings are drawn with
std 0.02 (transformers starts them at zero, which no trained checkpoint has).
`--narrow` runs the CNN14 TFLite part on a narrow CNN14; `--ast-layers N` builds an AST of
N transformer layers instead of 12 (the fallback when the full-size conversion does not
fit in the time available); `--timeout S` allows each conversion S seconds. Run:
`python benchmarks/checkpoints.py [--model all|cnn14|ast] [--repeats 5] [--narrow]`
(several minutes on 2 cores per model; the full-size int8 conversions dominate).

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
AST_RATE = 16000
AST_SECONDS = 10.24
AST_SAMPLES = int(AST_RATE * AST_SECONDS)  # 163,840: 1024 frames of 10 ms
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


def fsdd_audio(clips: int, *, seconds: float = SECONDS,
               sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """`(clips, samples)`: FSDD digits (the bundled sample) joined, at `sample_rate`."""
    from kerasaudio.audio_io import load_audio
    from kerasaudio.datasets import fsdd

    paths = list(fsdd.load(sample=True).path)
    length = int(seconds * sample_rate)
    out, cursor = [], 0
    for _ in range(clips):
        parts, total = [], 0
        while total < length:
            audio = load_audio(paths[cursor % len(paths)], sample_rate=sample_rate)[0]
            parts.append(audio)
            total += len(audio)
            cursor += 1
        out.append(np.concatenate(parts)[:length])
    return np.stack(out).astype("float32")


def alternate(first, second, repeats: int) -> tuple[float, float]:
    """Median seconds of `first()` and of `second()`, called in alternation `repeats`
    times each after one warm-up call of each."""
    first()
    second()
    times: tuple[list, list] = ([], [])
    for _ in range(repeats):
        for fn, out in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return float(np.median(times[0])), float(np.median(times[1]))


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

        def theirs_once(torch_x=torch_x):
            with torch.no_grad():
                reference(torch_x)["clipwise_output"].numpy()

        keras_s, torch_s = alternate(lambda tf_x=tf_x: run(tf_x).numpy(), theirs_once,
                                     repeats)
        print(f"batch {batch}: Keras-TF {batch / keras_s:.2f} clips/s, PyTorch "
              f"{batch / torch_s:.2f} clips/s (median of {repeats}); ratio "
              f"{torch_s / keras_s:.2f}x")


def ast_models(layers: int, activation=None):
    """A random full-size `ASTForAudioClassification` (527 classes; `layers` transformer
    layers) and the Keras model converted from its saved checkpoint (with the front end;
    logits out, as transformers, or `activation`'s scores) and the same network without
    the front end."""
    import torch
    import transformers

    from kerasaudio.models.ast import from_huggingface

    torch.manual_seed(0)
    config = transformers.ASTConfig(num_labels=527, num_hidden_layers=layers)
    reference = transformers.ASTForAudioClassification(config).eval()
    # transformers starts the class and distillation tokens and the position embeddings
    # at zero: two tokens are then constant, the first layer norm divides them by
    # sqrt(eps), and its int8 range rounds every other token's scale to 0. A trained
    # checkpoint's are not zero: draw them as AST's original code initialises them.
    embeddings = reference.audio_spectrogram_transformer.embeddings
    with torch.no_grad():
        for tensor in (embeddings.cls_token, embeddings.distillation_token,
                       embeddings.position_embeddings):
            tensor.normal_(0.0, 0.02)
    with tempfile.TemporaryDirectory() as directory:
        reference.save_pretrained(directory)
        extractor = transformers.ASTFeatureExtractor()
        extractor.save_pretrained(directory)
        model = from_huggingface(directory, input_shape=(AST_SAMPLES,),
                                 classifier_activation=activation)
        network = from_huggingface(directory, frontend=None)
    return reference, extractor, model, network


def ast_speed(repeats: int, layers: int, batches=(1, 4)) -> None:
    import tensorflow as tf
    import torch

    reference, extractor, model, network = ast_models(layers)
    run = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    run_network = tf.function(lambda x: network(x, training=False), reduce_retracing=True)
    audio = fsdd_audio(max(2, *batches), seconds=AST_SECONDS, sample_rate=AST_RATE)

    def features(x):
        return extractor(list(x), sampling_rate=AST_RATE,
                         return_tensors="pt")["input_values"]

    with torch.no_grad():
        theirs = reference(features(audio[:2])).logits.numpy()
    ours = run(tf.constant(audio[:2])).numpy()
    print(f"AST ({layers} layers, {model.count_params():,} parameters), 10.24 s at 16 kHz; "
          f"torch threads {torch.get_num_threads()}; logits max |Keras - PyTorch| "
          f"{np.abs(ours - theirs).max():.2e} (max |logit| {np.abs(theirs).max():.3f})")
    for batch in batches:
        x = audio[:batch]
        tf_x, feats = tf.constant(x), features(x)
        tf_feats = tf.constant(feats.numpy())

        def theirs_end_to_end(x=x):
            with torch.no_grad():
                reference(features(x)).logits.numpy()

        def theirs_network(feats=feats):
            with torch.no_grad():
                reference(feats).logits.numpy()

        for what, ours_fn, theirs_fn in (
                ("end to end", lambda tf_x=tf_x: run(tf_x).numpy(), theirs_end_to_end),
                ("network alone", lambda f=tf_feats: run_network(f).numpy(),
                 theirs_network)):
            keras_s, torch_s = alternate(ours_fn, theirs_fn, repeats)
            print(f"AST batch {batch}, {what}: Keras-TF {batch / keras_s:.2f} clips/s, "
                  f"transformers {batch / torch_s:.2f} clips/s (median of {repeats}); "
                  f"ratio {torch_s / keras_s:.2f}x")


def ast_tflite(*, clips: int, layers: int, timeout: float) -> None:
    import kerasaudio
    from kerasaudio.datasets import audioset

    _, _, model, _ = ast_models(layers, activation="sigmoid")  # AudioSet's scores
    audio = fsdd_audio(clips, seconds=AST_SECONDS, sample_rate=AST_RATE)
    export_and_compare(model, audio, name=f"AST ({layers} layers)", sample_rate=AST_RATE,
                       class_names=audioset.class_names(), kerasaudio=kerasaudio,
                       timeout=timeout)


def export_and_compare(model, audio, *, name: str, sample_rate: int, class_names,
                       kerasaudio, timeout: float = 900.0) -> None:
    """Float32 and int8 TFLite files of `model`: sizes, LiteRT latency, their ratio."""
    reports = {}
    with tempfile.TemporaryDirectory() as directory:
        for quantization in (None, "int8"):
            start = time.perf_counter()
            reports[quantization] = report = kerasaudio.export.to_tflite(
                model, os.path.join(directory, f"model_{quantization}.tflite"),
                quantization=quantization, representative_data=audio,
                sample_rate=sample_rate, class_names=class_names, timeout=timeout)
            print(f"{name} {quantization or 'float32'}: "
                  f"{report.size_bytes / 1e6:.2f} MB, LiteRT {report.litert_ms:.0f} ms per "
                  f"clip (Keras {report.keras_ms:.0f} ms), max |TFLite - Keras| "
                  f"{report.max_abs_diff:.2e}, top-1 agreement {report.top1_agreement:.2f}; "
                  f"exported and verified in {time.perf_counter() - start:.0f} s; float "
                  f"layers: {report.kept_float or 'front end only'}", flush=True)
    ratio = reports["int8"].size_bytes / reports[None].size_bytes
    speedup = reports[None].litert_ms / reports["int8"].litert_ms
    print(f"{name}: int8 / float32 size {ratio:.3f}x; int8 LiteRT is {speedup:.2f}x the "
          "float file's speed")
    if reports["int8"].kept_float:  # the all-int8 file failed verification: measure it
        from kerasaudio.errors import VerificationError

        with tempfile.TemporaryDirectory() as directory:
            try:
                report = kerasaudio.export.to_tflite(
                    model, os.path.join(directory, "all_int8.tflite"), quantization="int8",
                    representative_data=audio, sample_rate=sample_rate,
                    class_names=class_names, keep_float=[], timeout=timeout)
            except VerificationError as error:
                report = error.report
        share = report.size_bytes / reports[None].size_bytes
        print(f"{name} int8 with every layer quantized (what verification refused): "
              f"{report.size_bytes / 1e6:.2f} MB ({share:.3f}x float), max |TFLite - "
              f"Keras| {report.max_abs_diff:.2e} (tolerance {report.tolerance:.2e}), top-1 "
              f"agreement {report.top1_agreement:.2f}", flush=True)


def tflite(*, narrow: bool, clips: int) -> None:
    import kerasaudio
    from kerasaudio.datasets import audioset

    options = NARROW if narrow else {}
    model = kerasaudio.create_model("panns_cnn14", input_shape=(SAMPLES,), **options)
    export_and_compare(model, fsdd_audio(clips), name=f"{'narrow ' if narrow else ''}CNN14",
                       sample_rate=SAMPLE_RATE, class_names=audioset.class_names(),
                       kerasaudio=kerasaudio)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("all", "cnn14", "ast"), default="all")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--clips", type=int, default=8,
                        help="clips for int8 calibration and verification")
    parser.add_argument("--ast-batches", type=int, nargs="+", default=[1, 4],
                        help="AST batch sizes timed")
    parser.add_argument("--ast-layers", type=int, default=12,
                        help="transformer layers of the AST (12: full size)")
    parser.add_argument("--narrow", action="store_true",
                        help="TFLite part on a narrow CNN14")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds allowed for each TFLite conversion")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-tflite", action="store_true")
    args = parser.parse_args()
    if args.model in ("all", "cnn14"):
        if not args.skip_speed:
            speed(args.repeats)
        if not args.skip_tflite:
            tflite(narrow=args.narrow, clips=args.clips)
    if args.model in ("all", "ast"):
        if not args.skip_speed:
            ast_speed(args.repeats, args.ast_layers, tuple(args.ast_batches))
        if not args.skip_tflite:
            ast_tflite(clips=args.clips, layers=args.ast_layers, timeout=args.timeout)


if __name__ == "__main__":
    main()
