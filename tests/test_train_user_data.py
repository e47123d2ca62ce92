"""`kerasaudio train START --csv FILE`: training on the user's own clips (real FSDD
recordings listed in a CSV, as a user would), its outputs, resuming, and bad input.

The trainings use a tiny M5 (4 channels) on 40 clips (4 speakers x 10 digits) for 1-2
epochs; the numbers they reach are not asserted (nothing here is tuned to pass), only
that every output is there, valid and consistent with the model that was saved.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kerasaudio.cli import main
from kerasaudio.errors import AudioFileNotFoundError, InvalidOptionError

FSDD = Path("/work/shared/data/fsdd/recordings")
SPEAKERS = ("george", "jackson", "lucas", "nicolas")
ROOT = Path(__file__).resolve().parents[1]
TINY = ["--set", "model.options.n_channel=4", "--batch-size", "8"]

pytestmark = pytest.mark.skipif(not FSDD.is_dir(), reason=f"needs FSDD at {FSDD}")


def _write_csv(path: Path, header, rows) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """`digits.csv` (single-label) and `tags.csv` (digit and speaker tags), 40 clips,
    paths relative to FSDD's recordings folder (given with --audio-dir)."""
    folder = tmp_path_factory.mktemp("tables")
    rows = [(f"{d}_{s}_0.wav", str(d), s) for s in SPEAKERS for d in range(10)]
    _write_csv(folder / "digits.csv", ["fname", "labels", "speaker"], rows)
    _write_csv(folder / "tags.csv", ["fname", "labels", "speaker"],
               [(f, f"{d},{s}", s) for f, d, s in rows])
    return folder


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _check_model(path: Path, *, task: str, classes: list[str]):
    import keras

    from kerasaudio.info import model_info

    model = keras.saving.load_model(path, safe_mode=True)
    info = model_info(model)
    assert (info.task, list(info.class_names)) == (task, classes)
    assert (info.sample_rate, info.input_length) == (8000, 8000)
    return model


def _predict(model, names: list[str]) -> np.ndarray:
    from kerasaudio.data import audio_dataset

    ds = audio_dataset([os.fspath(FSDD / n) for n in names], sample_rate=8000, duration=1.0,
                       batch_size=8)
    return model.predict(ds, verbose=0)


@pytest.mark.integration
def test_single_label_with_folds_in_process(tables, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "m5", "--csv", os.fspath(tables / "digits.csv"), "--audio-dir",
                 os.fspath(FSDD), "--group-column", "speaker", "--n-folds", "2",
                 "--epochs", "2", "--augment", "gain", "--out", os.fspath(out), *TINY])
    printed = capsys.readouterr().out
    assert code == 0
    summary = json.loads(printed.strip().splitlines()[-1])
    assert summary["task"] == "single-label"
    assert summary["evaluated_on"] == "out-of-fold predictions"
    assert "step" in printed and "epoch 2/2" in printed  # the progress bars and lines
    digits = [str(d) for d in range(10)]
    model = _check_model(out / "model.keras", task="single-label", classes=digits)
    assert (out / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"accuracy", "folds", "history", "class_names", "recipe"} <= set(metrics)
    assert "lwlrap" not in metrics and len(metrics["history"]["loss"]) == 2
    assert sorted(metrics["folds"]) == ["0", "1"]
    oof = _read_csv(out / "oof_predictions.csv")
    table = _read_csv(tables / "digits.csv")
    assert [r["fname"] for r in oof] == [r["fname"] for r in table]
    folds_of = {}
    for row, clip in zip(oof, table, strict=True):
        folds_of.setdefault(clip["speaker"], set()).add(row["fold"])
    assert all(len(f) == 1 for f in folds_of.values())  # a speaker stays in one fold
    assert {f for (f,) in folds_of.values()} == {"0", "1"}
    probs = np.array([[float(r[c]) for c in digits] for r in oof])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)  # softmax
    truth = np.array([int(r["labels"]) for r in oof])
    assert metrics["accuracy"] == pytest.approx(float((probs.argmax(1) == truth).mean()),
                                                abs=1e-5)
    assert _predict(model, [r["fname"] for r in table[:8]]).shape == (8, 10)


