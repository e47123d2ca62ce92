"""PANNs (pretrained audio neural networks) CNN14 in Keras, loadable from the released
PyTorch checkpoints.

Registered families (`create_model(name)`; TF and JAX; the log-mel front end inside):

| name | output | released checkpoint (AudioSet) |
| --- | --- | --- |
| `panns_cnn14` | `(batch, 527)` clip-wise | `Cnn14_mAP=0.431.pth` |
| `panns_cnn14` (`sample_rate=16000`) | `(batch, 527)` clip-wise | `Cnn14_16k_mAP=0.438.pth` |
| `panns_cnn14_decision_level_max` | clip- and frame-wise | `Cnn14_DecisionLevelMax_mAP=0.385.pth` |

`include_top=False` gives the 2048-d embedding (segment-wise for the SED variant).
`sample_rate=` picks one of PANNs' three front ends (`SAMPLE_RATES`: 32 kHz window
1024 / hop 320 / 50-14000 Hz, 16 kHz 512 / 160 / 50-8000 Hz, 8 kHz 256 / 80 /
50-4000 Hz, 64 mel bands each). The front end matches torchlibrosa's `Spectrogram` +
`LogmelFilterBank` (the features PANNs was trained on) to float32 precision. The
inference path equals the reference's `eval()` path (SpecAugment, mixup and dropout are
training-only).

The package keeps its jobs apart:

- `config`: the sample-rate configurations and CNN14's sizes;
- `model`: the builders, the front end (`default_frontend`), `FramewiseUpsample`
  and `MinimumFrames`;
- `convert`: the checkpoint reader (`read_panns_checkpoint`, `torch.load(weights_only=
  True)`, never a pickle) and the tensor mapping (`load_panns_weights`).

AudioSet's class names: `kerasaudio.datasets.audioset.class_names()`.

Example:
```python
import torch
from panns_inference.models import Cnn14  # the authors' code, to write a checkpoint here
torch.save({"model": Cnn14(sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64,
                           fmin=50, fmax=14000, classes_num=527).state_dict()},
           "cnn14.pth")  # random weights, in the released files' form
model = kerasaudio.create_model("panns_cnn14", weights="cnn14.pth")  # or Cnn14_mAP=0.431.pth
clip = kerasaudio.datasets.fsdd.SAMPLE_DIR / "7_jackson_0.wav"
audio_32k, _ = kerasaudio.audio_io.load_audio(clip, sample_rate=32000)
scores = np.asarray(model(audio_32k[None]))[0]           # (527,)
names = kerasaudio.datasets.audioset.class_names()
top = [names[i] for i in np.argsort(scores)[::-1][:5]]   # the five highest-scoring tags
```

Reference:
    Kong, Cao, Iqbal, Wang, Wang, Plumbley, "PANNs: Large-Scale Pretrained Audio Neural
    Networks for Audio Pattern Recognition", IEEE/ACM TASLP 28, 2020.
"""

from kerasaudio.models.panns.config import (
    AUDIOSET_CLASSES,
    CNN14_FILTERS,
    EMBEDDING_DIM,
    SAMPLE_RATES,
    min_samples,
)
from kerasaudio.models.panns.convert import load_panns_weights, read_panns_checkpoint
from kerasaudio.models.panns.model import (
    FramewiseUpsample,
    MinimumFrames,
    default_frontend,
    panns_cnn14,
    panns_cnn14_decision_level_max,
)

__all__ = ["AUDIOSET_CLASSES", "CNN14_FILTERS", "EMBEDDING_DIM", "SAMPLE_RATES",
           "FramewiseUpsample", "MinimumFrames", "default_frontend", "load_panns_weights",
           "min_samples", "panns_cnn14", "panns_cnn14_decision_level_max",
           "read_panns_checkpoint"]
