"""ECAPA-TDNN speaker embeddings in Keras, loadable from SpeechBrain's checkpoints.

Registered family (`create_model("ecapa_tdnn", ...)`; TF and JAX; SpeechBrain's filter
bank inside):

| configuration | options | parameters (PyTorch's count) |
| --- | --- | --- |
| SpeechBrain `spkrec-ecapa-voxceleb` (the paper's C=1024) | defaults | 20,767,552 |
| the paper's C=512 (`ECAPA_TDNN(80)`'s defaults) | `channels=(512,) * 4 + (1536,)` | 6,194,048 |

`include_top=False` gives the 192-d embedding (score two clips by cosine similarity).
The default front end (`default_frontend`) is SpeechBrain's `Fbank(n_mels=80)` followed by
the recipe's sentence mean normalisation, and the network equals SpeechBrain's
`ECAPA_TDNN` in `eval()` mode (BatchNorm running statistics, "same" convolutions with
reflect padding); `lengths=True` adds SpeechBrain's relative-lengths input for padded
batches.

The package keeps its jobs apart: `config` (the sizes, SpeechBrain's module names),
`model` (the layers, the front end and the builder), `convert` (reading
`embedding_model.ckpt` with `torch.load(weights_only=True)` and mapping its tensors).

Example:
```python
import torch
from kerasaudio.models.ecapa_tdnn import from_speechbrain, to_state_dict
small = kerasaudio.create_model("ecapa_tdnn", include_top=False, channels=(64,) * 4 + (192,))
torch.save({k: torch.from_numpy(v) for k, v in to_state_dict(small).items()},
           "embedding_model.ckpt")  # a checkpoint in SpeechBrain's layout
model = from_speechbrain("embedding_model.ckpt")  # or spkrec-ecapa-voxceleb's file
clip = kerasaudio.datasets.fsdd.SAMPLE_DIR / "7_jackson_0.wav"
audio, _ = kerasaudio.audio_io.load_audio(clip, sample_rate=16000)
embedding = kerasaudio.embeddings.extract(model, audio)  # (192,)
```

Reference:
    Desplanques, Thienpondt, Demuynck, "ECAPA-TDNN: Emphasized Channel Attention,
    Propagation and Aggregation in TDNN Based Speaker Verification", Interspeech 2020;
    Ravanelli et al., "SpeechBrain: A General-Purpose Speech Toolkit", arXiv:2106.04624.
"""

from __future__ import annotations

from collections.abc import Mapping

from kerasaudio.models.ecapa_tdnn.config import SMALL, VOXCELEB, EcapaConfig, keras_name
from kerasaudio.models.ecapa_tdnn.convert import (
    config_from_state,
    convert_state_dict,
    load_speechbrain_weights,
    read_speechbrain_checkpoint,
    to_state_dict,
)
from kerasaudio.models.ecapa_tdnn.model import (
    AttentiveStatistics,
    ChannelChunks,
    GlobalContext,
    MaskedTimeMean,
    ReflectPadding1D,
    default_frontend,
    ecapa_tdnn,
    frame_mask,
)

__all__ = ["SMALL", "VOXCELEB", "AttentiveStatistics", "ChannelChunks", "EcapaConfig",
           "GlobalContext", "MaskedTimeMean", "ReflectPadding1D", "config_from_state",
           "convert_state_dict", "default_frontend", "ecapa_tdnn", "frame_mask",
           "from_speechbrain", "keras_name", "load_speechbrain_weights",
           "read_speechbrain_checkpoint", "to_state_dict"]


def from_speechbrain(source, **options):
    """An `ecapa_tdnn` embedding model with a SpeechBrain checkpoint's sizes and weights.

    Reads `embedding_model.ckpt` (`torch.load(weights_only=True)`), takes the sizes from
    its tensors (`config_from_state`), builds `ecapa_tdnn(include_top=False, ...)` and
    assigns every tensor (`convert_state_dict`: any missing, unexpected or mis-shaped
    tensor is an error that lists them all).

    Args:
        source: the checkpoint path (e.g. a `spkrec-ecapa-voxceleb` download's
            `embedding_model.ckpt`), or its state dict in memory.
        **options: further `ecapa_tdnn` options (`sample_rate`, `frontend`, `lengths`,
            `dilations`, `input_shape`, `name`); sizes given here must match the tensors.

    Returns:
        The Keras model: raw audio in (16 kHz by default), `(batch, 192)` embeddings out.

    Example:
    ```python
    from kerasaudio.models.ecapa_tdnn import to_state_dict
    state = to_state_dict(kerasaudio.create_model(  # what SpeechBrain's state_dict() holds
        "ecapa_tdnn", include_top=False, channels=(64,) * 4 + (192,)))
    model = kerasaudio.models.ecapa_tdnn.from_speechbrain(state)  # or "embedding_model.ckpt"
    np.asarray(model(np.zeros((1, 16000), "float32"))).shape  # (1, 192)
    ```
    """
    state = read_speechbrain_checkpoint(source)
    options = {**config_from_state(state), **options}
    options.setdefault("include_top", False)
    model = ecapa_tdnn(**options)
    convert_state_dict(model, state, source="the SpeechBrain state dict"
                       if isinstance(source, Mapping) else str(source))
    return model
