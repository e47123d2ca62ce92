"""Utterance- and frame-level embeddings from any embedding model of the zoo.

`extract(model, audio)` takes one clip, a batch, or a list of clips of different lengths
and returns embeddings that do not depend on how the clips were batched:

- wav2vec 2.0 (`kerasaudio.models.wav2vec2.Wav2Vec2`): clips are zero-padded to a common
  length and a padding mask goes with them (attention, the group norm and the pooling
  skip the padding), so a clip's hidden states are those it has alone. Any layer's
  hidden states, mean- or max-pooled over the clip's own frames or frame by frame.
- Speaker models (`vggvox_v1`, `vggvox_v2`, `deep_speaker`, `ecapa_tdnn`, and their
  presets) built with a front end (raw audio in): their `include_top=False` embedding, or for a
  classifier the layer before `predictions` (Deep Speaker: the L2-normalised `affine`
  embedding). Their convolutions and spectrogram statistics would see padding, so
  clips are never padded: clips of equal length run together, others separately (a
  model with a fixed input length gets each clip centre-cropped or padded on its own,
  as in evaluation).

Audio at another rate is resampled to the model's (soxr, high quality) first: wav2vec
2.0 is only valid on 16 kHz audio.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Sequence

import keras
import numpy as np

from kerasaudio.errors import InvalidAudioError, InvalidOptionError
from kerasaudio.info import model_info

__all__ = ["extract", "model_sample_rate"]

POOLINGS = ("mean", "max", None)
#: Padded wav2vec 2.0 batches are rounded up to a multiple of this many samples, so a few
#: compiled shapes serve every batch (padding never changes a result).
PAD_MULTIPLE = 3200

_RUNNERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def model_sample_rate(model) -> int:
    """The sampling rate (Hz) `model` expects its audio at: its model-info record's.

    The record (`kerasaudio.info.model_info`) holds a preset's rate, 16000 for wav2vec
    2.0, and the rate a front end fixes (a `MelSpectrogram`'s; the speaker models'
    default 16 kHz front ends). An unknown rate is an error, never a guess.

    Args:
        model: a Keras model (a preset, a `Wav2Vec2`, or any `AudioModel`).

    Returns:
        The sampling rate in Hz.

    Raises:
        InvalidOptionError: the model's record has no sample rate.

    Example:
    ```python
    kerasaudio.embeddings.model_sample_rate(kerasaudio.create_model("wav2vec2_base"))  # 16000
    ```
    """
    rate = model_info(model).sample_rate
    if rate is None:
        raise InvalidOptionError(
            f"the sample rate of {getattr(model, 'name', 'the model')!r} is unknown (its "
            "model-info record has none). Set it with kerasaudio.models.with_info(model, "
            "sample_rate=...), or pass audio already at the model's rate with "
            "sample_rate=None.")
    return rate


def _clips(audio) -> tuple[list[np.ndarray], bool]:
    """(list of 1-D float32 clips, whether a single clip was given)."""
    if isinstance(audio, np.ndarray) or hasattr(audio, "shape"):
        array = np.asarray(audio)
        if array.ndim == 1:
            return [array.astype("float32")], True
        if array.ndim == 2:
            return [row.astype("float32") for row in array], False
        raise InvalidAudioError(f"audio of shape {array.shape}: pass (samples,), "
                                "(clips, samples) or a list of 1-D clips.")
    if not isinstance(audio, Sequence) or not audio:
        raise InvalidAudioError("audio must be an array or a non-empty list of 1-D clips.")
    clips = []
    for clip in audio:
        clip = np.asarray(clip)
        if clip.ndim != 1:
            raise InvalidAudioError(f"a clip of shape {clip.shape}: each clip must be 1-D.")
        clips.append(clip.astype("float32"))
    return clips, False


def _resample(clips, rate: int, target: int) -> list[np.ndarray]:
    if rate == target:
        return clips
    from kerasaudio.audio_io import resample

    return [resample(clip, sample_rate=rate,
                     target_sample_rate=target).astype("float32") for clip in clips]


def _pool(frames: np.ndarray, pooling: str | None):
    if pooling == "mean":
        return frames.mean(axis=0)
    if pooling == "max":
        return frames.max(axis=0)
    return frames


# ----------------------------------------------------------------------------- wav2vec 2.0


def _wav2vec2_runner(model):
    runner = _RUNNERS.get(model)
    if runner is None:
        audio = keras.Input((None,), name="audio")
        mask = keras.Input((None,), name="padding_mask")
        states, frame_mask = model.encoder(audio, mask)
        runner = keras.Model({"audio": audio, "padding_mask": mask}, [states, frame_mask],
                             name=f"{model.name}_embedding_runner")
        _RUNNERS[model] = runner
    return runner


def _wav2vec2(model: keras.Model, clips: list[np.ndarray], *, pooling: str | None,
              layer: int | str, batch_size: int) -> list[np.ndarray]:
    layers = model.encoder.config_["num_hidden_layers"] + 1
    if isinstance(layer, bool) or not isinstance(layer, int) or not -layers <= layer < layers:
        raise InvalidOptionError(
            f"layer={layer!r}: {model.name} has hidden states 0..{layers - 1} (0: the "
            f"transformer input, {layers - 1} or -1: the output).")
    least = model.encoder.minimum_samples
    short = [len(c) for c in clips if len(c) < least]
    if short:
        raise InvalidAudioError(f"a clip of {short[0]} samples: wav2vec 2.0 needs at least "
                                f"{least} samples (one frame).")
    runner = _wav2vec2_runner(model)
    order = np.argsort([len(c) for c in clips], kind="stable")  # similar lengths together
    results: list = [None] * len(clips)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        longest = max(len(clips[i]) for i in chunk)
        width = -(-longest // PAD_MULTIPLE) * PAD_MULTIPLE
        audio = np.zeros((len(chunk), width), "float32")
        mask = np.zeros((len(chunk), width), "float32")
        for row, i in enumerate(chunk):
            audio[row, :len(clips[i])] = clips[i]
            mask[row, :len(clips[i])] = 1.0
        states, frame_mask = runner.predict_on_batch({"audio": audio, "padding_mask": mask})
        hidden = np.asarray(states[layer])
        frames = np.asarray(frame_mask).sum(axis=1)
        for row, i in enumerate(chunk):
            results[i] = _pool(hidden[row, :frames[row]], pooling)
    return results


# ----------------------------------------------------------------------------- speaker models


def _embedding_network(model, layer):
    """The Keras model from raw audio to `model`'s utterance embedding."""
    names = {sub.name for sub in model.layers}
    if isinstance(layer, str):
        if layer not in names:
            raise InvalidOptionError(f"layer={layer!r}: {model.name} has no such layer.")
        return keras.Model(model.inputs, model.get_layer(layer).output)
    if layer != -1:
        raise InvalidOptionError(
            f"layer={layer!r}: for {model.name} use -1 (its embedding) or a layer name; "
            "numbered hidden states exist for wav2vec 2.0 only.")
    if "predictions" not in names:
        return model
    if "affine" in names:  # Deep Speaker: the reference embedding (L2-normalised affine)
        from kerasaudio.models.deep_speaker import embedding_model

        return embedding_model(model)
    return keras.Model(model.inputs, model.get_layer("predictions").input)


