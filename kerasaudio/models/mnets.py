"""The raw-waveform M-nets of Dai et al. (2017): M3, M5, M11, M18 and M34-res.

Fully convolutional 1-D CNNs on the waveform itself. A wide first convolution (kernel 80,
10 ms at 8 kHz, stride 4) acts as a learned filter bank; every later convolution has
kernel 3, and every convolution is followed by BatchNorm and ReLU. A 4x max-pool follows
the first convolution and each of the first three stages (the paper's Table 1 rows "2000,
500, 125, 32 x n" for 32,000 input samples): M3 pools twice, M5 four times, and M11, M18
and M34-res four times, not after their fourth stage. Global average pooling over time
and one Dense layer make the top.

| model     | first conv | stages of kernel-3 convs                     | trainable, 10 classes |
|-----------|------------|----------------------------------------------|-----------------------|
| `m3`      | 256        | 256                                          | 221,194               |
| `m5`      | 128        | 128, 256, 512                                | 559,114               |
| `m11`     | 64         | 64 x2, 128 x2, 256 x3, 512 x2                | 1,786,442             |
| `m18`     | 64         | 64 x4, 128 x4, 256 x4, 512 x4                | 3,683,786             |
| `m34_res` | 48         | residual blocks 48 x3, 96 x4, 192 x6, 384 x3 | 3,978,490             |

The torchaudio tutorial's M5 is `m5(n_channel=32)`: widths 32, 32, 64, 64, first stride
16 and "valid" padding, 25,290 trainable parameters.

Every convolution keeps its bias, and BatchNorm uses PyTorch's defaults (momentum 0.1,
i.e. Keras `momentum=0.9`, and epsilon 1e-5), as in the PyTorch originals: the counts
above are theirs, BatchNorm computes what PyTorch's does, and the running statistics keep
up with short, fast trainings (with Keras' default 0.99 they trail weights that move
quickly at a high learning rate, and inference-mode accuracy falls far below training-mode
accuracy; BENCHMARKS.md has the M5 run that showed it).

Example:
```python
model = kerasaudio.create_model("m5", input_shape=(8000, 1), classes=10, n_channel=32)
kerasaudio.models.mnets.minimum_samples("m5", n_channel=32)  # 6848
```
"""

from __future__ import annotations

import inspect
import itertools
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import keras

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers.conv import Conv1D
from kerasaudio.layers.normalization import BatchNormalization
from kerasaudio.models.common import (
    build_input,
    check_arguments,
    check_min_size,
    classifier,
    finish,
    global_pool,
)
from kerasaudio.models.registry import register_model

__all__ = ["default_frontend", "m3", "m5", "m11", "m18", "m34_res", "minimum_samples"]

PAPER = ("Dai, Dai, Qu, Li, Das, 'Very deep convolutional neural networks for raw "
         "waveforms', ICASSP 2017")
#: Kernel of the first convolution (80 samples: 10 ms at the paper's 8 kHz).
FIRST_KERNEL = 80
#: Kernel of every later convolution.
KERNEL = 3
#: Size and stride of every max-pool.
POOL = 4
#: The first conv and stages 1 to POOLED_STAGES are followed by a max-pool.
POOLED_STAGES = 3
#: BatchNorm with PyTorch's defaults (its momentum 0.1 is Keras' 0.9; epsilon 1e-5).
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5
PADDINGS = ("same", "valid")
SHORTCUTS = ("repeat", "projection")

# Paper widths (first conv, then one per stage), convs (or residual blocks) per stage,
# and whether the stages are residual.
_ARCHITECTURES = {
    "m3": ((256, 256), (1,), False),
    "m5": ((128, 128, 256, 512), (1, 1, 1), False),
    "m11": ((64, 64, 128, 256, 512), (2, 2, 3, 2), False),
    "m18": ((64, 64, 128, 256, 512), (4, 4, 4, 4), False),
    "m34_res": ((48, 48, 96, 192, 384), (3, 4, 6, 3), True),
}
# Each builder's family options (what `minimum_samples` passes on).
_OPTIONS = {
    "m3": ("channels", "stride", "padding"),
    "m5": ("n_channel", "channels", "stride", "padding"),
    "m11": ("channels", "stride", "padding"),
    "m18": ("channels", "stride", "padding"),
    "m34_res": ("channels", "stride", "shortcut"),
}
_PAPER_DEFAULTS = {"input_shape": (32000, 1), "classes": 10}
_TASK = "audio classification (raw waveform)"
_INPUT = "raw audio (32000, 1): 4 s at 8 kHz"


