"""LiteRT latency of the LSTM forms the converters produce from `kerasaudio.layers.LSTM`.

The BiLSTM of `bilstm_attention` (log-mel frames in, scores out), batch 1:
- (a) fused: `kerasaudio.export.convert` (`UNIDIRECTIONAL_SEQUENCE_LSTM`, cell unclipped),
  unmasked: the reference;
- (b) WHILE, unmasked: `tf.lite.TFLiteConverter.from_concrete_functions` at a fixed batch
  of 1 (a standard route; more than `MAX_UNCLIPPED_FRAMES` frames: the builtin WHILE loop);
- (c) WHILE, masked (`mask_value=0.0`): the same route; the loop carries the mask;
- (d) WHILE, masked, dynamic batch and frames: `TFLiteConverter.from_keras_model` of a
  model with `input_shape=(None, n_mels)`, run at batch 1 on the same frames.

Inputs are standardised log-mels of real FSDD clips (zero-padded at the end, so the masked
forms skip the padding). Each file runs `--repeats` times after two warm-up calls; the
median counts. Prints ms per call, each form's ratio to (a), and the largest difference
from Keras.

    python benchmarks/lstm_forms.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import soundfile as sf
import tensorflow as tf

import kerasaudio
from kerasaudio.datasets import fsdd
from kerasaudio.runtime import make_interpreter

#: (name, frames, n_mels, lstm_units)
CONFIGS = [("Freesound kernel size", 636, 128, 256), ("small", 200, 40, 64)]


def features(frames: int, n_mels: int) -> np.ndarray:
    """One clip's standardised log-mels, zero-padded to `frames` (a quarter is padding)."""
    path = fsdd.load().path.iloc[0]
    clip, rate = sf.read(path, dtype="float32")
    clip = np.resize(clip, rate * 4)
    front = keras.Sequential([
        keras.Input((None,)),
        kerasaudio.layers.MelSpectrogram(sample_rate=rate, n_fft=256,
                                         hop_length=len(clip) // frames, n_mels=n_mels),
        kerasaudio.layers.PowerToDb(), kerasaudio.layers.Standardize()])
    mels = keras.ops.convert_to_numpy(front(clip[None]))[0][: frames * 3 // 4]
    out = np.zeros((1, frames, n_mels), "float32")
    out[0, : len(mels)] = mels
    return out


def fixed_batch(model, frames: int, n_mels: int) -> bytes:
    spec = tf.TensorSpec((1, frames, n_mels), tf.float32)
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert()


def latency(flatbuffer: bytes, x: np.ndarray, repeats: int) -> tuple[float, np.ndarray]:
    interpreter = make_interpreter(flatbuffer)
    (detail,) = interpreter.get_input_details()
    interpreter.resize_tensor_input(detail["index"], x.shape)
    interpreter.allocate_tensors()
    times = []
    for i in range(repeats + 2):
        interpreter.set_tensor(detail["index"], x)
        start = time.perf_counter()
        interpreter.invoke()
        if i >= 2:
            times.append(time.perf_counter() - start)
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    return 1000 * float(np.median(times)), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"TF {tf.__version__}, load average {os.getloadavg()[0]:.1f}")
    for name, frames, n_mels, units in CONFIGS:
        x = features(frames, n_mels)
        options = dict(classes=80, lstm_units=units, dense_units=400)
        keras.utils.set_random_seed(0)
        plain = kerasaudio.create_model("bilstm_attention", input_shape=(frames, n_mels),
                                        **options)
        masked = kerasaudio.create_model("bilstm_attention", input_shape=(frames, n_mels),
                                         mask_value=0.0, **options)
        masked.set_weights(plain.get_weights())
        variable = kerasaudio.create_model("bilstm_attention", input_shape=(None, n_mels),
                                           mask_value=0.0, attention_bias="per_step",
                                           attention_steps=frames, **options)
        variable.set_weights(plain.get_weights())
        forms = [
            ("(a) fused, unmasked (kerasaudio.export)", plain, kerasaudio.export.convert(plain)),
            ("(b) WHILE, unmasked, batch 1", plain, fixed_batch(plain, frames, n_mels)),
            ("(c) WHILE, masked, batch 1", masked, fixed_batch(masked, frames, n_mels)),
            ("(d) WHILE, masked, dynamic batch and frames", variable,
             tf.lite.TFLiteConverter.from_keras_model(variable).convert()),
        ]
        print(f"\n{name}: {frames} frames x {n_mels} mels, BiLSTM {units} units per direction")
        reference = None
        for label, model, flatbuffer in forms:
            ms, out = latency(flatbuffer, x, args.repeats)
            reference = reference or ms
            diff = np.abs(out - keras.ops.convert_to_numpy(model(x))).max()
            print(f"  {label:46s} {ms:8.2f} ms  x{ms / reference:5.2f}  "
                  f"|diff| {diff:.1e}  {len(flatbuffer):,} bytes", flush=True)


if __name__ == "__main__":
    main()
