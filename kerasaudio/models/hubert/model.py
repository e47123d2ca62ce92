"""`Hubert`: `Wav2Vec2` with HuBERT's encoder options and checkpoint names, and its
registered builders."""

from __future__ import annotations

import keras

from kerasaudio.models.hubert.config import ARCHITECTURE, CONFIGS, SIZES
from kerasaudio.models.wav2vec2.model import Wav2Vec2, register_sizes

__all__ = ["Hubert", "hubert_base", "hubert_large"]

_PAPER = ("Hsu, Bolte, Tsai, Lakhotia, Salakhutdinov, Mohamed, 'HuBERT: Self-Supervised "
          "Speech Representation Learning by Masked Prediction of Hidden Units', IEEE/ACM "
          "TASLP 2021")


@keras.saving.register_keras_serializable(package="kerasaudio")
class Hubert(Wav2Vec2):
    """HuBERT: raw 16 kHz audio to hidden states, pooled embeddings or classes.

    The network of transformers' `HubertModel`, which is wav2vec 2.0's without the
    quantizer: the same feature encoder, convolutional positional embedding and post-norm
    (base) or pre-norm "stable layer norm" (large) transformer, with the feature
    projection's layer norm optional (`feat_proj_layer_norm`). Every option, output and
    head of `Wav2Vec2` applies; `include_top=True` adds the sequence-classification head
    of `HubertForSequenceClassification` by default. Checkpoint tensors are named
    `hubert.*`; `Hubert.from_huggingface(directory)` reads a `model_type: "hubert"`
    checkpoint.

    Args:
        **kwargs: `Wav2Vec2` options; architecture options of `ARCHITECTURE`
            (`kerasaudio.models.hubert.ARCHITECTURE`, default `hubert_base`'s).

    Example:
    ```python
    from kerasaudio.models import Hubert
    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64, conv_dim=(32,) * 7, num_conv_pos_embedding_groups=2)
    classifier = Hubert(include_top=True, classes=2, class_names=["no", "yes"], **small)
    classifier(np.zeros((1, 16000), "float32")).shape  # (1, 2)
    ```

    Reference:
        Hsu et al., "HuBERT: Self-Supervised Speech Representation Learning by Masked
        Prediction of Hidden Units", IEEE/ACM TASLP 2021.
    """

    family = "hubert"
    architecture_defaults = ARCHITECTURE
    default_head = "sequence_classification"


hubert_base, hubert_large = register_sizes(Hubert, CONFIGS, paper=_PAPER,
                                          sizes=SIZES).values()
