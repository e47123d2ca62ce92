"""VGGVox speaker networks on spectrograms: v1 (VGG-M) and v2 (thin ResNet-34 + GhostVLAD)."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers import STFT, Standardize
from kerasaudio.layers.vlad import VLADPooling
from kerasaudio.models.common import (
    build_input,
    check_arguments,
    check_min_size,
    classifier,
    finish,
)
from kerasaudio.models.registry import register_model

__all__ = ["vggvox_v1", "vggvox_v2"]

# (kernel, stride, padding) along one feature axis, in network order.
_V1_FREQUENCY = ((7, 2, 1), (3, 2, 0), (5, 2, 1), (3, 2, 0), (5, 3, 0), (9, 1, 0))
_V1_TIME = ((7, 2, 1), (3, 2, 0), (5, 2, 1), (3, 2, 0), (3, 2, 0), (1, 1, 0))

THIN_RESNET34_FILTERS = ((48, 48, 96), (96, 96, 128), (128, 128, 256), (256, 256, 512))
THIN_RESNET34_BLOCKS = (2, 3, 3, 3)


def min_input_size(steps: Sequence[tuple[int, int, int]], final: int = 1) -> int:
    """Smallest input size that leaves `final` steps after `steps` of (kernel, stride, pad).

    Inverts `out = (in + 2 * pad - kernel) // stride + 1` (floor, as Keras, MatConvNet and
    PyTorch compute "valid" windows) from the last step back to the first.

    Args:
        steps: `(kernel, stride, pad)` of each layer along one axis, in network order.
        final: the size that must remain after the last step.

    Returns:
        The smallest input size.

    Example:
    ```python
    from kerasaudio.models.vggvox import min_input_size
    min_input_size([(7, 2, 1), (3, 2, 0)])  # 9
    ```
    """
    size = final
    for kernel, stride, pad in reversed(steps):
        size = (size - 1) * stride + kernel - 2 * pad
    return size


def _check_positive_int(name: str, option: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidOptionError(f"{name}: {option}={value!r} must be an integer >= 1.")
    return value


# ----------------------------------------------------------------------------- VGGVox v1


def default_frontend_v1() -> list:
    """16 kHz audio -> `(512, frames)` magnitude spectrogram, each bin standardised over time.

    Hamming window of 25 ms (400 samples), 10 ms hop, 1024-point FFT keeping bins
    0..511 (the Nyquist bin is cropped): 512 distinct bins from 0 to 7.98 kHz. Then
    mean/variance normalisation of every frequency bin over the utterance (the paper's
    normalisation) and frequency first: 3 s of audio gives `(512, 301)`.

    The official MatConvNet code (`mfcc/mfccspec.m`) differs in ways that matter only
    to port its weights: it takes the two-sided magnitude of a 512-point FFT
    (`2^nextpow2(400)`), so rows 257..511 mirror rows 255..1, after DC removal, dither
    and 0.97 pre-emphasis, on uncentred frames, with the N-1 standard deviation; the
    authors later noted a one-sided spectrum works as well.

    Returns:
        `[STFT, Standardize, Permute, Cropping1D]`: `(batch, samples)` 16 kHz audio in,
        `(batch, 512, frames)` out.

    Example:
    ```python
    model = kerasaudio.create_model("vggvox_v1", frontend="default", include_top=False,
                                    input_shape=(48000,))
    ```
    """
    return [STFT(n_fft=1024, win_length=400, hop_length=160, window="hamming",
                 mode="magnitude"),
            Standardize(axis=1),
            keras.layers.Permute((2, 1)),
            keras.layers.Cropping1D((0, 1))]


@register_model(
    task="speaker identification / embedding (VoxCeleb1, 1,251 speakers)",
    input="magnitude spectrogram (512, 300, 1): 3 s at 16 kHz, frequency x time",
    paper="Nagrani, Chung, Zisserman, 'VoxCeleb: a large-scale speaker identification "
          "dataset', Interspeech 2017",
    parameters=17_924_003,
    defaults={"input_shape": (512, 300, 1), "classes": 1251},
)
def vggvox_v1(*, include_top: bool = True, weights=None, input_shape=None,
              classes: int = 1251, pooling: str | None = None,
              classifier_activation="softmax", frontend=None,
              embedding_dim: int = 1024, normalize_embedding: bool = False,
              name: str = "vggvox_v1") -> keras.Model:
    """VGGVox v1: the VGG-M speaker CNN of the VoxCeleb paper.

    Input `(frequency, time, 1)`: 512 x T magnitude spectrogram bins, each standardised
    over time. conv1 96 7x7/2 (pad 1) + mpool1 3x3/2; conv2 256 5x5/2 (pad 1) + mpool2
    3x3/2; conv3 384, conv4 256, conv5 256 (3x3/1, pad 1) + mpool5 5x3 stride 3x2; each
    conv followed by BatchNorm + ReLU. With this padding 512 rows become 254, 126, 62, 30
    and 9 after mpool5, so fc6, a 9x1 convolution with 4096 filters (+ BN + ReLU),
    spans all of the frequency axis and leaves a `(1, T', 4096)` map (T' = 8 for 300
    frames). apool6 averages it over time, so any utterance length works; fc7 (Dense
    `embedding_dim` + BN + ReLU) is the speaker embedding; fc8 the classifier.

    The padding and the BatchNorm layers are those of the official MatConvNet models
    (`vggvox_ver_net.mat` places BN after conv1-5, fc6 and fc7: apool6 is its 22nd
    layer; the released identification net has BN merged into the convolutions, its
    apool6 is layer 16 and pools 8 columns for 300 frames, as here; ports of it
    report 1,300 fc8 outputs against the paper's 1,251 identities). BN epsilon 1e-5 as in
    MatConvNet. Minimum input: 481 x 65 (what the strides and the 9-row fc6
    need); inputs taller than 512 rows leave fc6 more than one row, which apool6 also
    averages.

    Parameter check: with the paper's identification setup, `(512, 300, 1)` input and
    1,251 classes, the model has 17,911,267 trainable parameters: conv1-5 2,979,648,
    fc6 9,441,280, fc7 4,195,328, fc8 1,282,275 and 12,736 BatchNorm scales/offsets;
    with the 12,736 BatchNorm moving statistics 17,924,003 in all (71.7 MB float32), the
    registered count. The paper gives the layer table, not a total. The verification
    network is the same trunk with a 1024-unit fc8 embedding instead of 1,251 classes
    (`classes=1024`: 17,691,328 parameters, the size of malaya-speech's `vggvox-v1`
    speaker-vector model; docs/references.md relates the two tables).

    `include_top=False` returns the fc7 embedding, `(batch, embedding_dim)`, already
    pooled over time, so `pooling` has nothing left to pool and is ignored.

    Args:
        include_top: the fc8 classifier; False returns the fc7 embedding.
        weights: None or a `.weights.h5` path.
        input_shape: feature shape `(frequency, time, 1)`, default `(512, None, 1)` (any
            length), or raw audio `(samples,)` with a `frontend`.
        classes: number of speakers (1,251 in VoxCeleb1).
        pooling: accepted for API uniformity; the embedding is already pooled.
        classifier_activation: `"softmax"`, `"sigmoid"` or None (logits).
        frontend: None, `"default"` (16 kHz audio in; see `default_frontend_v1`) or
            layers producing `(frequency, time[, 1])`.
        embedding_dim: fc7 width; 1024 in the paper and in both official models
            (their fc7 vectors are the verification embedding).
        normalize_embedding: L2-normalise the fc7 embedding (the verification model's
            `norm` layer); with `include_top` the classifier sees the normalised vector.
        name: model name.

    Returns:
        A `keras.Model` named `name`: `(batch, classes)` scores with `include_top`, else
        the `(batch, embedding_dim)` fc7 embedding.

    Example:
    ```python
    model = kerasaudio.create_model("vggvox_v1", input_shape=(512, 300, 1), classes=1251)
    embedder = kerasaudio.create_model("vggvox_v1", include_top=False, frontend="default")
    embedder(np.zeros((1, 48000), "float32")).shape  # (1, 1024)
    ```

    Reference:
        Nagrani, Chung, Zisserman, "VoxCeleb: a large-scale speaker identification
        dataset", Interspeech 2017; Chatfield et al., "Return of the devil in the
        details" (VGG-M), BMVC 2014.
    """
    check_arguments(name, include_top=include_top, weights=weights, classes=classes,
                    pooling=pooling, classifier_activation=classifier_activation)
    embedding_dim = _check_positive_int(name, "embedding_dim", embedding_dim)
    inputs, x = build_input(name, input_shape=input_shape, frontend=frontend,
                            default_input_shape=(512, None, 1),
                            default_frontend=default_frontend_v1, feature_rank=3)
    check_min_size(name, x, (min_input_size(_V1_FREQUENCY), min_input_size(_V1_TIME)),
                   "VGG-M (three stride-2 stages, mpool5 and the 9-row fc6)")

    def conv_bn_relu(x, filters, kernel, strides, index, prefix="conv", pad=0):
        if pad:
            x = keras.layers.ZeroPadding2D(pad, name=f"pad{index}")(x)
        x = keras.layers.Conv2D(filters, kernel, strides=strides, name=f"{prefix}{index}")(x)
        x = keras.layers.BatchNormalization(epsilon=1e-5, name=f"bn{index}")(x)
        return keras.layers.ReLU(name=f"relu{index}")(x)

    x = conv_bn_relu(x, 96, 7, 2, 1, pad=1)
    x = keras.layers.MaxPooling2D(3, strides=2, name="mpool1")(x)
    x = conv_bn_relu(x, 256, 5, 2, 2, pad=1)
    x = keras.layers.MaxPooling2D(3, strides=2, name="mpool2")(x)
    x = conv_bn_relu(x, 384, 3, 1, 3, pad=1)
    x = conv_bn_relu(x, 256, 3, 1, 4, pad=1)
    x = conv_bn_relu(x, 256, 3, 1, 5, pad=1)
    x = keras.layers.MaxPooling2D((5, 3), strides=(3, 2), name="mpool5")(x)
    x = conv_bn_relu(x, 4096, (9, 1), 1, 6, prefix="fc")
    x = keras.layers.GlobalAveragePooling2D(name="apool6")(x)
    x = keras.layers.Dense(embedding_dim, name="fc7")(x)
    x = keras.layers.BatchNormalization(epsilon=1e-5, name="bn7")(x)
    x = keras.layers.ReLU(name="relu7")(x)
    if normalize_embedding:
        x = keras.layers.UnitNormalization(name="norm")(x)
    if include_top:
        x = classifier(x, classes, classifier_activation)
    # The default front end is defined for 16 kHz audio (25/30 ms windows, 10 ms hop).
    return finish(inputs, x, name, weights,
                  info={"sample_rate": 16000} if frontend == "default" else None)


# ----------------------------------------------------------------------------- VGGVox v2


def default_frontend_v2() -> list:
    """16 kHz audio -> `(257, frames)` magnitude spectrogram, each frame standardised.

    The authors' `utils.load_data`: `librosa.stft(n_fft=512, win_length=400,
    hop_length=160)` (Hann window, centred frames, reflect padding: librosa's defaults
    when the code was written), magnitude, then each time frame standardised over its
    257 frequency bins (their `np.mean(spec, 0)` on the `(freq, time)` array), then
    frequency first: 2.5 s of audio gives `(257, 251)`.

    Returns:
        `[STFT, Standardize, Permute]`: `(batch, samples)` 16 kHz audio in,
        `(batch, 257, frames)` out.

    Example:
    ```python
    model = kerasaudio.create_model("vggvox_v2", frontend="default", include_top=False,
                                    input_shape=(40000,))
    ```
    """
    return [STFT(n_fft=512, win_length=400, hop_length=160, window="hann",
                 pad_mode="reflect", mode="magnitude"),
            Standardize(axis=2),
            keras.layers.Permute((2, 1))]


def _bottleneck(x, filters, stage: int, block: str, strides, project: bool):
    """Thin-ResNet block: 1x1 reduce, 3x3, 1x1 increase (BN each, no biases) + shortcut."""
    f1, f2, f3 = filters
    base = f"conv{stage}_{block}"
    conv = dict(use_bias=False)
    y = keras.layers.Conv2D(f1, 1, strides=strides, name=f"{base}_1x1_reduce", **conv)(x)
    y = keras.layers.BatchNormalization(name=f"{base}_1x1_reduce_bn")(y)
    y = keras.layers.ReLU(name=f"{base}_1x1_reduce_relu")(y)
    y = keras.layers.Conv2D(f2, 3, padding="same", name=f"{base}_3x3", **conv)(y)
    y = keras.layers.BatchNormalization(name=f"{base}_3x3_bn")(y)
    y = keras.layers.ReLU(name=f"{base}_3x3_relu")(y)
    y = keras.layers.Conv2D(f3, 1, name=f"{base}_1x1_increase", **conv)(y)
    y = keras.layers.BatchNormalization(name=f"{base}_1x1_increase_bn")(y)
    if project:
        x = keras.layers.Conv2D(f3, 1, strides=strides, name=f"{base}_1x1_proj", **conv)(x)
        x = keras.layers.BatchNormalization(name=f"{base}_1x1_proj_bn")(x)
    y = keras.layers.Add(name=f"{base}_add")([y, x])
    return keras.layers.ReLU(name=f"{base}_relu")(y)


@register_model(
    task="speaker identification / embedding (VoxCeleb2, 5,994 speakers)",
    input="magnitude spectrogram (257, 250, 1): 2.5 s at 16 kHz, frequency x time",
    paper="Xie, Nagrani, Chung, Zisserman, 'Utterance-level aggregation for speaker "
          "recognition in the wild', ICASSP 2019",
    parameters=10_747_338,
    defaults={"input_shape": (257, 250, 1), "classes": 5994},
)
def vggvox_v2(*, include_top: bool = True, weights=None, input_shape=None,
              classes: int = 5994, pooling: str | None = None,
              classifier_activation="softmax", frontend=None,
              vlad_clusters: int = 8, ghost_clusters: int = 2, bottleneck_dim: int = 512,
              embedding_dim: int = 512, normalize_embedding: bool = False,
              stage_filters: Sequence[Sequence[int]] = THIN_RESNET34_FILTERS,
              stage_blocks: Sequence[int] = THIN_RESNET34_BLOCKS,
              name: str = "vggvox_v2") -> keras.Model:
    """VGGVox v2: thin ResNet-34 trunk, GhostVLAD aggregation, 512-d speaker embedding.

    Input `(frequency, time, 1)`: 257 x T magnitude spectrogram bins (each frame
    standardised). The authors' "resnet34s": Conv2D 64 7x7 (same) + BN + ReLU + 2x2
    max-pool, then bottleneck blocks (1x1, 3x3, 1x1 convolutions without biases, BN
    after each, projection shortcut on the first block of a stage) with filters
    [48, 48, 96] x2, [96, 96, 128] x3, [128, 128, 256] x3, [256, 256, 512] x3; the first
    block of stages 3-5 strides 2x2 (in its first 1x1 conv and the shortcut); a final
    (3, 1)/(2, 1) max-pool leaves 7 frequency rows from 257 (128, 64, 32, 16, 7). Then
    a 7x1 convolution to `bottleneck_dim` (ReLU) gives the local descriptors and a 7x1
    convolution to `vlad_clusters + ghost_clusters` their cluster scores; `VLADPooling`
    aggregates them (8 clusters + 2 ghosts: 8 x 512 = 4096 values), Dense
    `embedding_dim` + ReLU ("fc6") is the speaker embedding, and a bias-free Dense the
    classifier ("prediction" in the authors' code). Minimum input: 226 x 2.

    Training details that are not architecture are left to the user: the authors
    initialise every kernel orthogonally and add L2 weight decay 1e-4; here kernels use
    the Keras defaults (an orthogonal initializer runs a QR decomposition per kernel
    shape at build time, which makes building this model slow on the JAX backend), the
    VLAD centres are orthogonal.

    The VLAD output is intra-normalised and then L2-normalised (NetVLAD). The authors'
    Keras layer skips the final L2 step, which (unless a cluster residual is exactly
    zero) only divides by sqrt(8): to load their weights, scale the fc6 kernel by
    sqrt(vlad_clusters).

    Parameter check: with `(257, 250, 1)` input and the 5,994 VoxCeleb2 speakers (the
    authors' softmax model) the model has 10,733,322 trainable parameters: trunk
    1,690,240 (BN scales/offsets included), 7x1 conv to 512 1,835,520, 7x1 conv to 10
    cluster scores 35,850, centres 5,120 (ghost centres included), fc6 2,097,664 and the
    classifier 3,068,928 (5,994 x 512, no bias); with the 14,016 BatchNorm moving
    statistics 10,747,338 in all (43.0 MB float32), the registered count. With the
    3-class head of malaya-speech's gender model (male / female / not a gender,
    docs/references.md [S0]; `classes=3`) it has 7,679,946 parameters; docs/references.md
    relates both counts to malaya-speech's model table.

    `include_top=False` returns the fc6 embedding, `(batch, embedding_dim)`; it is
    pooled already, so `pooling` is ignored. The authors L2-normalise it for
    verification (`normalize_embedding=True`).

    Args:
        include_top: the classifier; False returns the fc6 embedding.
        weights: None or a `.weights.h5` path.
        input_shape: feature shape `(frequency, time, 1)`, default `(257, None, 1)` (any
            length), or raw audio `(samples,)` with a `frontend`.
        classes: number of speakers (5,994 in VoxCeleb2).
        pooling: accepted for API uniformity; the embedding is already pooled.
        classifier_activation: `"softmax"`, `"sigmoid"` or None (logits).
        frontend: None, `"default"` (16 kHz audio in; see `default_frontend_v2`) or
            layers producing `(frequency, time[, 1])`.
        vlad_clusters: VLAD clusters kept (8).
        ghost_clusters: ghost clusters (2; 0 gives NetVLAD).
        bottleneck_dim: width of the local descriptors (the 7x1 "x_fc" conv), 512.
        embedding_dim: width of the fc6 embedding, 512.
        normalize_embedding: L2-normalise the embedding (the authors' eval mode); with
            `include_top` the classifier sees the normalised vector.
        stage_filters: (reduce, 3x3, increase) filters of each residual stage.
        stage_blocks: blocks per stage; every stage after the first halves both axes.
        name: model name.

    Returns:
        A `keras.Model` named `name`: `(batch, classes)` scores with `include_top`, else
        the `(batch, embedding_dim)` fc6 embedding.

    Example:
    ```python
    model = kerasaudio.create_model("vggvox_v2", input_shape=(257, 250, 1), classes=5994)
    embedder = kerasaudio.create_model("vggvox_v2", include_top=False, frontend="default",
                                       normalize_embedding=True)
    embedder(np.zeros((1, 40000), "float32")).shape  # (1, 512)
    ```

    Reference:
        Xie, Nagrani, Chung, Zisserman, "Utterance-level aggregation for speaker
        recognition in the wild", ICASSP 2019 (code: WeidiXie/VGG-Speaker-Recognition);
        Zhong, Arandjelović, Zisserman, "GhostVLAD for set-based face recognition",
        ACCV 2018.
    """
    check_arguments(name, include_top=include_top, weights=weights, classes=classes,
                    pooling=pooling, classifier_activation=classifier_activation)
    for option, value in (("vlad_clusters", vlad_clusters),
                          ("bottleneck_dim", bottleneck_dim),
                          ("embedding_dim", embedding_dim)):
        _check_positive_int(name, option, value)
    if isinstance(ghost_clusters, bool) or not isinstance(ghost_clusters, int) \
            or ghost_clusters < 0:
        raise InvalidOptionError(
            f"{name}: ghost_clusters={ghost_clusters!r} must be an integer >= 0.")
    stage_filters = [tuple(f) for f in stage_filters]
    stage_blocks = list(stage_blocks)
    if (not stage_blocks or len(stage_filters) != len(stage_blocks)
            or any(len(f) != 3 for f in stage_filters)
            or any(isinstance(b, bool) or not isinstance(b, int) or b < 1
                   for b in stage_blocks)):
        raise InvalidOptionError(
            f"{name}: stage_filters={stage_filters} and stage_blocks={stage_blocks} must "
            "give one (reduce, 3x3, increase) triple and a block count >= 1 per stage."
        )
    inputs, x = build_input(name, input_shape=input_shape, frontend=frontend,
                            default_input_shape=(257, None, 1),
                            default_frontend=default_frontend_v2, feature_rank=3)
    strided = len(stage_blocks) - 1
    frequency = [(2, 2, 0)] + [(1, 2, 0)] * strided + [(3, 2, 0), (7, 1, 0)]
    time = [(2, 2, 0)] + [(1, 2, 0)] * strided
    check_min_size(name, x, (min_input_size(frequency), min_input_size(time)),
                   f"the thin ResNet (2x2 max-pool, {strided} stride-2 stages, (3, 1) "
                   "max-pool, 7x1 convolutions)")

    x = keras.layers.Conv2D(64, 7, padding="same", use_bias=False, name="conv1_1_3x3_s1")(x)
    x = keras.layers.BatchNormalization(name="conv1_1_3x3_s1_bn")(x)
    x = keras.layers.ReLU(name="conv1_1_3x3_s1_relu")(x)
    x = keras.layers.MaxPooling2D(2, name="mpool1")(x)
    for index, (filters, blocks) in enumerate(zip(stage_filters, stage_blocks, strict=True)):
        stage = index + 2
        strides = 1 if index == 0 else 2
        for b in range(blocks):
            x = _bottleneck(x, filters, stage, chr(ord("a") + b),
                            strides if b == 0 else 1, project=b == 0)
    x = keras.layers.MaxPooling2D((3, 1), strides=(2, 1), name="mpool2")(x)

    descriptors = keras.layers.Conv2D(bottleneck_dim, (7, 1), activation="relu",
                                      name="x_fc")(x)
    prefix = "gvlad" if ghost_clusters else "vlad"
    scores = keras.layers.Conv2D(vlad_clusters + ghost_clusters, (7, 1),
                                 name=f"{prefix}_center_assignment")(x)
    x = VLADPooling(clusters=vlad_clusters, ghost_clusters=ghost_clusters,
                    name=f"{prefix}_pool")([descriptors, scores])
    x = keras.layers.Dense(embedding_dim, activation="relu", name="fc6")(x)
    if normalize_embedding:
        x = keras.layers.UnitNormalization(name="norm")(x)
    if include_top:
        x = keras.layers.Dense(classes, activation=classifier_activation, use_bias=False,
                               name="predictions")(x)
    # The default front end is defined for 16 kHz audio (25/30 ms windows, 10 ms hop).
    return finish(inputs, x, name, weights,
                  info={"sample_rate": 16000} if frontend == "default" else None)
