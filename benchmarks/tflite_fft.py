"""The TFLite FFT of a non-power-of-two `n_fft`: two matrix products against the DFT convolution.

TFLite's RFFT2D takes powers of two only. For any other `n_fft`, `STFT(dft="auto")` used a
strided convolution with an `n_fft x (n_fft + 2)` DFT kernel; since 2026-11-27 it runs
Cooley-Tukey as two matrix products per frame when `n_fft` splits into two similar
factors (400 = 20 x 20, 2560 = 64 x 40). For each `n_fft` and spectrum mode this prints,
side by side in one run: the float32 file's size with the convolution (`dft="conv"`) and
with the products (`dft="auto"`), LiteRT latency of both on one second of real speech
(batch 1, one thread, median of 200 runs), and the largest difference between them
relative to the spectrum's peak.

    python benchmarks/tflite_fft.py [--n-fft 400,2560] [--sample-rate 16000]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

import kerasaudio
from kerasaudio import export, layers
from kerasaudio.audio_io import load_audio
from kerasaudio.datasets import fsdd


def latency_ms(flatbuffer: bytes, x: np.ndarray, runs: int = 200) -> float:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer, num_threads=1)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    interpreter.set_tensor(index, x)
    interpreter.invoke()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1e3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-fft", default="400,480,1000,2560")
    parser.add_argument("--sample-rate", type=int, default=16000)
    args = parser.parse_args(argv)
    rate = args.sample_rate
    clip, _ = load_audio(fsdd.load(sample=True).path.iloc[0], sample_rate=rate)
    x = np.resize(clip, rate)[None].astype(np.float32)
    print(f"kerasaudio {kerasaudio.__version__}, keras {keras.__version__}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs, {datetime.date.today()}")
    print("| n_fft | mode | conv kB | products kB | x | conv ms | products ms | x | "
          "max diff / peak |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n_fft in (int(n) for n in args.n_fft.split(",")):
        for mode in ("power", "magnitude", "complex"):
            files, outputs, times = {}, {}, {}
            for dft in ("conv", "auto"):
                inputs = keras.Input((rate,))
                stft = layers.STFT(n_fft=n_fft, hop_length=n_fft // 4, mode=mode, dft=dft)
                files[dft] = export.convert(keras.Model(inputs, stft(inputs)))
                (outputs[dft],) = export.run_tflite(files[dft], x)
                times[dft] = latency_ms(files[dft], x)
            diff = np.abs(outputs["auto"] - outputs["conv"]).max() / np.abs(outputs["conv"]).max()
            print(f"| {n_fft} | {mode} | {len(files['conv']) / 1e3:.0f} | "
                  f"{len(files['auto']) / 1e3:.0f} | "
                  f"{len(files['auto']) / len(files['conv']):.3f} | {times['conv']:.3f} | "
                  f"{times['auto']:.3f} | {times['auto'] / times['conv']:.2f} | {diff:.1e} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
