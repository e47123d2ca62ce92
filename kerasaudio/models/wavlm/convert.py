"""Hugging Face WavLM checkpoints to kerasaudio.

A WavLM checkpoint is a wav2vec 2.0 one with `model_type: "wavlm"`, the `wavlm.` prefix
and, in every attention layer, the gate of the relative position bias
(`gru_rel_pos_linear`, `gru_rel_pos_const`; the bias table `rel_attn_embed` in the first
layer). `kerasaudio.models.wav2vec2.convert` maps those too: its `convert_state_dict`
(re-exported here) converts an in-memory state dict for any `WavLM` model.

Reference:
    Wolf et al., "Transformers: State-of-the-Art Natural Language Processing", EMNLP
    2020 (system demonstrations): the checkpoint format and tensor names.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from kerasaudio.models.wav2vec2.convert import convert_state_dict
from kerasaudio.models.wavlm.model import WavLM

__all__ = ["convert_state_dict", "from_huggingface"]


def from_huggingface(directory: str | os.PathLike, *, config: Mapping | None = None,
                     **options) -> WavLM:
    """The Keras model of a Hugging Face WavLM checkpoint directory.

    `WavLM.from_huggingface(directory, config=config, **options)`, for `WavLMModel`,
    `WavLMForCTC` and `WavLMForSequenceClassification` checkpoints (the last becomes a
    classifier with its labels; see `Wav2Vec2.from_huggingface`).

    Args:
        directory: the checkpoint directory (a trailing slash is fine).
        config: the parsed `config.json` (`model_type: "wavlm"`) when the caller has
            read it already (it must be the directory's); None reads it.
        **options: `WavLM` options (`include_top`, `pooling`, `padding_mask`, ...).

    Returns:
        A `WavLM` (a `kerasaudio.models.AudioModel`).

    Example:
    ```python
    import json, os
    from safetensors.numpy import save_file
    from kerasaudio.models.wav2vec2.convert import to_state_dict
    from kerasaudio.models.wavlm.convert import from_huggingface
    config = {"model_type": "wavlm", "hidden_size": 32, "num_hidden_layers": 1,
              "num_attention_heads": 2, "intermediate_size": 64, "conv_dim": [32] * 7,
              "num_conv_pos_embedding_groups": 2}
    pretrained = kerasaudio.models.WavLM(**{k: v for k, v in config.items()
                                            if k != "model_type"})
    os.makedirs("wavlm-tiny")
    save_file(to_state_dict(pretrained), "wavlm-tiny/model.safetensors")
    embedder = from_huggingface("wavlm-tiny", config=config, pooling="avg")
    embedder(np.zeros((1, 16000), "float32")).shape  # (1, 32)
    ```
    """
    return WavLM.from_huggingface(directory, config=config, **options)
