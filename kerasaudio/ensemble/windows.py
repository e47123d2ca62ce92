"""Aggregation over windows and test-time augmentation: one model, many views of a clip.

- `aggregate_windows(probs, method)` combines a model's probabilities over windows (or
  over transformed copies of a clip): `"mean"`, `"max"`, `"gmean"` or `"attention"`
  (softmax-weighted pooling).
- `predict_windows(model, audio, hop=...)` runs a fixed-length model on every window of a
  long recording (`kerasaudio.audio_io.windows`) and aggregates them.
- `tta(model, clips, transforms=[...])` runs the model on transformed copies of every
  clip (test-time augmentation) and aggregates them.

All three work on NumPy arrays with a Keras model (single- or multi-label outputs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np

from kerasaudio.audio_io import windows
from kerasaudio.ensemble.classification import as_clips, fit_length
from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers.ensemble import EPSILON

__all__ = ["WINDOW_AGGREGATES", "aggregate_windows", "predict_windows", "tta"]

#: The names `aggregate_windows` takes (a callable `f(probs, axis=...)` works too).
WINDOW_AGGREGATES = ("mean", "max", "gmean", "attention")


def aggregate_windows(probs, method: str | Callable = "mean", *, axis: int = -2,
                      scores=None, temperature: float = 1.0,
                      normalize: bool = False) -> np.ndarray:
    """Combine probabilities over windows (or augmented copies) of a clip.

    With `p_t` the probabilities of window `t` (per class):

    - `"mean"`: `mean_t p_t`;
    - `"max"`: `max_t p_t` (a class is present if any window has it);
    - `"gmean"`: `exp(mean_t log p_t)`, `p` clipped to `[1e-7, 1]`;
    - `"attention"`: `sum_t w_t p_t` with `w = softmax_t(s_t / temperature)` per class,
      where `s` is `scores` (e.g. a model's attention logits or a voice-activity score
      per window, broadcast against `probs`) or, by default, the probabilities
      themselves: confident windows weigh more. A small `temperature` tends to
      `"max"`, a large one to `"mean"`.

    Args:
        probs: probabilities with the windows on `axis`, e.g. `(windows, classes)` or
            `(clips, windows, classes)`.
        method: one of `"mean"`, `"max"`, `"gmean"`, `"attention"`, or a function
            called as `method(probs, axis=axis)`.
        axis: the windows' axis (default: the one before the classes).
        scores: attention scores for `"attention"` (default: `probs`).
        temperature: softmax temperature for `"attention"`, > 0.
        normalize: divide each result by its sum over the last axis (for single-label
            softmax outputs, so the result is a distribution again; the top class is
            unchanged).

    Returns:
        `probs` with `axis` removed, float64.

    Raises:
        InvalidOptionError: an unknown method, a bad temperature, or `scores` that do not
            broadcast against `probs`.

    Example:
    ```python
    import numpy as np
    import kerasaudio
    probs = np.array([[0.2, 0.8], [0.6, 0.4]])  # 2 windows, 2 classes
    kerasaudio.ensemble.aggregate_windows(probs, "mean")  # [0.4, 0.6]
    kerasaudio.ensemble.aggregate_windows(probs, "max")   # [0.6, 0.8]
    ```

    Reference:
        Wang, Li and Metze, "A comparison of five multiple instance learning pooling
        functions for sound event detection with weak labeling", ICASSP 2019 (max,
        average, exponential-softmax and attention pooling).
    """
    p = np.asarray(probs, np.float64)
    if p.ndim < 1 or not -p.ndim <= axis < p.ndim:
        raise InvalidOptionError(f"axis={axis} is not an axis of probabilities of shape "
                                 f"{p.shape}.")
    if callable(method):
        out = np.asarray(method(p, axis=axis), np.float64)
    elif method == "mean":
        out = p.mean(axis=axis)
    elif method == "max":
        out = p.max(axis=axis)
    elif method == "gmean":
        out = np.exp(np.log(np.clip(p, EPSILON, 1.0)).mean(axis=axis))
    elif method == "attention":
        if isinstance(temperature, bool) or not float(temperature) > 0:
            raise InvalidOptionError(f"temperature={temperature!r} must be > 0.")
        s = p if scores is None else np.asarray(scores, np.float64)
        try:
            s = np.broadcast_to(s, p.shape) / float(temperature)
        except ValueError:
            raise InvalidOptionError(f"scores of shape {np.shape(scores)} do not broadcast "
                                     f"against probabilities {p.shape}.") from None
        w = np.exp(s - s.max(axis=axis, keepdims=True))
        out = (w * p).sum(axis=axis) / w.sum(axis=axis)
    else:
        raise InvalidOptionError(f"method={method!r}; use one of {list(WINDOW_AGGREGATES)} "
                                 "or a function f(probs, axis=...).")
    if normalize:
        out = out / np.maximum(out.sum(axis=-1, keepdims=True), EPSILON)
    return out


def _input_length(model: keras.Model, length: int | None, what: str) -> tuple[int | None,
                                                                              bool]:
    """The model's clip length (or `length`) and whether it takes `(samples, 1)`."""
    if not isinstance(model, keras.Model) or len(model.inputs) != 1:
        raise InvalidOptionError(f"{what}: the model must be a keras.Model with one input.")
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
        raise InvalidOptionError(f"{what}: the model takes input of shape {shape}, not raw "
                                 "mono audio (samples,) or (samples, 1).")
    fixed = shape[0]
    if length is not None:
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise InvalidOptionError(f"{what}: window={length!r} must be a positive number "
                                     "of samples.")
        if fixed is not None and length != fixed:
            raise InvalidOptionError(f"{what}: window={length} but the model takes {fixed} "
                                     "samples.")
        fixed = length
    return fixed, len(shape) == 2


