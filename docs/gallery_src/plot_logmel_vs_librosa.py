"""
# Log-mel: kerasaudio against librosa

`kerasaudio.layers.MelSpectrogram` followed by `PowerToDb` computes the same dB mel
spectrogram as `librosa.feature.melspectrogram` and `librosa.power_to_db`, inside a Keras
model. This example computes both on a bundled FSDD recording and maps their difference.
"""

import librosa
import matplotlib.pyplot as plt
import numpy as np

import kerasaudio

# %%
# A real recording: the spoken digit "7" by jackson, from the bundled FSDD sample.
index = kerasaudio.datasets.fsdd.load(sample=True)
path = index[(index.digit == 7) & (index.speaker == "jackson")].path.iloc[0]
audio, sr = kerasaudio.audio_io.load_audio(path)
print(f"{path.split('/')[-1]}: {len(audio)} samples at {sr} Hz")

# %%
# The same options on both sides (librosa's names).
options = dict(n_fft=256, hop_length=80, n_mels=40, fmin=20.0)
mel = kerasaudio.layers.MelSpectrogram(sample_rate=sr, **options)
to_db = kerasaudio.layers.PowerToDb(top_db=80.0)
ours = np.asarray(to_db(mel(audio[None])))[0]  # (frames, mels)

power = librosa.feature.melspectrogram(y=audio.astype(np.float64), sr=sr, **options)
theirs = librosa.power_to_db(power, ref=1.0, top_db=80.0).T  # (frames, mels)
difference = ours - theirs
print(f"shape {ours.shape}; max |difference| {np.abs(difference).max():.2e} dB")

# %%
# Side by side, and the difference map (note its colour scale).
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), constrained_layout=True)
for ax, image, title in zip(axes[:2], (ours, theirs),
                            ("kerasaudio.layers (float32)", "librosa (float64)"),
                            strict=True):
    shown = ax.imshow(image.T, origin="lower", aspect="auto", cmap="magma")
    ax.set(title=title, xlabel="frame", ylabel="mel band")
    fig.colorbar(shown, ax=ax, label="dB")
limit = max(float(np.abs(difference).max()), 1e-6)
shown = axes[2].imshow(difference.T, origin="lower", aspect="auto", cmap="coolwarm",
                       vmin=-limit, vmax=limit)
axes[2].set(title="kerasaudio - librosa", xlabel="frame", ylabel="mel band")
fig.colorbar(shown, ax=axes[2], label="dB")
plt.show()
