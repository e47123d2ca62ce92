"""WavLM in Keras: `WavLM`, `WavLMEncoder`, its registered sizes, and its converter.

WavLM adds a gated relative position bias to wav2vec 2.0's attention (`WavLMEncoder`,
a `Wav2Vec2Encoder` subclass); `WavLM` is `kerasaudio.models.Wav2Vec2` with that encoder,
WavLM's checkpoint names (`wavlm.*`) and, by default with `include_top=True`, the head of
`WavLMForSequenceClassification`. Registered: `wavlm_base` (microsoft/wavlm-base and
wavlm-base-plus, one architecture: group-norm feature encoder, 12 post-norm layers of 768,
94.4 M parameters) and `wavlm_large` (microsoft/wavlm-large: layer-norm encoder without
conv biases, 24 pre-norm layers of 1024, 315.5 M). `convert.from_huggingface(directory)`
reads a checkpoint offline, keeping a classifier's `id2label`.

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
