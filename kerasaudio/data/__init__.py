"""Audio input: load files, trim silence, fix lengths and build `tf.data` pipelines.

Layout: kerasaudio keeps the Keras convention, *channels last*. A clip is `(samples,)`
(mono) or `(samples, channels)`; a batch is `(batch, samples)`. librosa puts channels
first, `(channels, samples)`, so transpose when moving arrays between the two.

Modules, one job each: `clips` (`trim`, `fix_length`, in TensorFlow ops for NumPy arrays
and tensors alike), `labels` (the files and labels of a list or DataFrame, encoded),
`scan` (the up-front check of every file), `pipeline` (`audio_dataset`). Every public
name is importable from `kerasaudio.data`; `load_audio` is `kerasaudio.audio_io`'s.
"""

from kerasaudio.audio_io import load_audio
from kerasaudio.data.clips import LENGTH_MODES, fix_length, trim
from kerasaudio.data.pipeline import audio_dataset

__all__ = ["LENGTH_MODES", "audio_dataset", "fix_length", "load_audio", "trim"]
