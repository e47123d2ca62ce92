"""SpeechBrain's ECAPA-TDNN pipeline, run in a child process for the parity tests.

`python tests/speechbrain_reference.py IN.npz OUT.npz CKPT CONFIG_JSON` with SpeechBrain
(and torchaudio's pure-Python part) importable: builds `ECAPA_TDNN(**CONFIG)` with seeded
random weights and random batch-norm running statistics, saves its state dict to CKPT
(what `embedding_model.ckpt` holds), and runs SpeechBrain's recipe on IN's `audio`
`(batch, samples)` and relative `lengths`: `Fbank(n_mels, sample_rate)`,
`InputNormalization(norm_type="sentence", std_norm=False)`, then the network in `eval()`
mode. OUT holds the filter bank, the normalised features, each block's output, the
aggregation, the pooled statistics and the embeddings (channels last), and the parameter
count.

It runs apart from the test process so that SpeechBrain's torchaudio (whose compiled
libraries are removed: the registry's wheel is a CUDA build) is never importable there.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch
from speechbrain.lobes.features import Fbank
from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
from speechbrain.processing.features import InputNormalization


def main(source: str, target: str, checkpoint: str, config: str) -> None:
    options = json.loads(config)
    sample_rate = options.pop("sample_rate", 16000)
    seed = options.pop("seed", 0)
    torch.manual_seed(seed)
    model = ECAPA_TDNN(**options)
    with torch.no_grad():  # batch norms with statistics unlike their initial 0 and 1
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    model.eval()
    torch.save(model.state_dict(), checkpoint)
    captured: dict[str, torch.Tensor] = {}

    def keep(name):
        def hook(_module, _inputs, output):
            captured[name] = output
        return hook

    for index, block in enumerate(model.blocks):
        block.register_forward_hook(keep(f"block{index}"))
    model.mfa.register_forward_hook(keep("mfa"))
    model.asp.register_forward_hook(keep("asp"))
    data = np.load(source)
    audio = torch.from_numpy(data["audio"])
    lengths = torch.from_numpy(data["lengths"])
    fbank = Fbank(n_mels=options["input_size"], sample_rate=sample_rate)
    norm = InputNormalization(norm_type="sentence", std_norm=False)
    with torch.no_grad():
        features = fbank(audio)
        normalised = norm(features, lengths)
        embeddings = model(normalised, lengths)
    out = {"fbank": features.numpy(), "normalised": normalised.numpy(),
           "embedding": embeddings[:, 0].numpy(),
           "parameters": np.array(sum(p.numel() for p in model.parameters()))}
    for name, value in captured.items():
        value = value.transpose(1, 2) if value.ndim == 3 else value
        out[name] = value.squeeze(1).numpy() if name == "asp" else value.numpy()
    np.savez(target, **out)


if __name__ == "__main__":
    main(*sys.argv[1:5])
