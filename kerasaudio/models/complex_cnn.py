"""CNN on complex spectrograms (real and imaginary parts as two channels)."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from kerasaudio.layers import ComplexSpectrogram, ResidualNormalization
from kerasaudio.layers.base import check_float
from kerasaudio.models.common import (
    build_input,
    check_arguments,
    check_min_size,
    classifier,
    finish,
    global_pool,
)
from kerasaudio.models.registry import register_model

__all__ = ["complex_cnn"]

#: PyTorch's BatchNorm defaults (its momentum 0.1 is Keras' 0.9): the reference model is a
#: torch model ([S2] in docs/references.md), and Keras' 0.99 leaves the moving statistics
#: far from the data after a few epochs on a small dataset, so inference-mode accuracy
#: lags far behind training accuracy.
TORCH_BN = {"momentum": 0.9, "epsilon": 1e-5}


def default_frontend() -> list:
    """The reference tutorial's input: 16 kHz, n_fft 512, 30 ms window, 10 ms hop, torch-normalised.

    Returns:
        `[ComplexSpectrogram(...)]`: `(batch, samples)` 16 kHz audio in, `(batch, frames,
        257, 2)` out (101 frames per second).

    Example:
    ```python
    model = kerasaudio.create_model("complex_cnn", frontend="default",
                                    input_shape=(16000,), classes=30)
    ```
    """
    return [ComplexSpectrogram(n_fft=512, hop_length=160, win_length=480, pad_mode="reflect",
                               normalized=True)]


@register_model(
    task="keyword spotting (30 words)",
    input="complex spectrogram (257, 101, 2): 1 s at 16 kHz, real/imag channels",
    paper="Damiani, 'Simple audio classification with torch', RStudio AI Blog 2021 (the "
          "torch for R Speech Commands tutorials, docs/references.md [S2])",
    parameters=1_852_350,
    defaults={"input_shape": (257, 101, 2), "classes": 30},
)
def complex_cnn(*, include_top: bool = True, weights=None, input_shape=None,
                classes: int = 30, pooling: str | None = None,
                classifier_activation="softmax", frontend=None,
                filters: Sequence[int] = (32, 64, 128, 256, 512), dropout: float = 0.2,
                dense_units: int = 512, dense_dropout: float = 0.5,
                residual_norm: float | None = None,
                name: str = "complex_cnn") -> keras.Model:
    """CNN on complex spectrograms: the "torch for R" Speech Commands tutorial's model.

    Five blocks of Conv2D(3x3) + BatchNorm + ReLU with 32, 64, 128, 256 and 512 filters;
    the first four also MaxPool(2) and SpatialDropout2D(0.2). The top: global average
    pooling, dropout, Dense(512) + BatchNorm + ReLU + Dropout(0.5), Dense(classes).
    Keeping the phase (real and imaginary parts as two input channels) beat magnitude
    spectrograms in the tutorial's tests, which report 0.9324 test accuracy on 30 Speech
    Commands words (docs/references.md, [S2]).

    Parameter check: with a `(257, 101, 2)` input and 30 classes the model has exactly
    1,849,342 trainable parameters (2,048 more non-trainable BatchNorm statistics), the
    count of the torch original.

    Args:
        include_top: the classification top; False returns the last conv block's
            output (pooled by `pooling`).
        weights: None or a `.weights.h5` path.
        input_shape: feature shape `(frames, bins, 2)` (any order of the two spatial
            axes), or raw audio `(samples,)` with a `frontend`. Default `(None, None, 2)`.
        classes: number of classes.
        pooling: with `include_top=False`: None (4-D feature map), `"avg"` or `"max"`.
        classifier_activation: `"softmax"`, `"sigmoid"` or None (logits).
        frontend: None, `"default"` (`ComplexSpectrogram` with the tutorial's settings:
            16 kHz audio in, `(101, 257, 2)` per second) or layers.
        filters: filters of the five conv blocks.
        dropout: spatial dropout rate after the first four blocks and before the top.
        dense_units: width of the hidden Dense layer of the top.
        dense_dropout: dropout after the hidden Dense layer.
        residual_norm: None, or the shortcut weight of a `ResidualNormalization`
            (frequency-wise instance normalisation, Kim et al. 2021, over the second
            axis of `(frames, bins, channels)` features) before every conv block,
            against recording-device colouring; it adds no weights.
        name: model name.

    Returns:
        A `keras.Model` named `name`: `(batch, classes)` scores with `include_top`; else
        the last block's `(batch, frames', bins', filters[-1])` map, or
        `(batch, filters[-1])` pooled by `pooling`.

    Example:
    ```python
    model = kerasaudio.create_model("complex_cnn", input_shape=(257, 101, 2), classes=30)
    raw = kerasaudio.create_model("complex_cnn", frontend="default",
                                  input_shape=(16000,), classes=30)
    ```

    Reference:
        The "torch for R" Speech Commands tutorials of the RStudio AI Blog (Damiani,
        "Simple audio classification with torch", 2021; Keydana, "Audio classification
        with torch", 2022; docs/references.md [S2]); Trabelsi et al., "Deep Complex
        Networks", ICLR 2018.
    """
    check_arguments(name, include_top=include_top, weights=weights, classes=classes,
                    pooling=pooling, classifier_activation=classifier_activation)
    inputs, x = build_input(name, input_shape=input_shape, frontend=frontend,
                            default_input_shape=(None, None, 2),
                            default_frontend=default_frontend)
    pools = len(filters) - 1
    check_min_size(name, x, (2**pools, 2**pools), f"{pools} 2x2 max-pools")
    if residual_norm is not None:
        check_float("residual_norm", residual_norm, positive=False, minimum=0.0)
    for i, width in enumerate(filters):
        if residual_norm is not None:
            x = ResidualNormalization(residual=residual_norm, axis=2,
                                      name=f"block{i + 1}_resnorm")(x)
        x = keras.layers.Conv2D(width, 3, padding="same", name=f"block{i + 1}_conv")(x)
        x = keras.layers.BatchNormalization(**TORCH_BN, name=f"block{i + 1}_bn")(x)
        x = keras.layers.ReLU(name=f"block{i + 1}_relu")(x)
        if i < pools:
            x = keras.layers.MaxPooling2D(2, name=f"block{i + 1}_pool")(x)
            x = keras.layers.SpatialDropout2D(dropout, name=f"block{i + 1}_dropout")(x)
    if include_top:
        x = global_pool(x, "avg", name="avg_pool")
        x = keras.layers.Dropout(dropout, name="top_dropout")(x)
        x = keras.layers.Dense(dense_units, name="fc")(x)
        x = keras.layers.BatchNormalization(**TORCH_BN, name="fc_bn")(x)
        x = keras.layers.ReLU(name="fc_relu")(x)
        x = keras.layers.Dropout(dense_dropout, name="fc_dropout")(x)
        x = classifier(x, classes, classifier_activation)
    elif pooling is not None:
        x = global_pool(x, pooling)
    # The default front end is defined for 16 kHz audio (25/30 ms windows, 10 ms hop).
    return finish(inputs, x, name, weights,
                  info={"sample_rate": 16000} if frontend == "default" else None)
