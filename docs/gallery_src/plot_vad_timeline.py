"""
# Voice activity detection over a waveform

`kerasaudio.vad.split` finds the speech in a long recording: 30 ms frames, an energy
threshold adapted to the recording, short gaps bridged. Here six bundled FSDD clips are
joined with silences of different lengths and the segments found are drawn over the
waveform.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import kerasaudio

# %%
# A recording of six digits by six speakers, with 0.4 to 1.2 s of silence between them.
index = kerasaudio.datasets.fsdd.load(sample=True)
test = index[index["take"] == 0]
chosen = pd.concat([test[(test.speaker == speaker) & (test.digit == digit)]
                    for digit, speaker in zip((3, 1, 4, 5, 9, 2), kerasaudio.datasets.fsdd.SPEAKERS,
                                              strict=True)])
sr = 8000
rng = np.random.default_rng(0)
pieces, truth, at = [], [], 0
for row in chosen.itertuples():
    clip, _ = kerasaudio.audio_io.load_audio(row.path, sample_rate=sr)
    gap = np.zeros(int(sr * rng.uniform(0.4, 1.2)), np.float32)
    pieces += [gap, clip]
    truth.append((row.digit, row.speaker, (at + len(gap)) / sr, (at + len(gap) + len(clip)) / sr))
    at += len(gap) + len(clip)
pieces.append(np.zeros(sr // 2, np.float32))
recording = np.concatenate(pieces)
recording += rng.normal(0, 1e-3, recording.shape).astype(np.float32)  # a little hiss

# %%
# The segments found, printed next to where each clip was placed.
segments = kerasaudio.vad.split(recording, sr)
for segment in segments:
    print(f"speech {segment.start_s:5.2f} - {segment.end_s:5.2f} s")
for digit, speaker, start, end in truth:
    print(f"clip   {start:5.2f} - {end:5.2f} s  '{digit}' by {speaker}")

# %%
# The timeline: the waveform, the clips placed (grey) and the segments found (green).
t = np.arange(len(recording)) / sr
fig, ax = plt.subplots(figsize=(12, 3.2), constrained_layout=True)
ax.plot(t, recording, lw=0.4, color="k")
for digit, speaker, start, end in truth:
    ax.axvspan(start, end, ymin=0.0, ymax=0.1, color="0.6")
    ax.text((start + end) / 2, -0.95, f"{digit} ({speaker})", ha="center", fontsize=7)
for segment in segments:
    ax.axvspan(segment.start_s, segment.end_s, color="tab:green", alpha=0.25)
ax.set(xlim=(0, t[-1]), ylim=(-1, 1), xlabel="seconds", ylabel="amplitude",
       title=f"kerasaudio.vad.split: {len(segments)} segments for {len(truth)} clips")
plt.show()
