"""The repository's training tooling: `python -m zoo COMMAND` from the repository root.

Runs the recipes of kerasaudio's presets (`kerasaudio.training`, the recipe engine) into
`zoo/runs/` (git-ignored), publishes finished runs as presets (`zoo.publish`), and holds
the studies around them (`zoo.study`, `zoo.speaker_curve`, `zoo.synthetic`); see
zoo/README.md. Not part of the installed package.
"""

from pathlib import Path

#: The repository root (`python -m zoo` runs from there).
ROOT = Path(__file__).resolve().parents[1]
#: Where runs are written by default (git-ignored).
RUNS_DIR = ROOT / "zoo" / "runs"
