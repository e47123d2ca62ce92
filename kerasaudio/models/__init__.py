"""Model builders, one file per family, registered by name.

Importing this package registers every family. `kerasaudio.create_model` (in
`kerasaudio.hub`) builds a registered architecture or a pretrained preset; here is the
architecture-only registry:

```python
kerasaudio.models.list_architectures("m*")    # ['m11', 'm18', 'm3', 'm34_res', 'm5']
kerasaudio.models.get_model_info("m5").paper
model = kerasaudio.models.build_model("m5", classes=10)
```

Every builder returns an `AudioModel`: a functional model whose model-info record
(`kerasaudio.info.AudioInfo`: task, class names, sample rate, input length, preset) is
part of its config; `with_info(model, ...)` sets the record on any functional model.

A new family: one file with a builder decorated by `register_model`, and its import here.
"""

from kerasaudio.models import (  # noqa: F401  (imported for their registrations)
    ast,
    bilstm_attention,
    complex_cnn,
    deep_speaker,
    ecapa_tdnn,
    hubert,
    mnets,
    panns,
    silero_vad,
    vggvox,
    wav2vec2,
    wavlm,
)
from kerasaudio.models.audio_model import AudioModel, with_info
from kerasaudio.models.hubert import Hubert
from kerasaudio.models.registry import (
    ModelInfo,
    build_arguments,
    build_model,
    get_model_info,
    list_architectures,
    register_model,
)
from kerasaudio.models.wav2vec2 import Wav2Vec2
from kerasaudio.models.wavlm import WavLM

#: The family modules in this package (the `stack` family is `kerasaudio.ensemble`'s).
FAMILIES = ("ast", "bilstm_attention", "complex_cnn", "deep_speaker", "ecapa_tdnn", "hubert",
            "mnets", "panns", "silero_vad", "vggvox", "wav2vec2", "wavlm")

__all__ = ["AudioModel", "Hubert", "ModelInfo", "Wav2Vec2", "WavLM", "build_arguments",
           "build_model",
           "get_model_info", "list_architectures", "register_model", "with_info"]