def default_frontend() -> list:
    """No layers: the M-nets start from the waveform itself.

    With `frontend="default"` the model takes mono audio `(samples,)` and `build_input`
    adds the channel axis, giving the network its `(samples, 1)` input.

    Returns:
        `[]`: no layers (the model adds the channel axis to `(samples,)` audio).

    Example:
    ```python
    model = kerasaudio.create_model("m5", frontend="default", input_shape=(8000,))
    model.inputs[0].shape  # (None, 8000)
    ```
    """
    return []


@dataclass(frozen=True)
class _Plan:
    """One M-net configuration, resolved from the builder's options."""

    name: str
    widths: tuple[int, ...]  # first conv, then one per stage
    depths: tuple[int, ...]  # convs (or residual blocks) per stage
    residual: bool
    stride: int
    padding: str
    shortcut: str

    def time_ops(self) -> list[tuple[int, int, str]]:
        """Every layer that changes the time axis, in order: (kernel, stride, padding)."""
        ops = [(FIRST_KERNEL, self.stride, self.padding), (POOL, POOL, "valid")]
        for stage, depth in enumerate(self.depths, start=1):
            ops += [(KERNEL, 1, self.padding)] * (2 * depth if self.residual else depth)
            if stage <= POOLED_STAGES:
                ops.append((POOL, POOL, "valid"))
        return ops

    def min_samples(self) -> int:
        """The shortest input for which every layer's output has at least one step."""
        need = 1
        for kernel, stride, padding in reversed(self.time_ops()):
            # "valid": out = (n - kernel) // stride + 1; "same": out = ceil(n / stride).
            need = (need - 1) * stride + (kernel if padding == "valid" else 1)
        return need

    def describe(self) -> str:
        pools = 1 + min(len(self.depths), POOLED_STAGES)
        return (f"{self.name} (first conv kernel {FIRST_KERNEL}, stride {self.stride}, "
                f"{self.padding!r} padding; {pools} max-pools of {POOL})")


def _positive_int(name: str, option: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InvalidOptionError(f"{name}: {option}={value!r} must be an integer >= 1.")
    return int(value)


def _plan(arch: str, name: str, *, channels=None, stride=None, padding=None, n_channel=None,
          shortcut=None) -> _Plan:
    """Check and resolve the family options (before any layer is built)."""
    paper_widths, depths, residual = _ARCHITECTURES[arch]
    tutorial = n_channel is not None
    if tutorial:
        if channels is not None:
            raise InvalidOptionError(
                f"{name}: give n_channel (the torchaudio tutorial's widths n, n, 2n, 2n) "
                f"or channels (every width), not both; got n_channel={n_channel!r} and "
                f"channels={channels!r}."
            )
        n = _positive_int(name, "n_channel", n_channel)
        widths: tuple[int, ...] = (n, n, 2 * n, 2 * n)
    elif channels is None:
        widths = paper_widths
    else:
        if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence):
            raise InvalidOptionError(
                f"{name}: channels={channels!r} must be a sequence of {len(paper_widths)} "
                f"ints, like the paper's {paper_widths}."
            )
        if len(channels) != len(paper_widths):
            raise InvalidOptionError(
                f"{name}: channels={tuple(channels)!r} must list {len(paper_widths)} widths: "
                f"the first conv's, then one per stage (paper: {paper_widths})."
            )
        widths = tuple(_positive_int(name, f"channels[{i}]", w) for i, w in enumerate(channels))
    stride = (16 if tutorial else 4) if stride is None else _positive_int(name, "stride", stride)
    if padding is None:
        padding = "valid" if tutorial else "same"
    elif padding not in PADDINGS:
        raise InvalidOptionError(f"{name}: padding={padding!r} must be one of {PADDINGS}.")
    if shortcut is None:
        shortcut = "repeat"
    elif shortcut not in SHORTCUTS:
        raise InvalidOptionError(f"{name}: shortcut={shortcut!r} must be one of {SHORTCUTS}.")
    if residual and shortcut == "repeat":
        for before, width in itertools.pairwise(widths):
            if width % before:
                raise InvalidOptionError(
                    f"{name}: channels={widths}: a repeat shortcut needs every stage width "
                    f"to be a multiple of the one before ({width} is not a multiple of "
                    f"{before}); use shortcut='projection' or other widths."
                )
    return _Plan(name, widths, depths, residual, stride, padding, shortcut)


