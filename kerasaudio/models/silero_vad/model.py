"""Silero VAD in Keras: the whole-recording model and the one-chunk streaming model.

Both are built from the same layers and weights:

- `ChunkFrames` cuts a recording into chunks (zero-padding the last one) and prefixes each
  with the last `context` samples of the chunk before (zeros for the first), which is what
  the reference's stateful `forward` sees chunk after chunk.
- `SileroEncoder` turns `context + chunk` samples into 128 features: reflect padding, the
  learned Fourier basis as a strided convolution, magnitude, four convolutions with ReLU.
- The decoder is an LSTM over the chunks (the reference's `LSTMCell` with its state carried
  across chunks; `kerasaudio.layers.LSTM`, builtin TFLite ops on every route), ReLU, a 1x1
  convolution (a `Dense` of one unit) and a sigmoid.

`silero_vad` gives `(batch, chunks)` speech probabilities for a whole recording;
`silero_vad_streaming` takes one chunk and the state vector and returns the probability and
the next state, for streaming TFLite files.
"""

from __future__ import annotations

import keras
from keras import ops

from kerasaudio.errors import InvalidOptionError
from kerasaudio.info import AudioInfo
from kerasaudio.layers import LSTM
from kerasaudio.models.audio_model import AudioModel
from kerasaudio.models.registry import register_model
from kerasaudio.models.silero_vad.config import UNITS, config_for
from kerasaudio.models.silero_vad.convert import load_silero_weights, read_weights

__all__ = ["ChunkFrames", "SileroEncoder", "SileroStreamStep", "silero_vad",
           "silero_vad_streaming"]

_PAPER = ("Silero Team, 'Silero VAD: pre-trained enterprise-grade Voice Activity Detector', "
          "GitHub snakers4/silero-vad, 2024 (model of the silero-vad 6.2.3 package, MIT)")
_STRIDES = (1, 2, 2, 1)
_FILTERS = (128, 64, 64, UNITS)


@keras.saving.register_keras_serializable(package="kerasaudio")
class ChunkFrames(keras.layers.Layer):
    """`(batch, samples)` -> `(batch, chunks, context + chunk)`: chunks with their context.

    The recording is zero-padded to a whole number of chunks; chunk `i` is prefixed with
    the last `context` samples of chunk `i - 1` (zeros for chunk 0).

    Args:
        chunk: samples per chunk.
        context: samples of the previous chunk to prefix.
        **kwargs: `keras.layers.Layer` arguments.

    Example:
    ```python
    frames = kerasaudio.models.silero_vad.ChunkFrames(chunk=4, context=2)
    frames(np.arange(1, 9, dtype="float32")[None])[0]
    # [[0, 0, 1, 2, 3, 4], [3, 4, 5, 6, 7, 8]]
    ```
    """

    def __init__(self, *, chunk: int, context: int, **kwargs):
        super().__init__(**kwargs)
        if int(chunk) < 1 or not 0 <= int(context) <= int(chunk):
            raise InvalidOptionError(
                f"ChunkFrames needs chunk >= 1 and 0 <= context <= chunk; got chunk={chunk}, "
                f"context={context}.")
        self.chunk, self.context = int(chunk), int(context)

    def call(self, audio):
        pad = (-ops.shape(audio)[1]) % self.chunk
        audio = ops.pad(audio, [[0, 0], [0, pad]])
        chunks = ops.reshape(audio, (ops.shape(audio)[0], -1, self.chunk))
        tails = chunks[:, :-1, self.chunk - self.context:]
        previous = ops.concatenate([ops.zeros_like(chunks[:, :1, :self.context]), tails], axis=1)
        return ops.concatenate([previous, chunks], axis=-1)

    def compute_output_shape(self, input_shape):
        steps = input_shape[1]
        chunks = None if steps is None else -(-steps // self.chunk)
        return (input_shape[0], chunks, self.context + self.chunk)

    def get_config(self):
        return {**super().get_config(), "chunk": self.chunk, "context": self.context}


@keras.saving.register_keras_serializable(package="kerasaudio")
class SileroEncoder(keras.layers.Layer):
    """`(..., context + chunk)` samples -> `(..., 128)` features of Silero VAD's encoder.

    The right end is reflect-padded by the network's `pad` samples; the Fourier basis
    (`n_fft` taps, `2 * (n_fft // 2 + 1)` real and imaginary outputs, stride `hop`) gives
    four frames whose magnitude passes four 3-tap convolutions (strides 1, 2, 2, 1, one
    sample of zero padding on each side, ReLU after each), leaving one frame of 128.

    Args:
        sample_rate: 16000 or 8000 (the network's geometry, `config.CONFIGS`).
        **kwargs: `keras.layers.Layer` arguments.

    Example:
    ```python
    encoder = kerasaudio.models.silero_vad.SileroEncoder(sample_rate=16000)
    encoder(np.zeros((2, 576), "float32")).shape  # (2, 128)
    ```
    """

    def __init__(self, *, sample_rate: int = 16000, **kwargs):
        super().__init__(**kwargs)
        self.config = config_for(sample_rate)
        self.sample_rate = self.config.sample_rate
        self.convs = [keras.layers.Conv1D(filters, 3, strides=stride, activation="relu",
                                          name=f"conv{i}")
                      for i, (filters, stride) in enumerate(zip(_FILTERS, _STRIDES,
                                                                strict=True))]

    def build(self, input_shape):
        cfg = self.config
        self.basis = self.add_weight(name="basis", shape=(cfg.n_fft, 1, 2 * cfg.bins),
                                     initializer="glorot_uniform", trainable=False)
        channels = cfg.bins
        frames = (cfg.context + cfg.chunk + cfg.pad - cfg.n_fft) // cfg.hop + 1
        for conv in self.convs:
            conv.build((None, frames + 2, channels))
            frames = (frames + 2 - 3) // conv.strides[0] + 1
            channels = conv.filters

    def call(self, samples):
        cfg = self.config
        length = cfg.context + cfg.chunk
        flat = ops.reshape(samples, (-1, length))
        mirrored = ops.flip(flat[:, length - cfg.pad - 1:length - 1], axis=1)
        padded = ops.concatenate([flat, mirrored], axis=1)[..., None]
        spectrum = ops.conv(padded, self.basis, strides=cfg.hop, padding="valid")
        x = ops.sqrt(spectrum[..., :cfg.bins] ** 2 + spectrum[..., cfg.bins:] ** 2)
        for conv in self.convs:
            x = conv(ops.pad(x, [[0, 0], [1, 1], [0, 0]]))
        features = x[:, 0, :]
        if len(samples.shape) == 2:
            return features
        return ops.reshape(features, (ops.shape(samples)[0], -1, UNITS))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], UNITS)

    def get_config(self):
        return {**super().get_config(), "sample_rate": self.sample_rate}


