"""WavLM in Keras, loadable from Hugging Face checkpoint directories (offline).

`WavLM` is the network of `transformers.WavLMModel`: wav2vec 2.0's
(`kerasaudio.models.wav2vec2`'s encoder) with a gated relative position bias in every
attention layer (`WavLMEncoder`), every option, output and padding behaviour of
`Wav2Vec2` and, with `include_top=True`, the head of `WavLMForSequenceClassification`.
`convert.from_huggingface(directory)` turns a checkpoint (a fine-tuned classifier
included, with its label names) into a Keras model; nothing is downloaded or unpickled.

Registered configurations (`create_model(name)`; `weights=` a `.weights.h5` file or a
Hugging Face directory):

| name | feature encoder | transformer | parameters |
| --- | --- | --- | --- |
| `wavlm_base` (also base-plus) | group norm, no conv bias | 12 x 768, post-norm | 94.4 M |
| `wavlm_large` | layer norm, no conv bias | 24 x 1024, pre-norm | 315.5 M |

Example:
```python
small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
             intermediate_size=64, conv_dim=(32,) * 7, num_conv_pos_embedding_groups=2)
model = kerasaudio.create_model("wavlm_base", output_hidden_states=True, **small)
len(model(np.zeros((1, 16000), "float32")))  # 3: the input and two layers
```

Reference:
    Chen et al., "WavLM: Large-Scale Self-Supervised Pre-Training for Full Stack Speech
    Processing", IEEE JSTSP 2022.
"""

from kerasaudio.models.wavlm import convert
from kerasaudio.models.wavlm.config import ARCHITECTURE, CONFIGS
from kerasaudio.models.wavlm.encoder import WavLMEncoder, relative_position_buckets
from kerasaudio.models.wavlm.model import WavLM, wavlm_base, wavlm_large

__all__ = ["ARCHITECTURE", "CONFIGS", "WavLM", "WavLMEncoder", "convert",
           "relative_position_buckets", "wavlm_base", "wavlm_large"]