def minimum_samples(name: str, **options) -> int:
    """The fewest input samples an M-net configuration accepts.

    The builder raises for a shorter fixed-length input. With variable-length input (for
    example batches padded to their longest clip), pad every batch to at least this length.

    Args:
        name: `"m3"`, `"m5"`, `"m11"`, `"m18"` or `"m34_res"`.
        **options: the builder's keyword options (so the same dict can go to
            `create_model`); the family's (`channels`, `stride`, `padding`, `n_channel`,
            `shortcut`) decide the result. Unknown options are an error.

    Returns:
        The minimum number of samples.

    Raises:
        InvalidOptionError: `name` is not an M-net, an unknown option, or an invalid
            family option.

    Example:
    ```python
    from kerasaudio.models.mnets import minimum_samples
    minimum_samples("m5")                # 1021 (paper: stride 4, "same" padding)
    minimum_samples("m5", n_channel=32)  # 6848 (tutorial: stride 16, "valid" padding)
    ```
    """
    if name not in _ARCHITECTURES:
        raise InvalidOptionError(f"{name!r} is not an M-net; use one of {sorted(_ARCHITECTURES)}.")
    accepted = inspect.signature(globals()[name]).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise InvalidOptionError(f"{name} has no option(s) {unknown}; its options: "
                                 f"{list(accepted)}.")
    family = {k: v for k, v in options.items() if k in _OPTIONS[name]}
    return _plan(name, name, **family).min_samples()


def _batch_norm(name: str) -> keras.layers.BatchNormalization:
    # Trains with TensorFlow's fused kernel (one op forward and backward, not one per op).
    return BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)


def _conv_bn_relu(x, width: int, kernel: int, stride: int, padding: str, prefix: str,
                  index: str = ""):
    # kerasaudio's Conv1D is Keras' (same weights); in TFLite files the strided stem runs
    # as an unstrided convolution on blocks of `stride` samples (fast in int8).
    x = Conv1D(width, kernel, strides=stride, padding=padding,
               name=f"{prefix}_conv{index}")(x)
    x = _batch_norm(f"{prefix}_bn{index}")(x)
    return keras.layers.ReLU(name=f"{prefix}_relu{index}")(x)


def _residual_block(x, width: int, shortcut: str, prefix: str):
    """Conv-BN-ReLU-Conv-BN, plus the shortcut, then ReLU (He et al. 2016)."""
    skip = x
    if x.shape[-1] != width:
        if shortcut == "projection":
            skip = keras.layers.Conv1D(width, 1, name=f"{prefix}_shortcut_conv")(x)
            skip = _batch_norm(f"{prefix}_shortcut_bn")(skip)
        else:  # the input's channels, copied width // channels times
            copies = width // x.shape[-1]
            skip = keras.layers.Concatenate(name=f"{prefix}_shortcut_repeat")([x] * copies)
    x = _conv_bn_relu(x, width, KERNEL, 1, "same", prefix, "1")
    x = keras.layers.Conv1D(width, KERNEL, padding="same", name=f"{prefix}_conv2")(x)
    x = _batch_norm(f"{prefix}_bn2")(x)
    x = keras.layers.Add(name=f"{prefix}_add")([x, skip])
    return keras.layers.ReLU(name=f"{prefix}_relu2")(x)