def _speaker(model: keras.Model, clips: list[np.ndarray], *, pooling: str | None,
             layer: int | str, batch_size: int) -> list[np.ndarray]:
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 2:
        raise InvalidOptionError(
            f"{model.name} takes features {tuple(model.inputs[0].shape[1:])}, not raw audio: "
            "build it with frontend='default' (or a front end) to extract embeddings.")
    network = _embedding_network(model, layer)
    if len(network.outputs[0].shape) != 2:
        raise InvalidOptionError(
            f"{network.outputs[0].name} of {model.name} is not an utterance embedding "
            f"(shape {tuple(network.outputs[0].shape)}).")
    if pooling != "mean":
        raise InvalidOptionError(
            f"pooling={pooling!r}: {model.name} aggregates over time inside the network "
            "(its embedding is already utterance-level); use pooling='mean' (the default).")
    length = model.inputs[0].shape[1]
    if length is not None:
        from kerasaudio.data import fix_length

        clips = [np.asarray(fix_length(c, length, mode="center")) for c in clips]
    groups = defaultdict(list)
    for i, clip in enumerate(clips):
        groups[len(clip)].append(i)
    results: list = [None] * len(clips)
    for indices in groups.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start:start + batch_size]
            out = network.predict_on_batch(np.stack([clips[i] for i in chunk]))
            for row, i in enumerate(chunk):
                results[i] = np.asarray(out[row])
    return results


