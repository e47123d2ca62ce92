"""HuBERT in Keras: `Hubert`, its registered sizes, and its checkpoint converter.

HuBERT keeps wav2vec 2.0's network and drops the quantizer, so `Hubert` is
`kerasaudio.models.Wav2Vec2` with HuBERT's options (`feat_proj_layer_norm`), checkpoint
names (`hubert.*`) and, with `include_top=True`, the head of transformers'
`HubertForSequenceClassification` by default. `hubert_base` (facebook/hubert-base-ls960:
group-norm feature encoder, 12 post-norm layers of 768, 94.4 M parameters) and
`hubert_large` (facebook/hubert-large-ll60k: layer-norm encoder with conv biases, 24
pre-norm layers of 1024, 315.4 M) are registered; `convert.from_huggingface(directory)`
turns a checkpoint, a fine-tuned classifier with its label names included, into a Keras
model offline.

Example:
```python
from kerasaudio.models import Hubert
print(Hubert.family, Hubert.default_head)   # hubert sequence_classification
kerasaudio.models.get_model_info("hubert_base").parameters  # 94370944, as transformers
speech = kerasaudio.create_model("hubert_base", include_top=True, classes=4,
                                 num_hidden_layers=1)          # base width, one layer
```

Reference:
    Hsu et al., "HuBERT: Self-Supervised Speech Representation Learning by Masked
    Prediction of Hidden Units", IEEE/ACM TASLP 2021.
"""

from kerasaudio.models.hubert import convert
from kerasaudio.models.hubert.config import ARCHITECTURE, CONFIGS
from kerasaudio.models.hubert.model import Hubert, hubert_base, hubert_large

__all__ = ["ARCHITECTURE", "CONFIGS", "Hubert", "convert", "hubert_base", "hubert_large"]