def _build(arch: str, *, include_top, weights, input_shape, classes, pooling,
           classifier_activation, frontend, name, **family) -> keras.Model:
    """Every M-net: checks, input, stem, stages, top."""
    check_arguments(name, include_top=include_top, weights=weights, classes=classes,
                    pooling=pooling, classifier_activation=classifier_activation)
    plan = _plan(arch, name, **family)
    inputs, x = build_input(name, input_shape=input_shape, frontend=frontend,
                            default_input_shape=(None, 1),
                            default_frontend=default_frontend, feature_rank=2)
    check_min_size(name, x, (plan.min_samples(),), plan.describe())
    x = _conv_bn_relu(x, plan.widths[0], FIRST_KERNEL, plan.stride, plan.padding, "stem")
    x = keras.layers.MaxPooling1D(POOL, name="stem_pool")(x)
    stages = zip(plan.widths[1:], plan.depths, strict=True)
    for stage, (width, depth) in enumerate(stages, start=1):
        for i in range(1, depth + 1):
            if plan.residual:
                x = _residual_block(x, width, plan.shortcut, f"stage{stage}_block{i}")
            else:
                x = _conv_bn_relu(x, width, KERNEL, 1, plan.padding, f"stage{stage}", str(i))
        if stage <= POOLED_STAGES:
            x = keras.layers.MaxPooling1D(POOL, name=f"stage{stage}_pool")(x)
    if include_top:
        x = global_pool(x, "avg", name="avg_pool")
        x = classifier(x, classes, classifier_activation)
    elif pooling is not None:
        x = global_pool(x, pooling)
    return finish(inputs, x, name, weights)


@register_model(task=_TASK, input=_INPUT, paper=PAPER, parameters=222_218,
                defaults=_PAPER_DEFAULTS)
def m3(*, include_top: bool = True, weights=None, input_shape=None, classes: int = 10,
       pooling: str | None = None, classifier_activation="softmax", frontend=None,
       channels: Sequence[int] | None = None, stride: int | None = None,
       padding: str | None = None, name: str = "m3") -> keras.Model:
    """M3: the 3-weight-layer raw-waveform CNN of Dai et al. (2017).

    Conv1D(80, stride 4, 256) + BN + ReLU + MaxPool(4), Conv1D(3, 256) + BN + ReLU +
    MaxPool(4), global average pooling over time, Dense(classes).

    Parameter check: with 10 classes, 221,194 trainable parameters (1,024 more
    non-trainable BatchNorm statistics): the paper's "0.2M".

    Args:
        include_top: the classification top (global average pooling and a Dense
            layer); False returns the last stage's `(steps, channels)` output, pooled
            by `pooling`.
        weights: None or a `.weights.h5` path.
        input_shape: raw audio `(samples, channels)`, default `(None, 1)` (any length
            of at least 61 samples; the paper used 32,000 samples at 8 kHz); with a
            `frontend`, `(samples,)`.
        classes: number of classes.
        pooling: with `include_top=False`: None (`(steps, channels)` output), `"avg"`
            or `"max"`.
        classifier_activation: `"softmax"`, `"sigmoid"` or None (logits).
        frontend: None (the model takes `(samples, 1)`), `"default"` (no layers: the
            model takes mono audio `(samples,)`) or layers.
        channels: widths of the first conv and of the stage, default `(256, 256)`.
        stride: stride of the first conv, default 4.
        padding: `"same"` (default; the paper's 8000 steps after the first conv for
            32,000 samples) or `"valid"` (no padding, PyTorch's default) for every conv.
        name: model name.

    Returns:
        A `keras.Model` named `name`: `(batch, classes)` scores with `include_top`; else the
        last block's `(batch, steps, channels)` output, or `(batch, channels)` pooled by
        `pooling`.

    Example:
    ```python
    model = kerasaudio.create_model("m3", input_shape=(32000, 1), classes=10)
    ```

    Reference:
        Dai, Dai, Qu, Li, Das, "Very deep convolutional neural networks for raw
        waveforms", ICASSP 2017, Table 1.
    """
    return _build("m3", include_top=include_top, weights=weights, input_shape=input_shape,
                  classes=classes, pooling=pooling,
                  classifier_activation=classifier_activation, frontend=frontend, name=name,
                  channels=channels, stride=stride, padding=padding)


@register_model(task=_TASK, input=_INPUT, paper=PAPER, parameters=561_162,
                defaults=_PAPER_DEFAULTS)
