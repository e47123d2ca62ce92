"""`WavLM`: `Wav2Vec2` with WavLM's encoder (gated relative position bias) and checkpoint
names, and its registered builders."""

from __future__ import annotations

import keras

from kerasaudio.models.wav2vec2.model import Wav2Vec2, register_sizes
from kerasaudio.models.wavlm.config import ARCHITECTURE, CONFIGS, SIZES
from kerasaudio.models.wavlm.encoder import WavLMEncoder

__all__ = ["WavLM", "wavlm_base", "wavlm_large"]

_PAPER = ("Chen et al., 'WavLM: Large-Scale Self-Supervised Pre-Training for Full Stack "
          "Speech Processing', IEEE JSTSP 2022")


@keras.saving.register_keras_serializable(package="kerasaudio")
class WavLM(Wav2Vec2):
    """WavLM: raw 16 kHz audio to hidden states, pooled embeddings or classes.

    The network of transformers' `WavLMModel`: wav2vec 2.0's, with a gated relative
    position bias added to every layer's attention scores (`WavLMEncoder`). Every option,
    output and head of `Wav2Vec2` applies; `include_top=True` adds the
    sequence-classification head of `WavLMForSequenceClassification` by default.
    Checkpoint tensors are named `wavlm.*`; `WavLM.from_huggingface(directory)` reads a
    `model_type: "wavlm"` checkpoint.

    Args:
        **kwargs: `Wav2Vec2` options; architecture options of `ARCHITECTURE`
            (`kerasaudio.models.wavlm.ARCHITECTURE`: wav2vec 2.0's plus `num_buckets`,
            `max_bucket_distance`; default `wavlm_base`'s).

    Example:
    ```python
    from kerasaudio.models import WavLM
    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64, conv_dim=(32,) * 7, num_conv_pos_embedding_groups=2)
    embedder = WavLM(pooling="avg", **small)
    embedder(np.zeros((1, 16000), "float32")).shape  # (1, 32)
    ```

    Reference:
        Chen et al., "WavLM: Large-Scale Self-Supervised Pre-Training for Full Stack
        Speech Processing", IEEE JSTSP 2022.
    """

    family = "wavlm"
    encoder_class = WavLMEncoder
    architecture_defaults = ARCHITECTURE
    default_head = "sequence_classification"


wavlm_base, wavlm_large = register_sizes(WavLM, CONFIGS, paper=_PAPER,
                                          sizes=SIZES).values()
