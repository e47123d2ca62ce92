"""PANNs CNN14: parity with the reference PyTorch implementation, the checkpoint converter,
the builder options, TFLite export and AudioSet's class labels.

The reference is `panns_inference.models` (the authors' `Cnn14` and
`Cnn14_DecisionLevelMax`, on torchlibrosa's front end), imported without running the
package's `__init__` (which downloads a label file with `wget`). Reference models get
random weights (`torch.manual_seed`) with random BatchNorm statistics and biases, so that
every mapped tensor matters, and run in `eval()` mode. Audio: real FSDD recordings
resampled to each configuration's rate, alone and as a zero-padded batch.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import types

import keras
import numpy as np
import pytest

import kerasaudio
from kerasaudio import export
from kerasaudio.audio_io import load_audio
from kerasaudio.datasets import audioset
from kerasaudio.errors import InvalidAudioError, InvalidOptionError
from kerasaudio.models.panns import (
    SAMPLE_RATES,
    FramewiseUpsample,
    default_frontend,
    load_panns_weights,
    read_panns_checkpoint,
)

#: CNN14 with narrow blocks and embedding (same code paths, CPU-cheap); the reference's
#: blocks and fc layers are swapped for the same classes at these sizes.
SMALL_FILTERS = (4, 8, 8, 8, 8, 16)
SMALL = {"filters": SMALL_FILTERS, "embedding_dim": 16}
#: Parity bound: largest |Keras - reference| over the outputs' largest |value|.
RELATIVE = 1e-4


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def reference(torch):
    """`panns_inference.models`, imported through a stub parent package (no wget)."""
    return import_reference()


def import_reference():
    """`panns_inference.models` without its package's `__init__` (skips the test when
    panns_inference or torchlibrosa is missing)."""
    pytest.importorskip("torchlibrosa")
    spec = importlib.util.find_spec("panns_inference")
    if spec is None:
        pytest.skip("panns_inference is not installed (pip install --no-deps "
                    "panns-inference==0.1.1 torchlibrosa==0.1.0)")
    if "panns_inference.models" in sys.modules:
        return sys.modules["panns_inference.models"]
    stub = types.ModuleType("panns_inference")
    stub.__path__ = list(spec.submodule_search_locations)
    saved = sys.modules.get("panns_inference")
    sys.modules["panns_inference"] = stub
    try:
        return importlib.import_module("panns_inference.models")
    finally:
        if saved is None:
            sys.modules.pop("panns_inference", None)
        else:
            sys.modules["panns_inference"] = saved


def _randomize(torch, model, seed: int = 0):
    """Random BatchNorm affine/statistics and biases (PANNs initialises them to 1/0)."""
    generator = torch.Generator().manual_seed(seed)

    def uniform(tensor, low, high):
        tensor.copy_(torch.rand(tensor.shape, generator=generator) * (high - low) + low)

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                uniform(module.weight, 0.5, 1.5)
                uniform(module.bias, -0.2, 0.2)
                uniform(module.running_mean, -0.5, 0.5)
                uniform(module.running_var, 0.5, 2.0)
            elif isinstance(module, torch.nn.Linear):
                uniform(module.bias, -0.1, 0.1)
    return model.eval()


def make_reference(torch, reference, *, sample_rate=32000, sed=False, small=False,
                   classes=527, seed=0):
    config = SAMPLE_RATES[sample_rate]
    torch.manual_seed(seed)
    cls = reference.Cnn14_DecisionLevelMax if sed else reference.Cnn14
    model = cls(sample_rate=sample_rate, window_size=config["window_size"],
                hop_size=config["hop_size"], mel_bins=config["mel_bins"],
                fmin=config["fmin"], fmax=config["fmax"], classes_num=classes)
    if small:
        widths = (1, *SMALL_FILTERS)
        for index in range(6):
            setattr(model, f"conv_block{index + 1}",
                    reference.ConvBlock(in_channels=widths[index],
                                        out_channels=widths[index + 1]))
        model.fc1 = torch.nn.Linear(SMALL_FILTERS[-1], SMALL["embedding_dim"])
        model.fc_audioset = torch.nn.Linear(SMALL["embedding_dim"], classes)
    return _randomize(torch, model, seed)


def run_reference(torch, model, audio):
    """The reference's eval() outputs, plus the classifier's logits and the log-mel."""
    captured = {}
    hooks = [model.fc_audioset.register_forward_hook(
                 lambda m, i, o: captured.__setitem__("logits", o)),
             model.logmel_extractor.register_forward_hook(
                 lambda m, i, o: captured.__setitem__("log_mel", o[:, 0]))]
    try:
        with torch.no_grad():
            out = model(torch.from_numpy(np.ascontiguousarray(audio)))
    finally:
        for hook in hooks:
            hook.remove()
    result = {k: v.numpy() for k, v in out.items()}
    result.update({k: v.numpy() for k, v in captured.items()})
    return result


def assert_close(ours, theirs, relative=RELATIVE):
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    assert ours.shape == theirs.shape
    error = np.abs(ours - theirs).max()
    assert error <= relative * np.abs(theirs).max(), (error, np.abs(theirs).max())


@pytest.fixture(scope="module")
def fsdd_paths(fsdd_sample):
    """Three FSDD recordings of different speakers, longest first."""
    import soundfile as sf

    paths = []
    for speaker in ("jackson", "nicolas", "george"):
        candidates = fsdd_sample[fsdd_sample.speaker == speaker].path
        paths.append(max(candidates, key=lambda p: sf.info(p).frames))
    return sorted(paths, key=lambda p: sf.info(p).frames, reverse=True)


def audio_at(paths, sample_rate):
    """(clips resampled to `sample_rate`, their zero-padded batch)."""
    clips = [load_audio(p, sample_rate=sample_rate)[0] for p in paths]
    length = max(len(c) for c in clips)
    batch = np.stack([np.pad(c, (0, length - len(c))) for c in clips]).astype("float32")
    return clips, batch


def outputs(model, audio):
    return keras.tree.map_structure(keras.ops.convert_to_numpy, model(audio))


# ----------------------------------------------------------------------------- front end


@pytest.mark.parity
@pytest.mark.parametrize("sample_rate", sorted(SAMPLE_RATES))
def test_log_mel_matches_torchlibrosa(sample_rate, torch, reference, fsdd_paths):
    ref = make_reference(torch, reference, sample_rate=sample_rate, small=True)
    layers = default_frontend(sample_rate)
    _, batch = audio_at(fsdd_paths, sample_rate)
    ours = batch
    for layer in layers:
        ours = layer(ours)
    ours = keras.ops.convert_to_numpy(ours)
    with torch.no_grad():
        theirs = ref.logmel_extractor(ref.spectrogram_extractor(torch.from_numpy(batch)))
    theirs = theirs[:, 0].numpy()
    assert ours.shape == theirs.shape == (3, 1 + batch.shape[1] // layers[0].hop_length, 64)
    # Bins within 80 dB of their clip's maximum: float32 agreement. Further down (the
    # 1e-10 floor, the empty bands above 4 kHz of resampled 8 kHz speech) both sides are
    # float32 rounding of the FFT, a hundredth of a dB apart.
    for mine, expected in zip(ours, theirs, strict=True):
        loud = expected > expected.max() - 80.0
        assert np.abs(mine - expected)[loud].max() <= RELATIVE * np.abs(expected).max()
    assert np.abs(ours - theirs).max() < 0.05


# ----------------------------------------------------------------------------- CNN14 parity


@pytest.mark.parity
def test_cnn14_matches_reference_at_full_size(torch, reference, fsdd_paths):
    ref = make_reference(torch, reference)
    state = ref.state_dict()
    logits = kerasaudio.create_model("panns_cnn14", weights={"model": state},
                                     classifier_activation=None)
    embedder = kerasaudio.create_model("panns_cnn14", include_top=False, weights=state)
    clips, batch = audio_at(fsdd_paths, 32000)
    for audio in (clips[0][None], batch):
        expected = run_reference(torch, ref, audio)
        ours = outputs(logits, audio)
        assert_close(ours, expected["logits"])
        assert_close(1.0 / (1.0 + np.exp(-ours)), expected["clipwise_output"])
        assert_close(outputs(embedder, audio), expected["embedding"])


@pytest.mark.parity
@pytest.mark.jax
@pytest.mark.parametrize("sample_rate", sorted(SAMPLE_RATES))
def test_cnn14_matches_reference_at_each_sample_rate(sample_rate, torch, reference,
                                                     fsdd_paths):
    ref = make_reference(torch, reference, sample_rate=sample_rate, small=True, seed=1)
    model = kerasaudio.create_model("panns_cnn14", sample_rate=sample_rate,
                                    classifier_activation=None, weights=ref.state_dict(),
                                    **SMALL)
    log_mel = keras.Model(model.inputs[0], model.get_layer("power_to_db").output)
    embedder = kerasaudio.create_model("panns_cnn14", sample_rate=sample_rate,
                                       include_top=False, weights=ref.state_dict(), **SMALL)
    clips, batch = audio_at(fsdd_paths, sample_rate)
    for audio in (clips[1][None], batch):
        expected = run_reference(torch, ref, audio)
        assert_close(outputs(model, audio), expected["logits"])
        assert_close(outputs(embedder, audio), expected["embedding"])
        theirs = expected["log_mel"]
        ours = outputs(log_mel, audio)
        loud = theirs > theirs.max(axis=(1, 2), keepdims=True) - 80.0
        assert np.abs(ours - theirs)[loud].max() <= RELATIVE * np.abs(theirs).max()


@pytest.mark.parity
def test_log_mel_input_equals_audio_input(torch, reference, fsdd_paths):
    state = make_reference(torch, reference, small=True).state_dict()
    on_audio = kerasaudio.create_model("panns_cnn14", weights=state, **SMALL)
    on_log_mel = kerasaudio.create_model("panns_cnn14", frontend=None, weights=state, **SMALL)
    assert on_log_mel.inputs[0].shape[1:] == (None, 64)
    _, batch = audio_at(fsdd_paths, 32000)
    features = batch
    for layer in default_frontend(32000):
        features = layer(features)
    np.testing.assert_allclose(outputs(on_log_mel, features), outputs(on_audio, batch),
                               rtol=0, atol=1e-6)


# ----------------------------------------------------------------------------- SED variant


@pytest.mark.parity
def test_decision_level_max_matches_reference_at_full_size(torch, reference, fsdd_paths):
    ref = make_reference(torch, reference, sed=True)
    model = kerasaudio.create_model("panns_cnn14_decision_level_max",
                                    weights=ref.state_dict())
    _, batch = audio_at(fsdd_paths, 32000)
    expected = run_reference(torch, ref, batch)
    got = outputs(model, batch)
    assert set(got) == {"clipwise_output", "framewise_output"}
    frames = 1 + batch.shape[1] // 320
    assert got["framewise_output"].shape == (3, frames, 527)
    assert_close(got["clipwise_output"], expected["clipwise_output"])
    assert_close(got["framewise_output"], expected["framewise_output"])


@pytest.mark.parity
@pytest.mark.jax
def test_decision_level_max_single_outputs_and_embeddings(torch, reference, fsdd_paths):
    ref = make_reference(torch, reference, sed=True, small=True, sample_rate=16000)
    state = ref.state_dict()
    name = "panns_cnn14_decision_level_max"

    def build(**kwargs):
        return kerasaudio.create_model(name, sample_rate=16000, weights=state, **SMALL,
                                       **kwargs)

    _, batch = audio_at(fsdd_paths, 16000)
    expected = run_reference(torch, ref, batch)
    assert_close(outputs(build(outputs="clipwise"), batch), expected["clipwise_output"])
    assert_close(outputs(build(outputs="framewise"), batch), expected["framewise_output"])
    steps = (1 + batch.shape[1] // 160) // 32
    assert outputs(build(include_top=False), batch).shape == (3, steps, 16)
    pooled = outputs(build(include_top=False, pooling="max"), batch)
    assert pooled.shape == (3, 16)


def test_framewise_upsample_repeats_steps_and_pads_with_the_last():
    layer = FramewiseUpsample(ratio=3)
    segments = np.arange(2 * 2 * 1, dtype="float32").reshape(2, 2, 1)
    out = keras.ops.convert_to_numpy(layer([segments, np.zeros((2, 8, 5), "float32")]))
    np.testing.assert_array_equal(out[0, :, 0], [0, 0, 0, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(out[1, :, 0], [2, 2, 2, 3, 3, 3, 3, 3])


# ----------------------------------------------------------------------------- converter


@pytest.mark.parity
def test_checkpoint_file_loads_through_create_model(torch, reference, fsdd_paths, tmp_path):
    ref = make_reference(torch, reference, small=True)
    path = tmp_path / "Cnn14_small.pth"
    torch.save({"model": ref.state_dict(), "iteration": 600000}, path)
    model = kerasaudio.create_model("panns_cnn14", weights=str(path), **SMALL)
    clips, _ = audio_at(fsdd_paths, 32000)
    audio = clips[2][None]
    assert_close(outputs(model, audio), run_reference(torch, ref, audio)["clipwise_output"])
    tensors = read_panns_checkpoint(path)
    assert tensors["fc_audioset.weight"].shape == (527, 16)
    assert tensors["fc_audioset.weight"].dtype == np.float32


@pytest.mark.parity
def test_state_dict_of_numpy_arrays_and_dataparallel_prefix(torch, reference):
    ref = make_reference(torch, reference, small=True)
    arrays = {f"module.{k}": v.numpy() for k, v in ref.state_dict().items()}
    model = kerasaudio.create_model("panns_cnn14", **SMALL)
    load_panns_weights(model, arrays)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.get_layer("fc1").kernel),
        ref.fc1.weight.detach().numpy().T)


@pytest.mark.parity
def test_headless_model_ignores_the_classifier_tensors(torch, reference):
    state = make_reference(torch, reference, small=True).state_dict()
    model = kerasaudio.create_model("panns_cnn14", include_top=False, weights=state, **SMALL)
    assert model.outputs[0].shape[1:] == (16,)


@pytest.mark.parity
def test_missing_and_unexpected_tensors_are_listed(torch, reference):
    state = dict(make_reference(torch, reference, small=True).state_dict())
    del state["fc1.bias"]
    state["att_block.weight"] = torch.zeros(3)
    with pytest.raises(InvalidOptionError, match=r"missing.*fc1\.bias.*unexpected.*att_block"):
        kerasaudio.create_model("panns_cnn14", weights=state, **SMALL)


@pytest.mark.parity
def test_shape_mismatch_names_the_tensor(torch, reference):
    state = make_reference(torch, reference, small=True).state_dict()
    with pytest.raises(InvalidOptionError, match=r"classes=527.*fc_audioset\.weight"):
        kerasaudio.create_model("panns_cnn14", classes=10, weights=state, **SMALL)


@pytest.mark.parity
def test_checkpoint_of_another_sample_rate_is_refused(torch, reference):
    state = make_reference(torch, reference, small=True, sample_rate=16000).state_dict()
    with pytest.raises(InvalidOptionError, match="sample_rate=16000"):
        kerasaudio.create_model("panns_cnn14", weights=state, **SMALL)


class _NotATensor:
    pass


@pytest.mark.parity
def test_files_that_are_not_state_dicts_fail_clearly(torch, tmp_path):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(InvalidOptionError, match="tensors-only"):
        read_panns_checkpoint(garbage)
    pickled = tmp_path / "object.pth"
    torch.save({"model": _NotATensor()}, pickled)
    with pytest.raises(InvalidOptionError, match="tensors-only"):  # never unpickled
        read_panns_checkpoint(pickled)
    listed = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], listed)
    with pytest.raises(InvalidOptionError, match="not a PANNs checkpoint"):
        read_panns_checkpoint(listed)
    with pytest.raises(InvalidOptionError, match="does not exist"):
        kerasaudio.create_model("panns_cnn14", weights=str(tmp_path / "missing.pth"))


@pytest.mark.parity
def test_reading_a_file_without_torch_says_so(torch, tmp_path, monkeypatch):
    path = tmp_path / "state.pth"
    torch.save({"fc1.bias": torch.zeros(2)}, path)
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    with pytest.raises(InvalidOptionError, match="needs torch"):
        read_panns_checkpoint(path)


# ----------------------------------------------------------------------------- options


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"sample_rate": 44100}, "sample_rate"),
    ({"input_shape": (9919,)}, "too short"),
    ({"input_shape": (31, 64), "frontend": None}, "too short"),
    ({"input_shape": (100, 16), "frontend": None}, "too short"),
    ({"filters": (4, 8, 8)}, "filters"),
    ({"embedding_dim": 0}, "embedding_dim"),
])
def test_bad_options_fail_before_building(kwargs, match):
    with pytest.raises(InvalidOptionError, match=match):
        kerasaudio.create_model("panns_cnn14", **{**SMALL, **kwargs})
    with pytest.raises(InvalidOptionError, match="outputs"):
        kerasaudio.create_model("panns_cnn14_decision_level_max", outputs="segments",
                                **SMALL)


def test_shortest_input_runs_and_embeddings_extract(clips):
    model = kerasaudio.create_model("panns_cnn14", input_shape=(9920,), **SMALL)
    assert outputs(model, np.zeros((1, 9920), "float32")).shape == (1, 527)
    any_length = kerasaudio.create_model("panns_cnn14", **SMALL)
    assert outputs(any_length, np.zeros((2, 9920), "float32")).shape == (2, 527)
    with pytest.raises(InvalidAudioError, match=r"31 log-mel frames.*at least 32.*0\.31 s"):
        any_length(np.zeros((1, 9919), "float32"))
    embedder = kerasaudio.create_model("panns_cnn14", include_top=False, **SMALL)
    vectors = kerasaudio.embeddings.extract(embedder, list(clips), sample_rate=8000)
    assert np.asarray(vectors).shape == (3, 16)


# ----------------------------------------------------------------------------- export


@pytest.mark.parity
def test_small_sed_model_converts_to_builtin_tflite(torch, reference, fsdd_paths):
    state = make_reference(torch, reference, sed=True, small=True, sample_rate=8000).state_dict()
    model = kerasaudio.create_model("panns_cnn14_decision_level_max", sample_rate=8000,
                                    input_shape=(8000,), outputs="framewise",
                                    weights=state, **SMALL)
    flatbuffer = export.convert(model, batch_size=1)
    assert not [op for op in export.op_names(flatbuffer) if "flex" in op.lower()]
    audio = np.resize(load_audio(fsdd_paths[0], sample_rate=8000)[0], 8000)[None]
    (lite,) = export.run_tflite(flatbuffer, audio.astype("float32"))
    assert lite.shape == (1, 101, 527)
    np.testing.assert_allclose(lite, outputs(model, audio), atol=1e-5)


@pytest.mark.slow
def test_full_size_cnn14_exports_to_verified_tflite(fsdd_paths):
    """Full-size CNN14 (323 MB float32) on 1 s at 16 kHz, verified in LiteRT (~45 s)."""
    from kerasaudio.export import to_tflite

    model = kerasaudio.create_model("panns_cnn14", sample_rate=16000, input_shape=(16000,))
    clips = np.stack([np.resize(load_audio(p, sample_rate=16000)[0], 16000)
                      for p in fsdd_paths[:2]])
    report = to_tflite(model, representative_data=clips)
    assert report.max_abs_diff <= 1e-4


# ----------------------------------------------------------------------------- AudioSet


def test_audioset_labels_are_the_published_file():
    data = audioset.LABELS_FILE.read_bytes()
    assert hashlib.md5(data).hexdigest() == "68c0b5c199d6cc789852b144cc3ab500"
    names, ids = audioset.class_names(), audioset.class_ids()
    assert len(names) == len(ids) == audioset.CLASS_COUNT == 527
    assert len(set(ids)) == 527
    assert (names[0], names[137], names[526]) == ("Speech", "Music", "Field recording")
    assert ids[0] == "/m/09x0r"
    table = audioset.class_labels()
    assert list(table.index) == list(range(527))
    assert table.loc[1, "display_name"] == "Male speech, man speaking"
