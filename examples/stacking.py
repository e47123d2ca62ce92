"""malaya-speech's stacking pipeline (docs/references.md, [S0]), end to end, on FSDD.

A long recording is built from FSDD clips (takes 0 of the bundled sample: the official
split's test takes, which the official-split models never trained on) with 0.4-1.0 s of
silence between them and faint noise. A voice activity detector (`kerasaudio.vad`) finds
the speech segments: Silero VAD by default (32 ms chunks, the converted weights of the
silero-vad package), or `--vad energy`, the energy VAD on 30 ms frames as malaya-speech
uses. Every segment is classified by two `classification_stack`s, as malaya-speech
stacks VGGVox and Deep Speaker with a geometric mean:

- digits: the zoo's three strongest digit models (logmel_cnn, mfcc_cnn, bilstm_attention);
- speakers: VGGVox v2 twice (weighting it, as malaya's example does with a listed-twice
  model) and Deep Speaker.

Each model comes from the preset manifest when it is published there, else from the
recipe's official-split run in `zoo/runs/<preset>/` (config.json + weights); the script
prints which. The timeline is printed and drawn over the waveform (PNG), with both VADs'
segments beneath it for comparison.

Run: `python examples/stacking.py [--clips 8] [--vad silero|energy] [--out stacking_timeline.png]`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from scipy.stats import mstats  # noqa: E402

import kerasaudio  # noqa: E402
import kerasaudio.ensemble as ens  # noqa: E402
from kerasaudio import vad  # noqa: E402
from kerasaudio.audio_io import load_audio  # noqa: E402
from kerasaudio.datasets import fsdd  # noqa: E402

DIGIT_MODELS = ("logmel_cnn_fsdd_digits", "mfcc_cnn_fsdd_digits", "bilstm_attention_fsdd_digits")
SPEAKER_MODELS = ("vggvox_v2_fsdd_speakers", "vggvox_v2_fsdd_speakers",
                  "deep_speaker_fsdd_speakers")


def load_member(preset: str):
    """`(model, class_names, sample_rate, source)` from the manifest or zoo/runs."""
    if preset in kerasaudio.list_models(pretrained=True):
        model = kerasaudio.create_model(preset)
        info = kerasaudio.hub.preset_of(model)
        return model, list(info.class_names), info.sample_rate, "preset"
    run = ROOT / "zoo" / "runs" / preset
    weights = run / f"{preset}.weights.h5"
    if not weights.is_file():
        return None
    from kerasaudio.training import build_from_config

    config = json.loads((run / "config.json").read_text())
    model = build_from_config(config, weights=weights)
    return model, config["class_names"], config["sample_rate"], f"zoo/runs/{preset}"


def make_stack(presets):
    loaded, cache = [], {}
    for preset in presets:
        if preset not in cache:
            cache[preset] = load_member(preset)
            status = "missing" if cache[preset] is None else cache[preset][3]
            print(f"  {preset}: {status}")
        if cache[preset] is not None:
            loaded.append(cache[preset])
    if not loaded:
        return None
    return ens.classification_stack([m for m, *_ in loaded],
                                    class_names=[c for _, c, *_ in loaded],
                                    sample_rates=[r for _, _, r, _ in loaded],
                                    sample_rate=fsdd.SAMPLE_RATE)


def build_recording(count: int, seed: int):
    """FSDD take-0 clips of the bundled sample, silences between them, faint noise."""
    rng = np.random.default_rng(seed)
    frame = fsdd.load(sample=True)
    frame = frame[frame["take"] == 0].sample(count, random_state=seed)
    parts, truth, position = [], [], 0
    for path, digit, speaker in zip(frame.path, frame.digit, frame.speaker, strict=True):
        gap = np.zeros(int(rng.uniform(0.4, 1.0) * fsdd.SAMPLE_RATE))
        clip = load_audio(path, sample_rate=fsdd.SAMPLE_RATE)[0]
        parts += [gap, clip]
        truth.append((position + len(gap), position + len(gap) + len(clip), str(digit),
                      speaker))
        position += len(gap) + len(clip)
    parts.append(np.zeros(fsdd.SAMPLE_RATE // 2))
    audio = np.concatenate(parts)
    audio = (audio + rng.normal(0, 1e-3, len(audio))).astype(np.float32)
    return audio, truth


def overlapping(segment, truth):
    best = max(truth, key=lambda t: min(segment.end, t[1]) - max(segment.start, t[0]))
    return best if min(segment.end, best[1]) > max(segment.start, best[0]) else None


def plot(audio, segments, rows, path, *, both: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(len(audio)) / fsdd.SAMPLE_RATE
    fig, ax = plt.subplots(figsize=(max(10, len(audio) / fsdd.SAMPLE_RATE * 1.2), 3.2))
    ax.plot(t, audio, color="0.5", linewidth=0.4)
    top = float(np.abs(audio).max())
    for segment, row in zip(segments, rows, strict=True):
        ok = row["digit"] == row["true_digit"]
        ax.axvspan(segment.start_s, segment.end_s, color="tab:green" if ok else "tab:red",
                   alpha=0.2)
        label = f"{row['digit']}" + (f" / {row['speaker']}" if row["speaker"] else "")
        ax.text((segment.start_s + segment.end_s) / 2, top * 1.05, label, ha="center",
                va="bottom", fontsize=8)
    # Both detectors' segments as bars under the waveform.
    for row, (name, found) in enumerate(both.items()):
        y = -top * (1.2 + 0.18 * row)
        for segment in found:
            ax.plot([segment.start_s, segment.end_s], [y, y], color=f"C{row}", linewidth=4)
        ax.text(0, y, f"{name} ", ha="right", va="center", fontsize=8)
    ax.set_ylim(-top * (1.35 + 0.18 * len(both)), top * 1.35)
    ax.set_xlabel("time (s)")
    ax.set_title("VAD segments, stacked digit (and speaker) predictions; "
                 "green: digit right, red: wrong; bars: each VAD's segments")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vad", choices=vad.METHODS[::-1], default="silero",
                        help="the detector whose segments are classified (default: silero)")
    parser.add_argument("--out", default="stacking_timeline.png")
    args = parser.parse_args(argv)

    audio, truth = build_recording(args.clips, args.seed)
    print(f"recording: {len(audio) / fsdd.SAMPLE_RATE:.1f} s, {len(truth)} clips")
    both = {"silero": vad.split(audio, fsdd.SAMPLE_RATE, method="silero"),
            "energy": vad.split(audio, fsdd.SAMPLE_RATE, frame_ms=30)}
    segments = both[args.vad]
    for name, found in both.items():
        print(f"{name} VAD: {len(found)} segments" + (" (classified)" if name == args.vad
                                                     else ""))
    print("digit models:")
    digits = make_stack(DIGIT_MODELS)
    print("speaker models:")
    speakers = make_stack(SPEAKER_MODELS)
    if digits is None:
        raise SystemExit("no digit model found: publish a preset or run a zoo digit recipe.")
    clips = [s.slice(audio) for s in segments]
    digit_probs = digits.predict_proba(clips, aggregate=mstats.gmean)
    digit_labels = digits.predict(clips, aggregate=mstats.gmean)
    speaker_labels = (speakers.predict(clips, aggregate=mstats.gmean) if speakers
                      else [""] * len(clips))
    rows = []
    print("\n  start    end  digit (p)      speaker     | truth")
    for segment, label, probs, who in zip(segments, digit_labels, digit_probs,
                                          speaker_labels, strict=True):
        match = overlapping(segment, truth)
        true_digit, true_speaker = (match[2], match[3]) if match else ("-", "-")
        p = float(probs.max() / probs.sum())
        rows.append({"digit": label, "speaker": who, "true_digit": true_digit,
                     "true_speaker": true_speaker})
        print(f"{segment.start_s:7.2f} {segment.end_s:6.2f}  {label:>5} ({p:.2f})  "
              f"{who or '-':>10}  | {true_digit} {true_speaker}")
    right = sum(r["digit"] == r["true_digit"] for r in rows)
    print(f"\ndigits right: {right}/{len(rows)}")
    if speakers:
        right = sum(r["speaker"] == r["true_speaker"] for r in rows)
        print(f"speakers right: {right}/{len(rows)}")
    plot(audio, segments, rows, args.out, both=both)
    print(f"timeline: {args.out}")


if __name__ == "__main__":
    main()
