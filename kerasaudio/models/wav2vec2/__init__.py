"""wav2vec 2.0 in Keras, loadable from Hugging Face checkpoint directories (offline).

`Wav2Vec2` is the network of `transformers.Wav2Vec2Model` (convolutional feature encoder,
feature projection, convolutional positional embedding, transformer encoder), written
with `keras.ops` (TensorFlow and JAX), with an optional classification head: transformers'
`Wav2Vec2ForSequenceClassification` layout (projector, mean over the valid frames,
classifier; optionally a weighted sum of every hidden state), or the utterance head of
fine-tuned wav2vec 2.0 classifiers and regressors (mean pooling, dropout, dense + tanh,
dropout, output layer, docs/references.md [S3]).
`convert.from_huggingface(directory)` (or `Wav2Vec2.from_huggingface`) reads
`config.json` and `model.safetensors` (or `pytorch_model.bin` through
`torch.load(weights_only=True)`); nothing is downloaded and nothing is unpickled. A
fine-tuned sequence classifier keeps its label names (`id2label`) in the model-info
record. HuBERT and WavLM (`kerasaudio.models.hubert`, `.wavlm`) are built on this
package.

The package keeps its jobs apart:

- `config`: the architecture options (`ARCHITECTURE`), the registered sizes (`CONFIGS`),
  their checks, and frame arithmetic (`frame_lengths`, `receptive_field`);
- `encoder`: the network as one layer, `Wav2Vec2Encoder`;
- `model`: the `Wav2Vec2` model and the registered builders;
- `convert`: the Hugging Face checkpoint reader and tensor mapping
  (`read_huggingface_config`, `read_huggingface_head`, `read_huggingface_weights`,
  `convert_state_dict`, `to_state_dict`, `load_huggingface_weights`,
  `from_huggingface`), apart from the layers.

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
small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
             intermediate_size=64, conv_dim=(32,) * 7, num_conv_pos_embedding_groups=2)
model = kerasaudio.create_model("wav2vec2_base", pooling="avg", **small)  # random weights
model(np.zeros((1, 16000), "float32")).shape  # (1, 32)
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
    convert_state_dict,
    from_huggingface,
    load_huggingface_weights,
    read_huggingface_config,
    read_huggingface_weights,
    to_state_dict,
)
from kerasaudio.models.wav2vec2.encoder import Wav2Vec2Encoder
from kerasaudio.models.wav2vec2.model import (
    HEADS,
    Wav2Vec2,
    WeightedLayerSum,
    wav2vec2_base,
    wav2vec2_large,
    wav2vec2_large_lv60,
)

__all__ = ["ARCHITECTURE", "CONFIGS", "HEADS", "SAMPLE_RATE", "Wav2Vec2", "Wav2Vec2Encoder",
           "WeightedLayerSum", "convert_state_dict", "frame_lengths", "from_huggingface",
           "load_huggingface_weights", "read_huggingface_config", "read_huggingface_weights",
           "receptive_field", "to_state_dict", "wav2vec2_base", "wav2vec2_large",
           "wav2vec2_large_lv60"]
