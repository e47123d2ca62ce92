"""PANNs' published configurations: the front end per sample rate and CNN14's sizes.

Reference:
    Kong, Cao, Iqbal, Wang, Wang, Plumbley, "PANNs: Large-Scale Pretrained Audio Neural
    Networks for Audio Pattern Recognition", IEEE/ACM TASLP 28, 2020 (code:
    qiuqiangkong/audioset_tagging_cnn; inference package: panns_inference).
"""

from __future__ import annotations

__all__ = ["AUDIOSET_CLASSES", "CNN14_FILTERS", "DOWNSAMPLING", "EMBEDDING_DIM",
           "SAMPLE_RATES", "min_samples"]

#: The log-mel front end of each released sample rate. 32 kHz is `Cnn14` (the paper's
#: system, `Cnn14_mAP=0.431.pth`); 16 kHz and 8 kHz are the repository's `Cnn14_16k` and
#: `Cnn14_8k`, whose constructors assert exactly these values (the README's 16 kHz
#: checkpoint is `Cnn14_16k_mAP=0.438.pth`). Every configuration uses a periodic Hann window of
#: `window_size` samples (the FFT size), centred frames with reflect padding, the power
#: spectrum, librosa's Slaney mel bank and `10 log10(max(mel, 1e-10))` with no top-dB
#: floor (torchlibrosa's `Spectrogram` and `LogmelFilterBank` as PANNs calls them).
SAMPLE_RATES: dict[int, dict[str, int]] = {
    32000: {"window_size": 1024, "hop_size": 320, "mel_bins": 64, "fmin": 50, "fmax": 14000},
    16000: {"window_size": 512, "hop_size": 160, "mel_bins": 64, "fmin": 50, "fmax": 8000},
    8000: {"window_size": 256, "hop_size": 80, "mel_bins": 64, "fmin": 50, "fmax": 4000},
}
#: Output channels of CNN14's six convolution blocks.
CNN14_FILTERS = (64, 128, 256, 512, 1024, 2048)
#: Width of CNN14's `fc1`, the embedding.
EMBEDDING_DIM = 2048
#: Frames (and mel bands) per step after the five 2x2 average pools of blocks 1-5.
DOWNSAMPLING = 32
#: AudioSet's classes (the released checkpoints' `fc_audioset` outputs).
AUDIOSET_CLASSES = 527


def min_samples(sample_rate: int) -> int:
    """Fewest samples of raw audio CNN14 takes at `sample_rate`: 32 log-mel frames.

    Five 2x2 average pools need 32 frames for one output step; centred frames give
    `1 + samples // hop_size` frames.

    Args:
        sample_rate: one of `SAMPLE_RATES` (32000, 16000 or 8000).

    Returns:
        `31 * hop_size`: 9920 samples at 32 kHz (0.31 s), 4960 at 16 kHz, 2480 at 8 kHz.

    Example:
    ```python
    from kerasaudio.models.panns.config import min_samples
    min_samples(32000)  # 9920
    ```
    """
    return (DOWNSAMPLING - 1) * SAMPLE_RATES[sample_rate]["hop_size"]
