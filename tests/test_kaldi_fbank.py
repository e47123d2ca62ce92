"""`KaldiFbank` against transformers' `ASTFeatureExtractor` on real FSDD audio, along both of
its paths (its NumPy Kaldi filter bank, and torchaudio's `compliance.kaldi.fbank` where
torchaudio imports: run in a child process with `make speechbrain-reference`'s
torchaudio), and the layer's own contract (shapes, padding, errors, serialisation)."""

import keras
import numpy as np
import pytest
from harness import run_with_speechbrain_reference

from kerasaudio.audio_io import resample
from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers import KaldiFbank
from kerasaudio.layers.kaldi import kaldi_mel_banks

#: Largest |Keras - reference| of the normalised features, relative to the largest
#: reference value. The layer works in float32 (DFT as a matrix product), the reference in
#: float64; resampled 8 kHz audio leaves the mel bands above 4 kHz near the log floor,
#: where float32 rounding of the power is largest (about 1.2e-4 of the scale on
#: TensorFlow, 2.4e-4 on JAX, whose CPU matrix product sums in another order).
TOLERANCE = 3e-4


def _audio16(clip):
    return resample(clip, sample_rate=8000, target_sample_rate=16000).astype("float32")


@pytest.fixture(scope="module")
def extractor():
    pytest.importorskip("torch", reason="transformers' ASTFeatureExtractor needs torch")
    transformers = pytest.importorskip("transformers", reason="the reference extractor")
    return transformers.ASTFeatureExtractor()


@pytest.mark.parity
def test_kaldi_mel_banks_match_transformers():
    audio_utils = pytest.importorskip("transformers.audio_utils",
                                      reason="the reference mel filters")
    with pytest.warns(UserWarning, match="all zero"):
        reference = audio_utils.mel_filter_bank(
            num_frequency_bins=257, num_mel_filters=128, min_frequency=20,
            max_frequency=8000, sampling_rate=16000, norm=None, mel_scale="kaldi",
            triangularize_in_mel_space=True)
    ours = kaldi_mel_banks(num_mel_bins=128, fft_length=512, sample_rate=16000)
    np.testing.assert_allclose(ours, reference, atol=1e-12)


@pytest.mark.parity
@pytest.mark.jax
def test_matches_ast_feature_extractor_on_fsdd(clips, extractor):
    layer = KaldiFbank()
    for clip in clips:
        audio = _audio16(clip)
        reference = extractor(audio, sampling_rate=16000,
                              return_tensors="np")["input_values"][0]
        ours = keras.ops.convert_to_numpy(layer(audio[None]))[0]
        assert ours.shape == reference.shape == (1024, 128)
        scale = np.abs(reference).max()
        assert np.abs(ours - reference).max() <= TOLERANCE * scale
        # The padded frames are AST's normalised zero, exactly.
        frames = layer.num_frames(len(audio))
        np.testing.assert_allclose(ours[frames:], (0 + 4.2677393) / (2 * 4.5689974),
                                   rtol=1e-6)


#: The child process: ASTFeatureExtractor's features of IN.npz's `audio` rows into OUT.npz,
#: failing unless transformers found torchaudio (so its torchaudio path ran).
TORCHAUDIO_PATH = """
import sys
import numpy as np
import transformers
from transformers.models.audio_spectrogram_transformer import (
    feature_extraction_audio_spectrogram_transformer as module)
assert transformers.utils.is_speech_available() and hasattr(module, "ta_kaldi")
audio = np.load(sys.argv[1])["audio"]
extractor = transformers.ASTFeatureExtractor()
values = [extractor(a, sampling_rate=16000, return_tensors="np")["input_values"][0]
          for a in audio]
np.savez(sys.argv[2], values=np.stack(values))
"""


@pytest.mark.parity
def test_matches_the_extractors_torchaudio_path_on_fsdd(clips, tmp_path):
    pytest.importorskip("torch", reason="transformers' ASTFeatureExtractor needs torch")
    pytest.importorskip("transformers", reason="the reference extractor")
    audio = np.stack([np.resize(_audio16(clip), 16000) for clip in clips[:4]])
    np.savez(tmp_path / "in.npz", audio=audio)
    run_with_speechbrain_reference(["-c", TORCHAUDIO_PATH, str(tmp_path / "in.npz"),
                                    str(tmp_path / "out.npz")])
    reference = np.load(tmp_path / "out.npz")["values"]
    ours = keras.ops.convert_to_numpy(KaldiFbank()(audio))
    assert ours.shape == reference.shape == (len(audio), 1024, 128)
    assert np.abs(ours - reference).max() <= TOLERANCE * np.abs(reference).max()


@pytest.mark.parity
def test_truncates_long_audio_and_batches(clips, extractor):
    audio = np.resize(_audio16(clips[0]), 16000 * 11)  # 1,098 frames, cut to 100
    extractor = type(extractor)(max_length=100)
    reference = extractor(audio, sampling_rate=16000, return_tensors="np")["input_values"]
    layer = KaldiFbank(max_length=100)
    ours = keras.ops.convert_to_numpy(layer(np.stack([audio, audio * 0.5])))
    assert ours.shape == (2, 100, 128)
    assert np.abs(ours[0] - reference[0]).max() <= TOLERANCE * np.abs(reference).max()
    half = extractor(audio * 0.5, sampling_rate=16000, return_tensors="np")["input_values"]
    assert np.abs(ours[1] - half[0]).max() <= TOLERANCE * np.abs(half).max()


def test_unnormalised_variable_length_output():
    layer = KaldiFbank(max_length=None, normalize=False)
    x = np.random.default_rng(0).normal(size=(1, 16000)).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x))
    assert y.shape == (1, 98, 128) == (1, layer.num_frames(16000), 128)
    assert np.isfinite(y).all()


def test_short_input_and_bad_options_fail_clearly():
    with pytest.raises(InvalidOptionError, match="too short"):
        KaldiFbank().build((None, 399))
    with pytest.raises(InvalidOptionError, match="window_type"):
        KaldiFbank(window_type="hann")
    with pytest.raises(InvalidOptionError, match="max_length"):
        KaldiFbank(max_length=0)


def test_config_roundtrip_and_keras_file(tmp_path):
    layer = KaldiFbank(max_length=50, mean=-1.0, std=2.0)
    again = KaldiFbank.from_config(layer.get_config())
    assert again.get_config() == layer.get_config()
    model = keras.Sequential([keras.Input((8000,)), layer])
    model.save(tmp_path / "fbank.keras")
    loaded = keras.saving.load_model(tmp_path / "fbank.keras", safe_mode=True)
    x = np.random.default_rng(1).normal(size=(2, 8000)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)),
                                  keras.ops.convert_to_numpy(model(x)))