def m5(*, include_top: bool = True, weights=None, input_shape=None, classes: int = 10,
       pooling: str | None = None, classifier_activation="softmax", frontend=None,
       n_channel: int | None = None, channels: Sequence[int] | None = None,
       stride: int | None = None, padding: str | None = None,
       name: str = "m5") -> keras.Model:
    """M5: the 5-weight-layer raw-waveform CNN, as in the paper or the torchaudio tutorial.

    Conv1D(80, stride 4, 128) + BN + ReLU + MaxPool(4), then three blocks Conv1D(3) + BN +
    ReLU + MaxPool(4) with 128, 256 and 512 channels, global average pooling over time,
    Dense(classes).

    `n_channel=n` gives the torchaudio tutorial's M5 instead: widths n, n, 2n, 2n, first
    stride 16 and "valid" padding (an explicit `stride` or `padding` still wins). Its
    first conv sees 10 ms at 8 kHz and steps 2 ms; it needs at least 6,848 samples.

    Parameter check: with 10 classes, 559,114 trainable parameters (2,048 more
    non-trainable BatchNorm statistics): the paper's "0.5M". `n_channel=32` with 10
    classes: 25,290 trainable (384 statistics), the tutorial's count.

    Args:
        include_top: the classification top (global average pooling and a Dense
            layer); False returns the last block's `(steps, channels)` output, pooled
            by `pooling`.
        weights: None or a `.weights.h5` path.
        input_shape: raw audio `(samples, channels)`, default `(None, 1)` (any length
            of at least `minimum_samples("m5", ...)`: 1,021 for the paper's M5; the
            paper used 32,000 samples at 8 kHz); with a `frontend`, `(samples,)`.
        classes: number of classes.
        pooling: with `include_top=False`: None (`(steps, channels)` output), `"avg"`
            or `"max"`.
        classifier_activation: `"softmax"`, `"sigmoid"` or None (logits).
        frontend: None (the model takes `(samples, 1)`), `"default"` (no layers: the
            model takes mono audio `(samples,)`) or layers.
        n_channel: the tutorial's base width n (it uses 32): widths (n, n, 2n, 2n) and
            the defaults stride 16, padding "valid". Not with `channels`.
        channels: the four widths (first conv, then each block), default
            `(128, 128, 256, 512)`. Not with `n_channel`.
        stride: stride of the first conv; default 4, or 16 with `n_channel`.
        padding: `"same"` or `"valid"` (no padding, PyTorch's default) for every conv;
            default `"same"` (the paper's 8000, 2000, 500, 125, 32 steps for 32,000
            samples), or `"valid"` with `n_channel`.
        name: model name.

    Returns:
        A `keras.Model` named `name`: `(batch, classes)` scores with `include_top`; else the
        last block's `(batch, steps, channels)` output, or `(batch, channels)` pooled by
        `pooling`.

    Example:
    ```python
    paper = kerasaudio.create_model("m5", input_shape=(32000, 1), classes=10)
    tutorial = kerasaudio.create_model("m5", input_shape=(8000, 1), classes=10,
                                       n_channel=32)
    tutorial.count_params()  # 25674: 25,290 trainable + 384 BatchNorm statistics
    ```

    Reference:
        Dai, Dai, Qu, Li, Das, "Very deep convolutional neural networks for raw
        waveforms", ICASSP 2017, Table 1; "Speech Command Classification with
        torchaudio", torchaudio tutorials (M5, n_channel=32, stride=16).
    """
    return _build("m5", include_top=include_top, weights=weights, input_shape=input_shape,
                  classes=classes, pooling=pooling,
                  classifier_activation=classifier_activation, frontend=frontend, name=name,
                  n_channel=n_channel, channels=channels, stride=stride, padding=padding)


@register_model(task=_TASK, input=_INPUT, paper=PAPER, parameters=1_790_922,
                defaults=_PAPER_DEFAULTS)
