"""Metrics: lwlrap (multi-label tagging), equal error rate (speaker verification) and
confusion matrices.

Each comes as a NumPy function and as a stateful Keras metric class.
"""

from kerasaudio.metrics.confusion import confusion_matrix, plot_confusion
from kerasaudio.metrics.eer import EqualErrorRate, eer
from kerasaudio.metrics.lwlrap import Lwlrap, lwlrap, lwlrap_per_class

__all__ = ["EqualErrorRate", "Lwlrap", "confusion_matrix", "eer", "lwlrap",
           "lwlrap_per_class", "plot_confusion"]