# ----------------------------------------------------------------------------- the API


def extract(model, audio, *, pooling: str | None = "mean", layer: int | str = -1,
            sample_rate: int | None = None, batch_size: int = 16):
    """Embeddings of one clip or many (of any lengths) from a zoo model.

    Args:
        model: a `Wav2Vec2` (any head: its encoder is used), or a speaker model taking
            raw audio (`vggvox_v1`, `vggvox_v2`, `deep_speaker`, `ecapa_tdnn` built with
            a front end, or their pretrained presets), headless or a classifier.
        audio: a clip `(samples,)`, a batch `(clips, samples)`, or a list of 1-D clips
            of different lengths; float audio in [-1, 1].
        pooling: `"mean"` (utterance embedding: the mean over the clip's frames),
            `"max"`, or None (frame-level: one `(frames, dim)` array per clip).
            Speaker models pool inside the network (temporal average, GhostVLAD,
            attentive statistics):
            `"mean"` only, which returns their embedding.
        layer: wav2vec 2.0: which hidden state, `0..num_hidden_layers` (0 the
            transformer input, -1 the output, as `output_hidden_states`). Speaker
            models: -1 (the embedding) or a layer name.
        sample_rate: the audio's rate; resampled to the model's (`model_sample_rate`,
            an error when the model's record has none) when different. None: already at
            the model's rate.
        batch_size: clips per forward pass.

    Returns:
        Pooled: a float32 array `(clips, dim)`, or `(dim,)` for a single clip. Frame
        level: a list of `(frames, dim)` arrays, or one array for a single clip.

    Raises:
        InvalidOptionError: unsupported model, pooling or layer.
        InvalidAudioError: malformed audio, or a clip shorter than the model needs.

    Example:
    ```python
    # A (small, untrained) wav2vec 2.0; create_model("hf://facebook/wav2vec2-base") or
    # a checkpoint directory gives the pretrained one, used the same way.
    model = kerasaudio.create_model("wav2vec2_base", hidden_size=32, num_hidden_layers=2,
                                    num_attention_heads=2, intermediate_size=64,
                                    conv_dim=(32,) * 7, num_conv_pos_embedding_groups=2)
    clips = [np.random.randn(16000), np.random.randn(24000)]     # two lengths, 16 kHz
    emb = kerasaudio.embeddings.extract(model, clips)            # (2, 32)
    frames = kerasaudio.embeddings.extract(model, clips, pooling=None, layer=1)
    speaker = kerasaudio.create_model("vggvox_v2_fsdd_speakers", include_top=False)
    clips_8k = [np.random.randn(8000) * 0.1, np.random.randn(12000) * 0.1]
    kerasaudio.embeddings.extract(speaker, clips_8k, sample_rate=8000).shape
    ```
    """
    from kerasaudio.models.wav2vec2 import Wav2Vec2

    if pooling not in POOLINGS:
        raise InvalidOptionError(f"pooling={pooling!r}: use one of {list(POOLINGS)}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidOptionError(f"batch_size={batch_size!r} must be an integer >= 1.")
    if not isinstance(model, keras.Model):
        raise InvalidOptionError(f"model must be a Keras model; got {type(model).__name__}.")
    clips, single = _clips(audio)
    if any(not np.isfinite(c).all() for c in clips):
        raise InvalidAudioError("audio contains NaN or infinity.")
    if sample_rate is not None:
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | np.integer) \
                or sample_rate < 1:
            raise InvalidOptionError(f"sample_rate={sample_rate!r} must be a positive int.")
        clips = _resample(clips, int(sample_rate), model_sample_rate(model))
    if isinstance(model, Wav2Vec2):
        results = _wav2vec2(model, clips, pooling=pooling, layer=layer,
                            batch_size=batch_size)
    else:
        results = _speaker(model, clips, pooling=pooling, layer=layer,
                           batch_size=batch_size)
    results = [np.asarray(r, "float32") for r in results]
    if pooling is None:
        return results[0] if single else results
    return results[0] if single else np.stack(results)
