"""HuBERT in Keras, loadable from Hugging Face checkpoint directories (offline).

`Hubert` is the network of `transformers.HubertModel` (wav2vec 2.0's: convolutional
feature encoder, feature projection, convolutional positional embedding, transformer
encoder; post-norm base, pre-norm large) built from `kerasaudio.models.wav2vec2`'s
encoder, with every option, output and padding behaviour of `Wav2Vec2` and, with
`include_top=True`, the head of `HubertForSequenceClassification`.
`convert.from_huggingface(directory)` turns a checkpoint (a fine-tuned classifier
included, with its label names) into a Keras model; nothing is downloaded or unpickled.

Registered configurations (`create_model(name)`; `weights=` a `.weights.h5` file or a
Hugging Face directory):

| name | feature encoder | transformer | parameters |
| --- | --- | --- | --- |
| `hubert_base` | group norm, no conv bias | 12 x 768, post-norm | 94.4 M |
| `hubert_large` | layer norm, conv bias | 24 x 1024, pre-norm | 315.4 M |

Example:
```python
small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
             intermediate_size=64, conv_dim=(32,) * 7, num_conv_pos_embedding_groups=2)
model = kerasaudio.create_model("hubert_base", pooling="avg", **small)   # random weights
model(np.zeros((1, 16000), "float32")).shape  # (1, 32)
```

Reference:
    Hsu et al., "HuBERT: Self-Supervised Speech Representation Learning by Masked
    Prediction of Hidden Units", IEEE/ACM TASLP 2021.
"""

from kerasaudio.models.hubert import convert
from kerasaudio.models.hubert.config import ARCHITECTURE, CONFIGS
from kerasaudio.models.hubert.model import Hubert, hubert_base, hubert_large

__all__ = ["ARCHITECTURE", "CONFIGS", "Hubert", "convert", "hubert_base", "hubert_large"]
