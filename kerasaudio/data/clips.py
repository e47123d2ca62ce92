"""`trim` and `fix_length`: one clip's silence trimmed, its length fixed.

Written once, in TensorFlow ops: called on NumPy arrays they run eagerly and return NumPy
arrays; called on tensors (for example inside `tf.data.Dataset.map`) they return tensors.
`trim_tensor` and `fix_length_tensor` are the tensor forms `audio_dataset` maps.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import tensorflow as tf

from kerasaudio.errors import InvalidAudioError, InvalidOptionError

__all__ = ["LENGTH_MODES", "fix_length", "trim"]

#: Accepted values of `fix_length(mode=...)` and `audio_dataset(length_mode=...)`.
LENGTH_MODES = ("center", "left", "random")


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


def trim_tensor(audio: tf.Tensor, top_db: float, frame_length: int,
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
    trimmed, interval = trim_tensor(tensor, float(top_db), int(frame_length), int(hop_length))
    if is_numpy:
        return trimmed.numpy(), interval.numpy()
    return trimmed, interval


def _uniform_offset(limit: tf.Tensor, seed) -> tf.Tensor:
    """A random int32 in [0, limit] (stateless when `seed` is given)."""
    if seed is None:
        return tf.random.uniform([], 0, limit + 1, dtype=tf.int32)
    return tf.random.stateless_uniform([], seed, 0, limit + 1, dtype=tf.int32)


def fix_length_tensor(audio: tf.Tensor, length, mode: str, seed) -> tf.Tensor:
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
    out = fix_length_tensor(tensor, length, mode, seed)
    return out.numpy() if is_numpy else out
