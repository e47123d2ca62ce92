"""Audio input: load files, trim silence, fix lengths and build `tf.data` pipelines.

Layout: kerasaudio keeps the Keras convention, *channels last*. A clip is `(samples,)`
(mono) or `(samples, channels)`; a batch is `(batch, samples)`. librosa puts channels
first, `(channels, samples)`, so transpose when moving arrays between the two.

`trim` and `fix_length` are written once, in TensorFlow ops: called on NumPy arrays they
run eagerly and return NumPy arrays; called on tensors (for example inside
`tf.data.Dataset.map`) they return tensors.

`audio_dataset` checks every file up front (cheaply: size, header, frame count), so a
bad file fails when the dataset is built, not halfway through an epoch. 16-bit PCM WAV
files at the target rate are decoded in the graph (`tf.io.decode_raw` at the sample
offset the scan found; the files are those `tf.audio.decode_wav` accepts); anything
else (24/32-bit and float WAV, FLAC, OGG, MP3, or any file that needs resampling) goes
through `soundfile` and `soxr` inside `tf.numpy_function`.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from kerasaudio.audio_io import (
    MAX_DURATION,
    MAX_PEAK,
    check_rate,
    check_seconds,
    load,
    load_audio,
    probe,
)
from kerasaudio.errors import (
    AudioFileError,
    InvalidAudioError,
    InvalidOptionError,
)

__all__ = ["LENGTH_MODES", "audio_dataset", "fix_length", "load_audio", "trim"]

#: Accepted values of `fix_length(mode=...)` and `audio_dataset(length_mode=...)`.
LENGTH_MODES = ("center", "left", "random")
_ON_ERROR = ("raise", "skip")
_ROUTE_GRAPH = 0  # 16-bit PCM decoded inside the graph
_ROUTE_NUMPY = 1  # soundfile (+ soxr) through tf.numpy_function

_TRIM_FRAME_LENGTH = 2048
_TRIM_HOP_LENGTH = 512


# ----------------------------------------------------------------- trim and fix_length


def _as_audio_tensor(audio, what: str) -> tuple[tf.Tensor, bool]:
    """Validate a clip for `trim`/`fix_length`; return (tensor, input_was_numpy)."""
    if tf.is_tensor(audio):
        tensor, is_numpy = audio, False
        dtype, shape = tf.as_dtype(audio.dtype), audio.shape
    else:
        array = np.asarray(audio)
        is_numpy = True
        if array.dtype.kind in "iu":
            raise InvalidAudioError(
                f"{what}: audio has integer dtype {array.dtype}; scale it to float first "
                f"(for 16-bit PCM: audio.astype('float32') / 32768)."
            )
        if array.dtype.kind != "f":
            raise InvalidAudioError(
                f"{what}: audio must be a float array, got dtype {array.dtype}."
            )
        dtype, shape = tf.as_dtype(array.dtype), tf.TensorShape(array.shape)
        tensor = array
    if dtype.is_integer:
        raise InvalidAudioError(
            f"{what}: audio has integer dtype {dtype.name}; scale it to float first "
            f"(for 16-bit PCM: tf.cast(audio, tf.float32) / 32768)."
        )
    if not dtype.is_floating:
        raise InvalidAudioError(f"{what}: audio must be float, got dtype {dtype.name}.")
    if shape.rank not in (1, 2):
        raise InvalidAudioError(
            f"{what}: audio must have shape (samples,) or (samples, channels) "
            f"(channels last), got shape {shape}."
        )
    if shape.rank == 2 and shape[1] == 0:
        raise InvalidAudioError(f"{what}: unsupported channel count 0 (shape {shape}).")
    if is_numpy:
        tensor = tf.convert_to_tensor(tensor)
    return tensor, is_numpy


def _check_frame_options(frame_length, hop_length):
    for name, value in (("frame_length", frame_length), ("hop_length", hop_length)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
            raise InvalidOptionError(f"{name} must be a positive integer, got {value!r}.")


def _trim_tensor(audio: tf.Tensor, top_db: float, frame_length: int,
                 hop_length: int) -> tuple[tf.Tensor, tf.Tensor]:
    """`trim` in TensorFlow ops, for (samples,) or (samples, channels) float tensors."""
    x = tf.cast(audio, tf.float32)
    if x.shape.rank == 1:
        x = x[:, tf.newaxis]
    n = tf.shape(x, out_type=tf.int64)[0]
    half = frame_length // 2
    # RMS of zero-padded ("centred") frames, in float32 as librosa computes it.
    padded = tf.pad(tf.transpose(x), [[0, 0], [half, half]])
    frames = tf.signal.frame(padded, frame_length, hop_length, axis=-1)
    rms = tf.sqrt(tf.reduce_mean(tf.square(frames), axis=-1))  # (channels, frames)
    # dB relative to the loudest frame of any channel; amplitude floor 1e-5 (-100 dB).
    amin = tf.constant(1e-10, tf.float32)
    to_db = tf.constant(10.0 / np.log(10.0), tf.float32)
    ref_power = tf.square(tf.reduce_max(rms))
    db = to_db * (
        tf.math.log(tf.maximum(amin, tf.square(rms))) - tf.math.log(tf.maximum(amin, ref_power))
    )
    loud = tf.reduce_max(db, axis=0) > -tf.cast(top_db, tf.float32)
    # First and last loud frame; a trailing False keeps argmax defined with no frames.
    loud = tf.concat([loud, [False]], axis=0)
    flags = tf.cast(loud, tf.int32)
    any_loud = tf.reduce_any(loud)
    first = tf.argmax(flags, output_type=tf.int64)
    last = tf.size(flags, out_type=tf.int64) - 1 - tf.argmax(
        tf.reverse(flags, [0]), output_type=tf.int64
    )
    zero = tf.constant(0, tf.int64)
    start = tf.where(any_loud, first * hop_length, zero)
    end = tf.where(any_loud, tf.minimum(n, (last + 1) * hop_length), zero)
    return audio[start:end], tf.stack([start, end])


def trim(
    audio: np.ndarray | tf.Tensor,
    *,
    top_db: float = 60,
    frame_length: int = 2048,
    hop_length: int = 512,
) -> tuple[np.ndarray, np.ndarray] | tuple[tf.Tensor, tf.Tensor]:
    """Trim leading and trailing silence, like `librosa.effects.trim`.

    A frame is silent when its RMS (frames of `frame_length` samples every `hop_length`,
    zero-padded at both ends) is more than `top_db` dB below the loudest frame; for
    multichannel audio, when it is silent in every channel. The clip keeps the samples
    from the first loud frame's start to the end of the last loud one: the same samples
    and `[start, end]` as `librosa.effects.trim` with the same options (the frames, the
    RMS and the threshold follow its definitions; tests/test_data.py compares the two on
    FSDD recordings).

    One implementation in TensorFlow ops: NumPy input runs eagerly and returns NumPy;
    a tensor (for example inside `tf.data.Dataset.map` or a `tf.function`) returns
    tensors.

    Args:
        audio: float array or tensor, `(samples,)` or `(samples, channels)`.
        top_db: threshold in dB below the loudest frame.
        frame_length: samples per analysis frame.
        hop_length: samples between frame starts.

    Returns:
        `(trimmed, interval)`: the trimmed audio (same dtype, channels kept) and the
        int64 `[start, end]` sample interval it was cut from (`audio[start:end]`).
        Nothing above the threshold gives `[0, 0]` and empty audio.

    Raises:
        InvalidAudioError: integer audio (scale it to float first), non-float dtype,
            a shape that is not `(samples,)` / `(samples, channels)`, zero channels,
            or NaN/Inf values (checked for NumPy and eager input).
        InvalidOptionError: `top_db`, `frame_length` or `hop_length` is invalid.

    Example:
    ```python
    import numpy as np
    clip = kerasaudio.datasets.fsdd.load(sample=True).path[0]  # 0_george_0.wav
    audio, sr = kerasaudio.data.load_audio(clip)  # 2384 samples at 8 kHz
    silence = np.zeros(4000, "float32")
    padded = np.concatenate([silence, audio, silence])
    trimmed, (start, end) = kerasaudio.data.trim(padded, top_db=30)  # 3072, 7680
    ```
    """
    ok = isinstance(top_db, numbers.Real) and not isinstance(top_db, bool)
    if not ok or not math.isfinite(top_db) or top_db <= 0:
        raise InvalidOptionError(f"top_db must be a positive number of dB, got {top_db!r}.")
    _check_frame_options(frame_length, hop_length)
    tensor, is_numpy = _as_audio_tensor(audio, "trim")
    eager = is_numpy or (tf.executing_eagerly() and hasattr(tensor, "numpy"))
    if eager and not bool(tf.reduce_all(tf.math.is_finite(tensor))):
        raise InvalidAudioError("trim: audio contains NaN or Inf values.")
    trimmed, interval = _trim_tensor(tensor, float(top_db), int(frame_length), int(hop_length))
    if is_numpy:
        return trimmed.numpy(), interval.numpy()
    return trimmed, interval


def _uniform_offset(limit: tf.Tensor, seed) -> tf.Tensor:
    """A random int32 in [0, limit] (stateless when `seed` is given)."""
    if seed is None:
        return tf.random.uniform([], 0, limit + 1, dtype=tf.int32)
    return tf.random.stateless_uniform([], seed, 0, limit + 1, dtype=tf.int32)


def _fix_length_tensor(audio: tf.Tensor, length, mode: str, seed) -> tf.Tensor:
    """`fix_length` in TensorFlow ops (crop or zero-pad axis 0 to `length`)."""
    n = tf.shape(audio)[0]
    length = tf.cast(length, tf.int32)
    excess = tf.maximum(n - length, 0)
    deficit = tf.maximum(length - n, 0)
    if mode == "left":
        offset = before = tf.constant(0, tf.int32)
    elif mode == "center":
        offset, before = excess // 2, deficit // 2
    else:
        if seed is not None:
            seed = tf.cast(seed, tf.int64)
            seeds = tf.random.experimental.stateless_split(seed, 2)
            offset = _uniform_offset(excess, seeds[0])
            before = _uniform_offset(deficit, seeds[1])
        else:
            offset, before = _uniform_offset(excess, None), _uniform_offset(deficit, None)
    cropped = audio[offset:offset + length]
    paddings = [[before, deficit - before]] + [[0, 0]] * (audio.shape.rank - 1)
    out = tf.pad(cropped, paddings)
    static = tf.get_static_value(length)
    if static is not None:
        out = tf.ensure_shape(out, [int(static), *audio.shape[1:]])
    return out


def fix_length(
    audio: np.ndarray | tf.Tensor,
    length: int | tf.Tensor,
    *,
    mode: str = "center",
    seed: int | tf.Tensor | None = None,
) -> np.ndarray | tf.Tensor:
    """Crop or zero-pad audio to exactly `length` samples along axis 0.

    - `"left"`: keep the start, pad at the end (`librosa.util.fix_length`).
    - `"center"`: cut a longer clip around its centre (offset `(n - length) // 2`);
      pad a shorter one evenly on both sides, the odd extra sample going after
      (the Freesound Kaggle starter recipe, for evaluation).
    - `"random"`: random crop offset, random split of the padding (training).

    One implementation in TensorFlow ops: NumPy input returns NumPy, tensors return
    tensors (usable inside `tf.data` and `tf.function`).

    Args:
        audio: float array or tensor, `(samples,)` or `(samples, channels)`.
        length: the output length in samples (a positive int, or a scalar tensor).
        mode: `"center"`, `"left"` or `"random"`.
        seed: for `"random"`: None (TensorFlow's global generator), an int, or a
            shape-(2,) integer tensor (a stateless seed); the same seed gives the same
            offsets.

    Returns:
        Audio of shape `(length,)` or `(length, channels)`, same dtype.

    Raises:
        InvalidAudioError: integer audio (scale it to float first), non-float dtype,
            or a shape that is not `(samples,)` / `(samples, channels)`.
        InvalidOptionError: `length`, `mode` or `seed` is invalid.

    Example:
    ```python
    import numpy as np
    kerasaudio.data.fix_length(np.ones(5, "float32"), 8)        # [0 1 1 1 1 1 0 0]
    kerasaudio.data.fix_length(np.arange(6.0), 4, mode="left")  # [0. 1. 2. 3.]
    ```
    """
    if mode not in LENGTH_MODES:
        raise InvalidOptionError(f"mode must be one of {LENGTH_MODES}, got {mode!r}.")
    if not tf.is_tensor(length):
        if isinstance(length, bool) or not isinstance(length, numbers.Integral) or length <= 0:
            raise InvalidOptionError(f"length must be a positive integer, got {length!r}.")
        length = int(length)
    if seed is not None and not tf.is_tensor(seed):
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise InvalidOptionError(f"seed must be None or an integer, got {seed!r}.")
        seed = tf.constant([int(seed), 0], tf.int64)
    tensor, is_numpy = _as_audio_tensor(audio, "fix_length")
    out = _fix_length_tensor(tensor, length, mode, seed)
    return out.numpy() if is_numpy else out


# ----------------------------------------------------------------------------- datasets


def _is_dataframe(obj) -> bool:
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(obj, pd.DataFrame)


def _is_missing(value) -> bool:
    pd = sys.modules.get("pandas")
    if pd is not None and value is pd.NA:
        return True
    return value is None or (isinstance(value, float) and math.isnan(value))


def _label_name(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _resolve_source(source, labels, path_column: str, label_column: str):
    """Return (paths, raw labels or None) from a list of paths or a DataFrame."""
    if _is_dataframe(source):
        # Every missing column at once; the default label column is optional.
        missing = [f"{kind} column {name!r}" for kind, name in (
            ("path", path_column), ("label", label_column))
            if name not in source.columns and (kind == "path" or name != "label")]
        if missing:
            raise InvalidOptionError(
                f"the DataFrame has no {' and no '.join(missing)} (columns: "
                f"{list(source.columns)}); pass path_column=... / label_column=..."
            )
        if labels is not None:
            raise InvalidOptionError(
                "labels= cannot be combined with a DataFrame source; the labels come "
                f"from its {label_column!r} column."
            )
        paths = list(source[path_column])
        if label_column in source.columns:
            labels = list(source[label_column])
    elif isinstance(source, (str, bytes, os.PathLike)):
        raise InvalidOptionError(
            "source must be a list of file paths or a pandas DataFrame, got a single "
            f"path {source!r}; wrap it in a list."
        )
    else:
        try:
            paths = list(source)
        except TypeError:
            raise InvalidOptionError(
                "source must be a list of file paths or a pandas DataFrame, got "
                f"{type(source).__name__}."
            ) from None
    for i, p in enumerate(paths):
        if not isinstance(p, (str, bytes, os.PathLike)):
            raise InvalidOptionError(
                f"source[{i}] is {p!r} ({type(p).__name__}); paths must be str, bytes or "
                "os.PathLike."
            )
    paths = [os.fsdecode(p) for p in paths]
    if not paths:
        raise InvalidOptionError("source is empty: there are no files to load.")
    if labels is not None:
        if isinstance(labels, (str, bytes)):
            raise InvalidOptionError("labels must be a sequence with one label per file.")
        labels = list(labels)
        if len(labels) != len(paths):
            raise InvalidOptionError(
                f"labels has {len(labels)} entries but source has {len(paths)} files; "
                "they must have the same length."
            )
    return paths, labels


def _split_labels(value, path: str, multi_label: bool) -> list:
    if _is_missing(value):
        raise InvalidOptionError(f"{path}: missing label ({value!r}).")
    if multi_label:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
            return list(value)
        return [value]
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        raise InvalidOptionError(
            f"{path}: label {value!r} is a collection; pass multi_label=True for "
            "multi-label data."
        )
    return [value]


def _encode_labels(raw: list, paths: list[str], classes, multi_label: bool):
    """Map raw labels to class indices (int32) or multi-hot rows (float32)."""
    per_file = [_split_labels(v, p, multi_label) for v, p in zip(raw, paths, strict=True)]
    if classes is None:
        unique = {}
        for items in per_file:
            for item in items:
                unique.setdefault(_label_name(item), item)
        values = list(unique.values())
        numeric = all(
            isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in values
        )
        if numeric:
            values = sorted(values, key=float)
        else:
            values = sorted(values, key=_label_name)
        class_names = [_label_name(v) for v in values]
    else:
        if isinstance(classes, (str, bytes)):
            raise InvalidOptionError("classes must be a sequence of class names.")
        class_names = [_label_name(c) for c in classes]
        if not class_names:
            raise InvalidOptionError("classes is empty.")
        dupes = sorted({c for c in class_names if class_names.count(c) > 1})
        if dupes:
            raise InvalidOptionError(f"classes contains duplicates: {dupes}.")
    index = {name: i for i, name in enumerate(class_names)}

    def lookup(item, path):
        name = _label_name(item)
        if name not in index:
            shown = class_names if len(class_names) <= 20 else [*class_names[:20], "..."]
            raise InvalidOptionError(
                f"{path}: unknown label {name!r}; it is not one of the "
                f"{len(class_names)} classes {shown}."
            )
        return index[name]

    if multi_label:
        encoded = np.zeros((len(paths), len(class_names)), np.float32)
        for row, (items, path) in enumerate(zip(per_file, paths, strict=True)):
            for item in items:
                encoded[row, lookup(item, path)] = 1.0
    else:
        encoded = np.array(
            [lookup(items[0], p) for items, p in zip(per_file, paths, strict=True)], np.int32
        )
    return class_names, encoded


def _check_options(*, sample_rate, duration, batch_size, length_mode, on_error, trim_db,
                   seed, cache, features, augment, deterministic):
    check_rate("sample_rate", sample_rate, allow_none=False)
    check_seconds("duration", duration, allow_none=True, allow_zero=False)
    if duration is not None and round(duration * sample_rate) < 1:
        raise InvalidOptionError(
            f"duration={duration} s is shorter than one sample at {sample_rate} Hz."
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
            or batch_size <= 0:
        raise InvalidOptionError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if length_mode not in LENGTH_MODES:
        raise InvalidOptionError(
            f"length_mode must be one of {LENGTH_MODES}, got {length_mode!r}."
        )
    if on_error not in _ON_ERROR:
        raise InvalidOptionError(f"on_error must be one of {_ON_ERROR}, got {on_error!r}.")
    if trim_db is not None:
        ok = isinstance(trim_db, numbers.Real) and not isinstance(trim_db, bool)
        if not ok or not math.isfinite(trim_db) or trim_db <= 0:
            raise InvalidOptionError(
                f"trim_db must be None or a positive number of dB, got {trim_db!r}."
            )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise InvalidOptionError(f"seed must be None or an integer, got {seed!r}.")
    if not isinstance(cache, (bool, str, os.PathLike)):
        raise InvalidOptionError(
            f"cache must be a bool or a cache file path, got {type(cache).__name__}."
        )
    for name, fn in (("features", features), ("augment", augment)):
        if fn is not None and not callable(fn):
            raise InvalidOptionError(f"{name} must be None or a callable, got {fn!r}.")
    if deterministic is not None and not isinstance(deterministic, bool):
        raise InvalidOptionError(f"deterministic must be None or a bool, got {deterministic!r}.")


def _scan(paths: list[str], on_error: str, max_duration: float | None):
    """Probe every file. Returns (kept indices, infos, skipped (path, reason) pairs).

    Float files are read block by block for NaN/Inf and samples beyond `MAX_PEAK`; a
    header declaring more than `max_duration` is refused here, so iterating never meets
    a file too long to load."""
    kept, infos, skipped, truncated = [], [], [], []
    for i, path in enumerate(paths):
        try:
            info = probe(path, check_finite=True, max_duration=max_duration,
                         max_peak=MAX_PEAK)
        except AudioFileError as e:
            if on_error == "raise":
                raise
            skipped.append((path, e.reason))
            continue
        kept.append(i)
        infos.append(info)
        if info.warning:
            truncated.append(f"{path}: {info.warning}")
    if truncated:
        shown = "; ".join(truncated[:5]) + ("; ..." if len(truncated) > 5 else "")
        warnings.warn(
            f"{len(truncated)} of {len(paths)} files have a truncated data chunk and "
            f"are loaded as far as they go (through soundfile): {shown}",
            UserWarning,
            stacklevel=3,
        )
    if skipped:
        shown = "; ".join(f"{p}: {r}" for p, r in skipped[:5])
        shown += "; ..." if len(skipped) > 5 else ""
        warnings.warn(
            f"audio_dataset skipped {len(skipped)} of {len(paths)} files "
            f"(see the dataset's .skipped list): {shown}",
            UserWarning,
            stacklevel=3,
        )
    if not kept:
        raise InvalidAudioError(
            f"audio_dataset: all {len(paths)} files were skipped as unreadable; first: "
            f"{skipped[0][0]}: {skipped[0][1]}"
        )
    return kept, infos, skipped


def _build_layer(fn, example: tf.Tensor):
    """Build an unbuilt Keras layer eagerly so it creates no variables inside tf.data."""
    built = getattr(fn, "built", None)
    if built is False and hasattr(fn, "build"):
        fn(example)


def _compile_features(fn, batch_shape: list[int]):
    """XLA-compile a Keras layer used as `features` when batches have a fixed shape.

    XLA fuses a front end's ops (framing, FFT, the block-sparse mel projection, dB) into
    few kernels, which speeds up the feature step (BENCHMARKS.md, log-mel features). The
    compilation is tried here, on a batch of the real shape (so the first epoch reuses
    it); a layer XLA cannot compile runs as it is.
    """
    import keras

    if not isinstance(fn, keras.layers.Layer):
        return fn
    compiled = tf.function(fn, jit_compile=True)
    try:
        compiled(tf.zeros(batch_shape, tf.float32))
    except Exception:  # any failure to compile: keep the plain layer
        return fn
    return compiled


def audio_dataset(
    source,
    labels: Sequence | None = None,
    *,
    classes: Sequence | None = None,
    sample_rate: int,
    duration: float | None = None,
    features: Callable | None = None,
    batch_size: int = 32,
    shuffle: bool = False,
    cache: bool | str = False,
    augment: Callable | None = None,
    multi_label: bool = False,
    on_error: str = "raise",
    trim_db: float | None = None,
    length_mode: str = "center",
    seed: int | None = None,
    deterministic: bool | None = None,
    drop_remainder: bool = False,
    label_column: str = "label",
    path_column: str = "path",
    max_duration: float | None = MAX_DURATION,
) -> tf.data.Dataset:
    """A batched `tf.data.Dataset` of audio files: `(features, labels)` or `features`.

    Pipeline: check every file up front -> (shuffle the file list) -> decode, mix to
    mono, resample to `sample_rate` (parallel map) -> optional `trim` -> (cache) ->
    `fix_length` to `duration` -> batch (or pad each batch to its longest clip when
    `duration` is None) -> `augment` -> `features` -> prefetch.

    16-bit PCM WAV files already at `sample_rate` are read and decoded entirely in the
    graph (`tf.io.read_file` + `tf.io.decode_raw` of the samples); other files (other WAV
    subtypes, FLAC, OGG, MP3) and files at another rate go through `load_audio` in
    `tf.numpy_function`, so the waveforms equal `librosa.load(path, sr=sample_rate)`.

    The up-front check reads each file's size and header (and, for float files, the
    samples, to catch NaN/Inf and magnitudes beyond `kerasaudio.audio_io.MAX_PEAK`,
    which float32 front ends would turn into NaN), and refuses native rates below
    `kerasaudio.audio_io.MIN_SAMPLE_RATE` and files longer than `max_duration`. With
    `on_error="raise"` the first bad file raises here, before any iteration; with
    `on_error="skip"` bad files are dropped, one warning says how many and why, and
    `ds.skipped` lists `(path, reason)` pairs. A WAV whose data chunk is cut short is
    loaded as far as it goes, with a warning.

    The returned dataset also has `ds.file_paths` (the files used, in `source` order)
    and `ds.class_names` (None without labels). Further transformations such as
    `ds.take(...)` return new datasets without these attributes.

    Args:
        source: a list of file paths, or a pandas DataFrame with a `path_column` and
            (optionally) a `label_column`.
        labels: one label per file (with a list `source`); None for no labels.
        classes: the class names in index order; default: the sorted unique labels
            (numerically sorted when all labels are numbers). Labels and classes are
            compared as strings, so `7` matches `"7"`.
        sample_rate: the rate (Hz) every clip is resampled to.
        duration: crop/pad every clip to this many seconds (`round(duration *
            sample_rate)` samples); None pads each batch to its longest clip.
        features: callable taking a float32 `(batch, samples)` waveform tensor (for
            example a `kerasaudio.layers.MelSpectrogram`). With a fixed `duration` and
            no `augment` it is called on one clip at a time, `(1, samples)`, in
            parallel, and the results are batched: faster, and the same numbers for
            the batch-invariant kerasaudio front ends. Otherwise it is called on
            batches. A Keras layer is XLA-compiled when `duration` is set (if XLA can
            compile it). For feature extraction on CPU, one intra-op thread
            (`tf.config.threading.set_intra_op_parallelism_threads(1)`, set before
            TensorFlow starts) avoids contention between the parallel calls, which
            then keep every core busy with one clip each (BENCHMARKS.md compares the
            thread settings).
        batch_size: clips per batch.
        shuffle: shuffle the files (reshuffled every epoch).
        cache: True caches decoded (and trimmed) waveforms in memory, a string caches
            them in that file; crops and augmentation still vary per epoch.
        augment: callable applied to each waveform batch before `features` (for a
            Keras layer that only acts in training, wrap it:
            `lambda x: layer(x, training=True)`).
        multi_label: labels are collections or comma-separated strings such as
            `"Bark,Dog"`; they become float32 multi-hot rows. Otherwise labels become
            int32 class indices.
        on_error: `"raise"` or `"skip"` bad files (see above).
        trim_db: if set, `trim(top_db=trim_db)` (2048/512-sample frames) each clip
            before fixing its length.
        length_mode: `"center"`, `"left"` or `"random"` (see `fix_length`).
        seed: seeds the shuffle and the random crops; with `deterministic` not False,
            the same seed gives the same order and crops in every run (each epoch
            still differs from the previous one).
        deterministic: passed to the parallel maps; False allows out-of-order elements
            (a little faster). None uses `tf.data`'s default (in order).
        drop_remainder: drop the last batch if it is smaller than `batch_size`.
        label_column: the DataFrame column holding labels.
        path_column: the DataFrame column holding file paths.
        max_duration: the longest file accepted, seconds (default
            `kerasaudio.audio_io.MAX_DURATION`, one hour; None: no limit). The check
            reads each header's frame count; a stream of unknown length is decoded to
            count it. A longer file is a bad file (raised or skipped, as `on_error`).

    Returns:
        A `tf.data.Dataset` of `(features, labels)` batches (`features` alone without
        labels). Without `features`, the features are float32 `(batch, samples)`
        waveforms.

    Raises:
        InvalidOptionError: an invalid option, `labels` of the wrong length, an
            unknown or missing label.
        AudioFileNotFoundError, AudioFileError: with `on_error="raise"`, the first bad
            file (named, with the problem).
        InvalidAudioError: with `on_error="skip"`, every file was bad.

    Example:
    ```python
    df = kerasaudio.datasets.fsdd.load(sample=True)
    ds = kerasaudio.data.audio_dataset(
        df, classes=kerasaudio.datasets.fsdd.CLASSES, label_column="digit",
        sample_rate=8000, duration=1.0, batch_size=16, shuffle=True, seed=0,
        features=kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=512,
                                                  hop_length=128, n_mels=40))
    for mel, digit in ds.take(1):
        print(mel.shape, digit.shape)  # (16, 63, 40) (16,)
    ```
    """
    max_duration = check_seconds("max_duration", max_duration, allow_none=True,
                                 allow_zero=False)
    _check_options(
        sample_rate=sample_rate, duration=duration, batch_size=batch_size,
        length_mode=length_mode, on_error=on_error, trim_db=trim_db, seed=seed,
        cache=cache, features=features, augment=augment, deterministic=deterministic,
    )
    paths, raw_labels = _resolve_source(source, labels, path_column, label_column)
    has_labels = raw_labels is not None
    class_names, encoded = None, None
    if has_labels:
        class_names, encoded = _encode_labels(raw_labels, paths, classes, bool(multi_label))
    elif classes is not None:
        raise InvalidOptionError("classes= was given but there are no labels.")

    kept, infos, skipped = _scan(paths, on_error, max_duration)
    kept_paths = [paths[i] for i in kept]
    routes = np.array(
        [_ROUTE_GRAPH if info.tf_readable and info.sample_rate == sample_rate
         else _ROUTE_NUMPY for info in infos],
        np.int32,
    )
    by_path = {info.path: info for info in infos}
    length = None if duration is None else round(duration * sample_rate)
    autotune = tf.data.AUTOTUNE

    def load_numpy(path: bytes) -> np.ndarray:
        info = by_path[os.fsdecode(path)]
        return load(info, sample_rate=sample_rate, mono=True, offset=0.0, duration=None,
                    use_tf=False, max_duration=max_duration)

    def decode_graph(path, offset, frames, channels):
        # The scan found the samples (16-bit PCM at `offset`), so read them directly:
        # decode_raw only reinterprets the bytes, where tf.audio.decode_wav parses the
        # whole file again (BENCHMARKS.md, log-mel features, has both timings). The
        # "data" tag in front of the samples guards against a file changed since the scan.
        contents = tf.io.read_file(path)
        tf.debugging.Assert(
            tf.equal(tf.strings.substr(contents, offset - 8, 4), "data"),
            ["audio_dataset: file changed since the dataset was built:", path],
        )
        raw = tf.strings.substr(contents, offset, frames * channels * 2)
        audio = tf.cast(tf.io.decode_raw(raw, tf.int16), tf.float32) * (1.0 / 32768.0)
        return tf.cond(
            channels > 1,
            lambda: tf.reduce_mean(tf.reshape(audio, [-1, channels]), axis=1),
            lambda: audio,
        )

    def decode_numpy(path):
        audio = tf.numpy_function(load_numpy, [path], tf.float32, stateful=False)
        return tf.ensure_shape(audio, [None])

    all_graph = bool(np.all(routes == _ROUTE_GRAPH))
    all_numpy = bool(np.all(routes == _ROUTE_NUMPY))
    random_crop = length is not None and length_mode == "random"

    def decode(path, route, offset, frames, channels):
        if all_graph:
            audio = decode_graph(path, offset, frames, channels)
        elif all_numpy:
            audio = decode_numpy(path)
        else:
            audio = tf.cond(
                tf.equal(route, _ROUTE_GRAPH),
                lambda: decode_graph(path, offset, frames, channels),
                lambda: decode_numpy(path),
            )
        if trim_db is not None:
            audio = _trim_tensor(audio, float(trim_db), _TRIM_FRAME_LENGTH, _TRIM_HOP_LENGTH)[0]
        return audio

    def fit(audio, rand=None):
        if length is None:
            return audio
        stateless = None if rand is None else tf.stack([rand, tf.constant(0, tf.int64)])
        return _fix_length_tensor(audio, length, length_mode, stateless)

    # Elements: `audio` without labels, `(audio, label)` with them.
    columns = (
        tf.constant([os.fsencode(path) for path in kept_paths]),
        tf.constant(routes),
        tf.constant([info.data_offset for info in infos], tf.int64),
        tf.constant([info.frames for info in infos], tf.int64),
        tf.constant([info.channels for info in infos], tf.int64),
    )
    if has_labels:
        columns += (tf.constant(encoded[kept]),)
    ds = tf.data.Dataset.from_tensor_slices(columns)
    n_files = len(kept_paths)
    parallel = {"num_parallel_calls": autotune, "deterministic": deterministic}

    def load_row(row, rand=None):
        audio = decode(*row[:5])
        if not cache:
            audio = fit(audio, rand)
        return (audio, row[5]) if has_labels else audio

    def refit(item, rand=None):
        return (fit(item[0], rand), item[1]) if has_labels else fit(item, rand)

    def with_random_stream(ds):
        # One int64 per element from a seeded stream that changes every epoch: the
        # stateless seed of that element's crop, whatever thread maps it.
        stream = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        return tf.data.Dataset.zip((ds, stream))

    if not cache:
        if shuffle:
            ds = ds.shuffle(n_files, seed=seed, reshuffle_each_iteration=True)
        if random_crop:
            ds = with_random_stream(ds).map(load_row, **parallel)
        else:
            ds = ds.map(lambda *row: load_row(row), **parallel)
    else:
        ds = ds.map(lambda *row: load_row(row), **parallel)
        ds = ds.cache() if cache is True else ds.cache(os.fspath(cache))
        if shuffle:
            ds = ds.shuffle(n_files, seed=seed, reshuffle_each_iteration=True)
        if random_crop:
            ds = with_random_stream(ds).map(refit, **parallel)
        elif length is not None:
            ds = ds.map(lambda *item: refit(item if has_labels else item[0]), **parallel)

    example = tf.zeros([1, length or sample_rate], tf.float32)
    for fn in (augment, features):
        if fn is not None:
            _build_layer(fn, example)

    def apply(fn, ds):
        if has_labels:
            return ds.map(lambda audio, label: (fn(audio), label), **parallel)
        return ds.map(fn, **parallel)

    per_clip = length is not None and augment is None and features is not None
    if per_clip:
        # Fixed-length clips without batch-level augmentation: features one clip at a
        # time, in parallel, then batch. Against features on whole batches this keeps each
        # clip's frames in cache and every core busy (BENCHMARKS.md, log-mel features).
        # The front-end layers are batch-invariant, so the numbers are the same.
        compiled = _compile_features(features, [1, length])
        ds = apply(lambda audio: compiled(audio[None])[0], ds)
    if length is not None:
        ds = ds.batch(batch_size, drop_remainder=drop_remainder, **parallel)
    else:
        ds = ds.padded_batch(batch_size, drop_remainder=drop_remainder)
    if not per_clip:
        if augment is not None or features is not None:
            ds = ds.prefetch(autotune)  # decouple decoding from the batch-level steps
        if augment is not None:
            ds = apply(augment, ds)
        if features is not None:
            if length is not None:
                features = _compile_features(features, [batch_size, length])
            ds = apply(features, ds)
    ds = ds.prefetch(autotune)
    ds.skipped = skipped
    ds.file_paths = kept_paths
    ds.class_names = class_names
    return ds
