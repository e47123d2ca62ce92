"""ECAPA-TDNN's sizes and the names of its tensors in SpeechBrain's checkpoints.

`EcapaConfig` holds the options of `speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN`;
`VOXCELEB` is the configuration of SpeechBrain's `spkrec-ecapa-voxceleb` recipe (the
paper's C=1024 system), `SMALL` the paper's C=512 system. `EcapaConfig.modules` lists
every convolution and batch normalisation with its SpeechBrain module path: the Keras
layer of module `path` is named `keras_name(path)`, and its tensors in
`embedding_model.ckpt` are `path + ".weight"`, `".bias"` (and `".running_mean"`,
`".running_var"` for a batch normalisation).

Reference:
    Desplanques, Thienpondt, Demuynck, "ECAPA-TDNN: Emphasized Channel Attention,
    Propagation and Aggregation in TDNN Based Speaker Verification", Interspeech 2020;
    Ravanelli et al., "SpeechBrain: A General-Purpose Speech Toolkit", arXiv:2106.04624.
"""

from __future__ import annotations

from dataclasses import dataclass

from kerasaudio.errors import InvalidOptionError

__all__ = ["SMALL", "VOXCELEB", "EcapaConfig", "keras_name"]


def keras_name(path: str) -> str:
    """The Keras layer name of SpeechBrain module `path` (dots become underscores).

    Example:
    ```python
    from kerasaudio.models.ecapa_tdnn.config import keras_name
    keras_name("blocks.1.se_block.conv1.conv")  # 'blocks_1_se_block_conv1_conv'
    ```
    """
    return path.replace(".", "_")


