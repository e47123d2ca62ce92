"""wav2vec 2.0 base on CPU: clips/s of kerasaudio (TensorFlow) against transformers (PyTorch).

One run, side by side, the same random weights (converted from the PyTorch model, so the
outputs are checked to agree too): the base configuration (94.4 M parameters), 1 s and
5 s clips at 16 kHz, a batch of `--batch` clips, last hidden state.

- `keras`: `model.predict_on_batch` (a `tf.function`, no XLA).
- `keras_xla`: the same model compiled with `jit_compile=True`.
- `torch`: `transformers.Wav2Vec2Model` in `torch.inference_mode()`.

Ratios are kerasaudio / transformers clips per second (>= 1.0: kerasaudio is as fast).

    python benchmarks/wav2vec2.py [--batch 4] [--repeats 5] [--threads 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _timed(fn, repeats: int) -> float:
    """Median seconds of `repeats` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, nargs="+", default=[1.0, 5.0])
    parser.add_argument("--threads", type=int, default=0,
                        help="intra-op threads for both frameworks (0: their defaults)")
    args = parser.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf
    import torch
    import transformers

    from kerasaudio.models.wav2vec2 import Wav2Vec2

    if args.threads:
        torch.set_num_threads(args.threads)
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    torch.manual_seed(0)
    reference = transformers.Wav2Vec2Model(transformers.Wav2Vec2Config()).eval()
    with tempfile.TemporaryDirectory() as directory:
        reference.save_pretrained(directory)
        model = Wav2Vec2.from_huggingface(directory, frontend=None)
    xla = Wav2Vec2.from_config(model.get_config())
    xla.set_weights(model.get_weights())
    xla.compile(jit_compile=True)
    model.compile(jit_compile=False)

    print(f"wav2vec 2.0 base, {model.count_params():,} parameters; batch {args.batch}; "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"tensorflow {tf.__version__}, keras {keras.__version__}, "
          f"transformers {transformers.__version__}; {os.cpu_count()} CPUs")
    rng = np.random.default_rng(0)
    rows = []
    for seconds in args.seconds:
        audio = (0.1 * rng.standard_normal((args.batch, int(seconds * 16000)))).astype(
            "float32")
        tensor = torch.from_numpy(audio)

        def run_torch(tensor=tensor):
            with torch.inference_mode():
                return reference(tensor).last_hidden_state

        ours = np.asarray(model.predict_on_batch(audio))
        diff = float(np.abs(ours - run_torch().numpy()).max())
        diff_xla = float(np.abs(np.asarray(xla.predict_on_batch(audio)) - ours).max())
        times = {
            "torch": _timed(run_torch, args.repeats),
            "keras": _timed(lambda audio=audio: model.predict_on_batch(audio), args.repeats),
            "keras_xla": _timed(lambda audio=audio: xla.predict_on_batch(audio),
                                args.repeats),
        }
        rate = {k: args.batch / v for k, v in times.items()}
        rows.append((seconds, rate, diff, diff_xla))
        print(f"{seconds:g} s clips: torch {rate['torch']:.2f} clips/s, keras "
              f"{rate['keras']:.2f} ({rate['keras'] / rate['torch']:.2f}x), keras+XLA "
              f"{rate['keras_xla']:.2f} ({rate['keras_xla'] / rate['torch']:.2f}x); "
              f"max |keras - torch| {diff:.1e}, |xla - keras| {diff_xla:.1e}")
        sys.stdout.flush()
    print("\n| clip | transformers (clips/s) | kerasaudio TF | ratio | kerasaudio TF+XLA "
          "| ratio |\n| --- | --- | --- | --- | --- | --- |")
    for seconds, rate, _, _ in rows:
        print(f"| {seconds:g} s | {rate['torch']:.2f} | {rate['keras']:.2f} | "
              f"{rate['keras'] / rate['torch']:.2f}x | {rate['keras_xla']:.2f} | "
              f"{rate['keras_xla'] / rate['torch']:.2f}x |")


if __name__ == "__main__":
    main()
