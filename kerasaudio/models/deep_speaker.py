"""Deep Speaker (ResCNN): speaker embeddings from 64 mel filter banks."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import keras
import numpy as np

from kerasaudio.errors import InvalidOptionError
from kerasaudio.info import model_info
from kerasaudio.layers import MelSpectrogram, PowerToDb, Standardize
from kerasaudio.layers.base import check_float, check_int
from kerasaudio.models.audio_model import AudioModel
from kerasaudio.models.common import (
    build_input,
    check_arguments,
    check_min_size,
    classifier,
    finish,
)
from kerasaudio.models.registry import register_model

__all__ = ["PreEmphasis", "deep_speaker", "default_frontend", "embedding_model"]

#: Frames of the reference implementation's training crops (1.6 s at a 10 ms hop).
NUM_FRAMES = 160
#: Mel filter banks of the reference implementation.
NUM_FBANKS = 64


@keras.saving.register_keras_serializable(package="kerasaudio")
class PreEmphasis(keras.layers.Layer):
    """First-order pre-emphasis of `(batch, samples[, channels])` audio.

    `y[0] = x[0]`, `y[n] = x[n] - coefficient * x[n - 1]`, along the samples axis, as
    `python_speech_features` (and so the Deep Speaker reference front end) applies
    before its filter banks. It tilts the spectrum up by about 6 dB per octave.

    Args:
        coefficient: the pre-emphasis coefficient, in [0, 1).

    Example:
    ```python
    import numpy as np
    from kerasaudio.models.deep_speaker import PreEmphasis
    PreEmphasis(coefficient=0.97)(np.ones((1, 4), "float32"))  # [[1, 0.03, 0.03, 0.03]]
    ```

    Reference:
        Lyons, python_speech_features (`sigproc.preemphasis`), 2013; Li et al.,
        "Deep Speaker: an End-to-End Neural Speaker Embedding System", arXiv:1705.02304.
    """

    def __init__(self, *, coefficient: float = 0.97, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        coefficient = check_float("coefficient", coefficient, positive=False, minimum=0.0)
        if coefficient >= 1.0:
            raise InvalidOptionError(f"coefficient={coefficient}: must be below 1.")
        self.coefficient = coefficient

    def call(self, inputs):
        x = keras.ops.cast(inputs, "float32")
        return keras.ops.concatenate(
            [x[:, :1], x[:, 1:] - self.coefficient * x[:, :-1]], axis=1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "coefficient": self.coefficient}


def default_frontend(sample_rate: int = 16000, *, log: bool = False) -> list:
    """The reference front end: 64 mel filter banks, 25 ms windows, 10 ms hop.

    As the widely used Keras implementation (and malaya-speech's deep-speaker
    featurization, both `python_speech_features.fbank(signal, samplerate, nfilt=64)`
    followed by a per-frame normalisation): pre-emphasis 0.97; rectangular 25 ms frames
    every 10 ms (400/160 samples at 16 kHz), zero-padded to a 512-point FFT; the power
    spectrum through 64 HTK-mel triangles from 0 Hz to Nyquist; then each frame
    standardised over its 64 bands (zero mean, unit variance per frame, not per
    utterance). The reference feeds these *linear* filter-bank energies to the network
    (`python_speech_features.fbank`, not `logfbank`); `log=True` takes them to dB first
    (log filter banks, as most speaker systems use). The triangles are librosa's HTK
    ones (the reference rounds band edges to FFT bins) and the last partial frame is
    dropped (the reference zero-pads it), so the features agree with the reference's in
    layout and scale, not to the last digit.

    Args:
        sample_rate: sampling rate of the audio, Hz (the reference: 16000). The window
            and hop stay 25 ms and 10 ms; the FFT stays 512 points.
        log: take the filter-bank energies to dB before the per-frame normalisation.

    Returns:
        The layers, `(batch, samples)` in, `(batch, frames, 64)` out.

    Example:
    ```python
    from kerasaudio.models.deep_speaker import default_frontend
    model = kerasaudio.create_model("deep_speaker", include_top=False,
                                    frontend=default_frontend(8000), input_shape=(8000,))
    ```
    """
    sample_rate = check_int("sample_rate", sample_rate)
    win_length = round(0.025 * sample_rate)
    n_fft = max(512, 1 << (win_length - 1).bit_length())
    # A rectangular window at the start of each n_fft frame (librosa would centre a
    # shorter window in the frame): frame t is samples [t * hop, t * hop + win_length).
    window = np.concatenate([np.ones(win_length), np.zeros(n_fft - win_length)])
    layers = [PreEmphasis(coefficient=0.97),
              MelSpectrogram(sample_rate=sample_rate, n_fft=n_fft, hop_length=round(
                  0.010 * sample_rate), window=window, center=False, n_mels=NUM_FBANKS,
                  htk=True, norm=None)]
    if log:
        layers.append(PowerToDb(top_db=80.0))
    layers.append(Standardize(axis=2, epsilon=1e-12))
    return layers


def embedding_model(model: keras.Model, *, name: str | None = None) -> keras.Model:
    """The embedding network inside a `deep_speaker` model: L2-normalised `affine` output.

    Shares its weights with `model`: train with the softmax head (`include_top=True`),
    then embed with this. For an `include_top=False` model it returns a model with the
    same output.

    Args:
        model: a model built by `deep_speaker` (any options).
        name: the new model's name (default: `model.name + "_embedding"`).

    Returns:
        A `kerasaudio.models.AudioModel` from `model`'s inputs to the unit-length
        embedding, with `model`'s model-info record less its class names.

    Example:
    ```python
    from kerasaudio.models.deep_speaker import embedding_model
    classifier = kerasaudio.create_model("deep_speaker", input_shape=(100, 64, 1),
                                         classes=6, filters=(16, 32, 64, 128))
    embed = embedding_model(classifier)  # (batch, 512) unit vectors
    ```
    """
    try:
        affine = model.get_layer("affine")
    except ValueError:
        raise InvalidOptionError(
            f"{model.name} has no 'affine' layer: pass a model built by deep_speaker."
        ) from None
    out = keras.layers.UnitNormalization(axis=-1, name="embedding_l2")(affine.output)
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return AudioModel(inputs, out, name=name or f"{model.name}_embedding",
                      info=model_info(model).replace(class_names=None))


def _conv_bn(x, width: int, kernel: int, stride: int, regularizer, name: str):
    x = keras.layers.Conv2D(width, kernel, strides=stride, padding="same",
                            kernel_regularizer=regularizer, name=name)(x)
    return keras.layers.BatchNormalization(name=f"{name}_bn")(x)


@register_model(
    task="speaker embedding (512-d, cosine scoring)",
    input="64 mel filter banks (160, 64, 1): 1.6 s at 16 kHz, 10 ms hop; embedding out",
    paper=("Li et al., 'Deep Speaker: an End-to-End Neural Speaker Embedding System', "
           "arXiv:1705.02304, 2017"),
    parameters=24_185_728,
    defaults={"include_top": False, "input_shape": (NUM_FRAMES, NUM_FBANKS, 1)},
)
def deep_speaker(*, include_top: bool = True, weights=None, input_shape=None,
                 classes: int = 1000, pooling: str | None = None,
                 classifier_activation="softmax", frontend=None,
                 filters: Sequence[int] = (64, 128, 256, 512), blocks: int = 3,
                 embedding_dim: int = 512, clip_value: float = 20.0,
                 dropout: float = 0.5, weight_decay: float = 1e-4,
                 top_batchnorm: bool = False, name: str = "deep_speaker") -> keras.Model:
    """Deep Speaker ResCNN: a speaker embedding network with a softmax pre-training head.

    Four stages, each a 5x5 stride-2 Conv2D (`filters`: 64, 128, 256, 512) + BatchNorm +
    clipped ReLU `min(max(x, 0), 20)`, then `blocks` residual identity blocks (3x3 conv
    + BN + clipped ReLU, 3x3 conv + BN + clipped ReLU, add the block input, clipped
    ReLU: the placement of the reference Keras implementation). The last stage's map,
    `(frames / 16, 4, 512)` for 64 bands, is reshaped to `(frames / 16, 2048)`,
    averaged over time and projected by the `affine` Dense(512). The embedding is the
    L2-normalised affine output (`include_top=False`); cosine similarity of two
    embeddings is their dot product. With `include_top=True` (the softmax pre-training
    of the reference) the top is dropout on the time average, `affine` and
    Dense(classes); `embedding_model(model)` then gives the embedding network with the
    same weights. Every convolution has an L2 weight penalty (1e-4 in the reference).

    `top_batchnorm=True` adds BatchNorm between `affine` and the softmax layer (not in
    the reference). The time-averaged features are positive (clipped ReLUs) and 2,048
    wide, so the unnormalised affine output is large and Adam's first steps at 1e-3 can
    overshoot on small batches of unfamiliar features; the BatchNorm keeps the softmax
    input at unit scale, so the loss falls from the first step. On real data the
    reference head recovers within the first epoch and gave the lower verification
    error in the example's FSDD runs (BENCHMARKS.md), so the default is the reference's.
    Either way the embedding (`affine`, L2-normalised) and the `include_top=False`
    network are the reference's.

    Parameter check: with a `(160, 64, 1)` input and `include_top=False` the network has
    24,185,728 parameters (24,172,288 trainable, 13,440 BatchNorm statistics): 96.74 MB
    in float32, the size malaya-speech lists for its deep-speaker speaker-vector model
    (docs/references.md). The count does not depend on the number of frames (the time
    average makes the network length-independent).

    Args:
        include_top: the softmax head; False returns the unit-length embedding.
        weights: None or a `.weights.h5` path.
        input_shape: feature shape `(frames, bands, 1)` (frames may be None; bands must
            be known), or raw audio `(samples,)` with a `frontend`. Default
            `(None, 64, 1)`.
        classes: number of speakers of the softmax head.
        pooling: with `include_top=False`, the pooling over time before `affine`: None or
            `"avg"` (the reference's temporal average) or `"max"`.
        classifier_activation: `"softmax"`, `"sigmoid"` or None (logits).
        frontend: None, `"default"` (`default_frontend()`: 16 kHz audio, 64 filter banks
            of 25 ms frames every 10 ms, per-frame normalisation), or layers (for
            example `default_frontend(8000)`).
        filters: filters of the four stages (a smaller tuple such as (16, 32, 64, 128)
            makes a CPU-sized network).
        blocks: residual identity blocks per stage.
        embedding_dim: width of the `affine` layer (the embedding size).
        clip_value: the ceiling of the clipped ReLUs.
        dropout: dropout rate before `affine` in the softmax head.
        weight_decay: L2 penalty of the convolution kernels (0 for none).
        top_batchnorm: BatchNorm between `affine` and the softmax layer (not in the
            reference; steadier first steps on small batches, see above).
        name: model name.

    Returns:
        A `keras.Model` named `name`: `(batch, classes)` scores with `include_top`, else
        the unit-length `(batch, embedding_dim)` embedding.

    Example:
    ```python
    embed = kerasaudio.create_model("deep_speaker", include_top=False,
                                    input_shape=(160, 64, 1))   # (batch, 512) unit vectors
    pretrain = kerasaudio.create_model("deep_speaker", input_shape=(160, 64, 1),
                                       classes=251)
    raw = kerasaudio.create_model("deep_speaker", frontend="default",
                                  input_shape=(16000,), include_top=False)
    ```

    Reference:
        Li et al., "Deep Speaker: an End-to-End Neural Speaker Embedding System",
        arXiv:1705.02304, 2017; the layer layout of the Keras implementation
        philipperemy/deep-speaker used by malaya-speech.
    """
    check_arguments(name, include_top=include_top, weights=weights, classes=classes,
                    pooling=pooling, classifier_activation=classifier_activation)
    filters = tuple(filters)
    if len(filters) < 1 or any(isinstance(f, bool) or not isinstance(f, int) or f < 1
                               for f in filters):
        raise InvalidOptionError(f"{name}: filters={filters!r} must be positive integers.")
    blocks = check_int("blocks", blocks, minimum=0)
    embedding_dim = check_int("embedding_dim", embedding_dim)
    clip_value = check_float("clip_value", clip_value)
    dropout = check_float("dropout", dropout, positive=False, minimum=0.0)
    if dropout >= 1.0:
        raise InvalidOptionError(f"{name}: dropout={dropout} must be below 1.")
    weight_decay = check_float("weight_decay", weight_decay, positive=False, minimum=0.0)
    inputs, x = build_input(name, input_shape=input_shape, frontend=frontend,
                            default_input_shape=(None, NUM_FBANKS, 1),
                            default_frontend=default_frontend, feature_rank=3)
    stride = 2 ** len(filters)
    check_min_size(name, x, (stride, stride), f"{len(filters)} stride-2 convolutions")
    if x.shape[2] is None:
        raise InvalidOptionError(
            f"{name}: the band axis of input_shape must be known (e.g. (None, 64, 1)); the "
            "network flattens bands x channels before the time average."
        )
    regularizer = keras.regularizers.L2(weight_decay) if weight_decay else None
    relus = itertools.count()

    def clipped_relu(y):
        return keras.layers.ReLU(max_value=clip_value, name=f"clipped_relu_{next(relus)}")(y)

    for stage, width in enumerate(filters, start=1):
        x = clipped_relu(_conv_bn(x, width, 5, 2, regularizer, f"conv{stage}_{width}s"))
        for block in range(blocks):
            base = f"res{stage}_{block}"
            y = clipped_relu(_conv_bn(x, width, 3, 1, regularizer, f"{base}_2a"))
            y = clipped_relu(_conv_bn(y, width, 3, 1, regularizer, f"{base}_2b"))
            x = clipped_relu(keras.layers.Add(name=f"{base}_add")([y, x]))
    bands, channels = x.shape[2], x.shape[3]
    x = keras.layers.Reshape((-1, bands * channels), name="reshape")(x)
    if not include_top and pooling == "max":
        x = keras.layers.GlobalMaxPooling1D(name="max")(x)
    else:
        x = keras.layers.GlobalAveragePooling1D(name="average")(x)
    if include_top:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    x = keras.layers.Dense(embedding_dim, name="affine")(x)
    if include_top:
        if top_batchnorm:
            x = keras.layers.BatchNormalization(name="affine_bn")(x)
        x = classifier(x, classes, classifier_activation)
    else:
        x = keras.layers.UnitNormalization(axis=-1, name="ln")(x)
    return finish(inputs, x, name, weights)