def _positive(option: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidOptionError(f"ecapa_tdnn: {option}={value!r} must be an integer >= 1.")
    return value


@dataclass(frozen=True)
class EcapaConfig:
    """The network's sizes (SpeechBrain's `ECAPA_TDNN` arguments of the same names).

    Attributes:
        n_mels: input features per frame (`input_size`).
        channels: output channels of the first TDNN block, of each SE-Res2Net block,
            then of the multi-layer aggregation (`mfa`).
        kernel_sizes: kernel size of each of those blocks.
        dilations: dilation of each of those blocks.
        attention_channels: hidden channels of the attentive statistics pooling.
        res2net_scale: groups of each Res2Net convolution.
        se_channels: bottleneck of each squeeze-excitation block.
        global_context: the pooling's attention also sees each channel's utterance mean
            and standard deviation.
        embedding_dim: size of the embedding (`lin_neurons`).
    """

    n_mels: int = 80
    channels: tuple[int, ...] = (512, 512, 512, 512, 1536)
    kernel_sizes: tuple[int, ...] = (5, 3, 3, 3, 1)
    dilations: tuple[int, ...] = (1, 2, 3, 4, 1)
    attention_channels: int = 128
    res2net_scale: int = 8
    se_channels: int = 128
    global_context: bool = True
    embedding_dim: int = 192

    def __post_init__(self):
        for option in ("n_mels", "attention_channels", "res2net_scale", "se_channels",
                       "embedding_dim"):
            _positive(option, getattr(self, option))
        lists = {"channels": self.channels, "kernel_sizes": self.kernel_sizes,
                 "dilations": self.dilations}
        for option, values in lists.items():
            object.__setattr__(self, option, tuple(values))
            for value in getattr(self, option):
                _positive(option, value)
        if len(self.channels) < 3 or len({len(v) for v in lists.values()}) != 1:
            raise InvalidOptionError(
                "ecapa_tdnn: channels, kernel_sizes and dilations need one entry per block "
                f"(at least 3: TDNN, SE-Res2Net..., aggregation); got {len(self.channels)}, "
                f"{len(self.kernel_sizes)} and {len(self.dilations)}.")
        if any(k % 2 == 0 for k in self.kernel_sizes):
            raise InvalidOptionError(
                f"ecapa_tdnn: kernel_sizes={self.kernel_sizes} must be odd (SpeechBrain's "
                "'same' padding is symmetric).")
        if any(c % self.res2net_scale for c in self.channels[1:-1]):
            raise InvalidOptionError(
                f"ecapa_tdnn: the SE-Res2Net channels {self.channels[1:-1]} must be "
                f"multiples of res2net_scale={self.res2net_scale}.")

    @property
    def max_padding(self) -> int:
        """The widest reflect padding of a block (frames on each side).

        SpeechBrain's "same" convolutions reflect-pad `dilation * (kernel - 1) / 2`
        frames on each side, which needs more frames than that.
        """
        return max(d * (k - 1) // 2 for k, d in zip(self.kernel_sizes, self.dilations,
                                                     strict=True))

    def modules(self) -> list[tuple[str, str, tuple[int, ...]]]:
        """`(SpeechBrain module path, kind, weight shape)` of every weighted module.

        `kind` is `"conv"` (weight `(out, in, kernel)` and a bias) or `"bn"` (weight,
        bias, running mean and variance, all `(channels,)`), in the network's order.

        Example:
        ```python
        from kerasaudio.models.ecapa_tdnn.config import VOXCELEB
        VOXCELEB.modules()[0]  # ('blocks.0.conv.conv', 'conv', (1024, 80, 5))
        ```
        """
        out: list[tuple[str, str, tuple[int, ...]]] = []

        def tdnn(path: str, cin: int, cout: int, kernel: int) -> None:
            out.append((f"{path}.conv.conv", "conv", (cout, cin, kernel)))
            out.append((f"{path}.norm.norm", "bn", (cout,)))

        c = self.channels
        tdnn("blocks.0", self.n_mels, c[0], self.kernel_sizes[0])
        for i in range(1, len(c) - 1):
            block = f"blocks.{i}"
            width = c[i] // self.res2net_scale
            tdnn(f"{block}.tdnn1", c[i - 1], c[i], 1)
            for j in range(self.res2net_scale - 1):
                tdnn(f"{block}.res2net_block.blocks.{j}", width, width, self.kernel_sizes[i])
            tdnn(f"{block}.tdnn2", c[i], c[i], 1)
            out.append((f"{block}.se_block.conv1.conv", "conv", (self.se_channels, c[i], 1)))
            out.append((f"{block}.se_block.conv2.conv", "conv", (c[i], self.se_channels, 1)))
            if c[i - 1] != c[i]:
                out.append((f"{block}.shortcut.conv", "conv", (c[i], c[i - 1], 1)))
        tdnn("mfa", c[-2] * (len(c) - 2), c[-1], self.kernel_sizes[-1])
        context = 3 * c[-1] if self.global_context else c[-1]
        tdnn("asp.tdnn", context, self.attention_channels, 1)
        out.append(("asp.conv.conv", "conv", (c[-1], self.attention_channels, 1)))
        out.append(("asp_bn.norm", "bn", (2 * c[-1],)))
        out.append(("fc.conv", "conv", (self.embedding_dim, 2 * c[-1], 1)))
        return out

    def parameters(self) -> int:
        """PyTorch's parameter count (weights, biases, batch-norm scales and offsets).

        Example:
        ```python
        from kerasaudio.models.ecapa_tdnn.config import SMALL, VOXCELEB
        VOXCELEB.parameters(), SMALL.parameters()  # (20767552, 6194048)
        ```
        """
        total = 0
        for _, kind, shape in self.modules():
            size = 1
            for d in shape:
                size *= d
            total += size + shape[0] if kind == "conv" else 2 * shape[0]
        return total


#: SpeechBrain's `spkrec-ecapa-voxceleb`: `ECAPA_TDNN(80, channels=[1024] * 4 + [3072],
#: lin_neurons=192)` (the paper's C=1024 system).
VOXCELEB = EcapaConfig(channels=(1024, 1024, 1024, 1024, 3072))
#: The paper's C=512 system (SpeechBrain's `ECAPA_TDNN` defaults).
SMALL = EcapaConfig()
