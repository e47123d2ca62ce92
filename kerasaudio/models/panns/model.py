"""PANNs CNN14 in Keras: the AudioSet tagger and its sound-event-detection variant.

The layers of `panns_inference.models.Cnn14` and `Cnn14_DecisionLevelMax` in their
evaluation path (SpecAugment, mixup and dropout act only in training), channels last:
log-mel `(batch, frames, mel_bins)` -> `bn0` over the mel bands -> six convolution
blocks (two 3x3 convolutions without bias, each followed by BatchNorm and ReLU; 2x2
average pooling after blocks 1-5) -> mean over the mel axis -> pooling over time ->
`fc1` + ReLU (the embedding) -> the classifier.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping, Sequence

import keras
from keras import ops

from kerasaudio.errors import InvalidAudioError, InvalidOptionError
from kerasaudio.layers import MelSpectrogram, PowerToDb
from kerasaudio.models.common import build_input, check_arguments, check_min_size, finish
from kerasaudio.models.panns.config import (
    AUDIOSET_CLASSES,
    CNN14_FILTERS,
    DOWNSAMPLING,
    EMBEDDING_DIM,
    SAMPLE_RATES,
    min_samples,
)
from kerasaudio.models.panns.convert import load_panns_weights
from kerasaudio.models.registry import register_model
from kerasaudio.weights.checkpoints import CHECKPOINTS, checkpoint_path, find_checkpoint

__all__ = ["FramewiseUpsample", "MinimumFrames", "default_frontend", "panns_cnn14",
           "panns_cnn14_decision_level_max"]

#: BatchNorm as PyTorch's defaults (eps 1e-5, running averages updated by 0.1 per step).
_BN = {"epsilon": 1e-5, "momentum": 0.9}
OUTPUTS = ("both", "clipwise", "framewise")
CHECKPOINT_SUFFIXES = (".pth", ".pt")
_PAPER = ("Kong, Cao, Iqbal, Wang, Wang, Plumbley, 'PANNs: Large-Scale Pretrained Audio "
          "Neural Networks for Audio Pattern Recognition', IEEE/ACM TASLP 2020")


def default_frontend(sample_rate: int = 32000) -> list:
    """PANNs' log-mel front end at `sample_rate`: raw audio -> `(frames, 64)` dB values.

    torchlibrosa's `Spectrogram` + `LogmelFilterBank` as PANNs configures them
    (`SAMPLE_RATES`): periodic Hann window of `window_size` samples, centred frames with
    reflect padding, power spectrum, librosa's Slaney mel bank (64 bands, 50 Hz to
    `fmax`), then `10 log10(max(mel, 1e-10))` with reference 1 and no top-dB floor. At 32
    kHz: 1024-point FFT, hop 320, 50-14000 Hz, so one second gives 101 frames.

    Args:
        sample_rate: 32000, 16000 or 8000.

    Returns:
        `[MelSpectrogram, PowerToDb]`: `(batch, samples)` audio in, `(batch, frames, 64)`
        log-mel out.

    Example:
    ```python
    import numpy as np
    from kerasaudio.models.panns import default_frontend
    mel, db = default_frontend(32000)
    db(mel(np.zeros((1, 32000), "float32"))).shape  # (1, 101, 64)
    ```
    """
    config = _config("default_frontend", sample_rate)
    return [MelSpectrogram(sample_rate=sample_rate, n_fft=config["window_size"],
                           hop_length=config["hop_size"], window="hann", center=True,
                           pad_mode="reflect", power=2.0, n_mels=config["mel_bins"],
                           fmin=config["fmin"], fmax=config["fmax"], htk=False,
                           norm="slaney", name="logmel"),
            PowerToDb(ref=1.0, amin=1e-10, top_db=None, name="power_to_db")]


@keras.saving.register_keras_serializable(package="kerasaudio")
class FramewiseUpsample(keras.layers.Layer):
    """Segment-wise outputs back to one row per input frame (PANNs' nearest interpolation).

    Inputs `[segmentwise, frames_like]`: `(batch, steps, classes)` and any tensor whose
    axis 1 has the frame count T. Frame t takes step `min(t // ratio, steps - 1)`: each
    step repeated `ratio` times, and the frames past `steps * ratio` (the remainder the
    pooling dropped) repeat the last step, as PANNs' `Interpolator` followed by
    `pad_framewise_output`. One gather, so TFLite runs it as a builtin.

    Args:
        ratio: frames per step (32 for CNN14: five 2x2 pools).

    Example:
    ```python
    import numpy as np
    from kerasaudio.models.panns import FramewiseUpsample
    layer = FramewiseUpsample(ratio=2)
    layer([np.array([[[1.0], [2.0]]]), np.zeros((1, 5, 3))])[0, :, 0]  # [1 1 2 2 2]
    ```
    """

    def __init__(self, *, ratio: int = DOWNSAMPLING, **kwargs):
        super().__init__(**kwargs)
        if isinstance(ratio, bool) or not isinstance(ratio, int) or ratio < 1:
            raise InvalidOptionError(f"FramewiseUpsample: ratio={ratio!r} must be an "
                                     "integer >= 1.")
        self.ratio = ratio

    def call(self, inputs):
        segmentwise, frames_like = inputs
        steps = ops.shape(segmentwise)[1]
        frames = ops.shape(frames_like)[1]
        index = ops.minimum(ops.floor_divide(ops.arange(frames), self.ratio), steps - 1)
        return ops.take(segmentwise, index, axis=1)

    def compute_output_shape(self, input_shape):
        segmentwise, frames_like = input_shape
        return (segmentwise[0], frames_like[1], *segmentwise[2:])

    def get_config(self):
        return {**super().get_config(), "ratio": self.ratio}


@keras.saving.register_keras_serializable(package="kerasaudio")
class MinimumFrames(keras.layers.Layer):
    """Identity that refuses inputs with fewer than `minimum` frames (axis 1), clearly.

    A variable-length CNN14 given audio shorter than 32 log-mel frames would pool the time
    axis to nothing and fail deep inside the network; this check raises
    `InvalidAudioError` with the shortest length instead, whenever the frame count is
    known when the model runs (eager calls, `predict`, JAX). In a graph with an unknown
    length, and in TFLite files, it passes the tensor through.

    Args:
        minimum: the fewest frames accepted.
        seconds: what `minimum` frames are in seconds of audio, for the message.

    Example:
    ```python
    import numpy as np
    from kerasaudio.models.panns import MinimumFrames
    MinimumFrames(minimum=32)(np.zeros((1, 40, 64), "float32")).shape  # (1, 40, 64)
    ```
    """

    def __init__(self, *, minimum: int = DOWNSAMPLING, seconds: float | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.minimum = _positive_int("MinimumFrames", "minimum", minimum)
        self.seconds = seconds

    def call(self, inputs):
        frames = inputs.shape[1]
        if frames is not None and frames < self.minimum:
            least = f" ({self.seconds:.2f} s of audio)" if self.seconds else ""
            raise InvalidAudioError(
                f"input too short for CNN14: {frames} log-mel frames; its five 2x2 pools "
                f"need at least {self.minimum}{least}. Pad the audio.")
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "minimum": self.minimum, "seconds": self.seconds}


def _config(name: str, sample_rate) -> dict:
    if isinstance(sample_rate, bool) or sample_rate not in SAMPLE_RATES:
        raise InvalidOptionError(
            f"{name}: sample_rate={sample_rate!r}; PANNs' configurations are "
            f"{sorted(SAMPLE_RATES)} Hz (resample the audio to one of them).")
    return SAMPLE_RATES[sample_rate]


def _positive_int(name: str, option: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidOptionError(f"{name}: {option}={value!r} must be an integer >= 1.")
    return value


def _split_weights(name: str, weights, *, sample_rate: int, weights_sha256: str | None,
                   accept_unverified: bool):
    """`(keras_weights, checkpoint)`: a `.weights.h5` path, or a PANNs checkpoint (a dict,
    a local file, or a released file's name or URL, then downloaded and verified by
    `kerasaudio.weights.checkpoints.checkpoint_path`)."""
    if isinstance(weights, Mapping):
        return None, weights
    if not isinstance(weights, (str, os.PathLike)):
        return weights, None
    path = os.fspath(weights)
    if os.path.isfile(path) and path.endswith(CHECKPOINT_SUFFIXES):
        return None, path
    entry = find_checkpoint(path)
    is_url = path.lower().startswith(("http://", "https://"))
    if entry is None and not is_url:
        if path.endswith(CHECKPOINT_SUFFIXES):
            raise InvalidOptionError(
                f"{name}: checkpoint file {path!r} does not exist (and is not a released "
                f"checkpoint's name: {sorted(CHECKPOINTS)}, nor a URL).")
        return weights, None
    if entry is not None and entry.config.get("sample_rate", sample_rate) != sample_rate:
        raise InvalidOptionError(
            f"{name}: {entry.file} was trained at {entry.config['sample_rate']} Hz; build "
            f"the model with sample_rate={entry.config['sample_rate']} (got {sample_rate}).")
    if entry is None and not urllib.parse.urlsplit(path).path.endswith(CHECKPOINT_SUFFIXES):
        raise InvalidOptionError(
            f"{name}: weights={path!r}: a checkpoint URL must end in "
            f"{' or '.join(CHECKPOINT_SUFFIXES)} (a PyTorch checkpoint).")
    return None, checkpoint_path(path, sha256=weights_sha256,
                                 accept_unverified=accept_unverified)


def _check_audio_length(name: str, input_shape, frontend, sample_rate: int) -> None:
    if frontend != "default" or not input_shape:
        return
    samples = input_shape[0]
    least = min_samples(sample_rate)
    if isinstance(samples, int) and samples < least:
        raise InvalidOptionError(
            f"{name}: input too short: {samples} samples; CNN14's five 2x2 pools need "
            f"{DOWNSAMPLING} log-mel frames, at least {least} samples at {sample_rate} Hz "
            f"({least / sample_rate:.2f} s).")


def _dropout(rate: float, name: str, enabled: bool):
    """PANNs' training dropout, or an identity when the model is built without it."""
    return keras.layers.Dropout(rate if enabled else 0.0, name=name)


def _trunk(name: str, *, input_shape, frontend, sample_rate: int, filters, dropout: bool):
    """`(inputs, log_mel, features)`: the input, the log-mel, the `(batch, steps, C)` map."""
    config = _config(name, sample_rate)
    _check_audio_length(name, input_shape, frontend, sample_rate)
    inputs, x = build_input(name, input_shape=input_shape, frontend=frontend,
                            default_input_shape=(None, config["mel_bins"]),
                            default_frontend=lambda: default_frontend(sample_rate))
    log_mel = x
    if len(x.shape) == 4 and x.shape[-1] == 1:
        x = keras.layers.Reshape((-1, x.shape[2]), name="drop_channel")(x)
    if len(x.shape) != 3 or x.shape[2] is None:
        raise InvalidOptionError(
            f"{name}: the log-mel must be (frames, mel_bins) with a known number of mel "
            f"bands; got {tuple(x.shape[1:])}.")
    mel_bins = int(x.shape[2])
    check_min_size(name, x, (DOWNSAMPLING, DOWNSAMPLING),
                   "CNN14's five 2x2 average pools (frames, mel bands)")
    seconds = min_samples(sample_rate) / sample_rate if frontend == "default" else None
    x = MinimumFrames(minimum=DOWNSAMPLING, seconds=seconds, name="minimum_frames")(x)
    x = keras.layers.Reshape((-1, mel_bins, 1), name="add_channel")(x)
    x = keras.layers.BatchNormalization(axis=2, name="bn0", **_BN)(x)
    last = len(filters)
    for index, width in enumerate(filters, start=1):
        block = f"conv_block{index}"
        for conv in (1, 2):
            x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False,
                                    name=f"{block}_conv{conv}")(x)
            x = keras.layers.BatchNormalization(name=f"{block}_bn{conv}", **_BN)(x)
            x = keras.layers.ReLU(name=f"{block}_relu{conv}")(x)
        if index < last:
            x = keras.layers.AveragePooling2D(2, name=f"{block}_pool")(x)
        x = _dropout(0.2, f"{block}_dropout", dropout)(x)
    x = keras.layers.AveragePooling2D((1, int(x.shape[2])), name="frequency_mean")(x)
    x = keras.layers.Reshape((-1, filters[-1]), name="frequency_squeeze")(x)
    return inputs, log_mel, x


