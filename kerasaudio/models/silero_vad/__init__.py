"""Silero VAD in Keras, with the weights of the `silero-vad` 6.2.3 package.

Registered families (`create_model(name)`; TF and JAX):

| name | input | output |
| --- | --- | --- |
| `silero_vad` | `(batch, samples)` at 16 or 8 kHz | `(batch, chunks)` speech probabilities |
| `silero_vad_streaming` | `[chunk, state]` | `[probability (batch, 1), next state]` |

A chunk is 512 samples at 16 kHz and 256 at 8 kHz (32 ms). The converted weights ship with
kerasaudio (`kerasaudio/pretrained/silero_vad/`, MIT licence, sha256-checked when read);
`weights=None` builds the same networks untrained. `kerasaudio.vad.split(audio, sr,
method="silero")` turns the probabilities into speech segments; `kerasaudio.export.
streaming_vad_tflite` writes the streaming model as a TFLite file and
`kerasaudio.runtime.StreamingVAD` runs it without TensorFlow.

The package keeps its jobs apart: `config` (the two networks' geometry), `model` (the
layers and builders), `convert` (reading the TorchScript file, the shipped `.npz`, and
setting the Keras weights).

Example:
```python
vad = kerasaudio.create_model("silero_vad", sample_rate=8000)
probabilities = vad(np.zeros((1, 8000), "float32"))[0]  # 32 chunks of 256 samples
```

Reference:
    Silero Team, Silero VAD (github.com/snakers4/silero-vad), package silero-vad 6.2.3, MIT.
"""

from kerasaudio.models.silero_vad.config import CONFIGS, UNITS, SileroConfig, config_for
from kerasaudio.models.silero_vad.convert import (
    WEIGHTS_SHA256,
    default_weights_path,
    load_silero_weights,
    read_torchscript,
    read_weights,
    tensor_shapes,
    write_weights,
)
from kerasaudio.models.silero_vad.model import (
    ChunkFrames,
    SileroEncoder,
    SileroStreamStep,
    silero_vad,
    silero_vad_streaming,
)

__all__ = ["CONFIGS", "UNITS", "WEIGHTS_SHA256", "ChunkFrames", "SileroConfig",
           "SileroEncoder", "SileroStreamStep", "config_for", "default_weights_path",
           "load_silero_weights", "read_torchscript", "read_weights", "silero_vad",
           "silero_vad_streaming", "tensor_shapes", "write_weights"]
