"""The layers of a stacking ensemble: `StackingEnsemble` (combines the members'
probabilities) and `Resample` (feeds a member its own sample rate inside the graph).

`kerasaudio.ensemble.stack` builds the whole ensemble model from these; both layers use
`keras.ops` only (TensorFlow and JAX backends) and convert to TFLite builtin ops
(`CONV_2D`, `PAD`, `RESHAPE`, `LOG`, `EXP`, `TOPK_V2`, `ARG_MAX`, `ONE_HOT`, ...), also
in full int8.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from kerasaudio.errors import InvalidAudioError, InvalidOptionError
from kerasaudio.layers.base import FrontEndLayer, check_int

__all__ = ["AGGREGATES", "Resample", "StackingEnsemble"]

#: The aggregates `StackingEnsemble` computes.
AGGREGATES = ("gmean", "mean", "median", "max", "vote", "learned")
#: Aggregates that take member weights.
WEIGHTED = ("gmean", "mean", "vote")
#: Probabilities are clipped to [EPSILON, 1] before a logarithm.
EPSILON = 1e-7
#: Largest up-sampling factor `Resample` accepts (its convolution runs at `up` x the rate).
MAX_UP = 32


@keras.saving.register_keras_serializable(package="kerasaudio")
class StackingEnsemble(keras.layers.Layer):
    """Combine the class probabilities of several models into one distribution.

    Takes a list of `members` tensors, each `(batch, classes)` probabilities (e.g. the
    softmax outputs of zoo models), and returns `(batch, classes)`. With member weights
    `w` (default all 1), `p_m` the m-th member's probabilities clipped to
    `[1e-7, 1]` where a logarithm is taken:

    - `"gmean"`: `exp(sum_m w_m log p_m / sum_m w_m)` (the weighted geometric mean, what
      malaya-speech's `classification_stack` uses with `scipy.stats.mstats.gmean`);
    - `"mean"`: `sum_m w_m p_m / sum_m w_m`;
    - `"median"`: the median over members (mean of the two middle values for an even
      count);
    - `"max"`: the largest probability of any member, per class;
    - `"vote"`: the weighted share of members whose top class is each class (ties in a
      member's probabilities go to the lower class index, as `numpy.argmax`);
    - `"learned"`: `softmax(concat_m(log p_m) @ kernel + bias)`, a trainable dense
      meta-learner over the members' log-probabilities (a multinomial logistic
      regression), initialised to the normalised geometric mean. `kerasaudio.ensemble.
      fit_stacker` fits it on out-of-fold predictions.

    With `normalize=True` (default) the output of `"gmean"`, `"median"` and `"max"` is
    divided by its sum so every row is a probability distribution (the top class is
    unchanged); `"mean"`, `"vote"` and `"learned"` already sum to one.

    With `multi_label=True` the members give independent per-class probabilities
    (sigmoid outputs, several classes may be present at once) and so does the
    ensemble: nothing is renormalised, `"vote"` (a top-class vote) is refused, and
    `"learned"` is `sigmoid(concat_m(logit p_m) @ kernel + bias)` with `logit p =
    log p - log(1 - p)` on `p` clipped to `[1e-7, 1 - 1e-7]`: one logistic regression per
    class over every member's log-odds, initialised to the mean log-odds.

    Args:
        members: number of input tensors.
        classes: number of classes (the last axis of every input).
        aggregate: one of `"gmean"`, `"mean"`, `"median"`, `"max"`, `"vote"`,
            `"learned"`.
        weights: per-member weights (non-negative, not all zero) for `"gmean"`,
            `"mean"` and `"vote"`; None for equal weights.
        normalize: renormalise `"gmean"`, `"median"` and `"max"` to sum to one (single-label
            only).
        class_names: the classes' names (metadata kept in the saved model; optional).
        sample_rate: the ensemble input's sample rate in Hz (metadata; optional).
        orders: per member, None or the index of each ensemble class in that member's
            output (`stack` sets it when a member lists the same classes in another
            order); the member's probabilities are reordered before combining.
        multi_label: the probabilities are per class (sigmoid), not a distribution.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:
    ```python
    import keras
    import numpy as np
    import kerasaudio
    a, b = keras.Input((3,)), keras.Input((3,))
    out = kerasaudio.layers.StackingEnsemble(members=2, classes=3, aggregate="gmean")([a, b])
    model = keras.Model([a, b], out)
    model.predict([np.array([[0.7, 0.2, 0.1]]), np.array([[0.5, 0.4, 0.1]])])
    # normalised geometric mean: [[0.607, 0.290, 0.103]]
    ```

    Reference:
        Wolpert, "Stacked generalization", Neural Networks 5(2), 1992; malaya-speech's
        `classification_stack` (geometric mean of the members' probabilities).
    """

    def __init__(self, *, members: int, classes: int, aggregate: str = "gmean",
                 weights=None, normalize: bool = True, class_names=None,
                 sample_rate: int | None = None, orders=None, multi_label: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        self.members = check_int("members", members)
        self.classes = check_int("classes", classes)
        if aggregate not in AGGREGATES:
            raise InvalidOptionError(
                f"StackingEnsemble: aggregate={aggregate!r}; use one of {list(AGGREGATES)} "
                "(member weights go in weights=)."
            )
        self.aggregate = aggregate
        self.multi_label = bool(multi_label)
        if self.multi_label and aggregate == "vote":
            raise InvalidOptionError(
                "StackingEnsemble: aggregate='vote' counts each member's top class, which "
                "has no meaning for multi-label outputs; use 'mean', 'gmean', 'median', "
                "'max' or 'learned'.")
        self.member_weights = check_weights(weights, self.members, aggregate)
        self.normalize = bool(normalize)
        if class_names is not None:
            class_names = [str(c) for c in class_names]
            if len(class_names) != self.classes:
                raise InvalidOptionError(
                    f"StackingEnsemble: {len(class_names)} class_names for {self.classes} "
                    "classes."
                )
        self.class_names = class_names
        self.sample_rate = check_int("sample_rate", sample_rate, allow_none=True)
        orders = [None] * self.members if orders is None else list(orders)
        if len(orders) != self.members:
            raise InvalidOptionError(f"{len(orders)} orders for {self.members} members.")
        self.orders = []
        for order in orders:
            if order is not None:
                order = [int(i) for i in order]
                if sorted(order) != list(range(self.classes)):
                    raise InvalidOptionError(
                        f"StackingEnsemble: order {order} is not a permutation of "
                        f"0..{self.classes - 1}.")
                if order == list(range(self.classes)):
                    order = None
            self.orders.append(order)

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not input_shape or not isinstance(
                input_shape[0], (list, tuple)):
            raise InvalidOptionError("StackingEnsemble takes a list of probability tensors.")
        if len(input_shape) != self.members:
            raise InvalidOptionError(
                f"StackingEnsemble(members={self.members}) got {len(input_shape)} inputs."
            )
        for i, shape in enumerate(input_shape):
            if len(shape) != 2 or shape[-1] != self.classes:
                raise InvalidOptionError(
                    f"StackingEnsemble: input {i} has shape {tuple(shape)}; expected "
                    f"(batch, {self.classes}) probabilities."
                )
        if self.aggregate == "learned":
            eye = np.tile(np.eye(self.classes, dtype="float32"), (self.members, 1))
            self.kernel = self.add_weight(
                name="kernel", shape=(self.members * self.classes, self.classes),
                initializer=keras.initializers.Constant(eye / self.members))
            self.bias = self.add_weight(name="bias", shape=(self.classes,),
                                        initializer="zeros")

    def set_meta_weights(self, kernel, bias) -> None:
        """Load a fitted meta-learner: `kernel` `(members * classes, classes)`, `bias`
        `(classes,)` (see `kerasaudio.ensemble.fit_stacker`)."""
        if self.aggregate != "learned":
            raise InvalidOptionError("set_meta_weights needs aggregate='learned'.")
        kernel = np.asarray(kernel, "float32")
        bias = np.asarray(bias, "float32")
        if kernel.shape != (self.members * self.classes, self.classes) or bias.shape != (
                self.classes,):
            raise InvalidOptionError(
                f"meta weights of shapes {kernel.shape}, {bias.shape}; expected "
                f"{(self.members * self.classes, self.classes)}, {(self.classes,)}."
            )
        self.kernel.assign(kernel)
        self.bias.assign(bias)

    def call(self, inputs):
        ops = keras.ops
        probs = [ops.cast(p, "float32") for p in inputs]
        probs = ops.stack([p if order is None else ops.take(p, np.asarray(order, "int32"),
                                                             axis=1)
                           for p, order in zip(probs, self.orders, strict=True)],
                          axis=1)  # (batch, members, classes)
        weights = ops.convert_to_tensor(np.asarray(self.member_weights, "float32"))
        weights = ops.reshape(weights / float(np.sum(self.member_weights)),
                              (1, self.members, 1))
        if self.aggregate == "learned":
            if self.multi_label:
                clipped = ops.clip(probs, EPSILON, 1.0 - EPSILON)
                logs = ops.log(clipped) - ops.log(1.0 - clipped)
            else:
                logs = ops.log(ops.clip(probs, EPSILON, 1.0))
            features = ops.reshape(logs, (-1, self.members * self.classes))
            z = ops.matmul(features, self.kernel) + self.bias
            return ops.sigmoid(z) if self.multi_label else ops.softmax(z, axis=-1)
        if self.aggregate == "mean":
            return ops.sum(probs * weights, axis=1)
        if self.aggregate == "vote":
            votes = ops.one_hot(ops.argmax(probs, axis=-1), self.classes)
            return ops.sum(votes * weights, axis=1)
        if self.aggregate == "gmean":
            out = ops.exp(ops.sum(ops.log(ops.clip(probs, EPSILON, 1.0)) * weights, axis=1))
        elif self.aggregate == "max":
            out = ops.max(probs, axis=1)
        else:  # median: sort the members (top_k on the last axis), average the middle
            ranked, _ = ops.top_k(ops.transpose(probs, (0, 2, 1)), k=self.members)
            middle = self.members // 2
            if self.members % 2:
                out = ranked[:, :, middle]
            else:
                out = (ranked[:, :, middle - 1] + ranked[:, :, middle]) * 0.5
        if self.normalize and not self.multi_label:
            out = out / ops.maximum(ops.sum(out, axis=-1, keepdims=True), EPSILON)
        return out

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.classes)

    def get_config(self):
        config = super().get_config()
        config.update({
            "members": self.members, "classes": self.classes, "aggregate": self.aggregate,
            "weights": [float(w) for w in self.member_weights], "normalize": self.normalize,
            "class_names": self.class_names, "sample_rate": self.sample_rate,
            "orders": self.orders, "multi_label": self.multi_label,
        })
        return config


def check_weights(weights, members: int, aggregate: str) -> list[float]:
    """Member weights as floats (all 1 when None); clear errors for bad ones."""
    if weights is None:
        return [1.0] * members
    if aggregate not in WEIGHTED:
        if all(float(w) == 1.0 for w in weights):
            return [1.0] * members
        raise InvalidOptionError(
            f"aggregate={aggregate!r} takes no member weights; weights apply to "
            f"{list(WEIGHTED)}."
        )
    try:
        values = [float(w) for w in weights]
    except (TypeError, ValueError):
        raise InvalidOptionError(f"weights={weights!r}: expected one number per member.") \
            from None
    if len(values) != members:
        raise InvalidOptionError(f"{len(values)} weights for {members} members.")
    if any(not math.isfinite(w) or w < 0 for w in values) or sum(values) <= 0:
        raise InvalidOptionError(
            f"weights={values}: must be finite, >= 0 and not all zero."
        )
    return values


def _renamed(value, old_value, name: str, old_name: str):
    """`value`, or `old_value` given under the option's other accepted name."""
    if old_value is None:
        return value
    if value is not None and value != old_value:
        raise InvalidOptionError(f"Resample: {name}={value!r} and {old_name}={old_value!r} "
                                 "name the same option; pass one.")
    return old_value


def resampling_filter(up: int, down: int) -> np.ndarray:
    """The anti-aliasing FIR `scipy.signal.resample_poly` uses by default for `up/down`:
    a Kaiser (beta 5) windowed sinc, cutoff `1 / max(up, down)`, `20 * max(up, down) + 1`
    taps, gain `up`."""
    from scipy import signal

    rate = max(up, down)
    half = 10 * rate
    return (signal.firwin(2 * half + 1, 1.0 / rate, window=("kaiser", 5.0)) * up).astype(
        "float32")


@keras.saving.register_keras_serializable(package="kerasaudio")
class Resample(FrontEndLayer):
    """Resample audio by a rational factor inside the model (polyphase FIR filtering).

    Computes exactly what `scipy.signal.resample_poly(x, up, down)` computes with its
    default filter (a Kaiser-windowed sinc, zero phase): the audio is up-sampled by
    `up` (zeros inserted), low-pass filtered, and every `down`-th sample kept; the output
    has `ceil(samples * up / down)` samples. The graph is a `PAD`, a `RESHAPE` and one
    strided convolution, all TFLite builtins (int8 included), so a 16 kHz member and an
    8 kHz member can share one raw-audio input in one `.tflite` file. The convolution
    runs at `up` times the input rate, so `up` is limited to 32 (e.g. 8 kHz -> 16 kHz,
    16 kHz -> 8 kHz, 48 kHz -> 16 kHz; 22.05 kHz -> 16 kHz is 320/441: resample such
    audio before the model).

    Like the front-end layers it is a Keras `DataLayer` (it also runs inside `tf.data`),
    and a full-int8 `kerasaudio.export.to_tflite` keeps it in float32 with them: an int8
    waveform has about 48 dB of dynamic range, too coarse for a log-mel member behind it.

    Args:
        sample_rate: the input's sample rate (Hz), keyword-only.
        target_sample_rate: the output's sample rate (Hz), keyword-only.
        **kwargs: `keras.layers.Layer` arguments. The names `orig_sr` and `target_sr`
            are accepted for `sample_rate` and `target_sample_rate`, so configs that
            use them (librosa's spelling) load.

    Example:
    ```python
    import keras
    import kerasaudio
    audio = keras.Input((8000,))  # 1 s at 8 kHz
    layer = kerasaudio.layers.Resample(sample_rate=8000, target_sample_rate=16000)
    layer(audio).shape  # (None, 16000)
    ```

    Reference:
        Crochiere and Rabiner, "Multirate Digital Signal Processing", Prentice-Hall,
        1983 (polyphase resampling).
    """

    def __init__(self, *, sample_rate: int | None = None,
                 target_sample_rate: int | None = None, **kwargs):
        sample_rate = _renamed(sample_rate, kwargs.pop("orig_sr", None), "sample_rate",
                               "orig_sr")
        target_sample_rate = _renamed(target_sample_rate, kwargs.pop("target_sr", None),
                                      "target_sample_rate", "target_sr")
        super().__init__(**kwargs)
        self.sample_rate = check_int("sample_rate", sample_rate)
        self.target_sample_rate = check_int("target_sample_rate", target_sample_rate)
        g = math.gcd(self.sample_rate, self.target_sample_rate)
        self.up, self.down = self.target_sample_rate // g, self.sample_rate // g
        if self.up > MAX_UP:
            raise InvalidOptionError(
                f"Resample {self.sample_rate} Hz -> {self.target_sample_rate} Hz is "
                f"{self.up}/{self.down}: the in-graph filter would run at {self.up}x the "
                f"input rate (at most {MAX_UP}x is supported). Resample the audio before "
                "the model (e.g. kerasaudio.audio_io.load_audio(path, "
                f"sample_rate={self.target_sample_rate})), or give the ensemble an input "
                "rate that is a simple ratio of the members'."
            )
        self._kernel = (None if self.up == self.down == 1
                        else resampling_filter(self.up, self.down))

    def output_length(self, samples: int | None) -> int | None:
        """Samples out for `samples` in (None stays None)."""
        return None if samples is None else -(-samples * self.up // self.down)

    def _check_shape(self, shape: tuple):
        if len(shape) not in (2, 3) or (len(shape) == 3 and shape[-1] not in (None, 1)):
            raise InvalidAudioError(
                f"Resample takes mono audio (batch, samples) or (batch, samples, 1); got "
                f"shape {shape}.")

    def call(self, inputs):
        ops = self.backend
        x = ops.cast(inputs, "float32")
        if self._kernel is None:
            return x
        squeeze = len(x.shape) == 2
        if squeeze:
            x = ops.numpy.expand_dims(x, -1)
        samples = x.shape[1]
        if self.up > 1:  # zero-stuffing: (b, n, 1) -> (b, n, up) -> (b, n * up, 1)
            x = ops.numpy.pad(x, [[0, 0], [0, 0], [0, self.up - 1]])
            length = -1 if samples is None else samples * self.up
            x = ops.numpy.reshape(x, (-1, length, 1))
        half = (len(self._kernel) - 1) // 2
        x = ops.numpy.pad(x, [[0, 0], [half, half], [0, 0]])
        kernel = ops.convert_to_tensor(self._kernel[::-1].reshape(-1, 1, 1).copy())
        y = ops.nn.conv(x, kernel, strides=self.down, padding="valid")
        return y[:, :, 0] if squeeze else y

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_length(input_shape[1]), *input_shape[2:])

    def get_config(self):
        config = super().get_config()
        config.update({"sample_rate": self.sample_rate,
                       "target_sample_rate": self.target_sample_rate})
        return config
