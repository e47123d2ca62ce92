"""The recipe engine (kerasaudio.training) and `python -m zoo train`: the packaged recipes,
a tiny end-to-end run, seeding, weight averaging, tf.distribute, publishing.

Full trainings are run by hand (zoo/README.md); these tests run a few steps on the bundled
120-clip FSDD sample.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasaudio
from kerasaudio.datasets import fsdd
from kerasaudio.errors import InvalidOptionError
from kerasaudio.training import build, fit, protocols
from kerasaudio.training.recipe import (
    RECIPES_DIR,
    Recipe,
    StackRecipe,
    apply_overrides,
    find_recipe,
    load_recipe,
    make_layer,
    packaged_recipes,
)

ROOT = Path(__file__).resolve().parents[1]

#: Training recipes (the packaged ones with a model; stack_fsdd_digits lists members).
NAMES = [name for name in packaged_recipes()
         if "model" in json.loads((RECIPES_DIR / f"{name}.json").read_text())]
DIGITS = [name for name in NAMES if name.endswith("_digits")]
#: A few steps of batch 8, one epoch: the smallest run that exercises everything.
TINY = ["training.epochs=1", "training.batch_size=8", "training.warmup_epochs=0"]


def recipe(name: str, *overrides: str) -> Recipe:
    return load_recipe(name, [*TINY, *overrides])


def test_every_preset_recipe_ships_as_package_data():
    assert set(packaged_recipes()) == {
        "bilstm_attention_fsdd_digits", "complex_cnn_fsdd_digits",
        "deep_speaker_fsdd_speakers", "ecapa_tdnn_fsdd_speakers", "logmel_cnn_fsdd_digits",
        "m5_fsdd_digits", "mfcc_cnn_fsdd_digits", "stack_fsdd_digits", "vggvox_v2_fsdd_speakers"}
    assert RECIPES_DIR == Path(kerasaudio.__file__).parent / "recipes"
    assert not (ROOT / "zoo" / "recipes").exists()  # one copy, no scripts
    for name in packaged_recipes():
        parsed = load_recipe(name)
        assert parsed.preset == name
        assert isinstance(parsed, StackRecipe) == (name == "stack_fsdd_digits")
        if isinstance(parsed, Recipe):
            assert parsed.task == ("speakers" if name.endswith("_speakers") else "digits")


def test_recipes_resolve_to_packaged_names_or_named_json_files_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m5_fsdd_digits.json").write_text("{}")
    (tmp_path / "mine").write_text("{}")
    assert find_recipe("m5_fsdd_digits") == RECIPES_DIR / "m5_fsdd_digits.json"
    assert find_recipe("m5_fsdd_digits.json") == Path("m5_fsdd_digits.json")  # named
    for name in ["mine", "no_such_recipe", "../m5_fsdd_digits", "missing.json",
                 str(RECIPES_DIR / "m5_fsdd_digits")]:
        with pytest.raises(InvalidOptionError, match="no recipe"):
            find_recipe(name)


@pytest.mark.parametrize("name", NAMES)
def test_recipe_builds_an_end_to_end_8khz_model(name):
    r = recipe(name)
    assert r.preset == name and r.sample_rate == 8000 and r.samples == 8000
    assert r.architecture in kerasaudio.list_models()
    model = build.build_model(r)
    assert tuple(model.inputs[0].shape) == (None, 8000)
    assert tuple(model.outputs[0].shape) == (None, len(r.class_names))
    twin = build.build_model(r, training=True)
    assert [w.shape for w in twin.weights] == [w.shape for w in model.weights]
    config = json.loads(json.dumps(build.builder_config(r)))
    assert config["class_names"] == list(r.class_names)
    rebuilt = build.build_from_config(config)
    assert rebuilt.count_params() == model.count_params()
    audio = np.random.default_rng(0).normal(size=(2, 8000)).astype("float32") * 0.1
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(rebuilt(audio)),
                               keras.ops.convert_to_numpy(model(audio)), atol=1e-6)


def test_overrides_set_nested_keys_with_json_values():
    data = {"training": {"epochs": 30}, "frontend": [{"config": {"axis": None}}]}
    out = apply_overrides(data, ["training.epochs=5", "frontend.0.config.axis=1",
                                        "augment.mixup_alpha=null", "preset=x_y",
                                        'augment.waveform=[{"class_name": "RandomGain"}]'])
    assert out == {"training": {"epochs": 5}, "frontend": [{"config": {"axis": 1}}],
                   "augment": {"mixup_alpha": None,
                               "waveform": [{"class_name": "RandomGain"}]},
                   "preset": "x_y"}
    assert data["training"]["epochs"] == 30  # the input is not changed


@pytest.mark.parametrize(("overrides", "match"), [
    (["model.architecture=no_such_net"], "no_such_net"),
    (["model.options.classes=3"], "classes"),
    (['frontend=[{"class_name": "NoSuchLayer"}]'], "NoSuchLayer"),
    (["augment.length_mode=middle"], "length_mode"),
    (["epochs=3"], "epochs"),
    (["training.ema_momentum=1.5"], "ema_momentum"),
    (["training.swa_epochs=1000"], "swa_epochs"),
    (["training.swa_epochs=5", "training.ema_momentum=0.99"], "set one"),
    (["training.epoch=3"], "epoch"),
    (["task=words"], "task"),
    (["training.epochs.x=1"], "not a path"),
    (['frontend=[{"class_name": "Lambda", "config": {}}]'], "Lambda"),
    (['frontend=[{"class_name": "PowerToDb", "config": {"top": 1}}]'], "PowerToDb"),
])
def test_bad_recipes_fail_before_training(overrides, match):
    with pytest.raises(InvalidOptionError, match=match):
        load_recipe(NAMES[0], overrides)


@pytest.mark.slow
@pytest.mark.parametrize("name", DIGITS)
def test_tiny_official_run_writes_weights_config_and_metrics(name, tmp_path):
    r = recipe(name)
    metrics = protocols.run(r, protocols=["official"], out=tmp_path, sample=True,
                            max_steps=2, log=lambda line: None)
    official = metrics["official"]
    assert official["total"] == 60 and official["train_clips"] == 60
    assert official["steps"] == 2 and len(official["history"]["loss"]) == 1
    assert 0 <= official["accuracy"] <= 1
    assert np.sum(official["confusion"]) == 60
    assert {p.name for p in tmp_path.iterdir()} == {
        "config.json", "metrics.json", f"{name}.weights.h5", "recipe.json"}
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["official"]["accuracy"] == official["accuracy"]
    assert on_disk["recipe"] == r.to_dict()
    # The weights and config.json rebuild the model that was evaluated.
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["architecture"] == r.architecture and config["samples"] == 8000
    model = build.build_from_config(config, weights=tmp_path / f"{name}.weights.h5")
    _, test = fsdd.official_split(fsdd.load(sample=True))
    again = protocols.evaluate(model, r, test)
    assert again["confusion"] == official["confusion"]
    assert again["correct"] == np.trace(official["confusion"]) == official["correct"]


@pytest.mark.slow
def test_loso_fold_then_resume_keeps_it(tmp_path):
    r = recipe("m5_fsdd_digits")
    metrics = protocols.run(r, protocols=["loso"], folds=["george"], out=tmp_path,
                            sample=True, max_steps=1, log=lambda line: None)
    fold = metrics["loso"]["per_speaker"]["george"]
    assert fold["total"] == 20 and fold["train_clips"] == 100
    assert metrics["loso"]["mean_accuracy"] == fold["accuracy"]
    assert metrics["loso"]["speakers"] == ["george"] and metrics["loso"]["complete"] is False
    # The fold's model is saved where the ensembles look for it, and config.json rebuilds
    # it: it predicts the held-out speaker exactly as evaluated.
    assert fold["weights"] == "loso/george.weights.h5"
    config = json.loads((tmp_path / "config.json").read_text())
    model = build.build_from_config(config, weights=tmp_path / "loso" / "george.weights.h5")
    index = fsdd.load(sample=True)
    again = protocols.evaluate(model, r, index[index["speaker"] == "george"])
    assert again["confusion"] == fold["confusion"]
    lines = []
    again = protocols.run(r, protocols=["loso"], folds=["george"], out=tmp_path,
                          sample=True, max_steps=1, resume=True, log=lines.append)
    assert again["loso"]["per_speaker"]["george"] == fold and lines == []  # not retrained
    with pytest.raises(InvalidOptionError, match="different recipe"):
        protocols.run(recipe("m5_fsdd_digits", "seed=5"), protocols=["loso"], out=tmp_path,
                      sample=True, resume=True)


@pytest.mark.integration
def test_training_is_reproducible_with_every_augmentation():
    layers = json.dumps([{"class_name": "RandomGain", "config": {}},
                         {"class_name": "AddNoise", "config": {}},
                         {"class_name": "RandomTimeShift", "config": {"max_shift": 400}},
                         {"class_name": "SpeedPerturbation", "config": {}}])
    features = json.dumps([{"class_name": "FrequencyWarp", "config": {}},
                           {"class_name": "SpecAugment",
                            "config": {"freq_mask_param": 4, "time_mask_param": 8}},
                           {"class_name": "FilterAugment", "config": {"seed": 1}},
                           {"class_name": "TimeStretch", "config": {"seed": 2}}])
    r = recipe("logmel_cnn_fsdd_digits", f"augment.waveform={layers}",
               f"augment.features={features}", "augment.mixup_alpha=0.3",
               "augment.length_mode=random")
    frame = fsdd.load(sample=True)
    a, _ = fit.train(r, frame, max_steps=2)
    b, _ = fit.train(r, frame, max_steps=2)
    for x, y in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)


def _tiny_fit(optimizer, *, epochs: int, steps: int, swa_epochs: int = 0):
    """`fit.fit` on a Dense -> BatchNorm -> Dense model and one fixed batch.

    Returns the model and the trainable weights at the end of every epoch (taken when
    the epoch's log line is written).
    """
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3, name="hidden")(inputs)
    hidden = keras.layers.BatchNormalization(momentum=0.5, name="bn")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(hidden))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4)).astype("float32") * 3 + 1
    y = np.eye(2, dtype="float32")[rng.integers(0, 2, 8)]
    ds = tf.data.Dataset.from_tensors((x, y))
    optimizer.build(model.trainable_variables)
    snapshots = []
    fit.fit(model, optimizer, ds, strategy=tf.distribute.get_strategy(), epochs=epochs,
            steps=steps, global_batch=8, label_smoothing=0.0, jit_compile=False,
            swa_epochs=swa_epochs,
            log=lambda line: snapshots.append([v.numpy().copy()
                                               for v in model.trainable_variables]))
    return model, snapshots, x


def test_swa_is_the_mean_of_the_last_epochs_with_batch_norm_recomputed():
    model, snapshots, x = _tiny_fit(keras.optimizers.SGD(0.2), epochs=4, steps=20,
                                    swa_epochs=3)
    final = [v.numpy() for v in model.trainable_variables]
    for value, *ends in zip(final, *snapshots[-3:], strict=True):
        np.testing.assert_allclose(value, np.mean(ends, axis=0), rtol=1e-6, atol=1e-7)
    assert not np.allclose(final[0], snapshots[-1][0], atol=1e-3)  # averaging did something
    # The batch-norm statistics are those of the averaged weights' activations on the
    # training batch (20 passes at momentum 0.5), not those of the last weights.
    dense = model.get_layer("hidden")
    h = x @ dense.kernel.numpy() + dense.bias.numpy()
    bn = model.get_layer("bn")
    np.testing.assert_allclose(bn.moving_mean.numpy(), h.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), h.var(0), rtol=1e-3, atol=1e-5)
    last = x @ snapshots[-1][0] + snapshots[-1][1]
    assert np.abs(bn.moving_mean.numpy() - last.mean(0)).max() > 1e-3


def test_ema_copies_the_moving_average_of_every_step_into_the_model():
    model, snapshots, _ = _tiny_fit(
        keras.optimizers.SGD(0.2, use_ema=True, ema_momentum=0.8), epochs=6, steps=1)
    expected = snapshots[0]  # the average starts at the weights after the first step
    for step in snapshots[1:]:
        expected = [0.8 * a + 0.2 * w for a, w in zip(expected, step, strict=True)]
    for value, want in zip(model.trainable_variables, expected, strict=True):
        np.testing.assert_allclose(value.numpy(), want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(model.trainable_variables[0].numpy(), snapshots[-1][0])


@pytest.mark.slow
def test_weight_averaging_options_reach_the_optimizer_and_the_saved_model():
    frame = fsdd.load(sample=True)
    base, base_info = fit.train(recipe("logmel_cnn_fsdd_digits"), frame, max_steps=3)
    for option in ["training.ema_momentum=0.9", "training.swa_epochs=1"]:
        model, info = fit.train(recipe("logmel_cnn_fsdd_digits", option), frame,
                                max_steps=3)
        # The same training (identical history), then other final weights (for SWA over
        # the one epoch: the same trainable weights, recomputed batch-norm statistics).
        assert info["history"] == base_info["history"]
        assert [w.shape for w in model.weights] == [w.shape for w in base.weights]
        assert any(not np.array_equal(a, b) for a, b in
                   zip(model.get_weights(), base.get_weights(), strict=True))


def test_runs_written_before_new_options_existed_count_as_the_same_recipe():
    r = recipe("logmel_cnn_fsdd_digits")
    old = r.to_dict()
    old.pop("adversary")
    old.pop("task")
    del old["training"]["ema_momentum"], old["training"]["swa_epochs"]
    assert protocols.same_training({"recipe": old}, r)
    assert not protocols.same_training(
        {"recipe": old}, recipe("logmel_cnn_fsdd_digits", "training.swa_epochs=1"))
    # A speaker run's task is in its metrics when its recipe does not name one.
    speakers = recipe("deep_speaker_fsdd_speakers")
    old = speakers.to_dict()
    old.pop("task")
    assert protocols.same_training({"recipe": old, "task": "speakers"}, speakers)
    assert not protocols.same_training({"recipe": old}, speakers)


@pytest.mark.parametrize("shape", [(3, 7, 40), (3, 7, 40, 1)])
def test_filter_augment_adds_one_smooth_curve_per_example_in_training_only(shape):
    from kerasaudio.training.augment import FilterAugment

    layer = make_layer({"class_name": "FilterAugment",
                               "config": {"max_offset": 0.5, "points": 3, "seed": 0}})
    assert isinstance(layer, FilterAugment)
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), x)
    curve = keras.ops.convert_to_numpy(layer(x, training=True)) - x
    curve = curve.reshape(shape[:3])
    # The same offset curve on every frame of an example, different across examples.
    np.testing.assert_allclose(curve, np.broadcast_to(curve[:, :1], curve.shape), atol=1e-5)
    assert np.abs(curve).max() <= 0.5 + 1e-6 and np.ptp(curve[:, 0, 0]) > 0
    # Piecewise linear between the 3 control points (bins 0, 19.5, 39).
    first = curve[:, 0, :20]
    np.testing.assert_allclose(np.diff(first, 2, axis=1), 0, atol=1e-5)
    again = FilterAugment.from_config(layer.get_config())
    assert (again.max_offset, again.points, again.seed) == (0.5, 3, 0)
    with pytest.raises(ValueError, match="points"):
        FilterAugment(points=1)


@pytest.mark.parametrize("shape", [(3, 101, 40), (3, 101, 40, 1)])
def test_time_stretch_resamples_frames_per_example_in_training_only(shape):
    from kerasaudio.training.augment import TimeStretch

    layer = make_layer({"class_name": "TimeStretch",
                               "config": {"min_rate": 0.5, "max_rate": 2.0, "seed": 0}})
    assert isinstance(layer, TimeStretch)
    # A 21-frame block in the middle of the window, a different profile in every bin.
    x = np.zeros(shape, "float32")
    x[:, 40:61] = np.linspace(1, 2, 40, dtype="float32").reshape(
        (1, 1, 40) + (1,) * (len(shape) - 3))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), x)
    y = keras.ops.convert_to_numpy(layer(x, training=True)).reshape(shape[:3])
    # The spectrum of every frame is kept (each frame a mix of two neighbouring input
    # frames: here the block's profile scaled by at most 1), only the tempo changes.
    profile = y / np.linspace(1, 2, 40, dtype="float32")
    np.testing.assert_allclose(profile, np.broadcast_to(profile[..., :1], profile.shape),
                               atol=1e-5)
    assert profile.max() <= 1 + 1e-6
    lengths = (profile[..., 0] > 0.5).sum(axis=1)
    assert len(set(lengths.tolist())) > 1  # one rate per example
    assert all(10 <= n <= 43 for n in lengths)  # 21 frames at rates 2.0 .. 0.5
    again = TimeStretch.from_config(layer.get_config())
    assert (again.min_rate, again.max_rate, again.seed) == (0.5, 2.0, 0)
    with pytest.raises(ValueError, match="min_rate"):
        TimeStretch(min_rate=1.2, max_rate=1.1)


@pytest.mark.parametrize("shape", [(6, 101, 40), (6, 101, 40, 1)])
def test_freq_mix_style_recolours_each_band_with_a_mix_of_two_examples(shape):
    from kerasaudio.training.augment import FreqMixStyle

    layer = make_layer({"class_name": "FreqMixStyle",
                               "config": {"p": 1.0, "alpha": 0.5, "seed": 0}})
    assert isinstance(layer, FreqMixStyle)
    rng = np.random.default_rng(0)
    # Every example and bin its own level and spread.
    x = (rng.normal(size=shape) * rng.uniform(0.5, 3, size=(6, 1, 40, *shape[3:]))
         + rng.normal(size=(6, 1, 40, *shape[3:])) * 4).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), x)
    y = keras.ops.convert_to_numpy(layer(x, training=True)).reshape(shape[:3])
    x = x.reshape(shape[:3])
    mean, std = x.mean(1), x.std(1)
    new_mean, new_std = y.mean(1), y.std(1)
    # The normalised spectrogram is kept; only the band statistics change.
    np.testing.assert_allclose((y - new_mean[:, None]) / new_std[:, None],
                               (x - mean[:, None]) / std[:, None], atol=2e-4)
    moved = 0
    for i in range(6):
        # lam * own + (1 - lam) * another example's, one lam for every bin of the clip.
        fits = []
        for j in range(6):
            d = mean[i] - mean[j]
            if j == i or np.abs(d).max() < 1e-3:
                continue
            lam = 1 + np.dot(new_mean[i] - mean[i], d) / np.dot(d, d)
            if (np.allclose(new_mean[i], lam * mean[i] + (1 - lam) * mean[j], atol=1e-3)
                    and np.allclose(new_std[i], lam * std[i] + (1 - lam) * std[j],
                                    atol=1e-3)):
                fits.append(lam)
        unchanged = np.allclose(new_mean[i], mean[i], atol=1e-4)
        assert unchanged or (len(fits) == 1 and -1e-4 <= fits[0] <= 1 + 1e-4), i
        moved += not unchanged
    assert moved >= 3  # p = 1: all but those paired with themselves by the permutation
    off = FreqMixStyle(p=0.0, seed=0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(off(x, training=True)), x,
                               atol=1e-4)
    again = FreqMixStyle.from_config(layer.get_config())
    assert (again.p, again.alpha, again.seed) == (1.0, 0.5, 0)
    with pytest.raises(ValueError, match="alpha"):
        FreqMixStyle(alpha=0)


@pytest.mark.slow
def test_zoo_train_runs_under_mirrored_strategy_on_two_cpus(tmp_path):
    """Logical devices must be set before TensorFlow starts: a fresh interpreter."""
    name = "logmel_cnn_fsdd_digits"
    code = textwrap.dedent(f"""
        import sys
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from zoo.__main__ import main
        sys.exit(main(["train", {name!r}, "--strategy", "mirrored", "--sample",
                       "--max-steps", "2", "--protocol", "official", "--out",
                       {str(tmp_path)!r}, "--verbose", "0", "--set", "training.epochs=1",
                       "--set", "training.batch_size=8"]))
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["environment"]["strategy"] == "MirroredStrategy"
    assert metrics["environment"]["replicas"] == 2
    assert metrics["official"]["replicas"] == 2 and metrics["official"]["steps"] == 2
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["preset"] == name and summary["official"] == metrics["official"]["accuracy"]


@pytest.mark.integration
def test_zoo_is_one_entry_point_without_path_edits():
    done = subprocess.run([sys.executable, "-m", "zoo", "--help"], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    for command in ["train", "study", "speaker-curve", "synthetic"]:
        assert command in done.stdout
    for path in (ROOT / "zoo").rglob("*.py"):
        text = path.read_text()
        assert "sys.path" not in text and "._actions" not in text, path
        assert "benchmarks" not in text, path
    done = subprocess.run([sys.executable, "-m", "zoo", "train", "no_such_recipe"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 2 and "no recipe 'no_such_recipe'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.integration
def test_publish_run_writes_a_loadable_entry_with_the_run_metrics(tmp_path, monkeypatch):
    pytest.importorskip("zoo.publish", reason="zoo/publish.py (the manifest writer) "
                        "comes with the weights package")
    from zoo.train import publish_run

    r = recipe("m5_fsdd_digits")
    out = tmp_path / "run"
    metrics = protocols.run(r, protocols=["official", "loso"], folds=["theo"], out=out,
                            sample=True, max_steps=1, log=lambda line: None)
    manifests = [tmp_path / "a" / "manifest.json", tmp_path / "b" / "manifest.json"]
    for path in manifests:
        path.parent.mkdir()
        path.write_text('{"format": 1, "presets": {}}\n')
    with pytest.raises(InvalidOptionError, match="incomplete"):
        publish_run(r, out, manifest_path=manifests)
    with pytest.raises(InvalidOptionError, match="different recipe"):
        publish_run(recipe("m5_fsdd_digits", "seed=3"), out, manifest_path=manifests,
                    require_loso=False)
    with pytest.raises(InvalidOptionError, match="bundled 120-clip sample"):
        publish_run(r, out, require_loso=False)
    preset = publish_run(r, out, manifest_path=manifests, require_loso=False)
    assert manifests[0].read_bytes() == manifests[1].read_bytes()
    entry = json.loads(manifests[0].read_text())["presets"]["m5_fsdd_digits"]
    assert entry["metrics"]["official_accuracy"] == metrics["official"]["accuracy"]
    assert entry["metrics"]["loso_per_speaker"] == {
        "theo": metrics["loso"]["per_speaker"]["theo"]["accuracy"]}
    assert entry["license"] == fsdd.LICENSE
    assert entry["recipe"] == "kerasaudio/recipes/m5_fsdd_digits.json"
    assert (manifests[1].parent / "weights" / preset.file).is_file()
    # The published preset loads through create_model and predicts what the run evaluated.
    monkeypatch.setenv("KERASAUDIO_MANIFEST", str(manifests[1]))
    monkeypatch.setenv("KERASAUDIO_OFFLINE", "1")
    monkeypatch.setenv("KERASAUDIO_HOME", str(tmp_path / "home"))
    model = kerasaudio.create_model("m5_fsdd_digits")
    _, test = fsdd.official_split(fsdd.load(sample=True))
    assert protocols.evaluate(model, r, test)["confusion"] == metrics["official"]["confusion"]


@pytest.mark.integration
def test_stack_recipe_measures_the_published_stack_and_the_members_folds(tmp_path):
    from kerasaudio.training import stack
    from kerasaudio.training.recipe import parse_recipe

    members = ["m5_fsdd_digits", "logmel_cnn_fsdd_digits"]
    r = parse_recipe({"preset": "two_fsdd_digits", "members": members, "aggregate": "gmean"})
    with pytest.raises(InvalidOptionError, match="fold models missing"):
        stack.run(r, out=tmp_path / "two", protocols=["loso"], sample=True,
                  log=lambda line: None)
    # Members' runs with a fold model per speaker (fresh weights: what is measured is
    # the combination, not the training).
    for i, member in enumerate(members):
        config = build.builder_config(load_recipe(member))
        (tmp_path / member / "loso").mkdir(parents=True)
        (tmp_path / member / "config.json").write_text(json.dumps(config))
        for j, speaker in enumerate(fsdd.SPEAKERS):
            keras.utils.set_random_seed(10 * i + j)
            build.build_from_config(config).save_weights(
                tmp_path / member / "loso" / f"{speaker}.weights.h5")
    metrics = stack.run(r, out=tmp_path / "two", sample=True, log=lambda line: None)
    assert metrics["official_correct"] == f"{round(metrics['official_accuracy'] * 60)}/60"
    assert metrics["official_accuracy"] >= 0.9  # the published presets on the sample
    assert metrics["checks"]["keras_stack_vs_member_aggregate_max_diff"] <= 1e-5
    assert set(metrics["loso_per_speaker"]) == set(fsdd.SPEAKERS)
    # One fold recomputed: the members' fold models, combined by a geometric mean.
    index = fsdd.load(sample=True)
    frame = index[index["speaker"] == "theo"]
    x = stack.load_clips(frame)
    probs = [build.build_from_config(
        json.loads((tmp_path / m / "config.json").read_text()),
        weights=tmp_path / m / "loso" / "theo.weights.h5").predict(x, verbose=0)
        for m in members]
    gmean = np.exp(np.mean(np.log(np.maximum(probs, 1e-12)), axis=0))
    expected = float((gmean.argmax(1) == frame["digit"].to_numpy()).mean())
    assert metrics["loso_per_speaker"]["theo"] == pytest.approx(expected, abs=1e-5)
    written = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert written["recipe"] == r.to_dict() and written["sample"] is True
