"""malaya-speech's `classification_stack`: members' NumPy probabilities, aggregated.

`classification_stack(models)` runs every member on every clip (each clip centred to the
member's duration and resampled to its rate exactly as the in-graph `Resample` does) and
aggregates the `(members, clips, classes)` probabilities over the member axis, with
malaya-speech's `predict_proba(inputs, aggregate=scipy.stats.mstats.gmean)` and
`predict(inputs)` signatures and shapes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import keras
import numpy as np

from kerasaudio.ensemble.builder import (
    Member,
    class_orders,
    describe_members,
    ensemble_rate,
    for_distinct,
    parse_aggregate,
    unique_models,
)
from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers.ensemble import Resample, StackingEnsemble

__all__ = ["ClassificationStack", "classification_stack"]


def as_clips(inputs) -> list[np.ndarray]:
    if isinstance(inputs, np.ndarray) and inputs.ndim == 1:
        inputs = [inputs]
    clips = [np.asarray(x, np.float32).reshape(-1) if np.ndim(x) <= 1 or np.shape(x)[-1] == 1
             else None for x in inputs]
    mono = [c for c in clips if c is not None]
    if len(mono) != len(clips):
        raise InvalidOptionError("inputs must be mono clips: 1-D arrays (samples,).")
    return mono


def fit_length(clip: np.ndarray, length: int) -> np.ndarray:
    """Centre-crop or zero-pad (as `kerasaudio.data.fix_length(mode="center")`)."""
    n = len(clip)
    if n >= length:
        start = (n - length) // 2
        return clip[start:start + length]
    before = (length - n) // 2
    return np.pad(clip, (before, length - n - before))


def member_inputs(member: Member, clips: list[np.ndarray], rate: int) -> np.ndarray:
    """The batch `member` gets from `clips` at `rate`: each clip fitted (centred) to the
    member's duration at `rate`, then resampled exactly as `Resample` does in the graph."""
    from scipy import signal

    layer = Resample(sample_rate=rate, target_sample_rate=member.sample_rate)
    if member.input_length is not None:
        length = math.ceil(member.input_length * rate / member.sample_rate)
        for candidate in (length - 1, length, length + 1):  # the one Resample maps exactly
            if candidate > 0 and layer.output_length(candidate) == member.input_length:
                length = candidate
                break
    else:
        length = max(len(c) for c in clips)
    batch = np.stack([fit_length(c, length) for c in clips]).astype(np.float32)
    if layer.up != layer.down:
        batch = signal.resample_poly(batch, layer.up, layer.down, axis=1).astype(np.float32)
    if member.input_length is not None:
        batch = np.stack([fit_length(c, member.input_length) for c in batch])
    return batch[..., None] if member.channel_axis else batch


def predict_member(member: Member, clips: list[np.ndarray], rate: int, *,
             batch_size: int = 64) -> np.ndarray:
    x = member_inputs(member, clips, rate)
    return np.asarray(member.model.predict(x, batch_size=batch_size, verbose=0), np.float64)


def _reorder(probs: np.ndarray, order) -> np.ndarray:
    return probs if order is None else probs[:, order]


def _aggregate_numpy(probs: np.ndarray, aggregate) -> np.ndarray:
    """Apply `aggregate` over axis 0 of `(members, clips, classes)`."""
    if callable(aggregate):
        return np.asarray(aggregate(probs, axis=0))
    name, weights = parse_aggregate(aggregate, None)
    if name == "learned":
        raise InvalidOptionError("aggregate='learned' needs a fitted stacker: fit_stacker().")
    layer = StackingEnsemble(members=probs.shape[0], classes=probs.shape[2], aggregate=name,
                             weights=weights)
    return np.asarray(keras.ops.convert_to_numpy(
        layer([p.astype(np.float32) for p in probs])), np.float64)