def _check_family(name: str, *, weights, classes, include_top, pooling,
                  classifier_activation, filters, embedding_dim, sample_rate,
                  weights_sha256, accept_unverified):
    keras_weights, checkpoint = _split_weights(
        name, weights, sample_rate=sample_rate, weights_sha256=weights_sha256,
        accept_unverified=accept_unverified)
    check_arguments(name, include_top=include_top, weights=keras_weights, classes=classes,
                    pooling=pooling, classifier_activation=classifier_activation)
    filters = tuple(filters)
    if len(filters) != len(CNN14_FILTERS):
        raise InvalidOptionError(f"{name}: filters={filters} must give "
                                 f"{len(CNN14_FILTERS)} widths, one per convolution block.")
    for width in filters:
        _positive_int(name, "filters", width)
    _positive_int(name, "embedding_dim", embedding_dim)
    return keras_weights, checkpoint, filters


def _finish(inputs, outputs, name, keras_weights, checkpoint):
    model = finish(inputs, outputs, name, keras_weights)
    if checkpoint is not None:
        load_panns_weights(model, checkpoint)
    return model


@register_model(
    task="audio tagging (AudioSet, 527 classes, multi-label)",
    input="raw 32 kHz audio (samples,); log-mel front end inside (1024-point Hann, hop "
          "320, 64 mel bands 50-14000 Hz)",
    paper=_PAPER,
    parameters=80_769_871,
)
def panns_cnn14(*, include_top: bool = True, weights=None, input_shape=None,
                classes: int = AUDIOSET_CLASSES, pooling: str | None = None,
                classifier_activation="sigmoid", frontend="default",
                sample_rate: int = 32000, filters: Sequence[int] = CNN14_FILTERS,
                embedding_dim: int = EMBEDDING_DIM, dropout: bool = True,
                weights_sha256: str | None = None, accept_unverified: bool = False,
                name: str = "panns_cnn14") -> keras.Model:
    """PANNs CNN14: clip-wise AudioSet tags (sigmoid) and a 2048-d embedding.

    The network of `panns_inference.models.Cnn14` (the paper's CNN14) in inference mode.
    After the six convolution blocks, the map is averaged over the mel axis, then the
    maximum and the mean over time are added, `fc1` + ReLU gives the embedding, and the
    classifier (`fc_audioset` in the checkpoints) the clip-wise output. With the default
    front end the model takes raw mono audio at `sample_rate` (any length from 0.31 s at
    32 kHz, `config.min_samples`); `frontend=None` takes the log-mel `(frames, 64)` that
    `default_frontend` computes (`bn0` belongs to the network).

    Weights: a PANNs checkpoint, read with `torch.load(weights_only=True)`: a local
    `.pth`/`.pt` file, the checkpoint dict in memory, or a released file by name
    (`weights="Cnn14_mAP=0.431.pth"`, see `kerasaudio.weights.checkpoints.CHECKPOINTS`)
    or by URL, downloaded into the cache and verified against its publisher's md5 or
    `weights_sha256=`; a file without a recorded checksum needs `weights_sha256=` or
    `accept_unverified=True`. Or a `.weights.h5` file. `Cnn14_16k_mAP=0.438.pth` needs
    `sample_rate=16000` (`Cnn14_8k_mAP=0.416.pth` 8000); the converter checks the
    checkpoint's DFT and mel tensors against the model's front end.
    Class names: `kerasaudio.datasets.audioset.class_names()`.

    Parameter check: 80,753,615 trainable parameters (convolutions 75,461,184,
    BatchNorm scales and offsets 16,256, `fc1` 4,196,352, the classifier 1,079,823)
    plus 16,256 BatchNorm moving statistics: 80,769,871, the registered count, at every
    sample rate. PyTorch counts 81,837,071 parameters in `Cnn14`: the same 80,753,615
    learned values plus torchlibrosa's frozen front-end tensors, which it registers as
    parameters (DFT kernels 2 x 513 x 1024 = 1,050,624 and the mel bank 513 x 64 =
    32,832), and not the moving statistics (buffers). Here the front end holds its DFT
    and mel bank as constants.

    `include_top=False` returns the embedding `(batch, embedding_dim)` (the
    `embedding` of PANNs, pooled over time already, so `pooling` is accepted for API
    uniformity and ignored).

    Args:
        include_top: the classifier; False returns the embedding.
        weights: None, a PANNs checkpoint (`.pth`/`.pt` path, its dict, a released
            file's name or a URL), or a `.weights.h5` path.
        input_shape: `(samples,)` raw audio (default `(None,)`: any length), or
            `(frames, 64)` log-mel with `frontend=None`.
        classes: outputs of the classifier (527 AudioSet classes).
        pooling: accepted for API uniformity; the embedding is pooled already.
        classifier_activation: `"sigmoid"` (multi-label, as trained), `"softmax"` or
            None (logits).
        frontend: `"default"` (PANNs' log-mel, see `default_frontend`), None (log-mel
            input), or layers producing `(frames, mel_bins)`.
        sample_rate: 32000, 16000 or 8000: the front end of that PANNs configuration.
        filters: output channels of the six convolution blocks.
        embedding_dim: width of `fc1`, the embedding (2048; PANNs' `Cnn14_emb512`,
            `_emb128` and `_emb32` use 512, 128 and 32).
        dropout: PANNs' training dropout (0.2 after each block, 0.5 before `fc1` and
            on the embedding); False builds the layers with rate 0. Inference is the same
            either way.
        weights_sha256: the sha256 of a downloaded checkpoint (checked instead of the
            manifest's md5; needed where no checksum is recorded).
        accept_unverified: download a checkpoint that has no checksum to check,
            with a warning.
        name: model name.

    Returns:
        A `keras.Model` named `name`: `(batch, classes)` clip-wise scores with
        `include_top`, else the `(batch, embedding_dim)` embedding.

    Example:
    ```python
    model = kerasaudio.create_model("panns_cnn14")  # random weights, 32 kHz
    np.asarray(model(np.zeros((1, 32000), "float32"))).shape  # (1, 527)
    # AudioSet weights, downloaded once and verified against Zenodo's md5:
    # create_model("panns_cnn14", weights="Cnn14_mAP=0.431.pth")
    ```

    Reference:
        Kong et al., "PANNs: Large-Scale Pretrained Audio Neural Networks for Audio
        Pattern Recognition", IEEE/ACM TASLP 28, 2020.
    """
    keras_weights, checkpoint, filters = _check_family(
        name, weights=weights, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, filters=filters,
        embedding_dim=embedding_dim, sample_rate=sample_rate,
        weights_sha256=weights_sha256, accept_unverified=accept_unverified)
    inputs, _, x = _trunk(name, input_shape=input_shape, frontend=frontend,
                          sample_rate=sample_rate, filters=filters, dropout=dropout)
    x = keras.layers.Add(name="max_plus_mean")([
        keras.layers.GlobalMaxPooling1D(name="time_max")(x),
        keras.layers.GlobalAveragePooling1D(name="time_mean")(x)])
    x = _dropout(0.5, "fc1_dropout", dropout)(x)
    x = keras.layers.Dense(embedding_dim, activation="relu", name="fc1")(x)
    if include_top:
        # PANNs feeds fc1's output to the classifier without the embedding's dropout.
        x = keras.layers.Dense(classes, activation=classifier_activation,
                               name="predictions")(x)
    else:
        x = _dropout(0.5, "embedding_dropout", dropout)(x)
    return _finish(inputs, x, name, keras_weights, checkpoint)


