"""The `kerasaudio` command, on a preset published into a temporary manifest."""

import csv
import io
import itertools
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import soundfile as sf
from crafted_audio import tiny_classifier

import kerasaudio
from kerasaudio import cli
from kerasaudio.datasets import fsdd
from zoo.publish import publish

DIGITS = [str(d) for d in range(10)]


@pytest.fixture(scope="module")
def preset_env(tmp_path_factory):
    """A real (briefly trained) M5 preset published into a temporary manifest."""
    root = tmp_path_factory.mktemp("presets")
    manifest = root / "manifest.json"
    manifest.write_text(json.dumps({"format": 1, "presets": {}}))
    keras.utils.set_random_seed(0)
    model = kerasaudio.create_model("m5", frontend="default", input_shape=(8000,),
                                    classes=10, n_channel=16)
    frame = fsdd.load(sample=True)
    x = np.stack([kerasaudio.data.fix_length(sf.read(p, dtype="float32")[0], 8000)
                  for p in frame.path])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(x, frame.digit.to_numpy(), epochs=3, batch_size=32, verbose=0)
    publish(model, "m5_fsdd_digits", task="digits", class_names=DIGITS, sample_rate=8000,
            input_length=8000, metrics={"official_accuracy": 0.0},
            recipe="zoo/recipes/m5_fsdd_digits.py", training_data="test",
            license=fsdd.LICENSE, manifest_path=manifest, weights_dir=root / "weights")
    return {"KERASAUDIO_MANIFEST": str(manifest), "KERASAUDIO_HOME": str(root / "home"),
            "KERASAUDIO_OFFLINE": "1"}, model, frame


@pytest.fixture
def env(preset_env, monkeypatch):
    variables, model, frame = preset_env
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    return model, frame


def run(capsys, *argv) -> str:
    assert cli.main(list(argv)) == 0
    return capsys.readouterr().out


def test_models_table(env, capsys):
    out = run(capsys, "models", "--format", "json")
    names = [row["name"] for row in json.loads(out)]
    assert names == kerasaudio.list_models()
    out = run(capsys, "models", "--pretrained", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r[next(iter(r))] for r in rows] == ["m5_fsdd_digits"]


