"""Recipe of the `bilstm_attention_fsdd_digits` preset: what to train is in
bilstm_attention_fsdd_digits.json.

Run from the repository root: `python zoo/recipes/bilstm_attention_fsdd_digits.py` trains on
the official split (the preset) and on the six leave-one-speaker-out folds; `--help` lists
the options; zoo/README.md has the numbers.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from zoo.common import main

if __name__ == "__main__":
    main(pathlib.Path(__file__).with_suffix(".json"))
