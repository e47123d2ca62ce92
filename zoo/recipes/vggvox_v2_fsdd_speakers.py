"""Recipe of the `vggvox_v2_fsdd_speakers` preset: what to train is in vggvox_v2_fsdd_speakers.json.

Run from the repository root: `python zoo/recipes/vggvox_v2_fsdd_speakers.py` trains on the
official split (the preset: identification accuracy and verification EER on takes 0-4) and on
the six unseen-speaker folds; `--publish` publishes the preset; `--help` lists the options;
zoo/README.md ("Speaker recognition") has the numbers.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from zoo.speakers import main

if __name__ == "__main__":
    main(pathlib.Path(__file__).with_suffix(".json"))
