"""WavLM architecture options: wav2vec 2.0's plus the relative position buckets, and the
sizes."""

from __future__ import annotations

from kerasaudio.models.wav2vec2.config import ARCHITECTURE as WAV2VEC2_ARCHITECTURE

__all__ = ["ARCHITECTURE", "CONFIGS", "SIZES"]

#: Architecture options and their defaults (those of `microsoft/wavlm-base`): wav2vec
#: 2.0's, plus the buckets of the gated relative position bias.
ARCHITECTURE = {**WAV2VEC2_ARCHITECTURE, "num_buckets": 320, "max_bucket_distance": 800}
#: The registered configurations (`wavlm_base`, `wavlm_large`: microsoft/wavlm-base (and
#: wavlm-base-plus, the same architecture) and microsoft/wavlm-large) as overrides of
#: `ARCHITECTURE`.
CONFIGS = {
    "wavlm_base": {},
    "wavlm_large": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
                    "intermediate_size": 4096, "feat_extract_norm": "layer",
                    "do_stable_layer_norm": True},
}
#: Parameters of each registered size (transformers' `WavLMModel` counts the same) and
#: what it is.
SIZES = {
    "wavlm_base": (94_381_168, "WavLM base (microsoft/wavlm-base, wavlm-base-plus): 12 "
                               "post-norm layers of 768, group-norm feature encoder."),
    "wavlm_large": (315_452_096, "WavLM large (microsoft/wavlm-large): 24 pre-norm layers "
                                 "of 1024, layer-norm feature encoder."),
}