def _predict(model: keras.Model, batch: np.ndarray, channel: bool,
             batch_size: int) -> np.ndarray:
    x = batch[..., None] if channel else batch
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), np.float64)


def predict_windows(model: keras.Model, audio, *, window: int | None = None,
                    hop: int | None = None, aggregate: str | Callable | None = "mean",
                    batch_size: int = 32) -> np.ndarray:
    """Run a model on every window of a recording and aggregate the windows.

    The audio is cut by `kerasaudio.audio_io.windows`: window `k` starts at sample
    `k * hop`, the last one is zero-padded at the end, and a clip shorter than a window
    gives one window, centred and zero-padded.

    Args:
        model: a Keras model taking raw mono audio `(samples,)` or `(samples, 1)` at the
            audio's rate and giving `(batch, classes)` probabilities.
        audio: a 1-D waveform at the model's sample rate.
        window: samples per window (default: the model's input length; required when
            the model takes any length).
        hop: samples between window starts (default `window // 2`).
        aggregate: a method of `aggregate_windows` (default `"mean"`), or None to get
            every window's probabilities.
        batch_size: windows per `model.predict` batch.

    Returns:
        `(classes,)` aggregated probabilities, or `(windows, classes)` with
        `aggregate=None`.

    Raises:
        InvalidOptionError: not a raw-audio model, no window length, a window the model
            does not take, `hop < 1`, audio that is not one non-empty channel.

    Example:
    ```python
    import numpy as np
    import kerasaudio
    model = kerasaudio.create_model("m5_fsdd_digits")   # 1 s windows at 8 kHz
    audio = np.zeros(20000, "float32")
    kerasaudio.ensemble.predict_windows(model, audio, hop=4000, aggregate=None).shape
    # (4, 10): windows start at 0, 4000, 8000, 12000
    ```
    """
    length, channel = _input_length(model, window, "predict_windows")
    if length is None:
        raise InvalidOptionError("predict_windows: the model takes any length; pass window= "
                                 "(samples).")
    audio = np.asarray(audio, np.float32)
    if audio.ndim != 1 or audio.size == 0:
        raise InvalidOptionError(f"predict_windows: audio must be one non-empty channel; got "
                                 f"shape {audio.shape}.")
    _, frames = windows(audio, length, hop=hop)
    probs = _predict(model, frames, channel, batch_size)
    return probs if aggregate is None else aggregate_windows(probs, aggregate, axis=0)


def tta(model: keras.Model, clips, *, transforms: Sequence[Callable | None],
        aggregate: str | Callable | None = "mean", length: int | None = None,
        batch_size: int = 32) -> np.ndarray:
    """Test-time augmentation: predict transformed copies of every clip and aggregate.

    Every transform maps a 1-D waveform to a 1-D waveform (a speed change, a shift, a
    filter, ...); None is the clip itself. Each transformed copy is centred (cropped or
    zero-padded, as `kerasaudio.data.fix_length(mode="center")`) to the model's input
    length, then predicted.

    Args:
        model: a Keras model taking raw mono audio `(samples,)` or `(samples, 1)` and
            giving `(batch, classes)` probabilities.
        clips: an array `(clips, samples)` or a list of 1-D clips (any lengths) at the
            model's rate.
        transforms: the views, e.g. `[None, faster, slower]`.
        aggregate: a method of `aggregate_windows` over the transforms (default
            `"mean"`), or None to get every view's probabilities.
        length: samples the model is fed (default: its input length; required when it
            takes any length and the transformed clips differ in length).
        batch_size: clips per `model.predict` batch.

    Returns:
        `(clips, classes)`, or `(transforms, clips, classes)` with `aggregate=None`.

    Raises:
        InvalidOptionError: no transforms, a transform that is not callable or does not
            return a 1-D waveform, or clips the model cannot take.

    Example:
    ```python
    import numpy as np
    from scipy import signal
    import kerasaudio
    model = kerasaudio.create_model("m5_fsdd_digits")
    clips = np.zeros((4, 8000), "float32")
    faster = lambda x: signal.resample_poly(x, 20, 21)      # 5% faster
    kerasaudio.ensemble.tta(model, clips, transforms=[None, faster]).shape  # (4, 10)
    ```
    """
    fixed, channel = _input_length(model, length, "tta")
    transforms = list(transforms)
    if not transforms:
        raise InvalidOptionError("tta: transforms is empty; include None for the clip "
                                 "itself.")
    for i, t in enumerate(transforms):
        if t is not None and not callable(t):
            raise InvalidOptionError(f"tta: transforms[{i}] is {t!r}, not a function or "
                                     "None.")
    originals = as_clips(clips)
    views = []
    for i, transform in enumerate(transforms):
        copies = []
        for clip in originals:
            out = clip if transform is None else np.asarray(transform(clip), np.float32)
            if out.ndim != 1 or out.size == 0:
                raise InvalidOptionError(f"tta: transforms[{i}] returned shape {out.shape}, "
                                         "not a non-empty 1-D waveform.")
            copies.append(out if fixed is None else fit_length(out, fixed))
        if len({len(c) for c in copies}) == 1:
            views.append(_predict(model, np.stack(copies), channel, batch_size))
        else:  # a model of any length, clips of several lengths: one at a time
            views.append(np.concatenate([_predict(model, c[None], channel, 1)
                                         for c in copies]))
    probs = np.stack(views)
    return probs if aggregate is None else aggregate_windows(probs, aggregate, axis=0)
