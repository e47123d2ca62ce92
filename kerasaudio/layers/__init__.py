"""Audio front ends as Keras layers (STFT, complex spectrogram, mel, dB, MFCC, PCEN,
SpecAugment, standardisation), augmentation layers (gain, noise, time shift, speed, frequency
warping, mixup) and the pooling layers the zoo's models use (feed-forward attention,
masked global pooling, NetVLAD/GhostVLAD), LSTM and GRU layers whose inference graph
converts to TFLite builtin ops, a batch normalisation that trains with
TensorFlow's fused kernel, residual frequency-wise instance normalisation, and a `Conv1D`
whose strided form converts to a fast TFLite convolution.

Every front-end layer takes `(batch, samples)` or `(batch, samples, channels)` audio (or
`(batch, frames, bins[, channels])` features), matches librosa numerically, works on the
TensorFlow and JAX backends and inside `tf.data`, and converts to TFLite builtins.
"""

from kerasaudio.layers.attention import FeedForwardAttention, MaskedGlobalPooling1D
from kerasaudio.layers.augment import (
    AddNoise,
    FrequencyWarp,
    MixUp,
    RandomGain,
    RandomTimeShift,
    SpeedPerturbation,
)
from kerasaudio.layers.base import in_tflite_mode, tflite_mode
from kerasaudio.layers.conv import Conv1D
from kerasaudio.layers.decibels import AmplitudeToDb, PowerToDb
from kerasaudio.layers.ensemble import Resample, StackingEnsemble
from kerasaudio.layers.kaldi import KaldiFbank
from kerasaudio.layers.mel import MFCC, MelSpectrogram
from kerasaudio.layers.normalization import BatchNormalization, ResidualNormalization
from kerasaudio.layers.pcen import PCEN, pcen_smoothing_coefficient
from kerasaudio.layers.recurrent import GRU, LSTM, MAX_UNCLIPPED_FRAMES
from kerasaudio.layers.spec_augment import SpecAugment
from kerasaudio.layers.standardize import Standardize
from kerasaudio.layers.stft import STFT, ComplexSpectrogram
from kerasaudio.layers.vlad import VLADPooling

__all__ = [
    "GRU",
    "LSTM",
    "MAX_UNCLIPPED_FRAMES",
    "MFCC",
    "PCEN",
    "STFT",
    "AddNoise",
    "AmplitudeToDb",
    "BatchNormalization",
    "ComplexSpectrogram",
    "Conv1D",
    "FeedForwardAttention",
    "FrequencyWarp",
    "KaldiFbank",
    "MaskedGlobalPooling1D",
    "MelSpectrogram",
    "MixUp",
    "PowerToDb",
    "RandomGain",
    "RandomTimeShift",
    "Resample",
    "ResidualNormalization",
    "SpecAugment",
    "SpeedPerturbation",
    "StackingEnsemble",
    "Standardize",
    "VLADPooling",
    "in_tflite_mode",
    "pcen_smoothing_coefficient",
    "tflite_mode",
]
