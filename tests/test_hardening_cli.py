"""`kerasaudio predict`, `evaluate` and `export` against bad files, bad paths and bad
options: streamed results, one-line errors, exit codes (issue 20)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from crafted_audio import (
    flac_claiming,
    float_wav,
    mp3_claiming,
    tiny_classifier,
    tone,
    wav_declaring_rate,
)

from kerasaudio import cli


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {"tiny": tiny_classifier(root / "tiny.tflite"),
            "nan": tiny_classifier(root / "nan.tflite", nan=True)}


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("KERASAUDIO_OFFLINE", "1")
    monkeypatch.setenv("KERASAUDIO_HOME", str(tmp_path / "home"))


@pytest.fixture
def clips(tmp_path):
    """Two real recordings and the crafted files of issue 20."""
    from kerasaudio.datasets import fsdd

    frame = fsdd.load(sample=True)
    (tmp_path / "a_directory.wav").mkdir()
    return {
        "good1": frame.path[0], "good2": frame.path[1],
        "lying_flac": flac_claiming(tmp_path / "lie.flac", 2**36 - 1),
        "lying_mp3": mp3_claiming(tmp_path / "lie.mp3", 0xFFFFFFF0),
        "one_hz": wav_declaring_rate(tmp_path / "one_hz.wav", 1),
        "huge": float_wav(tmp_path / "huge.wav", 5e29),
        "directory": str(tmp_path / "a_directory.wav"),
        "missing": str(tmp_path / "missing.wav"),
    }


def strict_json(line: str):
    """`json.loads` that refuses the bare NaN/Infinity Python's encoder can write."""
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")
    return json.loads(line, parse_constant=refuse)


def test_predict_keeps_every_result_around_crafted_files(offline, clips, capsys):
    order = ["good1", "lying_flac", "one_hz", "huge", "directory", "missing", "lying_mp3",
             "good2"]
    code = cli.main(["predict", *[clips[k] for k in order], "--model", "m5_fsdd_digits",
                     "--format", "json"])
    captured = capsys.readouterr()
    assert code == 1, captured.err
    lines = [strict_json(line) for line in captured.out.splitlines()]
    assert [line["file"] for line in lines] == [clips[k] for k in order]
    failed = {k for k, line in zip(order, lines, strict=True) if "error" in line}
    assert failed == {"one_hz", "huge", "directory", "missing"}
    for key in failed:
        assert captured.err.count(clips[key]) >= 1
    assert "min_sample_rate" in lines[2]["error"] and "peak" in lines[3]["error"]
    assert "declares 68719476735 frames" in captured.err  # the FLAC loads what it holds
    assert "Traceback" not in captured.err
    probabilities = [p["probability"] for line in lines if "predictions" in line
                     for p in line["predictions"]]
    assert all(0.0 <= p <= 1.0 for p in probabilities)


