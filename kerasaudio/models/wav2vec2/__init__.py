"""wav2vec 2.0 in Keras, loadable from Hugging Face checkpoint directories (offline).

`Wav2Vec2` is the network of `transformers.Wav2Vec2Model` (convolutional feature encoder,
feature projection, convolutional positional embedding, transformer encoder), written
with `keras.ops` (TensorFlow and JAX), with an optional utterance-level head (mean
pooling, dropout, dense + tanh, dropout, output layer: the head of fine-tuned wav2vec 2.0
utterance classifiers and regressors, docs/references.md [S3]).
`Wav2Vec2.from_huggingface(directory)` reads `config.json` and `model.safetensors` (or
`pytorch_model.bin` through `torch.load(weights_only=True)`); nothing is downloaded and
nothing is unpickled.

The package keeps its jobs apart:

- `config`: the architecture options (`ARCHITECTURE`), the registered sizes (`CONFIGS`),
  their checks, and frame arithmetic (`frame_lengths`, `receptive_field`);
- `encoder`: the network as one layer, `Wav2Vec2Encoder`;
- `model`: the `Wav2Vec2` model and the registered builders;
- `convert`: the Hugging Face checkpoint reader (`read_huggingface_config`,
  `read_huggingface_weights`, `load_huggingface_weights`), apart from the layers.

Registered configurations (`create_model(name)`; `weights=` a `.weights.h5` file or a
Hugging Face directory):

| name | feature encoder | transformer | parameters |
| --- | --- | --- | --- |
| `wav2vec2_base` | group norm, no conv bias | 12 x 768, post-norm | 94.4 M |
| `wav2vec2_large` | group norm, no conv bias | 24 x 1024, post-norm | 315.4 M |
| `wav2vec2_large_lv60` | layer norm, conv bias | 24 x 1024, pre-norm | 315.5 M |

Padded batches: pass a padding mask (`padding_mask=True` adds the model input
`"padding_mask"`, `(batch, samples)`, 1 for audio and 0 for padding). Frames whose
receptive field reaches into the padding are masked in attention and pooling, and the
group norm of the base/large feature encoder takes its statistics over the unpadded
frames only, so an utterance's hidden states do not depend on what it was batched with.
(transformers' group-norm models include the padding in those statistics, which is why
their processors send no attention mask for them; here the padded result equals the
unpadded one.)

Example:
```python
from kerasaudio.models import Wav2Vec2
model = kerasaudio.create_model("wav2vec2_base", pooling="avg")   # random weights
model = Wav2Vec2.from_huggingface("wav2vec2-base/", pooling="avg")  # a checkpoint
```

Reference:
    Baevski, Zhou, Mohamed, Auli, "wav2vec 2.0: A Framework for Self-Supervised Learning
    of Speech Representations", NeurIPS 2020.
"""

from kerasaudio.models.wav2vec2.config import (
    ARCHITECTURE,
    CONFIGS,
    SAMPLE_RATE,
    frame_lengths,
    receptive_field,
)
from kerasaudio.models.wav2vec2.convert import (
    load_huggingface_weights,
    read_huggingface_config,
    read_huggingface_weights,
)
from kerasaudio.models.wav2vec2.encoder import Wav2Vec2Encoder
from kerasaudio.models.wav2vec2.model import (
    Wav2Vec2,
    wav2vec2_base,
    wav2vec2_large,
    wav2vec2_large_lv60,
)

__all__ = ["ARCHITECTURE", "CONFIGS", "SAMPLE_RATE", "Wav2Vec2", "Wav2Vec2Encoder",
           "frame_lengths", "load_huggingface_weights", "read_huggingface_config",
           "read_huggingface_weights", "receptive_field", "wav2vec2_base", "wav2vec2_large",
           "wav2vec2_large_lv60"]
