"""Model builders, one file per family, registered by name.

```python
kerasaudio.list_models()             # every registered name
kerasaudio.create_model("m5", classes=10)
kerasaudio.available_models()        # the table: task, input, parameters, size, paper
```
"""

import importlib

from kerasaudio.models.registry import (
    ModelInfo,
    available_models,
    create_model,
    get_model_info,
    list_models,
    register_model,
)
from kerasaudio.models.wav2vec2 import Wav2Vec2

# Family modules, imported for their registrations. A new family: one file + its name here.
FAMILIES = ("bilstm_attention", "complex_cnn", "deep_speaker", "mnets", "panns", "stack",
            "vggvox", "wav2vec2")
for _family in FAMILIES:
    importlib.import_module(f"kerasaudio.models.{_family}")

__all__ = ["ModelInfo", "Wav2Vec2", "available_models", "create_model", "get_model_info",
           "list_models", "register_model"]
