"""HuBERT architecture options: wav2vec 2.0's plus `feat_proj_layer_norm`, and the sizes."""

from __future__ import annotations

from kerasaudio.models.wav2vec2.config import ARCHITECTURE as WAV2VEC2_ARCHITECTURE

__all__ = ["ARCHITECTURE", "CONFIGS", "SIZES"]

#: Architecture options and their defaults (those of `facebook/hubert-base-ls960`):
#: wav2vec 2.0's, plus whether the feature projection starts with a layer norm.
ARCHITECTURE = {**WAV2VEC2_ARCHITECTURE, "feat_proj_layer_norm": True}
#: The registered configurations (`hubert_base`, `hubert_large`: facebook/hubert-base-ls960
#: and facebook/hubert-large-ll60k) as overrides of `ARCHITECTURE`.
CONFIGS = {
    "hubert_base": {},
    "hubert_large": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
                     "intermediate_size": 4096, "feat_extract_norm": "layer",
                     "conv_bias": True, "do_stable_layer_norm": True},
}
#: The registered sizes: name -> (parameters, as transformers counts `HubertModel`'s;
#: summary).
SIZES = {
    "hubert_base": (94_370_944, "HuBERT base (facebook/hubert-base-ls960): 12 post-norm "
                                "layers of 768, group-norm feature encoder."),
    "hubert_large": (315_437_696, "HuBERT large (facebook/hubert-large-ll60k): 24 pre-norm "
                                  "layers of 1024, layer-norm feature encoder with conv "
                                  "biases."),
}
