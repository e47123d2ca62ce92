"""
# Confusion matrices of two pretrained presets

Two presets whose weights ship in the package classify the bundled FSDD clips of the
official test split (take 0 of every digit and speaker: clips neither saw in training):
`logmel_cnn_fsdd_digits` says which digit was spoken, `vggvox_v2_fsdd_speakers` who spoke
it. `kerasaudio.metrics.confusion_matrix` counts, `kerasaudio.metrics.plot_confusion`
draws.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import kerasaudio
from kerasaudio.metrics import confusion_matrix, plot_confusion

# %%
# Each preset on the bundled test-split clips, fitted to its input by
# `hub.representative_clips` (its sample rate, input length and labels).
index = kerasaudio.datasets.fsdd.load(sample=True)
test = (index["take"] == 0).to_numpy()
out = Path(tempfile.mkdtemp())
fig, axes = plt.subplots(1, 2, figsize=(12, 5.2), constrained_layout=True)
for ax, name, what in zip(axes, ("logmel_cnn_fsdd_digits", "vggvox_v2_fsdd_speakers"),
                          ("digit", "speaker"), strict=True):
    preset = kerasaudio.hub.get_preset(name)
    model = kerasaudio.create_model(name)
    clips, labels = kerasaudio.hub.representative_clips(preset)
    predicted = np.asarray(model.predict(clips[test], verbose=0)).argmax(axis=-1)
    names = list(preset.class_names)
    counts = confusion_matrix(labels[test], predicted, classes=len(names))
    accuracy = np.trace(counts) / counts.sum()
    print(f"{name}: {int(np.trace(counts))}/{int(counts.sum())} test clips correct "
          f"({accuracy:.3f})")
    png = out / f"{name}.png"
    plot_confusion(counts, names, png, xlabel=f"predicted {what}", ylabel=f"true {what}",
                   title=f"{name}: {accuracy:.3f}")
    ax.imshow(plt.imread(png))
    ax.axis("off")
plt.show()
