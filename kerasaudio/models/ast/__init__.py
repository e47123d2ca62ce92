"""The Audio Spectrogram Transformer (AST) in Keras, convertible from transformers.

- `config`: the architecture options (`ARCHITECTURE`) and patch arithmetic;
- `model`: `ASTEncoder` (the network of transformers' `ASTModel`), `AST` (the model,
  with `kerasaudio.layers.KaldiFbank` inside by default) and the registered builder `ast`;
- `convert`: transformers checkpoints in (`from_huggingface`: a directory or
  `hf://ORG/NAME`, read by `kerasaudio.weights.huggingface`; `convert_state_dict`: an
  in-memory state dict) and out (`save_huggingface`, `state_dict`). It imports `model`;
  `model` never imports it.

Example:
```python
from kerasaudio.models.ast import AST, from_huggingface, save_huggingface
save_huggingface(AST(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=48, max_length=100, classes=2,
                     class_names=["yes", "no"]), "tiny-ast")
model = from_huggingface("tiny-ast")   # or kerasaudio.create_model("hf://ORG/NAME")
model.audio_info.class_names           # ('yes', 'no'): its id2label
```

Reference:
    Gong, Chung, Glass, "AST: Audio Spectrogram Transformer", Interspeech 2021.
"""

from kerasaudio.models.ast.config import ARCHITECTURE, SAMPLE_RATE, patch_grid
from kerasaudio.models.ast.convert import (
    MODEL_TYPE,
    convert_state_dict,
    from_huggingface,
    load_huggingface_weights,
    read_config,
    save_huggingface,
    state_dict,
)
from kerasaudio.models.ast.model import AST, ASTEncoder, ast

__all__ = ["ARCHITECTURE", "AST", "MODEL_TYPE", "SAMPLE_RATE", "ASTEncoder", "ast",
           "convert_state_dict", "from_huggingface", "load_huggingface_weights", "patch_grid",
           "read_config", "save_huggingface", "state_dict"]
