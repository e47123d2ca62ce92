"""Bidirectional LSTM with feed-forward attention pooling: an audio tagger on log-mels."""

from __future__ import annotations

import keras

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers import LSTM, MelSpectrogram, PowerToDb, Standardize
from kerasaudio.layers.attention import FeedForwardAttention, MaskedGlobalPooling1D
from kerasaudio.layers.base import check_choice
from kerasaudio.models.common import (
    build_input,
    check_arguments,
    check_min_size,
    classifier,
    finish,
)
from kerasaudio.models.registry import register_model

__all__ = ["bilstm_attention", "default_frontend"]

_ATTENTION_BIASES = ("auto", "per_step", "scalar", None)


def default_frontend() -> list:
    """The kernel's features: 44.1 kHz audio, 128 log-mels (n_fft 2560, hop 347), standardised.

    The Kaggle Freesound Audio Tagging 2019 BiLSTM + attention kernel's recipe
    (docs/references.md, [S4]): mel power spectrogram from 20 Hz to 22,050 Hz, dB, each
    spectrogram standardised by its own mean and standard deviation.

    5 s of audio (220,500 samples) gives `(636, 128)`: `1 + 220500 // 347` frames.

    Returns:
        `[MelSpectrogram, PowerToDb, Standardize]`: `(batch, samples)` 44.1 kHz audio in,
        `(batch, frames, 128)` standardised log-mels out.

    Example:
    ```python
    model = kerasaudio.create_model("bilstm_attention", frontend="default",
                                    input_shape=(220500,), classes=80)
    ```
    """
    return [MelSpectrogram(sample_rate=44100, n_fft=2560, hop_length=347, n_mels=128,
                           fmin=20.0, fmax=22050.0),
            PowerToDb(),
            Standardize()]


