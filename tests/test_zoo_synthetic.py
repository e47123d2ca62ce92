"""Synthetic training speakers (zoo.synthetic) and the recipes' `data.synthetic`.

Real synthesisers (eSpeak NG and Flite, Debian's espeak-ng and flite packages), a few
voices; the tests that speak skip when they are not installed."""

import shutil

import numpy as np
import pytest
import soundfile as sf

import kerasaudio
from kerasaudio.audio_io import load_audio
from kerasaudio.datasets import fsdd
from kerasaudio.errors import InvalidOptionError
from kerasaudio.training import protocols
from kerasaudio.training.pipeline import with_extra
from kerasaudio.training.recipe import load_recipe
from zoo import synthetic
from zoo.train import run_recipe, synthetic_clips

VOICES = ["espeak-en-us-m3", "espeak-en-gb-f2", "flite-slt", "flite-awb"]
TINY = ["training.epochs=1", "training.batch_size=8", "training.warmup_epochs=0"]
speaks = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in ("espeak-ng", "flite")),
    reason="needs espeak-ng and flite on PATH (Debian: apt-get install espeak-ng flite)")


@pytest.fixture(scope="module")
def clips_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    return synthetic.generate(out, takes=2, seed=0, only=VOICES, log=lambda line: None)


@pytest.mark.synth
@speaks
def test_clips_are_fsdd_like(clips_dir):
    frame = synthetic.load(clips_dir)
    assert list(frame.columns) == ["path", "digit", "speaker", "take", "split"]
    assert len(frame) == len(VOICES) * 10 * 2
    assert sorted(frame.speaker.unique()) == sorted(VOICES)
    assert not set(frame.speaker) & set(fsdd.SPEAKERS)
    assert (frame.split == "train").all()
    assert frame.digit.value_counts().to_dict() == {d: len(VOICES) * 2 for d in range(10)}
    for path in frame.path:
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (8000, 1, "PCM_16")
        audio, _ = sf.read(path, dtype="float32")
        assert 0.15 < len(audio) / 8000 < 1.0  # one word (FSDD: 0.35-0.57 s on average)
        assert abs(np.abs(audio).max() - 0.5) < 1e-3  # peak-normalised
        loud = np.flatnonzero(np.abs(audio) > 0.5 * 10 ** (-40 / 20))
        assert loud[0] < 320 and len(audio) - loud[-1] < 320  # trimmed to 40 ms


@pytest.mark.synth
@speaks
def test_generation_is_seeded_and_kept(clips_dir, tmp_path):
    again = synthetic.generate(tmp_path / "a", takes=2, seed=0, only=VOICES[:1],
                               log=lambda line: None)
    other = synthetic.generate(tmp_path / "b", takes=2, seed=1, only=VOICES[:1],
                               log=lambda line: None)
    name = f"7_{VOICES[0]}_1.wav"
    assert (again / name).read_bytes() == (clips_dir / name).read_bytes()
    assert (other / name).read_bytes() != (clips_dir / name).read_bytes()
    stamp = (again / name).stat().st_mtime_ns
    lines = []
    synthetic.generate(again, takes=2, seed=0, only=VOICES[:1], log=lines.append)
    assert (again / name).stat().st_mtime_ns == stamp and lines == []  # complete: kept
    # Another spec in the same directory: the table lists exactly that spec's clips.
    synthetic.generate(again, takes=1, seed=0, only=VOICES[1:2], log=lambda line: None)
    frame = synthetic.load(again)
    assert len(frame) == 10 and set(frame["speaker"]) == {VOICES[1]} and set(frame["take"]) == {0}
    (again / f"3_{VOICES[1]}_0.wav").unlink()
    with pytest.raises(InvalidOptionError, match="missing"):
        synthetic.load(again)


@pytest.mark.synth
@speaks
def test_the_words_are_the_digits(clips_dir):
    """The FSDD-trained log-mel preset recognises the synthetic words (chance: 10%)."""
    frame = synthetic.load(clips_dir)
    audio = np.zeros((len(frame), 8000), np.float32)
    for row, path in enumerate(frame.path):
        clip, _ = load_audio(path)
        start = (8000 - len(clip)) // 2
        audio[row, start:start + len(clip)] = clip
    model = kerasaudio.create_model("logmel_cnn_fsdd_digits")
    predicted = model.predict(audio, verbose=0).argmax(axis=1)
    assert np.mean(predicted == frame.digit.to_numpy()) >= 0.7


@pytest.mark.slow
@pytest.mark.synth
@speaks
def test_recipe_adds_them_to_every_training_split_only(tmp_path, monkeypatch):
    monkeypatch.setattr(synthetic, "ESPEAK_ACCENTS", ("en-us",))
    monkeypatch.setattr(synthetic, "ESPEAK_VARIANTS", ("m3",))
    monkeypatch.setattr(synthetic, "FLITE_VOICES", ("slt",))
    monkeypatch.setattr(synthetic, "default_directory",
                        lambda takes, seed: tmp_path / f"synthetic-t{takes}-s{seed}")
    r = load_recipe("logmel_cnn_fsdd_digits", [*TINY, 'data.synthetic={"takes": 1}'])
    assert r.synthetic == {"takes": 1, "seed": 0}
    assert r.to_dict()["data"]["synthetic"] == {"takes": 1, "seed": 0}
    with pytest.raises(InvalidOptionError, match="python -m zoo train"):
        protocols.run(r, out=tmp_path / "run", sample=True)  # kerasaudio train's engine
    metrics = run_recipe(r, protocols=["official", "loso"], folds=["george"],
                         out=tmp_path / "run", sample=True, max_steps=1,
                         log=lambda line: None)
    # The bundled sample: 60 official training clips, 100 for a LOSO fold; + 2 voices x 10.
    assert metrics["official"]["train_clips"] == 60 + 20
    assert metrics["official"]["total"] == 60  # FSDD test clips only
    fold = metrics["loso"]["per_speaker"]["george"]
    assert fold["train_clips"] == 100 + 20 and fold["total"] == 20
    assert len(list((tmp_path / "synthetic-t1-s0").glob("*.wav"))) == 20


def test_recipes_without_it_keep_their_form():
    r = load_recipe("logmel_cnn_fsdd_digits")
    assert r.synthetic is None and "synthetic" not in r.to_dict()["data"]
    assert synthetic_clips(r) is None
    frame = fsdd.load(sample=True)
    assert with_extra(frame, None) is frame  # dtypes untouched


@pytest.mark.parametrize(("overrides", "match"), [
    (['data.synthetic="yes"'], "synthetic"),
    (['data.synthetic={"takes": 0}'], "synthetic"),
    (['data.synthetic={"voices": 3}'], "synthetic"),
    (['data.synthetic={"takes": 2}', 'adversary={"factor": 0.1}'], "adversary"),
])
def test_bad_options(overrides, match):
    with pytest.raises(InvalidOptionError, match=match):
        load_recipe("logmel_cnn_fsdd_digits", overrides)


def test_bad_generate_arguments_and_missing_synthesisers(tmp_path, monkeypatch):
    with pytest.raises(InvalidOptionError, match="unknown synthetic voice"):
        synthetic.generate(tmp_path, only=["espeak-xx"], log=lambda line: None)
    with pytest.raises(InvalidOptionError, match="takes"):
        synthetic.generate(tmp_path, takes=0, log=lambda line: None)
    with pytest.raises(InvalidOptionError, match="no synthetic digits"):
        synthetic.load(tmp_path / "empty")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InvalidOptionError, match="apt-get install espeak-ng flite"):
        synthetic.generate(tmp_path, log=lambda line: None)