def test_predict_formats_agree_with_keras(env, capsys):
    model, frame = env
    paths = list(frame.path[:3])
    out = run(capsys, "predict", *paths, "--model", "m5_fsdd_digits", "--format", "json",
              "--top-k", "10")
    results = [json.loads(line) for line in out.strip().splitlines()]
    assert [r["file"] for r in results] == paths
    for result, path in zip(results, paths, strict=True):
        expected = model.predict(kerasaudio.data.fix_length(
            sf.read(path, dtype="float32")[0], 8000)[None], verbose=0)[0]
        got = {p["label"]: p["probability"] for p in result["predictions"]}
        np.testing.assert_allclose([got[d] for d in DIGITS], expected, atol=1e-5)
        probabilities = [p["probability"] for p in result["predictions"]]
        assert probabilities == sorted(probabilities, reverse=True)
        assert "windows" not in result
    out = run(capsys, "predict", paths[0], "--model", "m5_fsdd_digits", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 3 and rows[0]["label"] == results[0]["predictions"][0]["label"]
    out = run(capsys, "predict", paths[0], "--model", "m5_fsdd_digits")
    assert out.startswith(f"{paths[0]}: {results[0]['predictions'][0]['label']} ")


def test_long_file_is_windowed(env, capsys, tmp_path):
    _, frame = env
    audio = np.concatenate([sf.read(p, dtype="float32")[0] for p in frame.path[:8]])
    long = tmp_path / "long.wav"
    sf.write(long, audio, 8000)
    out = run(capsys, "predict", str(long), "--model", "m5_fsdd_digits", "--format", "json")
    result = json.loads(out)
    expected = 1 + int(np.ceil((len(audio) - 8000) / 4000))
    assert len(result["windows"]) == expected
    assert result["windows"][1]["start"] == 0.5 and result["windows"][1]["end"] == 1.5


def test_evaluate_writes_confusion_matrix(env, capsys, tmp_path):
    """Only the clips the preset never trained on count: of the bundled sample (takes 0
    and 5), the 60 take-0 clips of the official test split."""
    out = run(capsys, "evaluate", "m5_fsdd_digits", "--sample", "--out", str(tmp_path))
    accuracy = float(out.split("accuracy ")[1].split()[0])
    summary = json.loads((tmp_path / "m5_fsdd_digits_evaluation.json").read_text())
    confusion = np.array(summary["confusion"])
    held_out = fsdd.official_split(fsdd.load(sample=True))[1]
    assert len(held_out) == 60 and set(held_out["take"]) == {0}
    assert confusion.sum() == 60 and summary["accuracy"] == pytest.approx(accuracy, abs=1e-4)
    assert "on 60 FSDD clips" in out and "test takes" in summary["split"]
    assert np.trace(confusion) / 60 == pytest.approx(summary["accuracy"])
    assert (confusion.sum(axis=1) == 6).all()  # each digit: its six speakers' take 0
    assert (tmp_path / "m5_fsdd_digits_confusion.png").stat().st_size > 5000


def own_model(model, path, *, preset: str | None = None) -> str:
    """The fixture's trained M5 saved as a user's `.keras` file: its model-info record
    gives the rate, length and class names, and names `preset` (None: no preset)."""
    model = kerasaudio.models.with_info(model, sample_rate=8000, input_length=8000,
                                        class_names=DIGITS, task="digits", preset=preset)
    model.save(path)
    return str(path)


@pytest.fixture(scope="module")
def user_files(preset_env, tmp_path_factory):
    """A user's `.keras` file (no preset) and `.tflite` file (`tiny_classifier`)."""
    root = tmp_path_factory.mktemp("user_models")
    return {"keras": own_model(preset_env[1], root / "mine.keras"),
            "tflite": tiny_classifier(root / "tiny.tflite")}


def test_evaluate_refuses_a_model_whose_training_clips_are_unknown(env, user_files, capsys,
                                                                   tmp_path):
    mine = user_files["keras"]
    assert cli.main(["evaluate", mine, "--sample", "--out", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "names no published preset" in captured.err and "--official-split" in captured.err
    assert not list(tmp_path.glob("*evaluation.json"))
    preset_file = own_model(env[0], tmp_path / "preset.keras", preset="m5_fsdd_digits")
    out = run(capsys, "evaluate", preset_file, "--sample", "--out", str(tmp_path))
    assert "on 60 FSDD clips" in out  # a published preset's record: its split is known


def test_predict_and_evaluate_take_the_users_keras_and_tflite_files(env, user_files, capsys,
                                                                    tmp_path):
    model, frame = env
    mine, lite = user_files["keras"], user_files["tflite"]
    path = frame.path[0]
    out = run(capsys, "predict", path, "--model", mine, "--format", "json", "--top-k", "10")
    got = {p["label"]: p["probability"] for p in json.loads(out)["predictions"]}
    expected = model.predict(kerasaudio.data.fix_length(
        sf.read(path, dtype="float32")[0], 8000)[None], verbose=0)[0]
    np.testing.assert_allclose([got[d] for d in DIGITS], expected, atol=1e-5)
    out = run(capsys, "predict", path, "--model", lite, "--format", "json", "--top-k", "10")
    got = {p["label"]: p["probability"] for p in json.loads(out)["predictions"]}
    expected = kerasaudio.runtime.TFLiteModel(lite).predict(path)
    np.testing.assert_allclose([got[d] for d in DIGITS], expected, atol=1e-6)
    out = run(capsys, "evaluate", lite, "--sample", "--official-split", "--out",
              str(tmp_path))
    summary = json.loads((tmp_path / "tiny_evaluation.json").read_text())
    assert "on 60 FSDD clips" in out and np.sum(summary["confusion"]) == 60


@pytest.fixture
def long_recording(env, tmp_path):
    """Four FSDD clips, each followed by 1.5 s of near-silence (8 kHz)."""
    rng = np.random.default_rng(0)
    parts = []
    for path in env[1].path[[0, 20, 40, 60]]:
        parts += [sf.read(path, dtype="float32")[0],
                  (rng.standard_normal(12000) * 1e-4).astype(np.float32)]
    path = tmp_path / "long.wav"
    sf.write(path, np.concatenate(parts), 8000, subtype="FLOAT")
    speech = []
    at = 0
    for i in range(0, len(parts), 2):
        speech.append((at, at + len(parts[i])))
        at += len(parts[i]) + len(parts[i + 1])
    return str(path), speech


def test_predict_vad_classifies_only_windows_with_speech(env, capsys, long_recording):
    path, speech = long_recording
    every = json.loads(run(capsys, "predict", path, "--model", "m5_fsdd_digits", "--format",
                           "json"))
    spoken = json.loads(run(capsys, "predict", path, "--model", "m5_fsdd_digits", "--vad",
                            "--format", "json"))
    assert 0 < len(spoken["windows"]) < len(every["windows"])
    for window in every["windows"]:
        start, end = round(window["start"] * 8000), round(window["end"] * 8000)
        covered = sum(max(0, min(end, b) - max(start, a)) for a, b in speech)
        kept = window in spoken["windows"]
        if covered == 0:
            assert not kept, window  # pure silence is dropped
        if covered >= 0.5 * 8000 or any(start <= a and b <= end for a, b in speech):
            assert kept, window  # half a window of speech, or a whole word, stays


def test_predict_reports_a_timeline_of_segments(env, capsys, long_recording):
    path, _ = long_recording
    result = json.loads(run(capsys, "predict", path, "--model", "m5_fsdd_digits", "--format",
                            "json", "--top-k", "10"))
    windows, segments = result["windows"], result["segments"]
    best = [w["predictions"][0]["label"] for w in windows]
    # runs of adjacent windows with the same best label, in order, none overlapping
    runs = [best[0]]
    for label in best[1:]:
        if label != runs[-1]:
            runs.append(label)
    assert [s["label"] for s in segments] == runs
    assert segments[0]["start"] == 0.0 and segments[-1]["end"] == windows[-1]["end"]
    for before, after in itertools.pairwise(segments):
        assert before["end"] == after["start"] and before["start"] < before["end"]
    first = [w for w in windows if w["start"] < segments[0]["end"]]
    mean = np.mean([next(p["probability"] for p in w["predictions"]
                         if p["label"] == segments[0]["label"]) for w in first])
    assert segments[0]["probability"] == pytest.approx(mean, abs=1e-5)
    out = run(capsys, "predict", path, "--model", "m5_fsdd_digits", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["file", "window_start", "window_end", "rank", "label",
                             "probability"]
    assert rows[0]["window_start"] == rows[0]["window_end"] == ""  # the whole file
    timed = [r for r in rows if r["window_start"]]
    assert len(timed) == 3 * len(windows)
    for row in timed:
        assert float(row["window_end"]) == pytest.approx(float(row["window_start"]) + 1.0)
    text = run(capsys, "predict", path, "--model", "m5_fsdd_digits").splitlines()
    assert len(text) == 1 + len(segments)
    assert text[1].split()[-2:] == [segments[0]["label"], f"{segments[0]['probability']:.3f}"]


def test_predict_vad_on_silence_says_so(env, capsys, tmp_path):
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, np.zeros(24000, np.float32), 8000)
    out = run(capsys, "predict", str(quiet), "--model", "m5_fsdd_digits", "--vad",
              "--format", "json")
    assert json.loads(out) == {"file": str(quiet), "predictions": [], "windows": [],
                               "segments": [], "speech": False}
    out = run(capsys, "predict", str(quiet), "--model", "m5_fsdd_digits", "--vad")
    assert out == f"{quiet}: no speech found (--vad)\n"


def test_a_preset_typo_suggests_the_closest_presets(env, capsys):
    assert cli.main(["predict", "x.wav", "--model", "m5_fsdd_digit"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'm5_fsdd_digits'" in err


def test_models_table_fits_the_terminal(env, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    for argv in (["models"], ["models", "--pretrained"]):
        lines = run(capsys, *argv).splitlines()
        assert max(map(len, lines)) <= 60
        assert any(line.startswith("m5") for line in lines)


def test_help_imports_neither_tensorflow_nor_keras():
    code = textwrap.dedent("""
        import contextlib, io, json, sys
        from kerasaudio.cli import main
        for argv in (["--help"], ["predict", "--help"], ["evaluate", "--help"]):
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    main(argv)
                except SystemExit:
                    pass
        print(json.dumps(sorted({m.split(".")[0] for m in sys.modules}
                                & {"tensorflow", "keras", "jax", "pandas"})))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_no_library_log_lines_on_stderr(env, user_files):
    """Neither TensorFlow's C++ INFO lines nor LiteRT's are printed, unless the user sets
    TF_CPP_MIN_LOG_LEVEL."""
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    for model in (user_files["keras"], user_files["tflite"]):
        done = subprocess.run(
            [sys.executable, "-m", "kerasaudio.cli", "predict", env[1].path[0], "--model",
             model], capture_output=True, text=True, env=environment, timeout=300,
            check=False)
        assert done.returncode == 0 and done.stdout.startswith(env[1].path[0])
        assert done.stderr == "", done.stderr


def test_a_closed_pipe_ends_predict_quietly(env, user_files):
    """`kerasaudio predict ... | head -1`: no traceback when the reader goes."""
    lite = user_files["tflite"]
    files = list(env[1].path) * 4
    process = subprocess.Popen(
        [sys.executable, "-m", "kerasaudio.cli", "predict", *files, "--model", lite,
         "--format", "csv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().startswith("file,")
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=300) == 1 and "Traceback" not in err, err


@pytest.mark.export
def test_export_int8_calibrates_on_bundled_clips(env, capsys, tmp_path):
    target = tmp_path / "m5.tflite"
    out = run(capsys, "export", "m5_fsdd_digits", "--quantization", "int8", "-o", str(target))
    assert "PASSED" in out and "verified on:     120 clips" in out
    runner = kerasaudio.runtime.TFLiteModel(target)
    assert runner.class_names == DIGITS and runner.sample_rate == 8000
    out = run(capsys, "predict", env[1].path[0], "--model", str(target), "--format", "json")
    assert json.loads(out)["predictions"][0]["label"] in DIGITS


@pytest.mark.slow
def test_console_script_help_and_errors(env):
    done = subprocess.run([sys.executable, "-m", "kerasaudio.cli", "predict", "--help"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "--top-k" in done.stdout and "windows" in done.stdout
    done = subprocess.run([sys.executable, "-m", "kerasaudio.cli", "train", "no_such_recipe"],
                          capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "no recipe 'no_such_recipe'" in done.stderr


@pytest.mark.export
def test_export_keeps_named_layers_float(env, capsys, tmp_path):
    first = kerasaudio.export.first_layers_after_frontend(env[0])[-1]  # the stem
    target = tmp_path / "m5.tflite"
    out = run(capsys, "export", "m5_fsdd_digits", "--quantization", "int8",
              "--keep-float", first, "-o", str(target))
    assert "PASSED" in out and f"float layers:    {first}" in out
    assert "every layer quantized" not in out  # asked for: no fallback
    assert kerasaudio.runtime.TFLiteModel(target).class_names == DIGITS


@pytest.mark.export
def test_export_per_tensor_and_stripped_names(env, capsys, tmp_path):
    sizes = {}
    small = ("--per-tensor", "--strip-names", "--float16-constants")
    for flags in ((), small, (*small, "--no-equalize")):
        target = tmp_path / f"m5{len(flags)}.tflite"
        out = run(capsys, "export", "m5_fsdd_digits", "--quantization", "dynamic", *flags,
                  "-o", str(target))
        assert "PASSED" in out
        # per-tensor weights are cross-layer equalized unless --no-equalize
        assert ("cross-layer equalized" in out) == (flags == small)
        sizes[flags] = target.stat().st_size
        assert kerasaudio.runtime.TFLiteModel(target).class_names == DIGITS
    assert sizes[()] - sizes[small] > 2000


@pytest.mark.slow
@pytest.mark.parametrize(("recipe", "expect"), [
    ("deep_speaker_fsdd_speakers", "identification_accuracy"),
    ("m5_fsdd_digits", "official"),
])
def test_train_runs_a_packaged_recipe_with_its_tasks_protocols(recipe, expect, capsys,
                                                               tmp_path):
    """A speaker recipe trains on speaker labels: the recipe's task picks the protocols."""
    out = run(capsys, "train", recipe, "--protocol", "official", "--sample", "--epochs", "1",
              "--max-steps", "2", "--set", "training.batch_size=8", "--out",
              str(tmp_path / "run"))
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["preset"] == recipe and expect in summary
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["recipe"]["preset"] == recipe
    assert metrics["official"]["steps"] == 2
    if recipe.endswith("_speakers"):
        assert "6 speakers" in out and "EER" in out
        assert np.asarray(metrics["official"]["confusion"]).shape == (6, 6)


def test_train_takes_a_recipe_file_the_user_names(capsys, tmp_path):
    from kerasaudio.training.recipe import RECIPES_DIR

    data = json.loads((RECIPES_DIR / "m5_fsdd_digits.json").read_text())
    data["preset"] = "my_m5_fsdd_digits"
    data["model"]["options"]["n_channel"] = 8
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(data))
    out = run(capsys, "train", str(path), "--protocol", "official", "--sample", "--epochs",
              "1", "--max-steps", "1", "--set", "training.batch_size=8", "--out",
              str(tmp_path / "run"))
    assert json.loads(out.strip().splitlines()[-1])["preset"] == "my_m5_fsdd_digits"
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["kwargs"]["n_channel"] == 8


@pytest.mark.parametrize(("argv", "message"), [
    (["train", "no_such_recipe"], "no recipe 'no_such_recipe'"),
    (["train", "missing.json"], "no recipe 'missing.json': no such file"),
    (["train", "m5_fsdd_digits", "--set", "training.epochs"], "expected key.path=value"),
    (["train", "m5_fsdd_digits", "--protocol", "unseen"], "protocols ['unseen']"),
    (["train", "m5_fsdd_digits", "--max-steps", "0"], "--max-steps 0"),
    (["train", "m5_fsdd_digits", "--set", 'data.synthetic={"takes": 1}', "--sample"],
     "python -m zoo train"),
])
def test_train_refuses_with_one_message(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.integration
def test_train_never_runs_code_from_the_current_directory(tmp_path):
    """A directory holding zoo/recipes/<name>.py, zoo/common.py and a recipe JSON beside
    the script: `kerasaudio train <name>` (and a named .json file there) trains the
    recipe without importing or running any of it (each file would write a marker)."""
    marker = tmp_path / "executed"
    trap = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\n"
    recipes = tmp_path / "zoo" / "recipes"
    recipes.mkdir(parents=True)
    for path in [tmp_path / "zoo" / "__init__.py", tmp_path / "zoo" / "common.py",
                 recipes / "m5_fsdd_digits.py", tmp_path / "m5_fsdd_digits.py"]:
        path.write_text(trap + "def main(*args, **kwargs):\n    pass\n")
    (recipes / "m5_fsdd_digits.json").write_text(json.dumps({"preset": "hostile"}))
    code = textwrap.dedent("""
        import json, sys
        from kerasaudio.cli import main
        codes = [main(["train", "m5_fsdd_digits", "--protocol", "official", "--sample",
                       "--epochs", "1", "--max-steps", "1", "--set",
                       "training.batch_size=8", "--out", "run"]),
                 main(["train", "zoo/recipes/m5_fsdd_digits.json", "--protocol", ""])]
        print(json.dumps({"codes": codes, "zoo": sorted(
            m for m in sys.modules if m == "zoo" or m.startswith("zoo."))}))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300, check=False)
    assert not marker.exists(), marker.read_text()
    lines = done.stdout.strip().splitlines()
    assert json.loads(lines[-1]) == {"codes": [0, 2], "zoo": []}, done.stderr[-3000:]
    assert json.loads(lines[-2])["preset"] == "m5_fsdd_digits"  # the packaged recipe
    assert "recipe: missing 'model'" in done.stderr  # the named file is read as data
    assert (tmp_path / "run" / "m5_fsdd_digits.weights.h5").is_file()


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_predict_reports_unreadable_files_and_classifies_the_rest(env, capsys, tmp_path, fmt):
    good = env[1].path[0]
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio at all")
    missing = tmp_path / "missing.wav"
    code = cli.main(["predict", str(missing), good, str(broken), "--model", "m5_fsdd_digits",
                     "--format", fmt])
    captured = capsys.readouterr()
    assert code == 1
    assert str(missing) in captured.err and str(broken) in captured.err
    assert "Traceback" not in captured.err
    if fmt == "json":
        lines = [json.loads(line) for line in captured.out.splitlines()]
        assert [line["file"] for line in lines] == [str(missing), good, str(broken)]
        assert "error" in lines[0] and "error" in lines[2]
        assert lines[1]["predictions"][0]["label"] in DIGITS
    else:
        assert captured.out.startswith(f"{good}: ") and str(broken) not in captured.out


@pytest.mark.parametrize("argv", [
    ["predict", "x.wav", "--model", "no_such_fsdd_digits"],
    ["evaluate", "no_such_fsdd_digits"],
    ["export", "no_such_fsdd_digits", "-o", "x.tflite"],
])
def test_errors_are_one_message_not_a_traceback(env, capsys, argv):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "error: no preset named 'no_such_fsdd_digits'" in err and "Traceback" not in err
