"""PCEN against decibels: what a 40 dB quieter recording does to each front end.

Computes the log-mel (dB) and the PCEN mel of a bundled FSDD clip, and of the same clip
40 dB quieter, and prints how far each front end moves (dB shifts by a constant 40 dB;
PCEN's gain control takes most of the level change out once its smoother has followed
the level). Then exports the PCEN front end to a TFLite file (builtin ops only) and
compares it with Keras in LiteRT.

Run: `python examples/pcen_frontend.py`.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from kerasaudio import export, layers
from kerasaudio.audio_io import load_audio
from kerasaudio.datasets import fsdd


def front_end(kind: str, samples: int) -> keras.Model:
    inputs = keras.Input((samples,))
    mel = layers.MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=80, n_mels=40,
                                power=2.0 if kind == "db" else 1.0)(inputs)
    if kind == "db":
        x = layers.PowerToDb(top_db=None)(mel)
    else:  # librosa's PCEN defaults assume audio scaled like 32-bit integers
        x = layers.PCEN(sample_rate=8000, hop_length=80, input_scale=2.0 ** 31)(mel)
    return keras.Model(inputs, x, name=kind)


def main() -> None:
    index = fsdd.load(sample=True)
    clips = [load_audio(path, sample_rate=8000)[0] for path in index["path"][:6]]
    audio = np.concatenate(clips).astype("float32")[None]  # about 2.5 s of speech
    quiet = audio * 0.01  # -40 dB
    late = slice(100, None)  # after the first second
    for kind in ("db", "pcen"):
        model = front_end(kind, audio.shape[1])
        loud_out, quiet_out = (keras.ops.convert_to_numpy(model(x))[0] for x in (audio, quiet))
        change = np.abs(loud_out[late] - quiet_out[late]).mean()
        spread = loud_out[late].std()
        print(f"{kind:5s}: mean change {change:8.3f} for a 40 dB quieter clip "
              f"({change / spread:.2f} of the features' spread)")
    model = front_end("pcen", audio.shape[1])
    flatbuffer = export.convert(model, batch_size=1)
    (lite,) = export.run_tflite(flatbuffer, audio)
    keras_out = keras.ops.convert_to_numpy(model(audio))
    print(f"TFLite PCEN front end: {len(flatbuffer) / 1e3:.1f} kB, ops "
          f"{sorted(set(export.op_names(flatbuffer)))}, max difference to Keras "
          f"{np.abs(lite - keras_out).max():.2e}")


if __name__ == "__main__":
    main()
