"""Voice activity detection, side by side in one run: Silero VAD (kerasaudio), the energy
VAD (kerasaudio) and WebRTC's VAD (`webrtcvad`), on constructed timelines.

Each timeline joins `--clips` real FSDD recordings with random gaps (0.3-2.0 s) at 16 kHz
(the 8 kHz recordings resampled with soxr); white Gaussian noise is added at each SNR
(relative to the mean power of the speech regions). The reference speech regions are each
clip's span trimmed by `librosa.effects.trim(top_db=35)` on the clean clip (FSDD clips hold
leading and trailing silence). Scores per method and SNR, over all timelines:

- frame F1: speech/non-speech on 10 ms frames;
- boundary error: mean |start| and |end| difference (ms) between each reference region and
  the predicted segment overlapping it most (regions with no overlapping segment count as
  misses, reported separately).

WebRTC's frame decisions (30 ms frames, aggressiveness `--webrtc-mode`) are grouped into
segments by `kerasaudio.vad.group_frames` with the energy VAD's defaults, so the three
differ only in their frame decisions.

    python benchmarks/vad.py [--timelines 20] [--clips 8] [--seed 0]
"""

from __future__ import annotations

import argparse
import glob
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import librosa
import numpy as np
import soundfile as sf
import soxr

from kerasaudio import vad

RATE = 16000
FRAME = RATE // 100  # 10 ms scoring frames


def fsdd_files() -> list[str]:
    root = os.environ.get("KERASAUDIO_DATA", os.path.join(os.path.dirname(__file__), "..",
                                                          "..", "shared", "data", "fsdd"))
    files = sorted(glob.glob(os.path.join(root, "recordings", "*.wav")))
    if not files:
        import kerasaudio

        files = list(kerasaudio.datasets.fsdd.load(sample=True).path)
    return files


def timeline(files: list[str], rng: np.random.Generator, clips: int):
    parts, regions, at = [], [], 0
    for path in rng.choice(files, clips, replace=False):
        audio, sr = sf.read(path, dtype="float32")
        audio = soxr.resample(audio, sr, RATE).astype(np.float32)
        gap = np.zeros(int(rng.uniform(0.3, 2.0) * RATE), np.float32)
        _, (start, end) = librosa.effects.trim(audio, top_db=35)
        regions.append((at + len(gap) + start, at + len(gap) + end))
        parts += [gap, audio]
        at += len(gap) + len(audio)
    parts.append(np.zeros(int(0.5 * RATE), np.float32))
    return np.concatenate(parts), regions


def add_noise(audio, regions, snr_db, rng):
    if snr_db is None:
        return audio
    speech = np.concatenate([audio[a:b] for a, b in regions])
    noise_power = np.mean(speech ** 2) / 10 ** (snr_db / 10)
    return (audio + rng.normal(0, np.sqrt(noise_power), len(audio))).astype(np.float32)


def webrtc_segments(audio, mode: int):
    import webrtcvad

    detector = webrtcvad.Vad(mode)
    frame = RATE * 30 // 1000
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    flags = [detector.is_speech(pcm[i:i + frame].tobytes(), RATE)
             for i in range(0, len(pcm) - frame + 1, frame)]
    groups = vad.group_frames(np.array(flags), min_silence=7, min_speech=3, pad=1)
    return [(a * frame, min(b * frame, len(audio))) for a, b in groups]


def frames_of(spans, length):
    flags = np.zeros(length // FRAME + 1, bool)
    for a, b in spans:
        flags[a // FRAME:(b + FRAME - 1) // FRAME] = True
    return flags


def score(reference, predicted, length):
    ref, got = frames_of(reference, length), frames_of(predicted, length)
    tp, fp, fn = np.sum(ref & got), np.sum(~ref & got), np.sum(ref & ~got)
    errors, missed = [], 0
    for a, b in reference:
        overlaps = [(min(b, d) - max(a, c), c, d) for c, d in predicted if min(b, d) > max(a, c)]
        if not overlaps:
            missed += 1
            continue
        _, c, d = max(overlaps)
        errors += [abs(c - a), abs(d - b)]
    return tp, fp, fn, errors, missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timelines", type=int, default=20)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--webrtc-mode", type=int, default=2)
    args = parser.parse_args()
    files = fsdd_files()
    rng = np.random.default_rng(args.seed)
    data = [timeline(files, rng, args.clips) for _ in range(args.timelines)]
    methods = {
        "silero": lambda x: [(s.start, s.end) for s in vad.split(x, RATE, method="silero")],
        "energy": lambda x: [(s.start, s.end) for s in vad.split(x, RATE)],
        f"webrtc (mode {args.webrtc_mode})": lambda x: webrtc_segments(x, args.webrtc_mode),
    }
    for method in methods.values():  # builds and traces the models outside the timing
        method(data[0][0][:RATE])
    print(f"{args.timelines} timelines x {args.clips} FSDD clips ({len(files)} files), "
          f"16 kHz, seed {args.seed}")
    print(f"{'SNR':>6} {'method':<16} {'frame F1':>8} {'precision':>9} {'recall':>7} "
          f"{'boundary ms':>11} {'missed':>7} {'s/hour':>7}")
    for snr in (None, 20, 10, 5, 0):
        noisy = [(add_noise(audio, regions, snr, np.random.default_rng(args.seed + i)),
                  regions) for i, (audio, regions) in enumerate(data)]
        for name, method in methods.items():
            tp = fp = fn = missed = 0
            errors, seconds, audio_seconds = [], 0.0, 0.0
            for audio, regions in noisy:
                start = time.perf_counter()
                predicted = method(audio)
                seconds += time.perf_counter() - start
                audio_seconds += len(audio) / RATE
                a, b, c, e, m = score(regions, predicted, len(audio))
                tp, fp, fn, missed = tp + a, fp + b, fn + c, missed + m
                errors += e
            precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
            f1 = 2 * precision * recall / max(precision + recall, 1e-9)
            boundary = 1000 * np.mean(errors) / RATE if errors else float("nan")
            print(f"{'clean' if snr is None else f'{snr} dB':>6} {name:<16} {f1:8.3f} "
                  f"{precision:9.3f} {recall:7.3f} {boundary:11.0f} {missed:7d} "
                  f"{3600 * seconds / audio_seconds:7.1f}")


if __name__ == "__main__":
    main()
