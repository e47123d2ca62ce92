"""
# Training curves of a packaged recipe

`kerasaudio.training` trains the presets from their JSON recipes. This example trains the
`logmel_cnn_fsdd_digits` recipe for 60 short epochs without augmentation on the 60
training-split clips of the bundled FSDD sample (a small run, not the published training
on FSDD's 2,700 training clips) and plots the per-epoch loss and accuracy that
`training.train` returns.
"""

import matplotlib.pyplot as plt
import numpy as np

from kerasaudio import training
from kerasaudio.datasets import fsdd

# %%
# The packaged recipe, changed with `--set`-style overrides, on the bundled clips of the
# training split (take 5); the test-split clips (take 0) are kept for evaluation.
recipe = training.load_recipe("logmel_cnn_fsdd_digits", [
    "training.epochs=60", "training.batch_size=10",
    "augment.mixup_alpha=null", "augment.features=[]",  # no augmentation in so short a run
])
index = fsdd.load(sample=True)
train_frame = index[index["take"] == 5]
model, info = training.train(recipe, train_frame, log=print)
print(f"{info['steps']} steps in {info['seconds']} s")

# %%
# Accuracy of the trained model on the held-out clips.
clips, digits = fsdd.sample_clips(label="digit")
held_out = (index["take"] == 0).to_numpy()
predicted = np.asarray(model.predict(clips[held_out], verbose=0)).argmax(-1)
accuracy = float(np.mean(predicted == digits[held_out]))
print(f"held-out accuracy after {recipe.training.epochs} epochs: {accuracy:.3f}")

# %%
# The curves.
history = info["history"]
epochs = np.arange(1, len(history["loss"]) + 1)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), constrained_layout=True)
axes[0].plot(epochs, history["loss"], "o-")
axes[0].set(title="training loss", xlabel="epoch", ylabel="cross-entropy")
axes[1].plot(epochs, history["accuracy"], "o-", label="training batches")
axes[1].axhline(accuracy, color="tab:green", ls="--", label="held-out clips, final")
axes[1].set(title="accuracy", xlabel="epoch", ylim=(0, 1.02))
axes[1].legend()
plt.show()
