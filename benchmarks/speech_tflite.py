"""wav2vec 2.0 / HuBERT / WavLM sequence classifiers as TFLite files: float32 against int8.

For one family at its registered base size (or `--small`, the tests' configuration), with
random weights (norms, biases and gates perturbed away from their initial values) and a
softmax head of 3 classes, on real FSDD digits resampled to 16 kHz and cut or padded to
1 s: the float32 and int8 files of `kerasaudio.export.to_tflite` (builtin ops only,
verified in LiteRT; int8 keeps the feature encoder float32, `int8_float_scopes`), their
sizes, the int8/float ratio, max |TFLite - Keras|, top-1 agreement and LiteRT latency,
on the recordings as they are (int8 also with their levels spread over 40 dB). With
`--all-int8`, the int8 file with the feature encoder quantized too
(`float_frontend=False`), unverified, for comparison.

Run: `python benchmarks/speech_tflite.py --family wav2vec2 [--small] [--all-int8]`
(full size: several minutes per file on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
             conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)


def classifier(family: str, small: bool):
    """A random 3-class `<family>_base` classifier with softmax, 1 s inputs."""
    import keras

    import kerasaudio

    keras.utils.set_random_seed(0)
    options = dict(SMALL, **({"num_buckets": 16, "max_bucket_distance": 20}
                             if family == "wavlm" else {})) if small else {}
    model = kerasaudio.create_model(f"{family}_base", include_top=True, classes=3,
                                    class_names=["zero", "one", "two"],
                                    head="sequence_classification",
                                    classifier_activation="softmax", input_shape=(16000,),
                                    **options)
    rng = np.random.default_rng(0)
    for weight in model.weights:
        if any(key in weight.path for key in ("gamma", "beta", "bias", "gru_rel_pos_const")):
            value = keras.ops.convert_to_numpy(weight)
            weight.assign(value + 0.2 * rng.standard_normal(value.shape).astype("float32"))
    return model


def speech() -> tuple[np.ndarray, np.ndarray]:
    """FSDD digits 0-2 of the bundled sample (36 clips, every speaker) at 16 kHz, 1 s:
    as recorded, and with gains spread from 0 to -40 dB."""
    import kerasaudio
    from kerasaudio.audio_io import load_audio
    from kerasaudio.data import fix_length

    sample = kerasaudio.datasets.fsdd.load(sample=True)
    clips = np.stack([fix_length(load_audio(p, sample_rate=16000)[0], 16000)
                      for p in sample[sample.digit <= 2].path]).astype("float32")
    gains = np.geomspace(1.0, 0.01, len(clips))[np.random.default_rng(0).permutation(
        len(clips))]
    return clips, (clips * gains[:, None]).astype("float32")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=["wav2vec2", "hubert", "wavlm"],
                        default="wav2vec2")
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--all-int8", action="store_true")
    args = parser.parse_args()
    from kerasaudio import export
    from kerasaudio.errors import VerificationError

    model = classifier(args.family, args.small)
    print(f"{args.family}_base{' (small)' if args.small else ''}: "
          f"{model.count_params():,} parameters")
    runs = [("float32", None, {}), ("int8", "int8", {})]
    if args.all_int8:
        runs.append(("int8, all quantized", "int8",
                     {"float_frontend": False, "keep_float": [], "verify": False}))
    sizes = {}
    for clips_name, clips in zip(("recorded", "levels spread 40 dB"), speech(), strict=True):
        for label, quantization, options in runs:
            if label == "float32" and label in sizes:
                continue  # one float32 file
            start = time.perf_counter()
            try:
                report = export.to_tflite(model, None, quantization=quantization,
                                          representative_data=clips, **options)
            except VerificationError as failed:
                report = failed.report
            sizes.setdefault(label, report.size_bytes)
            verdict = ("unverified" if not options.get("verify", True)
                       else "verified" if report.passed else "REFUSED")
            print(f"{clips_name:20s} {label:20s} {report.size_bytes / 1e6:9.3f} MB "
                  f"x{report.size_bytes / sizes['float32']:.3f}  "
                  f"max|diff| {report.max_abs_diff:.4f}  top-1 {report.top1_agreement:.3f}"
                  f"  {verdict}  LiteRT {report.litert_ms:.1f} ms  "
                  f"{time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