@keras.saving.register_keras_serializable(package="kerasaudio")
class SileroStreamStep(keras.layers.Layer):
    """One streaming step: `[chunk (batch, chunk), state (batch, state_size)]` ->
    `[probability (batch, 1), next state (batch, state_size)]`.

    The state vector is the LSTM's `h` (128), its `c` (128) and the last `context` samples
    of the previous chunk; all zeros starts a recording.

    Args:
        sample_rate: 16000 or 8000.
        **kwargs: `keras.layers.Layer` arguments.

    Example:
    ```python
    step = kerasaudio.models.silero_vad.SileroStreamStep(sample_rate=8000)
    probability, state = step([np.zeros((1, 256), "float32"), np.zeros((1, 288), "float32")])
    state.shape  # (1, 288)
    ```
    """

    def __init__(self, *, sample_rate: int = 16000, **kwargs):
        super().__init__(**kwargs)
        self.config = config_for(sample_rate)
        self.sample_rate = self.config.sample_rate
        self.encoder = SileroEncoder(sample_rate=self.sample_rate, name="encoder")
        self.cell = keras.layers.LSTMCell(UNITS, name="lstm_cell")
        self.classifier = keras.layers.Dense(1, activation="sigmoid", name="classifier")

    def build(self, input_shape):
        cfg = self.config
        self.encoder.build((None, cfg.context + cfg.chunk))
        self.cell.build((None, UNITS))
        self.classifier.build((None, UNITS))

    def call(self, inputs):
        chunk, state = inputs
        cfg = self.config
        samples = ops.concatenate([state[:, 2 * UNITS:], chunk], axis=1)
        h, (h, c) = self.cell(self.encoder(samples), [state[:, :UNITS], state[:, UNITS:2 * UNITS]])
        probability = self.classifier(ops.relu(h))
        return probability, ops.concatenate([h, c, samples[:, cfg.chunk:]], axis=1)

    def compute_output_shape(self, input_shape):
        batch = input_shape[0][0]
        return (batch, 1), (batch, self.config.state_size)

    def get_config(self):
        return {**super().get_config(), "sample_rate": self.sample_rate}


def _info(sample_rate: int, input_length=None) -> AudioInfo:
    return AudioInfo(task="voice activity detection (speech probability per chunk)",
                     class_names=("speech",), sample_rate=sample_rate,
                     input_length=input_length)


def _load_weights(model, weights, sample_rate: int) -> None:
    """The shipped weights into a model built for `sample_rate` (nothing for None)."""
    if weights is not None:
        load_silero_weights(model, read_weights(), sample_rate=sample_rate)


