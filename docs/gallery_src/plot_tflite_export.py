"""
# TFLite export report

`kerasaudio.export.to_tflite` converts a model to a TFLite file with builtin ops only, runs
it in LiteRT next to the Keras model on representative clips and writes it only if every
output agrees within the mode's tolerance. Here the `logmel_cnn_fsdd_digits` preset is
exported in dynamic-range quantization and verified on 30 of the bundled FSDD clips (a
preset uses all 120 by default).
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import kerasaudio
from kerasaudio.runtime import TFLiteModel

# %%
# Export and print the report.
model = kerasaudio.create_model("logmel_cnn_fsdd_digits")
clips, digits = kerasaudio.datasets.fsdd.sample_clips(label="digit")
path = Path(tempfile.mkdtemp()) / "digits_dynamic.tflite"
report = kerasaudio.export.to_tflite(model, path, quantization="dynamic",
                                     representative_data=clips[::4], labels=digits[::4])
print(report)

# %%
# The Keras-free runner (`kerasaudio.runtime`) against Keras on all 120 bundled clips.
runner = TFLiteModel(path)
lite = np.stack([runner.predict(clip) for clip in clips])
keras_probabilities = np.asarray(model.predict(clips, verbose=0))
difference = np.abs(lite - keras_probabilities).max(axis=-1)

fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), constrained_layout=True)
shown = int(np.argmax(difference))  # the clip where the two disagree most
digit = np.arange(10)
axes[0].bar(digit - 0.2, keras_probabilities[shown], 0.4, label="Keras")
axes[0].bar(digit + 0.2, lite[shown], 0.4, label="TFLite (LiteRT)")
axes[0].set(title=f"clip {shown} (spoken {digits[shown]}): the largest difference",
            xlabel="digit", ylabel="probability", xticks=digit)
axes[0].legend()
fig.suptitle(f"to_tflite(quantization='dynamic'): {'passed' if report.passed else 'failed'}, "
             f"{report.size_bytes / 1e6:.3f} MB, LiteRT {report.litert_ms:.2f} ms/clip")
axes[1].semilogy(np.maximum(difference, 1e-9), ".", ms=4)
axes[1].axhline(report.tolerance, color="tab:red", lw=1, label="tolerance")
axes[1].set(title="max |TFLite - Keras| probability per clip", xlabel="bundled clip",
            ylabel="difference")
axes[1].legend()
print(f"top-1 agreement {np.mean(lite.argmax(-1) == keras_probabilities.argmax(-1)):.3f}; "
      f"TFLite accuracy {np.mean(lite.argmax(-1) == digits):.3f}")
plt.show()
