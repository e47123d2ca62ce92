"""`python -m zoo synthetic`: spoken digits from offline speech synthesisers, as extra
training speakers.

FSDD has six speakers, so a leave-one-speaker-out model trains on five. This module
speaks the ten digit words with the speech synthesisers Debian packages
(`apt-get install espeak-ng flite`): eSpeak NG's English accents times its voice
variants, and Flite's voices, each take with its own pitch and speaking rate. The clips
are resampled to FSDD's 8 kHz, trimmed of leading and trailing silence as FSDD's are,
and written as 16-bit WAV files named like FSDD's (`{digit}_{voice}_{take}.wav`), so
that `load` returns a table in `fsdd.load`'s form (every clip `split="train"`; the
voices never share a name with an FSDD speaker). Recipes add them to every training
split with `data.synthetic` (`python -m zoo train` generates them on first use, see
`zoo.train.synthetic_clips`); evaluation stays on FSDD only.

    python -m zoo synthetic [--out DIR] [--takes 2]

The clips are generated, not shipped (eSpeak NG is GPL-3.0, Flite BSD-style; their
output is not covered by those licenses). Generation is deterministic: each voice's
pitch and rate come from a generator seeded by `seed` and the voice's name.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import tempfile

import numpy as np

from kerasaudio.datasets import fsdd
from kerasaudio.errors import InvalidOptionError
from zoo import RUNS_DIR

__all__ = ["configure", "default_directory", "generate", "load", "voices"]

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: eSpeak NG English accents and voice variants (`-v accent+variant`).
ESPEAK_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp",
                  "en-gb-x-gbcwmd", "en-029")
ESPEAK_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
                   "klatt", "klatt2", "klatt3")
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
SAMPLE_RATE = fsdd.SAMPLE_RATE


def default_directory(takes: int = 2, seed: int = 0) -> pathlib.Path:
    """Where the clips of `takes` and `seed` go: `zoo/runs/synthetic_digits-t{takes}-s{seed}`."""
    return RUNS_DIR / f"synthetic_digits-t{takes}-s{seed}"


def voices() -> list[tuple[str, str, str]]:
    """`(name, engine, voice)` of every synthetic speaker."""
    found = [(f"espeak-{a}-{v}", "espeak-ng", f"{a}+{v}")
             for a in ESPEAK_ACCENTS for v in ESPEAK_VARIANTS]
    return found + [(f"flite-{v}", "flite", v) for v in FLITE_VOICES]


def _command(engine: str, voice: str, word: str, path: str, rng) -> list[str]:
    if engine == "espeak-ng":
        return ["espeak-ng", "-v", voice, "-p", str(int(rng.integers(25, 76))),
                "-s", str(int(rng.integers(130, 201))), "-w", path, word]
    stretch = float(rng.uniform(0.8, 1.3))
    pitch = float(rng.uniform(0.8, 1.25))
    mean = {"slt": 180.0}.get(voice, 105.0) * pitch
    return ["flite", "-voice", voice, "--setf", f"duration_stretch={stretch:.3f}",
            "--setf", f"int_f0_target_mean={mean:.1f}", "-t", word, "-o", path]


def _finish(raw_path: str, out_path: pathlib.Path) -> None:
    """Resample to 8 kHz, trim silence (40 dB below the peak), write 16-bit PCM."""
    import librosa
    import soundfile as sf

    audio, rate = sf.read(raw_path, dtype="float32")
    audio = librosa.resample(audio, orig_sr=rate, target_sr=SAMPLE_RATE, res_type="soxr_hq")
    audio, _ = librosa.effects.trim(audio, top_db=40, frame_length=256, hop_length=64)
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak == 0.0:
        raise RuntimeError(f"{out_path.name}: the synthesiser produced silence.")
    tmp = out_path.with_suffix(".tmp.wav")
    sf.write(tmp, audio / peak * 0.5, SAMPLE_RATE, subtype="PCM_16")
    os.replace(tmp, out_path)


def generate(out: str | os.PathLike | None = None, *, takes: int = 2, seed: int = 0,
             only: list[str] | None = None, log=print) -> pathlib.Path:
    """Write `takes` clips of every digit for every voice into `out` (default
    `default_directory(takes, seed)`); a complete set already there is kept. `only`:
    the names of the voices to speak (default all of `voices()`)."""
    if takes < 1:
        raise InvalidOptionError(f"takes={takes!r}: must be >= 1.")
    chosen = voices()
    if only is not None:
        unknown = sorted(set(only) - {v[0] for v in chosen})
        if unknown:
            raise InvalidOptionError(f"unknown synthetic voice(s) {unknown}; see voices().")
        chosen = [v for v in chosen if v[0] in only]
    missing = [tool for tool in ("espeak-ng", "flite") if shutil.which(tool) is None]
    if missing:
        raise InvalidOptionError(
            f"synthetic digits need {', '.join(missing)} on PATH "
            "(Debian: apt-get install espeak-ng flite).")
    out = pathlib.Path(out) if out is not None else default_directory(takes, seed)
    out.mkdir(parents=True, exist_ok=True)
    spec = {"takes": takes, "seed": seed, "voices": [v[0] for v in chosen],
            "sample_rate": SAMPLE_RATE}
    stamp = out / "synthetic.json"
    if stamp.exists() and json.loads(stamp.read_text()) == spec:
        return out
    stamp.unlink(missing_ok=True)  # incomplete until every clip is written
    written = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, engine, voice in chosen:
            # One generator per voice: adding a voice leaves the others' clips unchanged.
            digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
            rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
            for digit, word in enumerate(WORDS):
                for take in range(takes):
                    raw = os.path.join(tmp, "raw.wav")
                    subprocess.run(_command(engine, voice, word, raw, rng), check=True,
                                   capture_output=True, timeout=60)
                    _finish(raw, out / f"{digit}_{name}_{take}.wav")
                    written += 1
            log(f"  {name}: {len(WORDS) * takes} clips")
    stamp.write_text(json.dumps(spec, indent=1) + "\n")
    log(f"{written} synthetic clips in {out}")
    return out


def load(directory: str | os.PathLike):
    """The synthetic clips of `directory` as an `fsdd.load` table (`split` is `"train"`
    for all): exactly the voices and takes its `synthetic.json` records (other files
    there are ignored)."""
    import pandas as pd

    directory = pathlib.Path(directory)
    stamp = directory / "synthetic.json"
    if not stamp.exists():
        raise InvalidOptionError(f"no synthetic digits in {directory}: run "
                                 "python -m zoo synthetic first.")
    spec = json.loads(stamp.read_text())
    rows = [(str((directory / f"{digit}_{name}_{take}.wav").resolve()), digit, name, take,
             "train")
            for name in spec["voices"] for digit in range(len(WORDS))
            for take in range(spec["takes"])]
    missing = [row[0] for row in rows if not os.path.exists(row[0])]
    if missing:
        raise InvalidOptionError(f"{len(missing)} synthetic clips listed in {stamp} are "
                                 f"missing (e.g. {missing[0]}); run python -m zoo synthetic again.")
    return pd.DataFrame(rows, columns=["path", "digit", "speaker", "take", "split"])


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare `python -m zoo synthetic`'s arguments on `parser`."""
    parser.add_argument("--out", default=None,
                        help="directory (default zoo/runs/synthetic_digits-t{takes}-s{seed})")
    parser.add_argument("--takes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """Generate the clips."""
    generate(args.out, takes=args.takes, seed=args.seed)
    return 0
