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
