"""Every example in the README and the user guides runs, as a user would paste it.

The code blocks of README.md, docs/index.md, docs/getting-started.md and docs/guides/*.md
are read from the Markdown: every fenced ```python block (indented ones in lists too), and
in every shell block (```bash, ```sh, ```shell, ```console) each command line that calls
`kerasaudio ...`, `python -m ...` or `python examples/...` (continuation lines joined;
other lines, such as `make demo` or `export VAR=...`, are not commands of the package).

Python blocks run in this process (`exec`, a fresh namespace: a block must import what it
uses), shell commands as child processes (`python -m kerasaudio ...`, this checkout's
package), all in one working directory prepared with the files the blocks name
(`PREPARED`, each made the way the guides tell a user to, when a block first names it),
offline (`KERASAUDIO_OFFLINE=1`, an empty weights cache), with `KERASAUDIO_DATA` pointing
at an FSDD directory holding the bundled sample's 120 clips. The trainings of the `slow`
tier run on the full FSDD instead (a recipe's batch of 64 needs more than the sample's 60
training clips): `KERASAUDIO_DATA` is its directory, and the CSV tables of "your own
clips" list its takes 0-9 (600 clips); they are skipped, with that reason, where the full
FSDD is not found.

A block that needs more than the default tier says so in an HTML comment on the line
before it, and runs in that tier:

- `<!-- test: integration -->`: several commands, each a fresh Python process loading
  TensorFlow (`make test-integration`);
- `<!-- test: export -->`: a verified TFLite export of a full model (`make test-export`);
- `<!-- test: slow -->`: a training (`make test-slow`);
- `<!-- test: parity -->`: torch and transformers (`make test-parity`);
- `<!-- test: network, not run: REASON -->` (a download the user makes, from the Hugging
  Face hub or elsewhere) or `<!-- test: not run: REASON -->` (e.g. two machines): never
  run; REASON must name the test file that covers what the block does
  (`tests/test_*.py`, which must exist).

Every python block, run or not, is checked for names it uses without defining them
(ruff's F821), so no block is a fragment.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import kerasaudio
import kerasaudio.hub  # registers every family (`stack` too) before the registry copies
from kerasaudio.models import registry

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "docs" / "index.md", ROOT / "docs" / "getting-started.md",
        *sorted((ROOT / "docs" / "guides").glob("*.md"))]
SHELLS = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[ \t]*$")
MARKER = re.compile(r"^[ \t]*<!--[ \t]*test:[ \t]*(?P<spec>.*?)[ \t]*-->[ \t]*$")
NOT_RUN = re.compile(r"^(?:network, )?not run: (?P<reason>.+)$")
COMMAND = re.compile(r"^(?:kerasaudio\s|python3?\s+-m\s|python3?\s+examples/)")
#: Tier marker -> pytest marks of its test cases.
TIERS = {
    "integration": [pytest.mark.integration],
    "export": [pytest.mark.export],
    "slow": [pytest.mark.slow],
    "parity": [pytest.mark.parity, pytest.mark.requires("torch", "transformers")],
}


@dataclass(frozen=True)
class Block:
    """One code block: where it is, its language ("python" or "shell"), its code (a
    shell block's commands, one per line), and its tier marker (None: the default)."""

    path: str
    line: int
    language: str
    code: str
    marker: str | None

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def not_run(self) -> str | None:
        """The reason a `not run` block is never run (None for every other block)."""
        match = NOT_RUN.match(self.marker or "")
        return match["reason"] if match else None


def shell_commands(lines: list[str]) -> list[str]:
    """The package's command lines of a shell block, continuation lines joined."""
    joined, current = [], ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        joined.append(current + line)
        current = ""
    return [line.strip() for line in joined if COMMAND.match(line.strip())]


def read_blocks(path: Path) -> list[Block]:
    """The python blocks and the shell blocks holding package commands of one file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening or not opening["lang"]:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        body = textwrap.dedent("\n".join(lines[i + 1:end]))
        before = next((line for line in reversed(lines[:i]) if line.strip()), "")
        marker = MARKER.match(before)
        language = opening["lang"]
        code = None
        if language == "python":
            code = body + "\n"
        elif language in SHELLS:
            commands = shell_commands(body.splitlines())
            code = "\n".join(commands) if commands else None
            language = "shell"
        if code is not None:
            blocks.append(Block(str(path.relative_to(ROOT)), i + 1, language, code,
                                marker["spec"] if marker else None))
        i = end + 1
    return blocks


BLOCKS = [block for path in DOCS if path.exists() for block in read_blocks(path)]


def _param(block: Block):
    return pytest.param(block, id=block.id, marks=TIERS.get(block.marker or "", []))


def test_blocks_are_found_and_markers_known():
    """Every guide is read, every marker is a tier or a reasoned `not run` naming the
    test that covers the block, and markers sit only before blocks that are examples."""
    files = {block.path for block in BLOCKS}
    for guide in ("README.md", "docs/guides/models.md", "docs/guides/training.md",
                  "docs/guides/stacking.md", "docs/guides/frontends.md"):
        assert guide in files, guide
    assert sum(block.language == "shell" for block in BLOCKS) >= 3
    for block in BLOCKS:
        if block.marker is None or block.marker in TIERS:
            continue
        assert block.not_run, f"{block.id}: unknown marker {block.marker!r}"
        covered = re.findall(r"tests/test_\w+\.py", block.not_run)
        assert covered, f"{block.id}: the reason names no covering test: {block.not_run}"
        for test in covered:
            assert (ROOT / test).exists(), f"{block.id}: {test} does not exist"
    for path in DOCS:
        text = path.read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(text):
            if MARKER.match(line):
                after = next((later for later in text[n + 1:] if later.strip()), "")
                assert FENCE.match(after), f"{path}:{n + 1}: a marker not before a block"


def test_every_python_block_is_complete():
    """No python block uses a name it does not define or import (ruff F821), so each
    one runs when pasted on its own, the blocks never run here included."""
    ruff = shutil.which("ruff", path=os.path.dirname(sys.executable)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (the test extra has it)")
    failures = []
    for block in BLOCKS:
        if block.language != "python":
            continue
        compile(block.code, block.id, "exec")
        done = subprocess.run([ruff, "check", "--isolated", "--select", "F821",
                               "--output-format", "concise", "--stdin-filename",
                               "block.py", "-"], input=block.code, capture_output=True,
                              text=True)
        if done.returncode:
            failures.append(f"{block.id}:\n{done.stdout}")
    assert not failures, "\n".join(failures)


# ----------------------------------------------------------------------------- files


def _sample_clip(frame, digit: int, speaker: str) -> str:
    return frame.path[(frame.digit == digit) & (frame.speaker == speaker)].iloc[0]


def _clip(directory: Path, frame) -> None:
    shutil.copy(_sample_clip(frame, 7, "jackson"), directory / "clip.wav")


def _pair(directory: Path, frame) -> None:
    shutil.copy(_sample_clip(frame, 3, "theo"), directory / "a.wav")
    shutil.copy(_sample_clip(frame, 5, "lucas"), directory / "b.wav")


def _talk(directory: Path, frame) -> None:
    """Four digits said with pauses of half a second, 8 kHz."""
    pause = np.zeros(4000, "float32")
    parts = []
    for digit, speaker in ((1, "george"), (9, "nicolas"), (4, "theo"), (2, "jackson")):
        parts += [pause, sf.read(_sample_clip(frame, digit, speaker), dtype="float32")[0]]
    sf.write(directory / "talk.wav", np.concatenate([*parts, pause]), 8000)


def _mine_keras(directory: Path, frame) -> None:
    """As the model-info section of docs/guides/models.md saves it."""
    kerasaudio.create_model("m5_fsdd_digits", name="mine").save(directory / "mine.keras")


def _mine_tflite(directory: Path, frame) -> None:
    """`mine.keras` exported (float32, verified on its preset's bundled clips)."""
    import keras

    make(directory, frame, "mine.keras")
    model = keras.saving.load_model(directory / "mine.keras")
    kerasaudio.export.to_tflite(model, directory / "mine.tflite")


def _own_clips():
    """Takes 0-9 of the full FSDD (600 clips): "your own clips" of the CSV examples."""
    from kerasaudio.errors import DatasetNotFoundError

    try:
        frame = kerasaudio.datasets.fsdd.load()
    except DatasetNotFoundError:
        pytest.skip("the CSV training examples need the full FSDD ($KERASAUDIO_DATA or "
                    "../shared/data/fsdd)")
    return frame[frame["take"] < 10].reset_index(drop=True)


def _clips_csv(directory: Path, frame) -> None:
    """Clips with their digits, Freesound style (`fname`, `labels`)."""
    frame = _own_clips()
    frame.assign(fname=frame.path, labels=frame.digit.astype(str))[
        ["fname", "labels"]].to_csv(directory / "clips.csv", index=False)


def _tags_csv(directory: Path, frame) -> None:
    """The table of docs/guides/training.md: `recordings/` and `fname,labels,speaker`
    rows such as `0_george_0.wav,"0,george",george`."""
    frame = _own_clips()
    recordings = directory / "recordings"
    recordings.mkdir(exist_ok=True)
    for path in frame.path:
        shutil.copy(path, recordings)
    table = frame.assign(fname=[Path(p).name for p in frame.path],
                         labels=frame.digit.astype(str) + "," + frame.speaker)
    table[["fname", "labels", "speaker"]].to_csv(directory / "tags.csv", index=False)


def _wav2vec2_base(directory: Path, frame) -> None:
    """A checkpoint directory in the layout of `facebook/wav2vec2-base` (transformers'
    base configuration, random weights), written by transformers itself."""
    import transformers

    config = transformers.Wav2Vec2Config()
    transformers.Wav2Vec2Model(config).save_pretrained(directory / "wav2vec2-base")


#: File a block names -> how it is made (first made when a block naming it runs).
PREPARED = {"clip.wav": _clip, "a.wav": _pair, "b.wav": _pair, "talk.wav": _talk,
            "mine.keras": _mine_keras, "mine.tflite": _mine_tflite,
            "clips.csv": _clips_csv, "tags.csv": _tags_csv,
            "wav2vec2-base/": _wav2vec2_base}


def make(directory: Path, frame, name: str) -> None:
    if not (directory / name.rstrip("/")).exists():
        PREPARED[name](directory, frame)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """The working directory of every block, and an FSDD directory of the bundled
    sample's clips (`$KERASAUDIO_DATA` of the blocks)."""
    directory = tmp_path_factory.mktemp("doc_examples")
    frame = kerasaudio.datasets.fsdd.load(sample=True)
    recordings = directory / "data" / "fsdd" / "recordings"
    recordings.mkdir(parents=True)
    for path in frame.path:
        shutil.copy(path, recordings)
    return directory, frame


def _environment(directory: Path, block: Block) -> dict[str, str]:
    data = directory / "data"
    if block.marker == "slow":
        from kerasaudio.errors import DatasetNotFoundError

        try:
            data = kerasaudio.datasets.fsdd.find_root()
        except DatasetNotFoundError:
            pytest.skip("the trainings need the full FSDD ($KERASAUDIO_DATA or "
                        "../shared/data/fsdd)")
    return {"KERASAUDIO_OFFLINE": "1", "KERASAUDIO_HOME": str(directory / "cache"),
            "KERASAUDIO_DATA": str(data), "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "2"}


def _run_shell(command: str, directory: Path, environment: dict[str, str]) -> None:
    argv = shlex.split(command, comments=True)
    if argv[0] == "kerasaudio":
        argv = [sys.executable, "-m", "kerasaudio", *argv[1:]]
    else:  # python -m ..., python examples/...: the examples of this checkout
        argv = [sys.executable, *[str(ROOT / a) if a.startswith("examples/") else a
                                  for a in argv[1:]]]
    env = {**os.environ, **environment,
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(argv, cwd=directory, env=env, capture_output=True, text=True,
                          timeout=1800)
    assert done.returncode == 0, (f"`{command}` exited {done.returncode}:\n"
                                  f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    assert done.stdout.strip(), f"`{command}` printed nothing"


@pytest.mark.parametrize("block", [_param(b) for b in BLOCKS if b.not_run is None])
def test_doc_example_runs(block, workdir, monkeypatch):
    directory, frame = workdir
    for name in PREPARED:
        if re.search(rf"(?<![\w/.-]){re.escape(name)}(?![\w-])", block.code):
            make(directory, frame, name)
    monkeypatch.chdir(directory)
    environment = _environment(directory, block)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    if block.language == "shell":
        for command in block.code.splitlines():
            _run_shell(command, directory, environment)
        return
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    exec(compile(block.code, block.id, "exec"), {"__name__": "__doc_example__"})
