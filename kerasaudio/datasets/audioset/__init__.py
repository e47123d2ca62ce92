"""AudioSet's 527 sound classes, as the models trained on AudioSet (PANNs) number them.

The bundled `class_labels_indices.csv` (Google's file, unmodified; see its README.md for
the source and checksums) lists each class's output index, Knowledge Graph id (`mid`) and
display name. Nothing is downloaded.

Example:
```python
from kerasaudio.datasets import audioset
names = audioset.class_names()
names[0], names[137], len(names)  # ('Speech', 'Music', 527)
```

Reference:
    Gemmeke et al., "Audio Set: An ontology and human-labeled dataset for audio events",
    ICASSP 2017 (labels under CC BY 4.0).
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

__all__ = ["CLASS_COUNT", "LABELS_FILE", "LICENSE", "class_ids", "class_labels", "class_names"]

#: The number of AudioSet classes (the output size of an AudioSet tagger).
CLASS_COUNT = 527
#: The bundled label file (header `index,mid,display_name`, one row per class).
LABELS_FILE = Path(__file__).resolve().with_name("class_labels_indices.csv")
#: Attribution and license, to keep with anything that redistributes the labels.
LICENSE = (
    "AudioSet class labels (class_labels_indices.csv) by Google: Gemmeke et al., "
    "'Audio Set: An ontology and human-labeled dataset for audio events', ICASSP 2017, "
    "https://research.google.com/audioset/. Licensed under the Creative Commons "
    "Attribution 4.0 International License (CC BY 4.0)."
)


@functools.lru_cache(maxsize=1)
def _rows() -> tuple[tuple[int, str, str], ...]:
    with open(LABELS_FILE, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        if header != ["index", "mid", "display_name"]:
            raise RuntimeError(f"{LABELS_FILE}: unexpected header {header}.")
        rows = tuple((int(i), mid, name) for i, mid, name in reader)
    if [r[0] for r in rows] != list(range(CLASS_COUNT)):
        raise RuntimeError(f"{LABELS_FILE}: expected indices 0..{CLASS_COUNT - 1}.")
    return rows


def class_names() -> list[str]:
    """The 527 display names, in output-index order.

    Returns:
        A list of 527 strings (`"Speech"`, `"Male speech, man speaking"`, ...).

    Example:
    ```python
    from kerasaudio.datasets import audioset
    audioset.class_names()[:2]  # ['Speech', 'Male speech, man speaking']
    ```
    """
    return [name for _, _, name in _rows()]


def class_ids() -> list[str]:
    """The 527 Knowledge Graph ids (`mid`), in output-index order.

    Returns:
        A list of 527 strings (`"/m/09x0r"`, ...), as in AudioSet's segment label files.

    Example:
    ```python
    from kerasaudio.datasets import audioset
    audioset.class_ids()[0]  # '/m/09x0r'
    ```
    """
    return [mid for _, mid, _ in _rows()]


def class_labels():
    """The label file as a table: one row per class, columns `mid` and `display_name`.

    Returns:
        A `pandas.DataFrame` indexed by the output index (0-526).

    Example:
    ```python
    from kerasaudio.datasets import audioset
    audioset.class_labels().loc[137, "display_name"]  # 'Music'
    ```
    """
    import pandas as pd

    rows = _rows()
    return pd.DataFrame({"mid": [r[1] for r in rows], "display_name": [r[2] for r in rows]},
                        index=pd.Index([r[0] for r in rows], name="index"))