@pytest.mark.integration
def test_multi_label_subprocess_from_a_copied_package(tables, tmp_path):
    """`python -m kerasaudio train` from a copy of the package alone (no repository
    around it), in an empty working directory."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "kerasaudio", site / "kerasaudio",
                    ignore=shutil.ignore_patterns("__pycache__"))
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": os.fspath(site), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "kerasaudio", "train", "m5", "--csv",
         os.fspath(tables / "tags.csv"), "--audio-dir", os.fspath(FSDD), "--epochs", "2",
         "--augment", "none", "--verbose", "0", *TINY],
        cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    out = work / "runs" / "tags-m5"
    assert summary["preset"] == "tags-m5" and summary["task"] == "multi-label"
    classes = [str(d) for d in range(10)] + list(SPEAKERS)
    model = _check_model(out / "model.keras", task="multi-label", classes=classes)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["evaluated_on"].startswith("training clips")
    assert not (out / "oof_predictions.csv").exists()
    names = [r["fname"] for r in _read_csv(tables / "tags.csv")]
    probs = _predict(model, names)
    assert ((probs > 0) & (probs < 1)).all() and not np.allclose(probs.sum(1), 1.0)
    from kerasaudio.metrics import lwlrap
    from kerasaudio.training.user_data import read_table

    truth = read_table(tables / "tags.csv", audio_dir=FSDD).targets()
    # The metrics are the saved model's (center-cropped clips, as at inference).
    assert metrics["lwlrap"] == pytest.approx(lwlrap(truth, probs), abs=1e-4)


class _Stop(Exception):
    """Raised from the progress log: the run stops there, as at a Ctrl-C."""


def _stopping_log(lines: list, stop_at: str | None):
    seen_final = []

    def log(line: str) -> None:
        lines.append(line)
        if line.startswith("training on all"):
            seen_final.append(True)
        if stop_at is not None and line.startswith(stop_at) and (
                not stop_at.startswith("epoch") or seen_final):
            raise _Stop(line)

    return log


@pytest.mark.integration
def test_resume_after_interrupted_runs(tables, tmp_path):
    """A multi-label run stopped after its first fold, then in its final training."""
    from kerasaudio.training.user_data import train_table

    out = tmp_path / "run"
    options = {"out": out, "audio_dir": FSDD, "group_column": "speaker", "n_folds": 2,
               "epochs": 2, "batch_size": 8, "augment": ["none"],
               "overrides": ["model.options.n_channel=4"], "verbose": 1}
    first, second, third = [], [], []
    with pytest.raises(_Stop):  # stopped after fold 0
        train_table("m5", tables / "tags.csv", log=_stopping_log(first, "fold 2/2"),
                    **options)
    fold0 = json.loads((out / "checkpoints" / "fold_0" / "result.json").read_text())
    with pytest.raises(_Stop):  # stopped in the final training, after its first epoch
        train_table("m5", tables / "tags.csv", log=_stopping_log(second, "epoch 2/2"),
                    **options)
    assert not any(line.startswith("fold 1/2") for line in second)  # fold 0 kept
    epoch1 = json.loads((out / "checkpoints" / "final" / "state.json").read_text())
    assert epoch1["epochs"] == 1
    _, metrics = train_table("m5", tables / "tags.csv",
                             log=_stopping_log(third, None), **options)
    assert not any(line.startswith("fold") for line in third)  # both folds kept
    assert any(line.startswith("resuming from the checkpoint after epoch 1")
               for line in third)
    assert metrics["folds"]["0"] == fold0
    assert len(metrics["history"]["loss"]) == 2
    assert metrics["history"]["loss"][0] == epoch1["history"]["loss"][0]
    assert metrics["task"] == "multi-label" and 0 < metrics["lwlrap"] <= 1
    assert (out / "model.keras").is_file() and (out / "oof_predictions.csv").is_file()
    # Other settings in the same directory are refused, not mixed in.
    with pytest.raises(InvalidOptionError, match="holds a run with other data or settings"):
        train_table("m5", tables / "tags.csv", log=None, **{**options, "epochs": 3})


def test_fine_tuning_a_preset_keeps_its_weights_and_gets_a_new_head(tables, tmp_path):
    """Learning rate 0: the trained layers stay the preset's, the head is new."""
    import keras

    import kerasaudio
    from kerasaudio.training.user_data import train_table

    rows = [(f"{d}_{s}_0.wav", "yes" if d % 2 else "no") for s in SPEAKERS[:2]
            for d in range(8)]
    table = _write_csv(tmp_path / "yesno.csv", ["fname", "labels"], rows)
    model, metrics = train_table(
        "m5_fsdd_digits", table, out=tmp_path / "run", audio_dir=FSDD, epochs=1,
        batch_size=8, max_steps=1, overrides=["training.learning_rate=0"], verbose=0,
        log=None)
    assert metrics["preset_weights"] == "m5_fsdd_digits"
    preset = kerasaudio.create_model("m5_fsdd_digits")
    ours = {w.path: keras.ops.convert_to_numpy(w) for w in model.trainable_weights}
    theirs = [keras.ops.convert_to_numpy(w) for w in preset.trainable_weights]
    assert len(ours) == len(theirs)
    *body, kernel, bias = ours.values()
    for mine, original in zip(body, theirs[:-2], strict=True):
        np.testing.assert_array_equal(mine, original)
    assert kernel.shape == (theirs[-2].shape[0], 2) and bias.shape == (2,)