def m11(*, include_top: bool = True, weights=None, input_shape=None, classes: int = 10,
        pooling: str | None = None, classifier_activation="softmax", frontend=None,
        channels: Sequence[int] | None = None, stride: int | None = None,
        padding: str | None = None, name: str = "m11") -> keras.Model:
    """M11: the 11-weight-layer raw-waveform CNN of Dai et al. (2017).

    Conv1D(80, stride 4, 64) + BN + ReLU + MaxPool(4), then four stages of Conv1D(3) +
    BN + ReLU, 64 x2, 128 x2, 256 x3 and 512 x2 (channels x convs), a MaxPool(4) after
    each of the first three; global average pooling over time, Dense(classes).

    Parameter check: with 10 classes, 1,786,442 trainable parameters (4,480 more
    non-trainable BatchNorm statistics): the paper's "1.8M".

    Args:
        include_top: the classification top (global average pooling and a Dense
            layer); False returns the last stage's `(steps, channels)` output, pooled
            by `pooling`.
        weights: None or a `.weights.h5` path.
        input_shape: raw audio `(samples, channels)`, default `(None, 1)` (any length
            of at least 1,021 samples; the paper used 32,000 samples at 8 kHz); with a
            `frontend`, `(samples,)`.
        classes: number of classes.
        pooling: with `include_top=False`: None (`(steps, channels)` output), `"avg"`
            or `"max"`.
        classifier_activation: `"softmax"`, `"sigmoid"` or None (logits).
        frontend: None (the model takes `(samples, 1)`), `"default"` (no layers: the
            model takes mono audio `(samples,)`) or layers.
        channels: widths of the first conv and of the four stages, default
            `(64, 64, 128, 256, 512)`.
        stride: stride of the first conv, default 4.
        padding: `"same"` (default; the paper's 8000, 2000, 500, 125, 32 steps for
            32,000 samples) or `"valid"` (no padding, PyTorch's default) for every conv.
        name: model name.

    Returns:
        A `keras.Model` named `name`: `(batch, classes)` scores with `include_top`; else the
        last block's `(batch, steps, channels)` output, or `(batch, channels)` pooled by
        `pooling`.

    Example:
    ```python
    model = kerasaudio.create_model("m11", input_shape=(32000, 1), classes=10)
    ```

    Reference:
        Dai, Dai, Qu, Li, Das, "Very deep convolutional neural networks for raw
        waveforms", ICASSP 2017, Table 1.
    """
    return _build("m11", include_top=include_top, weights=weights, input_shape=input_shape,
                  classes=classes, pooling=pooling,
                  classifier_activation=classifier_activation, frontend=frontend, name=name,
                  channels=channels, stride=stride, padding=padding)


@register_model(task=_TASK, input=_INPUT, paper=PAPER, parameters=3_691_594,
                defaults=_PAPER_DEFAULTS)
def m18(*, include_top: bool = True, weights=None, input_shape=None, classes: int = 10,
        pooling: str | None = None, classifier_activation="softmax", frontend=None,
        channels: Sequence[int] | None = None, stride: int | None = None,
        padding: str | None = None, name: str = "m18") -> keras.Model:
    """M18: the 18-weight-layer raw-waveform CNN of Dai et al. (2017).

    Conv1D(80, stride 4, 64) + BN + ReLU + MaxPool(4), then four stages of four
    Conv1D(3) + BN + ReLU with 64, 128, 256 and 512 channels, a MaxPool(4) after each of
    the first three; global average pooling over time, Dense(classes).

    Parameter check: with 10 classes, 3,683,786 trainable parameters (7,808 more
    non-trainable BatchNorm statistics): the paper's "3.7M".

    Args:
        include_top: the classification top (global average pooling and a Dense
            layer); False returns the last stage's `(steps, channels)` output, pooled
            by `pooling`.
        weights: None or a `.weights.h5` path.
        input_shape: raw audio `(samples, channels)`, default `(None, 1)` (any length
            of at least 1,021 samples; the paper used 32,000 samples at 8 kHz); with a
            `frontend`, `(samples,)`.
        classes: number of classes.
        pooling: with `include_top=False`: None (`(steps, channels)` output), `"avg"`
            or `"max"`.
        classifier_activation: `"softmax"`, `"sigmoid"` or None (logits).
        frontend: None (the model takes `(samples, 1)`), `"default"` (no layers: the
            model takes mono audio `(samples,)`) or layers.
        channels: widths of the first conv and of the four stages, default
            `(64, 64, 128, 256, 512)`.
        stride: stride of the first conv, default 4.
        padding: `"same"` (default; the paper's 8000, 2000, 500, 125, 32 steps for
            32,000 samples) or `"valid"` (no padding, PyTorch's default) for every conv.
        name: model name.

    Returns:
        A `keras.Model` named `name`: `(batch, classes)` scores with `include_top`; else the
        last block's `(batch, steps, channels)` output, or `(batch, channels)` pooled by
        `pooling`.

    Example:
    ```python
    model = kerasaudio.create_model("m18", input_shape=(32000, 1), classes=10)
    ```

    Reference:
        Dai, Dai, Qu, Li, Das, "Very deep convolutional neural networks for raw
        waveforms", ICASSP 2017, Table 1.
    """
    return _build("m18", include_top=include_top, weights=weights, input_shape=input_shape,
                  classes=classes, pooling=pooling,
                  classifier_activation=classifier_activation, frontend=frontend, name=name,
                  channels=channels, stride=stride, padding=padding)