def _check_positive(name: str, key: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidOptionError(f"{name}: {key}={value!r} must be an integer >= 1.")


@register_model(
    task="audio tagging (80 labels, multi-label)",
    input="log-mel (636, 128): 5 s at 44.1 kHz, hop 347, standardised",
    paper="Raffel & Ellis, 'Feed-Forward Networks with Attention Can Solve Some Long-Term "
          "Memory Problems', ICLR-W 2016; Kaggle Freesound Audio Tagging 2019 kernel",
    parameters=1_026_908,
    defaults={"input_shape": (636, 128), "classes": 80, "lstm_units": 256,
              "dense_units": 400},
)
def bilstm_attention(*, include_top: bool = True, weights=None, input_shape=None,
                     classes: int = 80, pooling: str | None = None,
                     classifier_activation="softmax", frontend=None,
                     lstm_units: int = 256, dense_units: int = 400, dropout: float = 0.2,
                     attention_bias: str | None = "auto", attention_steps: int | None = None,
                     mask_value: float | None = None,
                     name: str = "bilstm_attention") -> keras.Model:
    """BiLSTM + feed-forward attention tagger of the Kaggle Freesound Audio Tagging 2019 kernel.

    Log-mel frames `(frames, n_mels)` -> `Bidirectional(LSTM(lstm_units,
    return_sequences=True))` -> feed-forward attention over time
    (`kerasaudio.layers.FeedForwardAttention`: `e_t = tanh(h_t . w + b_t)`, weights
    `exp(e_t) / sum exp(e)`, weighted sum of `h_t`) -> Dropout -> Dense(dense_units) + ELU
    -> Dropout -> Dense(classes). Softmax as in the kernel (trained with categorical
    cross-entropy); `classifier_activation="sigmoid"` with binary cross-entropy is the
    usual multi-label set-up. Scored with `kerasaudio.metrics.lwlrap`.

    Parameter check: `input_shape=(636, 128), classes=80, lstm_units=256,
    dense_units=400` gives exactly 1,026,908 parameters, the kernel's count: BiLSTM
    2 x 4 x (256 x (128 + 256) + 256) = 788,480; attention 512 weights + 636 per-step
    biases = 1,148; Dense 512 x 400 + 400 = 205,200; Dense 400 x 80 + 80 = 32,080.

    The LSTMs are `kerasaudio.layers.LSTM` (a drop-in `keras.layers.LSTM` that the TFLite
    converter fuses into its builtin LSTM op, so the model exports with full int8).

    Attention bias (`attention_bias`): the kernel learns one bias per time step, which
    ties the model to its 636 frames. `"auto"` (default) does that when the number of
    frames is fixed (a fixed `input_shape`, or fixed-length audio with a front end), and
    learns one scalar bias when it is variable (`input_shape=(None, n_mels)`, the default
    without a front end), so the model takes any length. `"per_step"` forces per-step
    biases (with `attention_steps` biases for variable-length input: shorter inputs use
    the first ones), `"scalar"` a shared one, None none.

    Padding: with `mask_value` set, frames whose features all equal it are masked
    (`keras.layers.Masking`): the LSTMs skip them and attention (or the `pooling`) gives
    them weight 0, so zero-padded batches of different-length clips pool exactly as each
    clip alone. Standardised log-mels are practically never exactly 0 in all bins, so
    `mask_value=0.0` suits zero-padded features (without a front end). An explicit mask
    reaches the attention too when the layers are called with `mask=`.

    Args:
        include_top: the classification top; False returns the pooled `2 * lstm_units`
            vector: attention-pooled with `pooling=None`, masked mean/max over time with
            `"avg"`/`"max"` (attention is then not used).
        weights: None or a `.weights.h5` path.
        input_shape: feature shape `(frames, n_mels)` (default `(None, 128)`: any number
            of frames), or raw audio `(samples,)` with a `frontend`.
        classes: number of labels.
        pooling: with `include_top=False`: None (attention), `"avg"` or `"max"`.
        classifier_activation: `"softmax"` (the kernel), `"sigmoid"` (multi-label) or
            None (logits).
        frontend: None, `"default"` (the kernel's 44.1 kHz log-mel features, see
            `default_frontend`) or layers.
        lstm_units: units of each LSTM direction.
        dense_units: width of the hidden Dense + ELU layer.
        dropout: rate of both Dropout layers of the top.
        attention_bias: `"auto"`, `"per_step"`, `"scalar"` or None (see above).
        attention_steps: number of per-step biases for variable-length input (default:
            the fixed number of frames).
        mask_value: feature value marking padded frames (None: no masking).
        name: model name.

    Returns:
        A `keras.Model` named `name`: `(batch, classes)` scores with `include_top`, else
        the pooled `(batch, 2 * lstm_units)` vector.

    Example:
    ```python
    model = kerasaudio.create_model("bilstm_attention", input_shape=(636, 128),
                                    classes=80, lstm_units=256, dense_units=400)
    model.count_params()  # 1026908
    tagger = kerasaudio.create_model("bilstm_attention", frontend="default",
                                     input_shape=(220500,), classes=80,
                                     classifier_activation="sigmoid")
    ```

    Reference:
        Raffel & Ellis, "Feed-Forward Networks with Attention Can Solve Some Long-Term
        Memory Problems", ICLR 2016 workshop (arXiv:1512.08756); the Kaggle kernel
        "Birectional [sic] LSTM model for audio labeling with Keras" (docs/references.md
        [S4]); Fonseca et al., "Audio tagging with noisy labels and minimal supervision",
        DCASE 2019 (the Freesound Audio Tagging 2019 competition).
    """
    check_arguments(name, include_top=include_top, weights=weights, classes=classes,
                    pooling=pooling, classifier_activation=classifier_activation)
    _check_positive(name, "lstm_units", lstm_units)
    _check_positive(name, "dense_units", dense_units)
    if attention_steps is not None:
        _check_positive(name, "attention_steps", attention_steps)
    check_choice("attention_bias", attention_bias, _ATTENTION_BIASES)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not (
            0 <= dropout < 1):
        raise InvalidOptionError(f"{name}: dropout={dropout!r} must be in [0, 1).")
    inputs, x = build_input(name, input_shape=input_shape, frontend=frontend,
                            default_input_shape=(None, 128),
                            default_frontend=default_frontend)
    if len(x.shape) != 3:
        raise InvalidOptionError(
            f"{name}: the LSTM takes (frames, features); the features have shape "
            f"{tuple(x.shape[1:])}."
        )
    # A recurrent network has no strides: any number of frames >= 1 works.
    check_min_size(name, x, (1, None), "the BiLSTM")
    frames = x.shape[1]
    bias = attention_bias
    if bias == "auto":
        bias = "per_step" if frames is not None or attention_steps is not None else "scalar"
    if attention_steps is not None and bias != "per_step":
        raise InvalidOptionError(
            f"{name}: attention_steps={attention_steps} needs attention_bias='per_step'."
        )
    if bias == "per_step":
        if frames is None and attention_steps is None:
            raise InvalidOptionError(
                f"{name}: attention_bias='per_step' with a variable number of frames needs "
                "attention_steps (the longest input), or use attention_bias='scalar'."
            )
        if frames is not None and attention_steps is not None and frames > attention_steps:
            raise InvalidOptionError(
                f"{name}: {frames} frames but attention_steps={attention_steps}."
            )

    if mask_value is not None:
        x = keras.layers.Masking(mask_value=float(mask_value), name="masking")(x)
    x = keras.layers.Bidirectional(LSTM(lstm_units, return_sequences=True),
                                   name="bilstm")(x)
    if not include_top and pooling is not None:
        x = MaskedGlobalPooling1D(mode=pooling, name="pool")(x)
        return finish(inputs, x, name, weights)
    x = FeedForwardAttention(bias=bias, max_steps=attention_steps if bias == "per_step"
                             else None, name="attention")(x)
    if include_top:
        x = keras.layers.Dropout(dropout, name="attention_dropout")(x)
        x = keras.layers.Dense(dense_units, name="fc")(x)
        x = keras.layers.ELU(name="fc_elu")(x)
        x = keras.layers.Dropout(dropout, name="fc_dropout")(x)
        x = classifier(x, classes, classifier_activation)
    return finish(inputs, x, name, weights)
