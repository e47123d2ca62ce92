"""Datasets that kerasaudio can list and split (it downloads nothing).

- `fsdd`: the Free Spoken Digit Dataset, with a small bundled sample.
"""

from kerasaudio.datasets import fsdd

__all__ = ["fsdd"]
