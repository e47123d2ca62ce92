"""The Audio Spectrogram Transformer (AST) in Keras, convertible from transformers.

- `config`: the architecture options (`ARCHITECTURE`) and patch arithmetic;
- `model`: `ASTEncoder` (the network of transformers' `ASTModel`), `AST` (the model,
  with `kerasaudio.layers.KaldiFbank` inside by default) and the registered builder `ast`;
- `convert`: the transformers checkpoint reader (`config.json` + `model.safetensors`, or
  an in-memory state dict), apart from the layers.

Example:
```python
model = kerasaudio.create_model("ast")                           # AudioSet size, random
model = kerasaudio.models.ast.AST.from_huggingface("/models/ast-dir")  # a checkpoint
model.class_names[:3]                                           # its id2label
```

Reference:
    Gong, Chung, Glass, "AST: Audio Spectrogram Transformer", Interspeech 2021.
"""

from kerasaudio.models.ast.config import ARCHITECTURE, SAMPLE_RATE, patch_grid
from kerasaudio.models.ast.convert import (
    convert_state_dict,
    load_huggingface_weights,
    read_config,
    read_weights,
)
from kerasaudio.models.ast.model import AST, ASTEncoder, ast

__all__ = ["ARCHITECTURE", "AST", "SAMPLE_RATE", "ASTEncoder", "ast", "convert_state_dict",
           "load_huggingface_weights", "patch_grid", "read_config", "read_weights"]