def test_predict_streams_each_line_as_the_file_is_done(models, clips):
    # stdout and stderr in one pipe: a result printed only at the end would come after
    # the error of the file that follows it.
    done = subprocess.run(
        [sys.executable, "-m", "kerasaudio.cli", "predict", clips["good1"], clips["missing"],
         clips["good2"], "--model", models["tiny"], "--format", "csv"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
        check=False)
    assert done.returncode == 1, done.stdout
    ours = ("file,", "kerasaudio:", clips["good1"], clips["good2"])  # no library logs
    lines = [line for line in done.stdout.splitlines() if line.startswith(ours)]
    assert lines[0] == "file,window_start,window_end,rank,label,probability"
    files = [line.split(",")[0] if not line.startswith("kerasaudio:") else "ERROR"
             for line in lines[1:]]
    first_error = files.index("ERROR")
    assert set(files[:first_error]) == {clips["good1"]}
    assert set(files[first_error + 1:]) == {clips["good2"]}
    assert clips["missing"] in lines[first_error + 1]


def test_nan_probabilities_are_an_error_line_not_bare_nan(models, clips, capsys):
    code = cli.main(["predict", clips["good1"], "--model", models["nan"], "--format",
                     "json"])
    captured = capsys.readouterr()
    assert code == 1
    (line,) = [strict_json(text) for text in captured.out.splitlines()]
    assert line["file"] == clips["good1"] and "NaN or Inf" in line["error"]
    assert "NaN or Inf" in captured.err and "Traceback" not in captured.err


@pytest.mark.parametrize("option, value, words", [
    ("--hop", "-1", "--hop must be a positive"),
    ("--hop", "0", "--hop must be a positive"),
    ("--hop", "nan", "--hop must be a positive"),
    ("--hop", "inf", "--hop must be a positive"),
    ("--hop", "1e-9", "shorter than one sample"),
    ("--top-k", "0", "--top-k must be a positive integer"),
    ("--top-k", "-2", "--top-k must be a positive integer"),
    ("--max-duration", "0", "--max-duration must be a positive"),
    ("--max-duration", "nan", "--max-duration must be a positive"),
    ("--top-k", "nan", "--top-k: invalid int value: 'nan'"),
    ("--top-k", "inf", "--top-k: invalid int value: 'inf'"),
    ("--hop", "ten", "--hop: invalid float value: 'ten'"),
    ("--vad-threshold-db", "nan", "--vad-threshold-db must be a finite level"),
    ("--vad-threshold-db", "inf", "--vad-threshold-db must be a finite level"),
    ("--format", "xml", "invalid choice: 'xml'"),
])
def test_out_of_range_options_are_one_line_usage_errors(option, value, words, models, clips,
                                                        capsys):
    code = cli.main(["predict", clips["good1"], "--model", models["tiny"], option, value])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1 and words in captured.err, captured.err


def test_max_duration_option_refuses_long_files(models, clips, capsys, tmp_path):
    long = str(tmp_path / "long.wav")
    sf.write(long, np.tile(tone(8000), 3), 8000, subtype="PCM_16")
    code = cli.main(["predict", long, clips["good1"], "--model", models["tiny"],
                     "--max-duration", "2", "--format", "json"])
    lines = [strict_json(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1 and "max_duration=2" in lines[0]["error"] and "predictions" in lines[1]


@pytest.mark.parametrize("name, words", [
    ("empty.tflite", "is empty (0 bytes)"),
    ("text.tflite", "is not a TFLite model"),
    ("garbage.tflite", "is not a TFLite model"),
    ("truncated.tflite", "corrupt TFLite flatbuffer"),
    ("dir.tflite", "is a directory"),
    ("missing.tflite", "no such file"),
    ("broken.keras", "cannot be loaded as a Keras model"),
    ("missing.keras", "no such file"),
])
def test_unreadable_model_files_are_one_message(name, words, models, clips, tmp_path, capsys):
    path = tmp_path / name
    if name == "dir.tflite":
        path.mkdir()
    elif name == "truncated.tflite":
        path.write_bytes(open(models["tiny"], "rb").read()[:200])
    elif name == "empty.tflite":
        path.write_bytes(b"")
    elif name == "text.tflite":
        path.write_text("hello, I am not a model\n")
    elif name == "garbage.tflite":
        path.write_bytes(np.random.default_rng(0).bytes(3000))
    elif name == "broken.keras":
        path.write_bytes(b"PK\x03\x04 not a zip at all")
    code = cli.main(["predict", clips["good1"], "--model", str(path)])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert f"error: {path}: {words}" in captured.err


@pytest.mark.parametrize("where", ["a_file", "proc"])
def test_unusable_output_directories_fail_before_any_work(where, models, tmp_path, capsys):
    if where == "a_file":
        out = tmp_path / "taken"
        out.write_text("a file")
        target, expected = str(out), "a file is in the way"
    else:
        target, expected = "/proc/kerasaudio-out", "cannot write there"
    code = cli.main(["evaluate", models["tiny"], "--sample", "--out", target])
    captured = capsys.readouterr()
    assert code == 2 and "accuracy" not in captured.out  # refused before evaluating
    assert captured.err.count("\n") == 1 and expected in captured.err, captured.err


@pytest.mark.parametrize("where", ["proc", "file_parent", "directory"])
def test_export_output_path_is_one_message(where, offline, tmp_path, capsys):
    if where == "proc":
        target, words = "/proc/m5.tflite", "cannot write in /proc"
    elif where == "file_parent":
        (tmp_path / "file").write_text("x")
        target, words = str(tmp_path / "file" / "m5.tflite"), "is a file, not a directory"
    else:
        target, words = str(tmp_path), "is a directory"
    code = cli.main(["export", "m5_fsdd_digits", "-o", target])
    captured = capsys.readouterr()
    assert code == 2 and captured.err.count("\n") == 1 and words in captured.err, captured.err
    assert not [p for p in tmp_path.rglob("*") if p.suffix in (".tmp", ".tflite")]


def test_a_file_name_that_is_not_utf8_is_classified_and_shown(models, tmp_path, capsys):
    raw = os.fsencode(str(tmp_path)) + b"/digit-\xff.wav"
    sf.write(str(tmp_path / "x.wav"), tone(8000), 8000, subtype="PCM_16")
    os.rename(tmp_path / "x.wav", raw)
    code = cli.main(["predict", os.fsdecode(raw), "--model", models["tiny"]])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith(f"{tmp_path}/digit-\\xff.wav: ")


@pytest.mark.parametrize("command", ["evaluate", "export"])
@pytest.mark.parametrize("name, words", [
    ("missing.keras", "no such file"),
    ("broken.keras", "cannot be loaded as a Keras model"),
    ("missing.tflite", "no such file"),
    ("garbage.tflite", "is not a TFLite model"),
])
def test_evaluate_and_export_refuse_unreadable_model_files(command, name, words, tmp_path,
                                                           capsys):
    path = tmp_path / name
    if name == "broken.keras":
        path.write_bytes(b"PK\x03\x04 not a zip at all")
    elif name == "garbage.tflite":
        path.write_bytes(np.random.default_rng(0).bytes(3000))
    argv = ([command, str(path), "--sample", "--out", str(tmp_path / "out")]
            if command == "evaluate" else [command, str(path), "-o", str(tmp_path / "x.tflite")])
    code = cli.main(argv)
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1 and f"{path}: {words}" in captured.err, captured.err


def test_export_of_a_tflite_file_is_a_usage_error(models, tmp_path, capsys):
    code = cli.main(["export", models["tiny"], "-o", str(tmp_path / "again.tflite")])
    captured = capsys.readouterr()
    assert code == 2 and captured.err.count("\n") == 1
    assert "export takes a preset or a .keras model, not a .tflite file" in captured.err
