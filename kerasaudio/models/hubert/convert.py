"""Hugging Face HuBERT checkpoints to kerasaudio.

A HuBERT checkpoint is a wav2vec 2.0 one with `model_type: "hubert"` and the `hubert.`
prefix (and, for `HubertForSequenceClassification`, the same head), so reading and
mapping the tensors is `kerasaudio.models.wav2vec2.convert`'s work: its
`convert_state_dict` (re-exported here) converts an in-memory state dict for any
`Hubert` model.

Reference:
    Wolf et al., "Transformers: State-of-the-Art Natural Language Processing", EMNLP
    2020 (system demonstrations): the checkpoint format and tensor names.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from kerasaudio.models.hubert.model import Hubert
from kerasaudio.models.wav2vec2.convert import convert_state_dict

__all__ = ["convert_state_dict", "from_huggingface"]


def from_huggingface(directory: str | os.PathLike, *, config: Mapping | None = None,
                     **options) -> Hubert:
    """The Keras model of a Hugging Face HuBERT checkpoint directory.

    `Hubert.from_huggingface(directory, config=config, **options)`: `config.json`
    (`model_type: "hubert"`) and `model.safetensors` (or `pytorch_model.bin`, tensors
    only); a `HubertForSequenceClassification` checkpoint becomes a classifier (logits)
    with `id2label` as the class names of its model-info record.

    Args:
        directory: the checkpoint directory (a trailing slash is fine).
        config: the parsed `config.json` when the caller has read it already (it must be
            the directory's); None reads it.
        **options: `Hubert` options (`include_top`, `pooling`, `padding_mask`, ...).

    Returns:
        A `Hubert` (a `kerasaudio.models.AudioModel`).

    Example:
    ```python
    import json, os
    from safetensors.numpy import save_file
    from kerasaudio.models.hubert.convert import from_huggingface
    from kerasaudio.models.wav2vec2.convert import to_state_dict
    size = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=64, conv_dim=[32] * 7, num_conv_pos_embedding_groups=2)
    trained = kerasaudio.create_model("hubert_base", include_top=True, **size)  # 2 classes
    os.makedirs("hubert-tiny")
    save_file(to_state_dict(trained), "hubert-tiny/model.safetensors")
    json.dump({"model_type": "hubert", "architectures": ["HubertForSequenceClassification"],
               "id2label": {"0": "no", "1": "yes"}, **size},
              open("hubert-tiny/config.json", "w"))
    model = from_huggingface("hubert-tiny/")
    model.audio_info.class_names  # ('no', 'yes')
    ```
    """
    return Hubert.from_huggingface(directory, config=config, **options)
