"""The `stack` model family and the `stack_fsdd_digits` preset (kerasaudio/ensemble/family.py).

The registry-wide checks (forward pass, training, `.keras` and weights round trips, TFLite,
bad arguments) run on it in tests/test_models.py; here: what a stack computes, the
published preset, and the manifest's checks of stack entries.
"""

import copy
import json
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import kerasaudio
from kerasaudio import export, hub
from kerasaudio.ensemble import member_spec, publishable_config
from kerasaudio.errors import InvalidOptionError, ManifestError
from kerasaudio.layers.ensemble import EPSILON
from kerasaudio.models import build_arguments, build_model
from zoo.publish import manifest_text, publish

ROOT = Path(__file__).resolve().parents[1]
PRESET = "stack_fsdd_digits"
TWO = ["logmel_cnn_fsdd_digits", "m5_fsdd_digits"]


@pytest.fixture(scope="module")
def bundled():
    """The bundled FSDD clips (120, 1 s at 8 kHz) and their digits."""
    return hub.representative_clips("m5_fsdd_digits")


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No network and an empty cache: only the weights shipped in the package."""
    monkeypatch.setenv("KERASAUDIO_OFFLINE", "1")
    monkeypatch.setenv("KERASAUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KERASAUDIO_MANIFEST", raising=False)


def predict(model, x):
    return np.asarray(model.predict(x, batch_size=60, verbose=0), dtype=np.float64)


def aggregate_numpy(probs: np.ndarray, aggregate) -> np.ndarray:
    """What each aggregate means, written out: probs is (members, clips, classes)."""
    if aggregate == "gmean":
        out = np.exp(np.log(probs + EPSILON).mean(0))
        return out / out.sum(1, keepdims=True)
    if aggregate == "mean":
        return probs.mean(0)
    weights = np.asarray(aggregate, dtype=np.float64)
    return np.tensordot(weights / weights.sum(), probs, axes=1)


@pytest.mark.jax
@pytest.mark.parametrize("aggregate", ["gmean", "mean", [3.0, 1.0]])
def test_stack_of_presets_is_the_aggregate_of_its_members(bundled, offline, aggregate):
    clips, _ = bundled
    x = clips[::4]
    model = kerasaudio.create_model("stack", members=TWO, aggregate=aggregate)
    members = np.stack([predict(kerasaudio.create_model(name), x) for name in TWO])
    np.testing.assert_allclose(predict(model, x), aggregate_numpy(members, aggregate),
                               atol=1e-5)  # float32 sums; JAX and TF differ by ~2e-6
    assert model.count_params() == sum(hub.get_preset(n).parameters for n in TWO)


@pytest.mark.integration
def test_published_stack_loads_offline_and_holds_every_members_weights(bundled, offline):
    clips, labels = bundled
    preset = hub.get_preset(PRESET)
    model = kerasaudio.create_model(PRESET)
    assert model.name == PRESET and hub.preset_of(model) == preset
    probs = predict(model, clips)
    assert (probs.argmax(1) == labels).mean() >= 0.99  # 120/120 when published
    names = [m["name"] for m in preset.config["members"]]
    rebuilt = kerasaudio.create_model("stack", members=names, aggregate="gmean")
    np.testing.assert_allclose(predict(rebuilt, clips), probs, atol=1e-6)
    same = kerasaudio.create_model("stack", weights="fsdd_digits")
    np.testing.assert_allclose(predict(same, clips[:8]), probs[:8], atol=1e-6)


def test_published_stack_metrics_beat_every_member():
    preset = hub.get_preset(PRESET)
    members = [m["name"] for m in preset.config["members"]]
    recipe = json.loads((ROOT / "kerasaudio" / "recipes" / f"{PRESET}.json").read_text())
    assert members == recipe["members"] and preset.config["aggregate"] == recipe["aggregate"]
    best = max(hub.get_preset(m).metrics["loso_accuracy"] for m in members)
    assert preset.metrics["loso_accuracy"] >= best + 0.01  # 93.8 against 91.5
    assert preset.metrics["official_accuracy"] >= 0.995
    assert set(preset.metrics["loso_per_speaker"]) == {
        "george", "jackson", "lucas", "nicolas", "theo", "yweweler"}
    assert preset.parameters == sum(hub.get_preset(m).parameters for m in members)


@pytest.mark.integration
def test_publish_writes_self_contained_members_that_reload(bundled, offline, tmp_path,
                                                           monkeypatch):
    clips, _ = bundled
    model = kerasaudio.create_model("stack", members=TWO, aggregate="mean")
    manifest = tmp_path / "pkg" / "manifest.json"
    publish(model, "two_fsdd_digits", task="digits", class_names=[str(d) for d in range(10)],
            sample_rate=8000, input_length=8000, metrics={"official_accuracy": 1.0},
            recipe="zoo/recipes/x.py", training_data="the two presets (test)",
            license="CC BY-SA 4.0 (test)", manifest_path=manifest)
    entry = json.loads(manifest.read_text())["presets"]["two_fsdd_digits"]
    assert [m["name"] for m in entry["config"]["members"]] == TWO
    assert entry["config"]["members"][0]["config"] == hub.get_preset(TWO[0]).config
    assert "pretrained_members" not in entry["config"]
    monkeypatch.setenv("KERASAUDIO_MANIFEST", str(manifest))
    again = kerasaudio.create_model("two_fsdd_digits")
    np.testing.assert_allclose(predict(again, clips[:10]), predict(model, clips[:10]),
                               atol=1e-6)


def test_member_spec_of_a_model_and_of_a_preset_name(offline):
    model = kerasaudio.create_model("m5", n_channel=8, input_shape=(8000, 1), classes=3,
                                    name="small")
    assert member_spec(model) == {"architecture": "m5", "name": "small", "config": {
        "n_channel": 8, "input_shape": [8000, 1], "classes": 3}}
    spec = member_spec("logmel_cnn_fsdd_digits")
    assert spec["architecture"] == "complex_cnn"
    assert [f["class_name"] for f in spec["config"]["frontend"]] == [
        "MelSpectrogram", "PowerToDb", "Standardize", "Reshape"]
    with pytest.raises(InvalidOptionError, match=r"not built by kerasaudio\.create_model"):
        member_spec(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))
    config = publishable_config({"members": TWO, "pretrained_members": False},
                                class_names="ab", sample_rate=8000)
    assert config["class_names"] == ["a", "b"] and "pretrained_members" not in config


TINY = {"architecture": "m3", "config": {"input_shape": [8000, 1], "classes": 10}}


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"members": TWO, "include_top": False}, "include_top must be True"),
    ({"members": TWO, "pooling": "avg"}, "no pooling option"),
    ({"members": TWO, "classifier_activation": None}, "combined probabilities"),
    ({"members": TWO, "classes": 12}, "classes=12 but the members have 10"),
    ({"members": TWO, "input_shape": (8000, 1)}, r"\(samples,\) or \(None,\)"),
    ({"members": ["logmel_cnn_fsdd_digits"]}, "two or more members"),
    ({"members": "logmel_cnn_fsdd_digits"}, "two or more members"),
    ({"members": ["logmel_cnn_fsdd_digits", "m5"]}, "'m5', not a preset name"),
    ({"members": [TINY, {**TINY, "url": "x"}]}, r"got keys \['architecture', 'config', 'url'"),
    ({"members": [TINY, {**TINY, "weights": "x"}]}, "neither None nor a .weights.h5 file"),
    ({"members": [TINY, {"architecture": "stack", "config": {}}]}, "cannot be a member"),
    ({"members": [TINY, {"architecture": "m6"}]}, "no model named 'm6'"),
    ({"members": [TINY, {**TINY, "config": {**TINY["config"], "name": "x"}}]},
     "do not belong in 'config'"),
    ({"members": [TINY, TINY]}, "no class names in its model-info record: pass class_names"),
])
def test_bad_stack_options_fail_clearly(offline, kwargs, match):
    with pytest.raises(InvalidOptionError, match=match):
        kerasaudio.create_model("stack", **kwargs)


def lambda_layer() -> dict:
    return {"class_name": "Lambda", "module": "keras.layers", "registered_name": None,
            "config": {"function": "print"}}


@pytest.mark.parametrize(("edit", "match"), [
    (lambda c: c["members"].__setitem__(0, "m5_fsdd_digits"), "must be an object with"),
    (lambda c: c["members"][0].pop("name"), "must be an object with"),
    (lambda c: c["members"][0].__setitem__("sample_rate", "8k"),
     "'sample_rate' must be an integer >= 1"),
    (lambda c: c.__setitem__("members", c["members"][:1]), "two or more member objects"),
    (lambda c: c["members"][1].__setitem__("architecture", "stack"), "do not nest"),
    (lambda c: c["members"][1]["config"].__setitem__("dropout_rate", 0.5),
     r"takes no option\(s\) \['dropout_rate'\]"),
    (lambda c: c["members"][0]["config"]["frontend"].append(lambda_layer()),
     "Lambda is not allowed"),
    (lambda c: c.__setitem__("class_names", list("abcdefghij")), "is not the entry's"),
])
def test_manifest_rejects_bad_stack_entries(tmp_path, edit, match):
    entry = copy.deepcopy(hub.get_preset(PRESET).entry())
    edit(entry["config"])
    path = tmp_path / "manifest.json"
    path.write_text(manifest_text({PRESET: entry}))
    with pytest.raises(ManifestError, match=match):
        hub.get_preset(PRESET, manifest=path)


@pytest.mark.export
def test_stack_preset_exports_one_verified_tflite_file(bundled, offline, tmp_path):
    clips, labels = bundled
    model = kerasaudio.create_model(PRESET)
    report = export.to_tflite(model, tmp_path / "stack.tflite", quantization=None,
                              representative_data=clips[::6], labels=labels[::6])
    assert report.passed and report.max_abs_diff <= 1e-4 and report.tflite_accuracy == 1.0
    lite = export.TFLiteModel(tmp_path / "stack.tflite")
    assert lite.class_names == [str(d) for d in range(10)] and lite.sample_rate == 8000
    np.testing.assert_allclose(lite.predict(clips[0]), predict(model, clips[:1])[0],
                               atol=1e-4)


@pytest.mark.integration
def test_recipe_command_explains_itself():
    import subprocess

    run = subprocess.run([sys.executable, "-m", "zoo", "train", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "--publish" in run.stdout


@pytest.mark.jax
def test_members_at_other_rates_get_the_input_resampled(bundled, offline):
    """8 kHz presets in a 16 kHz stack hear what they would hear alone (the input is
    resampled in the graph); a dict member names its own rate; publishing a preset-name
    member at another rate than the stack's records it."""
    from scipy.signal import resample_poly

    clips, _ = bundled
    x8 = clips[::10]
    x16 = resample_poly(x8, 2, 1, axis=1).astype("float32")
    model = kerasaudio.create_model("stack", members=TWO, sample_rate=16000)
    assert model.inputs[0].shape[1] == 16000
    assert model.get_layer("resample_16000_to_8000") is not None
    members = np.stack([predict(kerasaudio.create_model(name), x8) for name in TWO])
    np.testing.assert_allclose(predict(model, x16), aggregate_numpy(members, "gmean"),
                               atol=0.02)
    spec = {**member_spec("m5_fsdd_digits"), "sample_rate": 8000}
    other = {**member_spec("logmel_cnn_fsdd_digits"), "sample_rate": 8000}
    mixed = kerasaudio.create_model("stack", members=[spec, other], sample_rate=16000,
                                    class_names=[str(d) for d in range(10)])
    assert mixed.inputs[0].shape[1] == 16000
    with pytest.raises(InvalidOptionError, match="sample_rate=0 must be a positive"):
        kerasaudio.create_model("stack", members=[{**spec, "sample_rate": 0}, other])
    config = publishable_config({"members": ["m5_fsdd_digits"]}, class_names="ab",
                                sample_rate=16000)
    assert config["members"][0]["sample_rate"] == 8000
    assert "sample_rate" not in publishable_config(
        {"members": ["m5_fsdd_digits"]}, class_names="ab", sample_rate=8000)["members"][0]


def test_the_registered_builder_takes_descriptions_and_the_hub_expands_names(offline):
    """The stack builder never reads the manifest: `create_model` turns preset names into
    complete member descriptions (with their verified weights files) before it runs."""
    with pytest.raises(InvalidOptionError, match="a name: this builder takes member "):
        build_model("stack", members=TWO)
    model = kerasaudio.create_model("stack", members=TWO)
    architecture, options = build_arguments(model)
    assert architecture == "stack"
    for name, member in zip(TWO, options["members"], strict=True):
        preset = hub.get_preset(name)
        assert member["architecture"] == preset.architecture and member["name"] == name
        assert member["config"] == preset.config
        assert (member["sample_rate"], tuple(member["class_names"])) == (
            preset.sample_rate, preset.class_names)
        assert Path(member["weights"]).name == preset.file
    random = kerasaudio.create_model("stack", members=TWO, pretrained_members=False)
    assert all("weights" not in m for m in build_arguments(random)[1]["members"])
    rebuilt = build_model("stack", **options)  # the descriptions alone rebuild it
    clips = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 8000)).astype("float32")
    np.testing.assert_allclose(predict(rebuilt, clips), predict(model, clips), atol=1e-6)