@register_model(task=_TASK, input=_INPUT, paper=PAPER, parameters=3_989_914,
                defaults=_PAPER_DEFAULTS)
def m34_res(*, include_top: bool = True, weights=None, input_shape=None, classes: int = 10,
            pooling: str | None = None, classifier_activation="softmax", frontend=None,
            channels: Sequence[int] | None = None, stride: int | None = None,
            shortcut: str = "repeat", name: str = "m34_res") -> keras.Model:
    """M34-res: the 34-weight-layer residual raw-waveform CNN of Dai et al. (2017).

    Conv1D(80, stride 4, 48) + BN + ReLU + MaxPool(4), then four stages of residual
    blocks, 48 x3, 96 x4, 192 x6 and 384 x3 (channels x blocks), a MaxPool(4) after each
    of the first three; global average pooling over time, Dense(classes). A block is
    Conv1D(3) + BN + ReLU + Conv1D(3) + BN, plus the shortcut, then ReLU (He et al.
    2016); its convs use "same" padding so that the shortcut lines up.

    The paper does not say how a shortcut crosses a width change (48 -> 96 -> 192 ->
    384). Its "4M" parameters fit a parameter-free shortcut (3.98 M) better than 1x1
    projections (4.08 M), so by default the first block of a wider stage adds its input
    repeated along the channel axis (`shortcut="repeat"`: a concatenation of copies);
    `shortcut="projection"` uses Conv1D(1) + BN there instead (ResNet's option B).
    Every other shortcut is the identity.

    Parameter check: with 10 classes, 3,978,490 trainable parameters (11,424 more
    non-trainable BatchNorm statistics): the paper's "4M". `shortcut="projection"`
    adds 98,784 trainable parameters (and 1,344 statistics).

    Args:
        include_top: the classification top (global average pooling and a Dense
            layer); False returns the last stage's `(steps, channels)` output, pooled
            by `pooling`.
        weights: None or a `.weights.h5` path.
        input_shape: raw audio `(samples, channels)`, default `(None, 1)` (any length
            of at least 1,021 samples; the paper used 32,000 samples at 8 kHz); with a
            `frontend`, `(samples,)`.
        classes: number of classes.
        pooling: with `include_top=False`: None (`(steps, channels)` output), `"avg"`
            or `"max"`.
        classifier_activation: `"softmax"`, `"sigmoid"` or None (logits).
        frontend: None (the model takes `(samples, 1)`), `"default"` (no layers: the
            model takes mono audio `(samples,)`) or layers.
        channels: widths of the first conv and of the four stages, default
            `(48, 48, 96, 192, 384)`; with `shortcut="repeat"` each must be a multiple
            of the one before.
        stride: stride of the first conv, default 4 (its padding is "same").
        shortcut: `"repeat"` (default) or `"projection"`, where the width changes.
        name: model name.

    Returns:
        A `keras.Model` named `name`: `(batch, classes)` scores with `include_top`; else the
        last block's `(batch, steps, channels)` output, or `(batch, channels)` pooled by
        `pooling`.

    Example:
    ```python
    model = kerasaudio.create_model("m34_res", input_shape=(32000, 1), classes=10)
    ```

    Reference:
        Dai, Dai, Qu, Li, Das, "Very deep convolutional neural networks for raw
        waveforms", ICASSP 2017, Table 1; He, Zhang, Ren, Sun, "Deep residual learning
        for image recognition", CVPR 2016.
    """
    return _build("m34_res", include_top=include_top, weights=weights,
                  input_shape=input_shape, classes=classes, pooling=pooling,
                  classifier_activation=classifier_activation, frontend=frontend, name=name,
                  channels=channels, stride=stride, shortcut=shortcut)