def _main_error(args: list[str], capsys) -> str:
    code = main(["train", *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    return err


def test_bad_tables_are_usage_errors(tables, tmp_path, capsys):
    audio = ["--audio-dir", os.fspath(FSDD), "--out", os.fspath(tmp_path / "run")]
    renamed = _write_csv(tmp_path / "renamed.csv", ["file", "tag"],
                         [("0_george_0.wav", "0"), ("1_george_0.wav", "1")])
    err = _main_error(["m5", "--csv", os.fspath(renamed), "--group-column", "speaker",
                       *audio], capsys)
    for column in ("'fname'", "'labels'", "'speaker'"):  # every missing column named
        assert column in err
    missing = _write_csv(tmp_path / "missing.csv", ["fname", "labels"],
                         [("0_george_0.wav", "0"), ("nope_1.wav", "1"), ("nope_2.wav", "2")])
    err = _main_error(["m5", "--csv", os.fspath(missing), *audio], capsys)
    assert "nope_1.wav" in err and "2 of the table's 3 files are missing" in err
    err = _main_error(["m5", "--csv", os.fspath(tables / "digits.csv"), "--classes", "0,1,2",
                       *audio], capsys)
    assert "unknown labels 3, 4, 5" in err
    header_only = _write_csv(tmp_path / "empty.csv", ["fname", "labels"], [])
    assert "no rows" in _main_error(["m5", "--csv", os.fspath(header_only), *audio], capsys)
    (tmp_path / "zero.csv").write_bytes(b"")
    assert "missing path column 'fname', label column 'labels'" in _main_error(
        ["m5", "--csv", os.fspath(tmp_path / "zero.csv"), *audio], capsys)
    assert "no such file" in _main_error(
        ["m5", "--csv", os.fspath(tmp_path / "absent.csv"), *audio], capsys)
    assert "--protocol: not an option of a --csv run" in _main_error(
        ["m5", "--csv", os.fspath(tables / "digits.csv"), "--protocol", "official"], capsys)
    assert "--group-column: not an option of a recipe run" in _main_error(
        ["m5_fsdd_digits", "--group-column", "speaker"], capsys)
    assert "no packaged recipe uses the architecture 'ast'" in _main_error(
        ["ast", "--csv", os.fspath(tables / "digits.csv"), *audio], capsys)
    assert not (tmp_path / "run").exists()  # nothing written for a refused table


def test_read_table_api(tables, tmp_path):
    """The same checks from Python: a DataFrame, a dict, errors of the right class."""
    import pandas as pd

    from kerasaudio.training.user_data import assign_folds, read_table

    frame = pd.read_csv(tables / "tags.csv")
    table = read_table(frame, audio_dir=FSDD, group_column="speaker")
    assert table.multi_label and len(table) == 40 and table.groups[0] == "george"
    assert table.targets([0]).sum() == 2
    single = read_table({"f": ["0_george_0.wav", "1_george_0.wav"], "y": [0, 1]},
                        audio_dir=FSDD, path_column="f", label_column="y")
    assert single.class_names == ("0", "1") and not single.multi_label
    with pytest.raises(AudioFileNotFoundError):
        read_table({"fname": ["x.wav", "y.wav"], "labels": ["a", "b"]}, audio_dir=FSDD)
    with pytest.raises(InvalidOptionError, match="several labels"):
        read_table({"fname": ["0_george_0.wav"] * 2, "labels": [["a", "b"], ["a"]]},
                   audio_dir=FSDD, multi_label=False)
    folds = assign_folds(len(table), groups=table.groups, n_folds=3)
    assert sorted(set(folds)) == [0, 1, 2]
    with pytest.raises(InvalidOptionError, match="only 4 groups"):
        assign_folds(len(table), groups=table.groups, n_folds=5)


def test_audio_dataset_names_every_missing_column(fsdd_sample):
    from kerasaudio.data import audio_dataset

    frame = fsdd_sample.rename(columns={"path": "file"})
    with pytest.raises(InvalidOptionError) as info:
        audio_dataset(frame, sample_rate=8000, label_column="labels")
    assert "path column 'path'" in str(info.value) and "label column 'labels'" in str(
        info.value)


def test_lwlrap_metric_string_in_compile():
    import keras

    import kerasaudio  # noqa: F401  (registers "lwlrap")
    from kerasaudio.metrics import lwlrap

    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 5)).astype("float32")
    y = (rng.random((16, 3)) > 0.5).astype("float32")
    y[:, 0] = 1.0
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["lwlrap"])
    result = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    assert result["lwlrap"] == pytest.approx(lwlrap(y, model.predict(x, verbose=0)),
                                             abs=1e-5)