@register_model(
    task="sound event detection (AudioSet, 527 classes: frame-wise and clip-wise)",
    input="raw 32 kHz audio (samples,); log-mel front end inside (1024-point Hann, hop "
          "320, 64 mel bands 50-14000 Hz)",
    paper=_PAPER,
    parameters=80_769_871,
)
def panns_cnn14_decision_level_max(
        *, include_top: bool = True, weights=None, input_shape=None,
        classes: int = AUDIOSET_CLASSES, pooling: str | None = None,
        classifier_activation="sigmoid", frontend="default", sample_rate: int = 32000,
        filters: Sequence[int] = CNN14_FILTERS, embedding_dim: int = EMBEDDING_DIM,
        dropout: bool = True, outputs: str = "both", weights_sha256: str | None = None,
        accept_unverified: bool = False,
        name: str = "panns_cnn14_decision_level_max") -> keras.Model:
    """PANNs CNN14 DecisionLevelMax: frame-wise and clip-wise AudioSet probabilities.

    `panns_inference.models.Cnn14_DecisionLevelMax` in inference mode: the CNN14 trunk,
    then per time step (32 log-mel frames, 0.32 s at every sample rate) a 3-step max
    pool plus a 3-step average pool (zero padding counted, as PyTorch's `avg_pool1d`),
    `fc1` + ReLU and the classifier give segment-wise probabilities `(batch, steps,
    classes)`; the clip-wise output is their maximum over time, and the frame-wise output
    repeats each step for its 32 frames (the frames past the last full step repeat the
    last step) to one row per log-mel frame (`FramewiseUpsample`).

    The model has two outputs by default, a dict: `{"clipwise_output": (batch,
    classes), "framewise_output": (batch, frames, classes)}` with `frames` the log-mel
    frame count (`1 + samples // hop_size`: 100 per second, frame t centred on
    `t * hop_size`). `outputs="clipwise"` or `"framewise"` keeps one (a single-output
    model, e.g. for MediaPipe's `AudioClassifier`). For streaming, run windows of a fixed
    length and read `framewise_output`: each step's scores depend on the 3 steps around
    it, so the first and last step of a window see the window's edges.

    Same weights as `panns_cnn14` (the checkpoints have identical tensors); the released
    `Cnn14_DecisionLevelMax_mAP=0.385.pth` loads with `weights=` (a local file, or by
    name or URL: downloaded and verified as for `panns_cnn14`). 80,769,871 parameters
    as `panns_cnn14`.

    `include_top=False` returns the segment-wise embeddings `(batch, steps,
    embedding_dim)`, or with `pooling="avg"`/`"max"` their mean/maximum over time.

    Args:
        include_top: the classifier and both outputs; False returns embeddings.
        weights: None, a PANNs checkpoint (`.pth`/`.pt` path, its dict, a released
            file's name or a URL), or a `.weights.h5` path.
        input_shape: `(samples,)` raw audio (default `(None,)`), or `(frames, 64)`
            log-mel with `frontend=None`.
        classes: outputs of the classifier (527 AudioSet classes).
        pooling: with `include_top=False`: None (segment-wise), `"avg"` or `"max"`.
        classifier_activation: activation of the segment-wise scores (`"sigmoid"`).
        frontend: `"default"`, None (log-mel input) or layers, as in `panns_cnn14`.
        sample_rate: 32000, 16000 or 8000.
        filters: output channels of the six convolution blocks.
        embedding_dim: width of `fc1`.
        dropout: PANNs' training dropout (0.2 after each block, 0.5 before and after
            `fc1`); False builds the layers with rate 0.
        outputs: `"both"` (a dict of the two), `"clipwise"` or `"framewise"`.
        weights_sha256: as in `panns_cnn14`.
        accept_unverified: as in `panns_cnn14`.
        name: model name.

    Returns:
        A `keras.Model` named `name` (see above for its outputs).

    Example:
    ```python
    model = kerasaudio.create_model("panns_cnn14_decision_level_max")
    out = model(np.zeros((1, 64000), "float32"))
    out["clipwise_output"].shape, out["framewise_output"].shape  # (1, 527), (1, 201, 527)
    ```

    Reference:
        Kong et al., "PANNs: Large-Scale Pretrained Audio Neural Networks for Audio
        Pattern Recognition", IEEE/ACM TASLP 28, 2020 (decision-level max pooling for
        sound event detection).
    """
    keras_weights, checkpoint, filters = _check_family(
        name, weights=weights, classes=classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, filters=filters,
        embedding_dim=embedding_dim, sample_rate=sample_rate,
        weights_sha256=weights_sha256, accept_unverified=accept_unverified)
    if outputs not in OUTPUTS:
        raise InvalidOptionError(f"{name}: outputs={outputs!r} must be one of {OUTPUTS}.")
    inputs, log_mel, x = _trunk(name, input_shape=input_shape, frontend=frontend,
                                sample_rate=sample_rate, filters=filters, dropout=dropout)
    padded = keras.layers.ZeroPadding1D(1, name="smooth_pad")(x)
    x = keras.layers.Add(name="smooth")([
        keras.layers.MaxPooling1D(3, strides=1, padding="same", name="smooth_max")(x),
        keras.layers.AveragePooling1D(3, strides=1, name="smooth_mean")(padded)])
    x = _dropout(0.5, "fc1_dropout", dropout)(x)
    x = keras.layers.Dense(embedding_dim, activation="relu", name="fc1")(x)
    x = _dropout(0.5, "embedding_dropout", dropout)(x)
    if not include_top:
        if pooling == "avg":
            x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
        elif pooling == "max":
            x = keras.layers.GlobalMaxPooling1D(name="pool")(x)
        return _finish(inputs, x, name, keras_weights, checkpoint)
    segmentwise = keras.layers.Dense(classes, activation=classifier_activation,
                                     name="predictions")(x)
    result = {}
    if outputs in ("both", "clipwise"):
        result["clipwise_output"] = keras.layers.GlobalMaxPooling1D(
            name="clipwise_output")(segmentwise)
    if outputs in ("both", "framewise"):
        result["framewise_output"] = FramewiseUpsample(
            ratio=DOWNSAMPLING, name="framewise_output")([segmentwise, log_mel])
    if len(result) == 1:
        (result,) = result.values()
    return _finish(inputs, result, name, keras_weights, checkpoint)
