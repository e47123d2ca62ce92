"""Metrics: lwlrap (multi-label tagging) and equal error rate (speaker verification).

Each comes as a NumPy function and as a stateful Keras metric class.
"""

from kerasaudio.metrics.eer import EqualErrorRate, eer
from kerasaudio.metrics.lwlrap import Lwlrap, lwlrap, lwlrap_per_class

__all__ = ["EqualErrorRate", "Lwlrap", "eer", "lwlrap", "lwlrap_per_class"]