def test_start_recipe_front_end_and_rate():
    """Another recipe's front end at another rate: the layers take the rate, the fixed
    frame count of its Reshape follows the window, and the model builds."""
    from kerasaudio.training.build import build_model
    from kerasaudio.training.user_data import start_recipe

    recipe, preset = start_recipe("logmel_cnn_fsdd_digits", frontend="mfcc_cnn_fsdd_digits",
                                  sample_rate=16000, duration=0.5, augment=["noise", "mixup"])
    assert preset == "logmel_cnn_fsdd_digits" and recipe.samples == 8000
    assert recipe.frontend[0]["class_name"] == "MFCC"
    assert recipe.frontend[0]["config"]["sample_rate"] == 16000
    assert recipe.frontend[1]["config"]["target_shape"] == [-1, 20, 1]
    assert [s["class_name"] for s in recipe.augment.waveform] == ["AddNoise"]
    assert recipe.augment.mixup_alpha == 0.2 and recipe.augment.features == []
    model = build_model(recipe, class_names=["a", "b", "c"])
    assert tuple(model.outputs[0].shape) == (None, 3)
    with pytest.raises(InvalidOptionError, match="augment"):
        start_recipe("m5", augment=["reverb"])
    with pytest.raises(InvalidOptionError, match="stacking recipe"):
        start_recipe("stack_fsdd_digits")


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--sample-rate", "0", "sample_rate=0"), ("--duration", "nan", "duration=nan"),
    ("--batch-size", "0", "batch_size=0"), ("--n-folds", "1", "n_folds=1"),
    ("--epochs", "0", "--epochs 0")])
def test_bad_numbers_are_usage_errors(tables, tmp_path, capsys, option, value, message):
    err = _main_error(["m5", "--csv", os.fspath(tables / "digits.csv"), "--audio-dir",
                       os.fspath(FSDD), "--out", os.fspath(tmp_path / "run"), option, value],
                      capsys)
    assert message in err
