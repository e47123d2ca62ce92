"""AST's architecture options (transformers' `ASTConfig` names) and patch arithmetic."""

from __future__ import annotations

__all__ = ["ARCHITECTURE", "SAMPLE_RATE", "patch_grid"]

#: The architecture options of transformers' `ASTConfig`, at its defaults (the AudioSet
#: checkpoints' size). Dropout rates are kept for training; inference ignores them.
ARCHITECTURE = {
    "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
    "intermediate_size": 3072, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0, "layer_norm_eps": 1e-12, "qkv_bias": True,
    "patch_size": 16, "frequency_stride": 10, "time_stride": 10, "max_length": 1024,
    "num_mel_bins": 128,
}
#: The sampling rate of AST's filter bank and of every AST checkpoint.
SAMPLE_RATE = 16000


def patch_grid(*, patch_size: int, frequency_stride: int, time_stride: int, max_length: int,
               num_mel_bins: int) -> tuple[int, int]:
    """`(frequency patches, time patches)` of a `(max_length, num_mel_bins)` input.

    Example:
    ```python
    from kerasaudio.models.ast import patch_grid
    patch_grid(patch_size=16, frequency_stride=10, time_stride=10, max_length=1024,
               num_mel_bins=128)  # (12, 101): 1,212 patches
    ```
    """
    return ((num_mel_bins - patch_size) // frequency_stride + 1,
            (max_length - patch_size) // time_stride + 1)
