"""ECAPA-TDNN in Keras: SpeechBrain's network and its filter-bank front end.

The layers of `speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN` in inference mode,
channels last (`(batch, frames, channels)`):

- TDNN block: SpeechBrain's "same" convolution (reflect padding of `dilation *
  (kernel - 1) / 2` frames on each side, then a valid dilated convolution with bias),
  ReLU, batch normalisation (eps 1e-5).
- SE-Res2Net block: 1x1 TDNN, a Res2Net convolution (the channels cut into
  `res2net_scale` groups; group 0 passes through, group i > 0 goes through its own TDNN
  block after adding group i - 1's output), 1x1 TDNN, squeeze-excitation (the utterance
  mean of each channel through a bottleneck, ReLU, sigmoid, scaling the channels), plus
  the input (through a 1x1 convolution when the widths differ).
- Multi-layer feature aggregation: the SE-Res2Net outputs concatenated, a TDNN block.
- Attentive statistics pooling: attention logits per frame and channel from a TDNN block
  (with global context: over the frames, each channel's mean and standard deviation
  appended), tanh and a 1x1 convolution; softmax over the frames; the weighted mean and
  standard deviation; batch normalisation; a linear layer to the embedding.

With `lengths=True` the model takes SpeechBrain's relative lengths as a second input and
masks the padded frames exactly as SpeechBrain does (the mean normalisation, the
squeeze-excitation means and the pooling use only the first `length * frames` frames;
the convolutions see the padding, as in SpeechBrain).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import keras
from keras import ops

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers import BatchNormalization, MelSpectrogram, PowerToDb, Standardize
from kerasaudio.models.common import build_input, check_arguments, finish
from kerasaudio.models.ecapa_tdnn.config import VOXCELEB, EcapaConfig, keras_name
from kerasaudio.models.ecapa_tdnn.convert import load_speechbrain_weights
from kerasaudio.models.registry import register_model

__all__ = ["AttentiveStatistics", "ChannelChunks", "GlobalContext", "MaskedTimeMean",
           "ReflectPadding1D", "default_frontend", "ecapa_tdnn", "frame_mask"]

#: BatchNorm as PyTorch's defaults (eps 1e-5, running averages updated by 0.1 per step).
_BN: dict[str, Any] = {"epsilon": 1e-5, "momentum": 0.9}
#: The speakers of SpeechBrain's VoxCeleb classifier (`out_n_neurons`).
VOXCELEB_SPEAKERS = 7205
#: SpeechBrain's padding-mask offset in `InputNormalization` (`make_padding_mask`).
NORM_MASK_OFFSET = 1e-6
CHECKPOINT_SUFFIXES = (".ckpt", ".pt", ".pth")
_PAPER = ("Desplanques, Thienpondt, Demuynck, 'ECAPA-TDNN: Emphasized Channel Attention, "
          "Propagation and Aggregation in TDNN Based Speaker Verification', Interspeech 2020")


def frame_mask(lengths, frames, *, offset: float = 0.0):
    """`(batch, frames, 1)` float mask: frame t is kept when `t < lengths * frames - offset`.

    SpeechBrain's `length_to_mask(lengths * L, max_len=L)` (offset 0) and its
    `make_padding_mask` (offset 1e-6), in float32 as SpeechBrain computes them.

    Args:
        lengths: `(batch,)` relative lengths in (0, 1].
        frames: the number of frames (a tensor or int).
        offset: subtracted from the absolute length before comparing.

    Returns:
        The mask, 1.0 for the frames kept.

    Example:
    ```python
    from kerasaudio.models.ecapa_tdnn import frame_mask
    np.asarray(frame_mask(np.array([1.0, 0.5], "float32"), 4))[..., 0]
    # [[1 1 1 1] [1 1 0 0]]
    ```
    """
    steps = ops.cast(ops.arange(frames), "float32")
    limit = ops.cast(lengths, "float32") * ops.cast(frames, "float32") - offset
    return ops.cast(ops.less(steps[None, :], limit[:, None]), "float32")[:, :, None]


def _split(inputs):
    if isinstance(inputs, (list, tuple)):
        return inputs[0], (inputs[1] if len(inputs) > 1 else None)
    return inputs, None


@keras.saving.register_keras_serializable(package="kerasaudio")
class ReflectPadding1D(keras.layers.Layer):
    """Reflect-pad the time axis of `(batch, frames, channels)` by `padding` frames each side.

    Args:
        padding: frames added on each side (fewer than the input's frames).

    Example:
    ```python
    from kerasaudio.models.ecapa_tdnn import ReflectPadding1D
    x = np.arange(4, dtype="float32").reshape(1, 4, 1)
    np.asarray(ReflectPadding1D(padding=2)(x))[0, :, 0]  # [2 1 0 1 2 3 2 1]
    ```
    """

    def __init__(self, *, padding: int, **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, bool) or not isinstance(padding, int) or padding < 1:
            raise InvalidOptionError(f"ReflectPadding1D: padding={padding!r} must be an "
                                     "integer >= 1.")
        self.padding = padding

    def call(self, inputs):
        return ops.pad(inputs, [[0, 0], [self.padding, self.padding], [0, 0]],
                       mode="reflect")

    def compute_output_shape(self, input_shape):
        frames = input_shape[1]
        return (input_shape[0], None if frames is None else frames + 2 * self.padding,
                *input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package="kerasaudio")
class ChannelChunks(keras.layers.Layer):
    """Cut the last axis into `chunks` equal parts (`torch.chunk(x, chunks, dim=1)`).

    Args:
        chunks: number of parts; the channels must be a multiple of it.

    Example:
    ```python
    from kerasaudio.models.ecapa_tdnn import ChannelChunks
    [p.shape for p in ChannelChunks(chunks=4)(np.zeros((1, 3, 8), "float32"))]
    # [(1, 3, 2), (1, 3, 2), (1, 3, 2), (1, 3, 2)]
    ```
    """

    def __init__(self, *, chunks: int, **kwargs):
        super().__init__(**kwargs)
        self.chunks = chunks

    def call(self, inputs):
        width = inputs.shape[-1] // self.chunks
        return [inputs[..., i * width:(i + 1) * width] for i in range(self.chunks)]

    def compute_output_shape(self, input_shape):
        part = (*input_shape[:-1], input_shape[-1] // self.chunks)
        return [part] * self.chunks

    def get_config(self):
        return {**super().get_config(), "chunks": self.chunks}


@keras.saving.register_keras_serializable(package="kerasaudio")
class MaskedTimeMean(keras.layers.Layer):
    """Each channel's mean over the frames, `(batch, 1, channels)`; with lengths, over the
    kept frames only (`frame_mask`).

    Inputs: `x` `(batch, frames, channels)`, or `[x, lengths]`.

    Args:
        offset: the mask's offset (0 for SpeechBrain's squeeze-excitation, 1e-6 for its
            input normalisation).

    Example:
    ```python
    from kerasaudio.models.ecapa_tdnn import MaskedTimeMean
    x = np.arange(4, dtype="float32").reshape(1, 4, 1)
    np.asarray(MaskedTimeMean()([x, np.array([0.5], "float32")]))  # [[[0.5]]]
    ```
    """

    def __init__(self, *, offset: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.offset = float(offset)

    def call(self, inputs):
        x, lengths = _split(inputs)
        if lengths is None:
            return ops.mean(x, axis=1, keepdims=True)
        mask = frame_mask(lengths, ops.shape(x)[1], offset=self.offset)
        return ops.sum(x * mask, axis=1, keepdims=True) / ops.sum(mask, axis=1,
                                                                  keepdims=True)

    def compute_output_shape(self, input_shape):
        shape = input_shape[0] if isinstance(input_shape, list) else input_shape
        return (shape[0], 1, shape[2])

    def get_config(self):
        return {**super().get_config(), "offset": self.offset}


def _statistics(x, weights, eps: float):
    """Weighted mean and standard deviation over the frames (SpeechBrain's
    `_compute_statistics`: the variance clamped at `eps` before the square root)."""
    mean = ops.sum(weights * x, axis=1, keepdims=True)
    centred = x - mean
    variance = ops.sum(weights * centred * centred, axis=1, keepdims=True)
    return mean, ops.sqrt(ops.maximum(variance, eps))


@keras.saving.register_keras_serializable(package="kerasaudio")
class GlobalContext(keras.layers.Layer):
    """`[x, mean, std]` on the channel axis: each frame with its channel's utterance mean
    and standard deviation (the global context of ECAPA-TDNN's attentive pooling).

    Inputs: `x` `(batch, frames, channels)`, or `[x, lengths]` (statistics over the kept
    frames). Output `(batch, frames, 3 * channels)`.

    Args:
        epsilon: lower bound of the variance.

    Example:
    ```python
    from kerasaudio.models.ecapa_tdnn import GlobalContext
    GlobalContext()(np.ones((2, 5, 4), "float32")).shape  # (2, 5, 12)
    ```
    """

    #: Kept float32 in int8 files (`kerasaudio.export.convert.int8_float_scopes`): the
    #: statistics, whose squared deviations and square root int8 resolves coarsely.
    int8_float_scopes = ("statistics",)

    def __init__(self, *, epsilon: float = 1e-12, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, inputs):
        x, lengths = _split(inputs)
        with keras.name_scope("statistics"):  # see `int8_float_scopes`
            frames = ops.shape(x)[1]
            if lengths is None:
                weights = ops.ones_like(x[:, :, :1]) / ops.cast(frames, x.dtype)
            else:
                mask = frame_mask(lengths, frames)
                weights = mask / ops.sum(mask, axis=1, keepdims=True)
            mean, std = _statistics(x, weights, self.epsilon)
            return ops.concatenate([x, ops.broadcast_to(mean, ops.shape(x)),
                                    ops.broadcast_to(std, ops.shape(x))], axis=-1)

    def compute_output_shape(self, input_shape):
        shape = input_shape[0] if isinstance(input_shape, list) else input_shape
        return (*shape[:-1], 3 * shape[-1])

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="kerasaudio")
class AttentiveStatistics(keras.layers.Layer):
    """Attention-weighted mean and standard deviation over the frames, `(batch, 2 C)`.

    Inputs `[x, logits]` (both `(batch, frames, C)`) or `[x, logits, lengths]`: a softmax
    of the logits over the frames (padded frames get weight 0) weights each channel's
    mean and standard deviation, which are concatenated.

    Args:
        epsilon: lower bound of the variance.

    Example:
    ```python
    from kerasaudio.models.ecapa_tdnn import AttentiveStatistics
    x = np.random.default_rng(0).normal(size=(2, 6, 4)).astype("float32")
    AttentiveStatistics()([x, np.zeros_like(x)]).shape  # (2, 8)
    ```
    """

    #: Kept float32 in int8 files (`kerasaudio.export.convert.int8_float_scopes`): the
    #: softmax over the frames (most weights fall near int8's 1/256 step) and the
    #: statistics.
    int8_float_scopes = ("statistics",)

    def __init__(self, *, epsilon: float = 1e-12, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, inputs):
        x, logits = inputs[0], inputs[1]
        with keras.name_scope("statistics"):  # see `int8_float_scopes`
            if len(inputs) > 2:
                mask = frame_mask(inputs[2], ops.shape(x)[1])
                logits = ops.where(mask > 0, logits, ops.full_like(logits, float("-inf")))
            weights = ops.softmax(logits, axis=1)
            mean, std = _statistics(x, weights, self.epsilon)
            return ops.concatenate([mean[:, 0], std[:, 0]], axis=-1)

    def compute_output_shape(self, input_shape):
        shape = input_shape[0]
        return (shape[0], 2 * shape[-1])

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def frontend_sizes(sample_rate: int) -> dict[str, int]:
    """SpeechBrain `Fbank`'s window (25 ms, also the FFT size) and hop (10 ms) in samples.

    Example:
    ```python
    from kerasaudio.models.ecapa_tdnn.model import frontend_sizes
    frontend_sizes(16000)  # {'n_fft': 400, 'hop_length': 160}
    ```
    """
    return {"n_fft": round(sample_rate * 0.025),
            "hop_length": round(sample_rate * 0.010)}


def default_frontend(sample_rate: int = 16000, n_mels: int = 80, *,
                     normalize: bool = True) -> list:
    """SpeechBrain's ECAPA features: `Fbank(n_mels)` and sentence mean normalisation.

    `speechbrain.lobes.features.Fbank` at `sample_rate`: 25 ms periodic Hamming windows
    every 10 ms, FFT of the window's length (400 at 16 kHz), centred frames with zero
    padding, power spectrum, SpeechBrain's symmetric triangular filters on the HTK mel
    scale from 0 Hz to Nyquist (peak 1), then `10 log10(max(mel, 1e-10))` floored 80 dB
    below each utterance's maximum; then `InputNormalization(norm_type="sentence",
    std_norm=False)`: each band's mean over the utterance subtracted.

    Args:
        sample_rate: sampling rate of the audio (16000 for SpeechBrain's models).
        n_mels: filter-bank bands.
        normalize: append the mean normalisation.

    Returns:
        `[MelSpectrogram, PowerToDb, Standardize]` (the last without `normalize`):
        `(batch, samples)` audio in, `(batch, frames, n_mels)` out, `frames = 1 +
        samples // hop`.

    Example:
    ```python
    from kerasaudio.models.ecapa_tdnn import default_frontend
    x = np.zeros((1, 16000), "float32")
    for layer in default_frontend():
        x = layer(x)
    x.shape  # (1, 101, 80)
    ```

    Reference:
        Ravanelli et al., "SpeechBrain: A General-Purpose Speech Toolkit",
        arXiv:2106.04624, 2021 (`Fbank`, `InputNormalization`).
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate < 1:
        raise InvalidOptionError(f"ecapa_tdnn: sample_rate={sample_rate!r} must be a "
                                 "positive integer.")
    sizes = frontend_sizes(sample_rate)
    layers = [MelSpectrogram(sample_rate=sample_rate, n_fft=sizes["n_fft"],
                             hop_length=sizes["hop_length"], window="hamming", center=True,
                             pad_mode="constant", power=2.0, n_mels=n_mels, fmin=0.0,
                             fmax=float(sample_rate // 2), htk=True, norm=None,
                             symmetric=True, name="fbank"),
              PowerToDb(ref=1.0, amin=1e-10, top_db=80.0, name="fbank_db")]
    if normalize:
        layers.append(Standardize(axis=1, scale=False, name="mean_norm"))
    return layers


def _split_weights(name: str, weights):
    """`(keras_weights, checkpoint)`: a `.weights.h5` path, or a SpeechBrain checkpoint."""
    if isinstance(weights, Mapping):
        return None, weights
    if isinstance(weights, (str, os.PathLike)) and os.fspath(weights).endswith(
            CHECKPOINT_SUFFIXES):
        return None, os.fspath(weights)
    return weights, None


class _Builder:
    """Creates the layers of one network, named after SpeechBrain's modules."""

    def __init__(self, config: EcapaConfig, lengths):
        self.config = config
        self.lengths = lengths

    def masked(self, x):
        return x if self.lengths is None else [x, self.lengths]

    def tdnn(self, x, path: str, filters: int, kernel: int, dilation: int):
        pad = dilation * (kernel - 1) // 2
        if pad:
            x = ReflectPadding1D(padding=pad, name=keras_name(path) + "_pad")(x)
        x = keras.layers.Conv1D(filters, kernel, dilation_rate=dilation, activation="relu",
                                name=keras_name(f"{path}.conv.conv"))(x)
        return BatchNormalization(name=keras_name(f"{path}.norm.norm"), **_BN)(x)

    def se_res2net(self, x, index: int):
        c = self.config
        path, cin, cout = f"blocks.{index}", c.channels[index - 1], c.channels[index]
        kernel, dilation = c.kernel_sizes[index], c.dilations[index]
        residual = x
        if cin != cout:
            residual = keras.layers.Conv1D(cout, 1,
                                           name=keras_name(f"{path}.shortcut.conv"))(x)
        x = self.tdnn(x, f"{path}.tdnn1", cout, 1, 1)
        parts = ChannelChunks(chunks=c.res2net_scale,
                              name=keras_name(f"{path}.res2net_block") + "_chunks")(x)
        outputs = [parts[0]]
        width = cout // c.res2net_scale
        for j in range(1, c.res2net_scale):
            y = parts[j]
            if j > 1:
                y = keras.layers.Add(name=keras_name(f"{path}.res2net_block.add{j}"))(
                    [y, outputs[-1]])
            outputs.append(self.tdnn(y, f"{path}.res2net_block.blocks.{j - 1}", width,
                                     kernel, dilation))
        x = keras.layers.Concatenate(name=keras_name(f"{path}.res2net_block") + "_concat")(
            outputs)
        x = self.tdnn(x, f"{path}.tdnn2", cout, 1, 1)
        s = MaskedTimeMean(name=keras_name(f"{path}.se_block") + "_mean")(self.masked(x))
        s = keras.layers.Conv1D(c.se_channels, 1, activation="relu",
                                name=keras_name(f"{path}.se_block.conv1.conv"))(s)
        s = keras.layers.Conv1D(cout, 1, activation="sigmoid",
                                name=keras_name(f"{path}.se_block.conv2.conv"))(s)
        x = keras.layers.Multiply(name=keras_name(f"{path}.se_block") + "_scale")([x, s])
        return keras.layers.Add(name=keras_name(path) + "_residual")([x, residual])

    def network(self, x):
        c = self.config
        x = self.tdnn(x, "blocks.0", c.channels[0], c.kernel_sizes[0], c.dilations[0])
        outputs = []
        for index in range(1, len(c.channels) - 1):
            x = self.se_res2net(x, index)
            outputs.append(x)
        x = keras.layers.Concatenate(name="mfa_concat")(outputs) if len(outputs) > 1 \
            else outputs[0]
        x = self.tdnn(x, "mfa", c.channels[-1], c.kernel_sizes[-1], c.dilations[-1])
        attention = GlobalContext(name="asp_context")(self.masked(x)) \
            if c.global_context else x
        attention = self.tdnn(attention, "asp.tdnn", c.attention_channels, 1, 1)
        attention = keras.layers.Activation("tanh", name="asp_tanh")(attention)
        attention = keras.layers.Conv1D(c.channels[-1], 1, name="asp_conv_conv")(attention)
        pooled = AttentiveStatistics(name="asp")(
            [x, attention] if self.lengths is None else [x, attention, self.lengths])
        pooled = BatchNormalization(name="asp_bn_norm", **_BN)(pooled)
        return keras.layers.Dense(c.embedding_dim, name="fc_conv")(pooled)


@register_model(
    task="speaker embedding (192-d, cosine scoring)",
    input="raw 16 kHz audio (samples,); SpeechBrain's filter bank inside (80 HTK mel "
          "bands of 25 ms Hamming windows every 10 ms, dB, mean-normalised per utterance)",
    paper=_PAPER,
    parameters=20_805_952,
    defaults={"include_top": False},
)
def ecapa_tdnn(*, include_top: bool = True, weights=None, input_shape=None,
               classes: int = VOXCELEB_SPEAKERS, pooling: str | None = None,
               classifier_activation="softmax", frontend="default",
               sample_rate: int = 16000, n_mels: int = 80,
               channels: Sequence[int] = VOXCELEB.channels,
               kernel_sizes: Sequence[int] = VOXCELEB.kernel_sizes,
               dilations: Sequence[int] = VOXCELEB.dilations,
               attention_channels: int = 128, res2net_scale: int = 8,
               se_channels: int = 128, global_context: bool = True,
               embedding_dim: int = 192, lengths: bool = False,
               name: str = "ecapa_tdnn") -> keras.Model:
    """ECAPA-TDNN speaker embeddings, as SpeechBrain's `spkrec-ecapa-voxceleb` computes them.

    The defaults are SpeechBrain's VoxCeleb model: `ECAPA_TDNN(80, channels=[1024, 1024,
    1024, 1024, 3072], kernel_sizes=[5, 3, 3, 3, 1], dilations=[1, 2, 3, 4, 1],
    attention_channels=128, res2net_scale=8, se_channels=128, lin_neurons=192)` after
    `Fbank(n_mels=80)` and `InputNormalization(norm_type="sentence", std_norm=False)`
    (`default_frontend`). `channels=(512,) * 4 + (1536,)` is the paper's smaller
    C=512 system. The network is described in `kerasaudio.models.ecapa_tdnn.model`.

    Weights: `weights="embedding_model.ckpt"` (SpeechBrain's checkpoint, read with
    `torch.load(weights_only=True)`; `.ckpt`/`.pt`/`.pth`, or its state dict in memory;
    every tensor must fit: see `convert_state_dict`), or a `.weights.h5` file.
    `from_speechbrain(path)` also reads the sizes from the checkpoint. SpeechBrain's
    classifier (`classifier.ckpt`, cosine scores against speaker weights) is not
    converted: `include_top=True` adds a softmax `Dense` head named `predictions` for
    training on your own speakers.

    Parameter check: the default embedding network has 20,767,552 trainable parameters,
    what PyTorch counts for SpeechBrain's `ECAPA_TDNN(80, channels=[1024] * 4 + [3072])`,
    plus 38,400 batch-normalisation moving statistics (buffers in PyTorch): 20,805,952,
    the registered count. The C=512 system: 6,194,048 trainable (SpeechBrain's
    `ECAPA_TDNN(80)` defaults) plus 19,328 statistics.

    Args:
        include_top: a softmax classifier over `classes` speakers on the embedding;
            False returns the embedding.
        weights: None, a SpeechBrain checkpoint (`.ckpt`/`.pt`/`.pth` path or state
            dict), or a `.weights.h5` path.
        input_shape: `(samples,)` raw audio (default `(None,)`: any length of at least
            `(max padding + 1)` frames: 0.04 s at 16 kHz), or `(frames, n_mels)` of
            normalised features with `frontend=None`.
        classes: outputs of the classifier.
        pooling: accepted for API uniformity; the attentive statistics pool already.
        classifier_activation: activation of the classifier (`"softmax"`, None: logits).
        frontend: `"default"` (SpeechBrain's features, see `default_frontend`), None
            (normalised `(frames, n_mels)` features in, what SpeechBrain's
            `embedding_model` takes), or layers producing `(frames, n_mels)`.
        sample_rate: the audio's rate for the default front end (25 ms windows, 10 ms
            hops at any rate).
        n_mels: filter-bank bands (the network's `input_size`).
        channels: widths of the first TDNN, each SE-Res2Net block and the aggregation.
        kernel_sizes: kernel sizes of the same blocks (odd).
        dilations: dilations of the same blocks.
        attention_channels: hidden width of the attentive statistics pooling.
        res2net_scale: groups of each Res2Net convolution.
        se_channels: bottleneck of the squeeze-excitation blocks.
        global_context: the attention also sees each channel's utterance statistics.
        embedding_dim: size of the embedding (`lin_neurons`).
        lengths: a second input `lengths` `(batch,)` of relative lengths (SpeechBrain's
            `wav_lens`) that masks padded frames; with the default front end the mean
            normalisation is masked too.
        name: model name.

    Returns:
        A `keras.Model` named `name`: `(batch, embedding_dim)` embeddings, or
        `(batch, classes)` scores with `include_top`.

    Example:
    ```python
    model = kerasaudio.create_model("ecapa_tdnn", include_top=False, channels=(64,) * 4
                                    + (192,), attention_channels=16, se_channels=16)
    np.asarray(model(np.zeros((1, 16000), "float32"))).shape  # (1, 192)
    # SpeechBrain's VoxCeleb weights: from_speechbrain("embedding_model.ckpt")
    ```

    Reference:
        Desplanques, Thienpondt, Demuynck, "ECAPA-TDNN: Emphasized Channel Attention,
        Propagation and Aggregation in TDNN Based Speaker Verification", Interspeech
        2020; Ravanelli et al., "SpeechBrain: A General-Purpose Speech Toolkit", 2021.
    """
    keras_weights, checkpoint = _split_weights(name, weights)
    check_arguments(name, include_top=include_top, weights=keras_weights, classes=classes,
                    pooling=pooling, classifier_activation=classifier_activation)
    config = EcapaConfig(n_mels=n_mels, channels=tuple(channels),
                         kernel_sizes=tuple(kernel_sizes), dilations=tuple(dilations),
                         attention_channels=attention_channels,
                         res2net_scale=res2net_scale, se_channels=se_channels,
                         global_context=bool(global_context), embedding_dim=embedding_dim)
    default = isinstance(frontend, str) and frontend == "default"
    inputs, x = build_input(
        name, input_shape=input_shape, frontend=frontend,
        default_input_shape=(None, n_mels),
        default_frontend=lambda: default_frontend(sample_rate, n_mels,
                                                  normalize=not lengths))
    if len(x.shape) != 3 or x.shape[-1] != n_mels:
        raise InvalidOptionError(
            f"{name}: the features must be (frames, n_mels={n_mels}); got "
            f"{tuple(x.shape[1:])}.")
    frames = x.shape[1]
    if frames is not None and frames <= config.max_padding:
        raise InvalidOptionError(
            f"{name}: input too short: {frames} frames; the dilated convolutions reflect-"
            f"pad {config.max_padding} frames and need at least {config.max_padding + 1}.")
    length_input = keras.Input((), name="lengths") if lengths else None
    if length_input is not None and default:
        mean = MaskedTimeMean(offset=NORM_MASK_OFFSET, name="mean_norm_mean")(
            [x, length_input])
        x = keras.layers.Subtract(name="mean_norm")([x, mean])
    x = _Builder(config, length_input).network(x)
    if include_top:
        x = keras.layers.Dense(classes, activation=classifier_activation,
                               name="predictions")(x)
    model_inputs = inputs if length_input is None else [inputs, length_input]
    info = {"sample_rate": sample_rate} if default else None
    model = finish(model_inputs, x, name, keras_weights, info=info)
    if checkpoint is not None:
        load_speechbrain_weights(model, checkpoint)
    return model
