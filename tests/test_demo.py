"""`make demo`: the pretrained digit model, offline, on the bundled clips and a user's file."""

import importlib.util
import pathlib
import re

import numpy as np
import pytest
import soundfile as sf

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo():
    spec = importlib.util.spec_from_file_location("demo", ROOT / "examples" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_runs_offline_and_classifies(demo, tmp_path, monkeypatch, capsys, fsdd_sample):
    monkeypatch.setenv("KERASAUDIO_OFFLINE", "1")
    monkeypatch.setenv("KERASAUDIO_HOME", str(tmp_path / "empty-cache"))
    # A user's file: digits 3, 7, 1 with silences, at 16 kHz (resampled by the demo).
    one_speaker = fsdd_sample[(fsdd_sample["take"] == 0) & (fsdd_sample.speaker == "jackson")]
    paths = one_speaker.set_index("digit").loc[[3, 7, 1]].path
    clips = [sf.read(p, dtype="float32")[0] for p in paths]
    gap = np.zeros(4000, np.float32)
    long = np.concatenate([clips[0], gap, clips[1], gap, clips[2]])
    wav = tmp_path / "mine.wav"
    sf.write(wav, np.repeat(long, 2), 16000)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio")

    assert demo.main([str(wav), str(broken), "--out", str(tmp_path / "out")]) == 0
    text = capsys.readouterr().out
    name = demo.best_digit_preset()
    assert f"Loaded {name}" in text and "kerasaudio/pretrained/weights" in text
    accuracy = float(re.search(r"accuracy (\d\.\d+) \((\d+)/60\)", text).group(1))
    assert accuracy >= 0.95  # logmel_cnn_fsdd_digits: 60/60 on these clips
    assert f"{wav} ({len(long) / 8000:.2f} s)" in text
    # One line per 1 s window (hop 0.5 s); the first shows "3", the last "1".
    windows = re.findall(r"window at +([\d.]+) s: (\d) ", text)
    assert [float(t) for t, _ in windows] == [0.0, 0.5, 1.0, 1.5]
    assert windows[0][1] == "3" and windows[-1][1] == "1" and "7" in {d for _, d in windows}
    assert "broken.wav: cannot read it" in text
    for png in ("demo_confusion.png", "demo_logmel.png"):
        assert (tmp_path / "out" / png).stat().st_size > 10_000


@pytest.mark.integration
def test_panns_example_tags_detects_and_fine_tunes(tmp_path):
    """examples/panns_tagging.py without checkpoints (random weights, narrow CNN14 for the
    fine-tuning): its four parts run offline and print their results. The same code loads
    a published checkpoint with `--checkpoint` (the conversion is tested against
    panns_inference in tests/test_panns.py and tests/test_panns_download.py)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "KERASAUDIO_OFFLINE": "1",
           "KERASAUDIO_HOME": str(tmp_path / "cache"), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "panns_tagging.py"),
                           "--epochs", "1"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    text = done.stdout
    for part in ("1. tagging (random weights)", "2. sound event detection (random weights)",
                 "3. transfer: FSDD digits from the embedding",
                 "4. fine-tuning the embedding with a Dense head"):
        assert part in text
    assert re.search(r"logistic regression on the embedding: \d+\.\d% on \d+ test", text)
    assert re.search(r"fine-tuned \([\d,]+ parameters, 1 epochs\)", text)
