"""Audio files: probe, decode and resample them, without TensorFlow.

`load_audio` equals `librosa.load` (soundfile decoding, soxr "HQ" resampling with
librosa's length rule). `probe` checks a file cheaply (size, header, frame count; the
samples of float files for NaN/Inf) and says which decoder suits it; `load` decodes a
probed file and `resample` resamples a waveform. TensorFlow is imported only to decode
16-bit PCM WAV in `load_audio` (the same samples as soundfile); `probe`, `load(...,
use_tf=False)`, `resample` and `windows`, which `kerasaudio.runtime` uses, never import it.

Limits (every one an option, see README "Limits and errors"): a file is decoded in blocks
of `BLOCK_FRAMES` frames until the stream ends, never by allocating the frame count its
header declares (a 5 kB FLAC may declare 2^36 frames); at most `max_duration` seconds are
decoded (`MAX_DURATION` by default); native sample rates below `min_sample_rate`
(`MIN_SAMPLE_RATE`) or above `MAX_SAMPLE_RATE` are refused, so a header cannot turn a few
frames into hours of resampled audio. Paths may be `str`, `bytes` or `os.PathLike`; a file
name that is not valid UTF-8 loads (its `str` form uses the file system's surrogate
escapes), and a NUL byte in a path is an `AudioFileError`.

Modules, one job each: `limits` (the limits and the option checks), `wav` (the RIFF
header walk), `blocks` (bounded block decoding with libsndfile), `probing` (`probe`),
`loading` (`load`, `load_audio`), `resampling` (`resample`), `windowing` (`windows`).
Every public name is importable from `kerasaudio.audio_io`.
"""

from kerasaudio.audio_io.limits import (
    BLOCK_FRAMES,
    MAX_DURATION,
    MAX_PEAK,
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    check_peak,
    check_rate,
    check_seconds,
)
from kerasaudio.audio_io.loading import load, load_audio
from kerasaudio.audio_io.probing import AudioFileInfo, probe
from kerasaudio.audio_io.resampling import resample
from kerasaudio.audio_io.windowing import windows
from kerasaudio.errors import (  # noqa: F401  (the errors these functions raise)
    AudioFileError,
    AudioFileNotFoundError,
    InvalidAudioError,
    InvalidOptionError,
)

__all__ = [
    "BLOCK_FRAMES",
    "MAX_DURATION",
    "MAX_PEAK",
    "MAX_SAMPLE_RATE",
    "MIN_SAMPLE_RATE",
    "AudioFileInfo",
    "check_peak",
    "check_rate",
    "check_seconds",
    "load",
    "load_audio",
    "probe",
    "resample",
    "windows",
]
