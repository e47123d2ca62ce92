"""The Free Spoken Digit Dataset (FSDD): spoken digits 0-9, six speakers, 8 kHz WAV.

3,000 recordings `recordings/{digit}_{speaker}_{take}.wav` (6 speakers x 10 digits x 50
takes), mono 16-bit PCM at 8 kHz. The official split puts takes 0-4 in the test set and
takes 5-49 in the training set; leaving one speaker out is the harder,
speaker-independent test.

kerasaudio downloads nothing: point `find_root` at a copy of the dataset, or use the
bundled 120-file sample (`load(sample=True)`).

Example:
```python
from kerasaudio.datasets import fsdd
df = fsdd.load(sample=True)
train, test = fsdd.official_split(df)
len(train), len(test)  # (60, 60)
```
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from kerasaudio.errors import DatasetNotFoundError, InvalidOptionError

__all__ = [
    "CLASSES",
    "LICENSE",
    "SAMPLE_DIR",
    "SAMPLE_RATE",
    "SPEAKERS",
    "find_root",
    "leave_one_speaker_out",
    "load",
    "official_split",
    "sample_clips",
]

#: The six speakers, in the order `leave_one_speaker_out` yields them.
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
#: Class names in index order: the digits "0" to "9".
CLASSES = tuple(str(d) for d in range(10))
#: Sampling rate of every recording, Hz.
SAMPLE_RATE = 8000
#: Takes 0 to TEST_TAKES - 1 form the official test set.
TEST_TAKES = 5
#: Attribution and license, to keep with anything that redistributes the recordings.
LICENSE = (
    "Free Spoken Digit Dataset (FSDD) by Zohar Jackson et al., "
    "https://github.com/Jakobovski/free-spoken-digit-dataset, "
    "DOI 10.5281/zenodo.1342401. Licensed under the Creative Commons "
    "Attribution-ShareAlike 4.0 International License (CC BY-SA 4.0)."
)
#: The bundled sample: takes 0 and 5 of every digit and speaker (120 files, unmodified).
SAMPLE_DIR = Path(__file__).resolve().with_name("fsdd_sample")

_ENV = "KERASAUDIO_DATA"
_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")


def _as_fsdd_dir(candidate: Path) -> Path | None:
    """`candidate` itself if it holds `recordings/`, else `candidate/fsdd` if that does."""
    for path in (candidate, candidate / "fsdd"):
        if (path / "recordings").is_dir():
            return path
    return None


def find_root(root: str | os.PathLike | None = None) -> Path:
    """Locate the FSDD directory (the one that holds `recordings/`).

    Looks, in order, at: `root` if given (the FSDD directory, or a data directory with
    an `fsdd/` subdirectory; nothing else is tried then); the environment variable
    `KERASAUDIO_DATA` (same two forms); `../shared/data/fsdd` relative to the current
    directory; `../shared/data/fsdd` relative to the repository root (the parent of
    the `kerasaudio` package directory).

    Args:
        root: the FSDD directory or a data directory containing `fsdd/`.

    Returns:
        The absolute path of the FSDD directory.

    Raises:
        DatasetNotFoundError: no FSDD directory was found; the message lists every
            place looked at.

    Example:
    ```python
    root = kerasaudio.datasets.fsdd.find_root()  # e.g. PosixPath('/data/fsdd')
    ```
    """
    if root is not None:
        if not isinstance(root, (str, os.PathLike)):
            raise InvalidOptionError(
                f"root must be a str or os.PathLike, got {type(root).__name__}."
            )
        found = _as_fsdd_dir(Path(root).expanduser())
        if found is None:
            raise DatasetNotFoundError(
                f"FSDD not found at root={os.fspath(root)!r}: neither it nor its fsdd/ "
                "subdirectory contains a recordings/ directory."
            )
        return found.resolve()
    looked = []
    env = os.environ.get(_ENV)
    candidates = []
    if env:
        candidates.append((Path(env).expanduser(), f"${_ENV}"))
    else:
        looked.append(f"${_ENV} (not set)")
    repo_root = Path(__file__).resolve().parents[2]
    candidates.append((Path.cwd() / ".." / "shared" / "data" / "fsdd", "current directory"))
    candidates.append((repo_root / ".." / "shared" / "data" / "fsdd", "repository root"))
    for path, origin in candidates:
        found = _as_fsdd_dir(path)
        if found is not None:
            return found.resolve()
        looked.append(f"{path} (from {origin})")
    raise DatasetNotFoundError(
        "FSDD not found. Looked at: " + "; ".join(looked) + ". Pass root=..., set "
        f"{_ENV} to a directory containing fsdd/ (or to the fsdd directory), or use "
        "load(sample=True) for the bundled 120-file sample."
    )


def load(root: str | os.PathLike | None = None, *, sample: bool = False) -> pd.DataFrame:
    """List the FSDD recordings as a table.

    Args:
        root: passed to `find_root`; ignored when `sample` is True.
        sample: use the bundled sample (120 files: takes 0 and 5 of every digit and
            speaker) instead of a full copy of the dataset.

    Returns:
        A DataFrame with columns `path` (absolute, str), `digit` (int), `speaker`
        (str), `take` (int) and `split` (`"test"` for takes 0-4, else `"train"`),
        sorted by speaker, digit and take, with a fresh 0..n-1 index.

    Raises:
        DatasetNotFoundError: the dataset (or its recordings) was not found.

    Example:
    ```python
    df = kerasaudio.datasets.fsdd.load(sample=True)
    df.iloc[0].path.endswith("0_george_0.wav"), df.split.value_counts()["test"]
    # (True, 60)
    ```
    """
    directory = SAMPLE_DIR if sample else find_root(root) / "recordings"
    rows = []
    if directory.is_dir():
        for entry in os.scandir(directory):
            match = _NAME.match(entry.name)
            if match and entry.is_file():
                digit, speaker, take = int(match[1]), match[2], int(match[3])
                split = "test" if take < TEST_TAKES else "train"
                rows.append((str(Path(entry.path).resolve()), digit, speaker, take, split))
    if not rows:
        raise DatasetNotFoundError(f"no FSDD recordings ({{digit}}_{{speaker}}_{{take}}.wav) "
                                   f"in {directory}.")
    rows.sort(key=lambda r: (r[2], r[1], r[3]))
    df = pd.DataFrame(rows, columns=["path", "digit", "speaker", "take", "split"])
    return df.astype({"digit": "int64", "take": "int64"})


def _check_frame(df) -> None:
    if not isinstance(df, pd.DataFrame):
        raise InvalidOptionError(f"expected a DataFrame from fsdd.load(), got {type(df).__name__}.")
    missing = [c for c in ("speaker", "take") if c not in df.columns]
    if missing:
        raise InvalidOptionError(
            f"the DataFrame lacks column(s) {missing}; pass the table fsdd.load() returns."
        )


def official_split(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The official split: takes 5-49 train, takes 0-4 test.

    Args:
        df: a table from `load` (or a subset of one).

    Returns:
        `(train_df, test_df)`, each re-indexed from 0, in `df`'s order.

    Raises:
        InvalidOptionError: `df` is not a DataFrame with `speaker` and `take` columns.

    Example:
    ```python
    from kerasaudio.datasets import fsdd
    train, test = fsdd.official_split(fsdd.load())
    len(train), len(test)  # (2700, 300)
    ```
    """
    _check_frame(df)
    is_test = df["take"] < TEST_TAKES
    return df[~is_test].reset_index(drop=True), df[is_test].reset_index(drop=True)


