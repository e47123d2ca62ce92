"""Energy VAD: frame levels, grouping, and segments of a long recording of real FSDD
clips separated by known silences."""

from __future__ import annotations

import numpy as np
import pytest

from kerasaudio import vad
from kerasaudio.audio_io import load_audio
from kerasaudio.errors import InvalidAudioError, InvalidOptionError


def test_frame_levels_of_a_sine():
    t = np.arange(8000) / 8000
    levels = vad.frame_levels(0.5 * np.sin(2 * np.pi * 400 * t), 8000, frame_ms=30)
    assert levels.shape == (34,)  # 33 full frames of 240 samples and a partial one
    np.testing.assert_allclose(levels[:33], 20 * np.log10(0.5 / np.sqrt(2)), atol=1e-9)
    assert vad.frame_levels(np.zeros(480), 8000)[0] == vad.FLOOR_DB


@pytest.mark.parametrize(("flags", "options", "expected"), [
    ([0, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1],
     {"min_silence": 3, "min_speech": 2, "pad": 0}, [(1, 7)]),
    ([0, 1, 1, 0, 0, 0, 1, 1, 0], {"min_silence": 3, "min_speech": 1, "pad": 0},
     [(1, 3), (6, 8)]),
    ([0, 1, 1, 0, 0, 0, 1, 1, 0], {"min_silence": 3, "min_speech": 1, "pad": 1},
     [(0, 4), (5, 9)]),
    ([0, 1, 1, 0, 0, 0, 1, 1, 0], {"min_silence": 3, "min_speech": 1, "pad": 2},
     [(0, 9)]),  # padding makes the neighbours touch: merged
    ([1, 1, 0, 0, 0, 0, 1], {"min_silence": 2, "min_speech": 1, "pad": 2},
     [(0, 7)]),
    ([1, 0, 0, 0, 0, 0, 1, 1, 1], {"min_silence": 2, "min_speech": 2, "pad": 1},
     [(5, 9)]),  # the first lone frame is too short; padding stops at the end
    ([0, 0, 0], {}, []),
])
def test_group_frames(flags, options, expected):
    assert vad.group_frames(flags, **options) == expected


@pytest.fixture(scope="module")
def recording(fsdd_sample):
    """Six FSDD clips (different speakers and digits) with 0.4-0.9 s silences between
    them and low background noise (-60 dBFS); returns audio and the clip spans."""
    rng = np.random.default_rng(0)
    rows = fsdd_sample[fsdd_sample["take"] == 0].sample(6, random_state=1)
    parts, spans, position = [], [], 0
    for path in rows.path:
        gap = np.zeros(int(rng.uniform(0.4, 0.9) * 8000))
        clip = load_audio(path, sample_rate=8000)[0]
        parts += [gap, clip]
        spans.append((position + len(gap), position + len(gap) + len(clip)))
        position += len(gap) + len(clip)
    parts.append(np.zeros(4000))
    audio = np.concatenate(parts)
    audio = audio + rng.normal(0, 1e-3, len(audio))
    return audio.astype(np.float32), spans


def test_split_finds_every_clip(recording):
    audio, spans = recording
    segments = vad.split(audio, 8000)
    assert len(segments) == len(spans)
    tolerance = 240 + 240  # one frame of quantisation and the 30 ms padding
    for segment, (start, end) in zip(segments, spans, strict=True):
        assert start - tolerance <= segment.start and segment.end <= end + tolerance
        # The segment holds the word: >= 97% of the clip's energy (quiet tails such as a
        # final fricative may fall below the threshold, hence not 100%).
        clip = audio[start:end].astype(np.float64)
        inside = audio[max(segment.start, start):min(segment.end, end)].astype(np.float64)
        assert (inside ** 2).sum() >= 0.97 * (clip ** 2).sum()
        assert segment.slice(audio).shape == (segment.end - segment.start,)


def test_split_with_a_fixed_threshold_and_silence(recording):
    audio, spans = recording
    assert vad.split(np.zeros(16000, np.float32), 8000) == []
    assert vad.split(audio, 8000, threshold_db=0.0) == []  # nothing is that loud
    loose = vad.split(audio, 8000, threshold_db=-50.0)  # above the -60 dB noise
    assert len(loose) == len(spans)


@pytest.mark.parametrize(("call", "error"), [
    (lambda: vad.split(np.zeros((2, 100), np.float32), 8000), InvalidAudioError),
    (lambda: vad.split(np.zeros(100, np.int16), 8000), InvalidAudioError),
    (lambda: vad.split(np.zeros(100, np.float32), 8000, frame_ms=0), InvalidOptionError),
    (lambda: vad.split(np.zeros(100, np.float32), 0), InvalidOptionError),
    (lambda: vad.group_frames([1, 0], min_silence=-1), InvalidOptionError),
])
def test_errors(call, error):
    with pytest.raises(error):
        call()
