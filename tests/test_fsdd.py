"""Tests of kerasaudio.datasets.fsdd on the bundled sample and, when present, the full
FSDD (/work/shared/data/fsdd or $KERASAUDIO_DATA)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from kerasaudio import data
from kerasaudio.datasets import fsdd
from kerasaudio.errors import DatasetNotFoundError, InvalidOptionError, KerasAudioError

try:
    FULL_ROOT = fsdd.find_root()
except KerasAudioError:
    FULL_ROOT = None
needs_full = pytest.mark.skipif(FULL_ROOT is None, reason="the full FSDD is not available")


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return fsdd.load(sample=True)


def _fake_fsdd(directory: Path, n: int = 2) -> Path:
    """A tiny FSDD copy (n real sample recordings) under directory/recordings."""
    recordings = directory / "recordings"
    recordings.mkdir(parents=True)
    for path in sorted(fsdd.SAMPLE_DIR.glob("*.wav"))[:n]:
        shutil.copy(path, recordings / path.name)
    return directory


def _copied_module(tmp_path: Path):
    """fsdd.py imported from a copy at tmp/repo/kerasaudio/datasets/fsdd.py, so that its
    repository-root fallback is tmp/repo/../shared/data/fsdd."""
    target = tmp_path / "repo" / "kerasaudio" / "datasets" / "fsdd.py"
    target.parent.mkdir(parents=True)
    shutil.copy(fsdd.__file__, target)
    spec = importlib.util.spec_from_file_location("fsdd_copy", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------- sample


def test_sample_table(sample):
    assert list(sample.columns) == ["path", "digit", "speaker", "take", "split"]
    assert len(sample) == 120
    assert sample.digit.dtype == np.int64 and sample["take"].dtype == np.int64
    assert sorted(set(sample.speaker)) == list(fsdd.SPEAKERS)
    assert sorted(set(sample.digit)) == list(range(10))
    assert sorted(set(sample["take"])) == [0, 5]
    assert sample.split.value_counts().to_dict() == {"test": 60, "train": 60}
    assert (sample.split == np.where(sample["take"] < 5, "test", "train")).all()
    keys = list(zip(sample.speaker, sample.digit, sample["take"], strict=True))
    assert keys == sorted(keys) and list(sample.index) == list(range(120))
    first = sample.iloc[0]
    assert Path(first.path).name == "0_george_0.wav" and Path(first.path).is_absolute()
    for row in sample.itertuples():
        assert Path(row.path).name == f"{row.digit}_{row.speaker}_{row.take}.wav"


def test_sample_files_are_real_fsdd_recordings(sample):
    total = 0
    for path in sample.path:
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.format, info.subtype) == \
            (8000, 1, "WAV", "PCM_16")
        assert 0.1 < info.duration < 2.5
        total += Path(path).stat().st_size
    assert total < 2 * 1024 * 1024  # 120 short 8 kHz files: well under 1 MB


@needs_full
def test_sample_is_an_unmodified_subset(sample):
    for path in sample.path[::7]:
        original = FULL_ROOT / "recordings" / Path(path).name
        assert original.read_bytes() == Path(path).read_bytes()


def test_sample_readme_has_attribution():
    text = (fsdd.SAMPLE_DIR / "README.md").read_text()
    for words in ["Zohar Jackson", "github.com/Jakobovski/free-spoken-digit-dataset",
                  "10.5281/zenodo.1342401", "CC BY-SA 4.0", "unmodified", "takes 0 and 5"]:
        assert words in text
    for words in ["Zohar Jackson", "10.5281/zenodo.1342401", "CC BY-SA 4.0"]:
        assert words in fsdd.LICENSE


def test_constants():
    assert fsdd.SPEAKERS == ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
    assert fsdd.CLASSES == tuple("0123456789")
    assert fsdd.SAMPLE_RATE == 8000


# ---------------------------------------------------------------------------- splits


def test_official_split_of_sample(sample):
    train, test = fsdd.official_split(sample)
    assert len(train) == len(test) == 60
    assert set(train["take"]) == {5} and set(test["take"]) == {0}
    assert list(train.index) == list(range(60))
    assert set(train.path).isdisjoint(test.path)


@needs_full
def test_full_dataset_and_official_split():
    df = fsdd.load()
    assert len(df) == 3000
    assert df.groupby(["speaker", "digit"]).size().eq(50).all()
    train, test = fsdd.official_split(df)
    assert (len(train), len(test)) == (2700, 300)
    assert test["take"].max() == 4 and train["take"].min() == 5
    assert (test.split == "test").all() and (train.split == "train").all()


def test_leave_one_speaker_out(sample):
    folds = list(fsdd.leave_one_speaker_out(sample))
    assert [speaker for speaker, _, _ in folds] == list(fsdd.SPEAKERS)
    for speaker, train, test in folds:
        assert set(test.speaker) == {speaker} and speaker not in set(train.speaker)
        assert (len(train), len(test)) == (100, 20)
        assert sorted([*train.path, *test.path]) == sorted(sample.path)
    subset = sample[sample.speaker.isin(["theo", "george"])]
    assert [s for s, _, _ in fsdd.leave_one_speaker_out(subset)] == ["george", "theo"]


def test_split_argument_errors(sample):
    with pytest.raises(InvalidOptionError, match="DataFrame"):
        fsdd.official_split(list(sample.path))
    with pytest.raises(InvalidOptionError, match="take"):
        fsdd.leave_one_speaker_out(sample.drop(columns=["take"]))


# ------------------------------------------------------------------------- find_root


def test_find_root_explicit_forms(tmp_path):
    root = _fake_fsdd(tmp_path / "data" / "fsdd")
    assert fsdd.find_root(root) == root.resolve()
    assert fsdd.find_root(str(tmp_path / "data")) == root.resolve()
    df = fsdd.load(tmp_path / "data")
    assert len(df) == 2 and df.path.map(lambda p: p.startswith(str(root.resolve()))).all()


def test_find_root_explicit_bad_root_does_not_fall_back(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="neither it nor its fsdd/") as info:
        fsdd.find_root(tmp_path)
    assert str(tmp_path) in str(info.value)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, KerasAudioError)
    assert not isinstance(info.value, ValueError)  # a missing file, not a bad value


@pytest.mark.parametrize("form", ["data_dir", "fsdd_dir"])
def test_find_root_environment_variable(tmp_path, monkeypatch, form):
    root = _fake_fsdd(tmp_path / "data" / "fsdd")
    env = tmp_path / "data" if form == "data_dir" else root
    monkeypatch.setenv("KERASAUDIO_DATA", str(env))
    assert fsdd.find_root() == root.resolve()
    assert len(fsdd.load()) == 2


def test_find_root_relative_to_current_directory(tmp_path, monkeypatch):
    module = _copied_module(tmp_path)
    root = _fake_fsdd(tmp_path / "elsewhere" / "shared" / "data" / "fsdd")
    work = tmp_path / "elsewhere" / "project"
    work.mkdir()
    monkeypatch.delenv("KERASAUDIO_DATA", raising=False)
    monkeypatch.chdir(work)
    assert module.find_root() == root.resolve()


def test_find_root_relative_to_repository_root(tmp_path, monkeypatch):
    module = _copied_module(tmp_path)
    root = _fake_fsdd(tmp_path / "shared" / "data" / "fsdd")
    monkeypatch.delenv("KERASAUDIO_DATA", raising=False)
    monkeypatch.chdir(tmp_path / "repo" / "kerasaudio")  # cwd/../shared does not exist
    assert module.find_root() == root.resolve()


def test_find_root_nothing_found_lists_places(tmp_path, monkeypatch):
    module = _copied_module(tmp_path)
    empty = tmp_path / "nowhere"
    empty.mkdir()
    monkeypatch.setenv("KERASAUDIO_DATA", str(empty))
    monkeypatch.chdir(tmp_path / "repo")
    with pytest.raises(DatasetNotFoundError) as info:
        module.find_root()
    message = str(info.value)
    assert f"{empty} (from $KERASAUDIO_DATA)" in message
    assert "(from current directory)" in message and "(from repository root)" in message
    assert "load(sample=True)" in message
    monkeypatch.delenv("KERASAUDIO_DATA")
    with pytest.raises(DatasetNotFoundError, match=r"\$KERASAUDIO_DATA \(not set\)"):
        module.load()


def test_load_empty_recordings_directory(tmp_path):
    (tmp_path / "fsdd" / "recordings").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError, match="no FSDD recordings"):
        fsdd.load(tmp_path)


# ----------------------------------------------------------------------- integration


def test_sample_through_audio_dataset(sample):
    train, _ = fsdd.official_split(sample)
    ds = data.audio_dataset(train, classes=fsdd.CLASSES, label_column="digit",
                            sample_rate=fsdd.SAMPLE_RATE, duration=1.0, batch_size=25)
    labels = np.concatenate([y.numpy() for _, y in ds])
    np.testing.assert_array_equal(labels, train.digit.to_numpy())
    assert ds.class_names == list(fsdd.CLASSES) and len(ds.file_paths) == 60