def _check_weights(weights) -> None:
    if weights is not None and weights != "silero":
        raise InvalidOptionError(
            f"silero_vad: weights={weights!r}; use 'silero' (the converted weights shipped "
            "with kerasaudio) or None (random).")


@register_model(
    task="voice activity detection (speech probability per 32 ms chunk)",
    input="raw 16 kHz (or 8 kHz) audio (samples,), any length",
    paper=_PAPER,
    parameters=309_121,
)
def silero_vad(*, weights: str | None = "silero", sample_rate: int = 16000,
               name: str = "silero_vad") -> AudioModel:
    """Silero VAD over a whole recording: `(batch, samples)` -> `(batch, chunks)`.

    Chunk `i` covers samples `[i * chunk, (i + 1) * chunk)` (512 at 16 kHz, 256 at 8 kHz);
    the last chunk is zero-padded. The probabilities equal those of the reference's
    stateful model fed the chunks one after another from a reset state.

    Args:
        weights: `"silero"` (the weights of the `silero-vad` 6.2.3 TorchScript model, shipped
            with kerasaudio under its MIT licence) or None (random initialisation).
        sample_rate: 16000 or 8000 (Silero's two networks).
        name: the model's name.

    Returns:
        A `kerasaudio.models.AudioModel` (task voice activity detection, class `speech`).

    Example:
    ```python
    vad = kerasaudio.create_model("silero_vad")
    probabilities = vad(np.zeros((1, 16000), "float32"))  # (1, 32): one per 32 ms
    ```

    Reference:
        Silero Team, Silero VAD (github.com/snakers4/silero-vad), package silero-vad 6.2.3.
    """
    _check_weights(weights)
    cfg = config_for(sample_rate)
    audio = keras.Input((None,), name="audio")
    frames = ChunkFrames(chunk=cfg.chunk, context=cfg.context, name="chunks")(audio)
    features = SileroEncoder(sample_rate=cfg.sample_rate, name="encoder")(frames)
    hidden = LSTM(UNITS, return_sequences=True, name="lstm")(features)
    hidden = keras.layers.ReLU(name="relu")(hidden)
    scores = keras.layers.Dense(1, activation="sigmoid", name="classifier")(hidden)
    scores = keras.layers.Reshape((-1,), name="probabilities")(scores)
    model = AudioModel(audio, scores, name=name, info=_info(cfg.sample_rate))
    _load_weights(model, weights, cfg.sample_rate)
    return model


@register_model(
    task="voice activity detection, one chunk per call (streaming)",
    input="one chunk of 512 samples at 16 kHz (256 at 8 kHz) and the state vector",
    paper=_PAPER,
    parameters=309_121,
)
def silero_vad_streaming(*, weights: str | None = "silero", sample_rate: int = 16000,
                         batch_size: int | None = None,
                         name: str = "silero_vad_streaming") -> AudioModel:
    """Silero VAD one chunk at a time: `[chunk, state]` -> `[probability, next state]`.

    Feeding a recording's chunks in order, starting from a zero state, gives the same
    probabilities as `silero_vad` on the whole recording. The state vector (`state_size`
    floats: 320 at 16 kHz, 288 at 8 kHz) holds the LSTM's `h` and `c` and the last
    `context` samples; an app keeps it between calls and zeroes it to start a new stream.

    Args:
        weights: `"silero"` or None (see `silero_vad`).
        sample_rate: 16000 or 8000.
        batch_size: a fixed batch size (1 for a TFLite streaming file), or None.
        name: the model's name.

    Returns:
        A two-input, two-output `kerasaudio.models.AudioModel`.

    Example:
    ```python
    step = kerasaudio.create_model("silero_vad_streaming", sample_rate=8000)
    state = np.zeros((1, 288), "float32")
    for chunk in np.zeros((4, 1, 256), "float32"):
        probability, state = step.predict_on_batch([chunk, state])  # NumPy in, NumPy out
    ```

    Reference:
        Silero Team, Silero VAD (github.com/snakers4/silero-vad), package silero-vad 6.2.3.
    """
    _check_weights(weights)
    cfg = config_for(sample_rate)
    chunk = keras.Input((cfg.chunk,), batch_size=batch_size, name="chunk")
    state = keras.Input((cfg.state_size,), batch_size=batch_size, name="state")
    probability, next_state = SileroStreamStep(sample_rate=cfg.sample_rate,
                                               name="step")([chunk, state])
    model = AudioModel([chunk, state], [probability, next_state], name=name,
                       info=_info(cfg.sample_rate, cfg.chunk))
    _load_weights(model, weights, cfg.sample_rate)
    return model