def leave_one_speaker_out(df: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """Speaker-independent folds: each speaker in turn is the test set.

    Args:
        df: a table from `load` (or a subset of one).

    Returns:
        An iterator of `(speaker, train_df, test_df)`, one per speaker present in `df`,
        in `SPEAKERS` order (then any other speakers, sorted); the frames are
        re-indexed from 0.

    Raises:
        InvalidOptionError: `df` is not a DataFrame with `speaker` and `take` columns.

    Example:
    ```python
    from kerasaudio.datasets import fsdd
    for speaker, train, test in fsdd.leave_one_speaker_out(fsdd.load()):
        print(speaker, len(train), len(test))  # george 2500 500 ...
    ```
    """
    _check_frame(df)  # here, not in the generator, so a bad argument fails at the call
    present = set(df["speaker"])
    order = [s for s in SPEAKERS if s in present] + sorted(present - set(SPEAKERS))
    return _folds(df, order)


def _folds(df: pd.DataFrame, order: list[str]):
    for speaker in order:
        held_out = df["speaker"] == speaker
        yield speaker, df[~held_out].reset_index(drop=True), df[held_out].reset_index(drop=True)


def sample_clips(*, label: str = "digit", class_names=None, sample_rate: int = SAMPLE_RATE,
                 input_length: int = SAMPLE_RATE):
    """The bundled sample's clips, fitted to a model's input: `(clips, labels)`.

    Every bundled clip whose label is among `class_names`, loaded at `sample_rate` and
    centred in `input_length` samples (cropped or zero-padded), with its label's index in
    `class_names`. Calibrates int8 export and verifies exported files of an FSDD model
    without any external data (`kerasaudio.hub.representative_clips` calls this for a
    preset).

    Args:
        label: `"digit"` or `"speaker"`: what the model predicts.
        class_names: output index -> label (default `CLASSES` for digits, `SPEAKERS` for
            speakers).
        sample_rate: Hz of the audio the model takes.
        input_length: samples per clip.

    Returns:
        `(clips, labels)`: `(n, input_length)` float32 and `(n,)` int indices.

    Raises:
        InvalidOptionError: an unknown `label`, or no bundled clip has one of
            `class_names`.

    Example:
    ```python
    clips, digits = kerasaudio.datasets.fsdd.sample_clips(label="digit")
    clips.shape  # (120, 8000)
    ```
    """
    import numpy as np

    from kerasaudio.audio_io import load_audio

    if label not in ("digit", "speaker"):
        raise InvalidOptionError(f"label={label!r}; use 'digit' or 'speaker'.")
    if class_names is None:
        class_names = CLASSES if label == "digit" else SPEAKERS
    index = {str(name): i for i, name in enumerate(class_names)}
    frame = load(sample=True)
    clips, labels = [], []
    for path, name in zip(frame["path"], frame[label].astype(str), strict=True):
        if name not in index:
            continue
        audio, _ = load_audio(path, sample_rate=sample_rate)
        if len(audio) >= input_length:
            start = (len(audio) - input_length) // 2
            audio = audio[start:start + input_length]
        else:
            total = input_length - len(audio)
            audio = np.pad(audio, (total // 2, total - total // 2))
        clips.append(audio)
        labels.append(index[name])
    if not clips:
        raise InvalidOptionError(f"no bundled FSDD clip has a {label} among "
                                 f"{list(class_names)}.")
    return np.stack(clips).astype(np.float32), np.asarray(labels)
