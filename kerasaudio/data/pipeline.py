"""`audio_dataset`: a batched `tf.data` pipeline of audio files.

It checks every file up front (cheaply: size, header, frame count), so a bad file fails
when the dataset is built, not halfway through an epoch. 16-bit PCM WAV files at the
target rate are decoded in the graph (`tf.io.decode_raw` at the sample offset the scan
found; the files are those `tf.audio.decode_wav` accepts); anything else (24/32-bit and
float WAV, FLAC, OGG, MP3, or any file that needs resampling) goes through `soundfile` and
`soxr` inside `tf.numpy_function`.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from kerasaudio.audio_io import MAX_DURATION, check_rate, check_seconds, load
from kerasaudio.data.clips import LENGTH_MODES, fix_length_tensor, trim_tensor
from kerasaudio.data.labels import encode_labels, resolve_source
from kerasaudio.data.scan import scan_files
from kerasaudio.errors import InvalidOptionError

__all__ = ["audio_dataset"]

_ON_ERROR = ("raise", "skip")
_ROUTE_GRAPH = 0  # 16-bit PCM decoded inside the graph
_ROUTE_NUMPY = 1  # soundfile (+ soxr) through tf.numpy_function

_TRIM_FRAME_LENGTH = 2048
_TRIM_HOP_LENGTH = 512


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
    paths, raw_labels = resolve_source(source, labels, path_column, label_column)
    has_labels = raw_labels is not None
    class_names, encoded = None, None
    if has_labels:
        class_names, encoded = encode_labels(raw_labels, paths, classes, bool(multi_label))
    elif classes is not None:
        raise InvalidOptionError("classes= was given but there are no labels.")

    kept, infos, skipped = scan_files(paths, on_error, max_duration)
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
            audio = trim_tensor(audio, float(trim_db), _TRIM_FRAME_LENGTH, _TRIM_HOP_LENGTH)[0]
        return audio

    def fit(audio, rand=None):
        if length is None:
            return audio
        stateless = None if rand is None else tf.stack([rand, tf.constant(0, tf.int64)])
        return fix_length_tensor(audio, length, length_mode, stateless)

    # Elements: `audio` without labels, `(audio, label)` with them.
    columns: tuple = (
        tf.constant([os.fsencode(path) for path in kept_paths]),
        tf.constant(routes),
        tf.constant([info.data_offset for info in infos], tf.int64),
        tf.constant([info.frames for info in infos], tf.int64),
        tf.constant([info.channels for info in infos], tf.int64),
    )
    if encoded is not None:  # with labels
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

    per_clip = False
    if length is not None and augment is None and features is not None:
        per_clip = True
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