class ClassificationStack:
    """malaya-speech's `classification_stack` for kerasaudio models (NumPy in, NumPy out).

    Every member predicts every input clip; `predict_proba` aggregates the
    `(members, clips, classes)` probabilities over the member axis. A model listed twice
    is run once and counted twice (malaya's way of weighting a member). Each clip is
    centred (cropped or zero-padded) to a member's input duration and resampled to its
    rate exactly as the in-graph `Resample` layer does, so `predict_proba(x,
    aggregate="gmean")` matches `stack(models, aggregate="gmean", normalize=False)`.

    Args:
        models: member models (see `describe_members`).
        class_names, sample_rates: for members whose model-info record lacks them.
        sample_rate: the rate of the clips given to `predict_proba` (default: the
            highest member rate).

    Raises:
        InvalidOptionError: members that do not share their classes, or whose class
            names or sample rates are unknown (see `describe_members`).

    Example:
    ```python
    from scipy.stats import mstats
    import kerasaudio
    vggvox = kerasaudio.create_model("vggvox_v2_fsdd_speakers")
    deep_speaker = kerasaudio.create_model("deep_speaker_fsdd_speakers")
    stack = kerasaudio.ensemble.ClassificationStack([vggvox, deep_speaker, deep_speaker])
    segments, _ = kerasaudio.hub.representative_clips("vggvox_v2_fsdd_speakers")
    stack.predict_proba(segments[:4], aggregate=mstats.gmean).shape  # (4, 6)
    stack.predict(segments[:4])  # a speaker per segment, e.g. ['george', ...]
    ```

    Reference:
        H. Zolkepli, malaya-speech (github.com/huseinzol05/malaya-speech):
        `malaya_speech.stack.classification_stack`, whose API this follows.
    """

    def __init__(self, models: Sequence[keras.Model], *, class_names=None, sample_rates=None,
                 sample_rate: int | None = None):
        self.models = list(models)
        self._distinct, self._index = unique_models(self.models)
        self.members = describe_members(
            self._distinct, class_names=for_distinct(class_names, self.models, self._distinct),
            sample_rates=for_distinct(sample_rates, self.models, self._distinct),
            sample_rate=sample_rate)
        names, self._orders = class_orders(self.members)
        self.class_names = list(names)
        self.sample_rate = ensemble_rate(self.members, sample_rate)

    def member_probabilities(self, inputs) -> np.ndarray:
        """`(len(models), clips, classes)`: every listed model's probabilities, in the
        ensemble's class order (a duplicated model's rows repeat)."""
        clips = as_clips(inputs)
        probs = [_reorder(predict_member(member, clips, self.sample_rate), order)
                 for member, order in zip(self.members, self._orders, strict=True)]
        return np.stack([probs[j] for j in self._index])

    def predict_proba(self, inputs,
                      aggregate: Callable | str | Sequence | None = None) -> np.ndarray:
        """Aggregated probabilities `(clips, classes)`.

        Args:
            inputs: a list of 1-D clips (any lengths) or an array `(clips, samples)` at
                `self.sample_rate`.
            aggregate: a function called as `aggregate(probs, axis=0)` on the
                `(members, clips, classes)` array (default `scipy.stats.mstats.gmean`,
                malaya's default: not renormalised), or a `StackingEnsemble` aggregate
                name or list of weights.

        Returns:
            `(clips, classes)` probabilities, in `self.class_names` order.
        """
        if aggregate is None:
            from scipy.stats import mstats

            aggregate = mstats.gmean
        return _aggregate_numpy(self.member_probabilities(inputs), aggregate)

    def predict(self, inputs, aggregate: Callable | str | Sequence | None = None) -> list[str]:
        """The top class name of every clip (see `predict_proba`)."""
        probs = self.predict_proba(inputs, aggregate=aggregate)
        return [self.class_names[i] for i in np.asarray(probs).argmax(axis=-1)]


def classification_stack(models: Sequence[keras.Model], **kwargs) -> ClassificationStack:
    """Stack models the malaya-speech way: `classification_stack([m1, m2, m2])`.

    The NumPy route of `kerasaudio.ensemble`: clips of any length in, probabilities out,
    any aggregate function; use `stack` for one Keras model to save or export.

    Args:
        models: member models (raw mono audio in, `(batch, classes)` probabilities
            out); a model listed twice counts twice.
        **kwargs: `class_names`, `sample_rates`, `sample_rate` of `ClassificationStack`.

    Returns:
        A `ClassificationStack`; its `predict_proba(inputs,
        aggregate=scipy.stats.mstats.gmean)` and `predict(inputs, aggregate=...)` have
        malaya-speech's signatures and shapes.

    Example:
    ```python
    from scipy.stats import mstats
    import kerasaudio
    clips, _ = kerasaudio.hub.representative_clips("m5_fsdd_digits")
    stack = kerasaudio.ensemble.classification_stack(
        [kerasaudio.create_model("m5_fsdd_digits"),
         kerasaudio.create_model("logmel_cnn_fsdd_digits")])
    stack.predict_proba(clips[:3], aggregate=mstats.gmean).shape  # (3, 10)
    stack.predict(clips[:3])  # a digit name per clip, e.g. ['0', '0', '1']
    ```

    Reference:
        H. Zolkepli, malaya-speech (github.com/huseinzol05/malaya-speech):
        `malaya_speech.stack.classification_stack`.
    """
    return ClassificationStack(models, **kwargs)

