"""The training recipes (zoo/): configs, a tiny end-to-end run, seeding, tf.distribute.

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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zoo import common  # noqa: E402

#: Training recipes (zoo/common.py's format); stack_fsdd_digits.json lists members only
#: (tests/test_stack.py).
RECIPES = sorted(path for path in (ROOT / "zoo" / "recipes").glob("*.json")
                 if "model" in json.loads(path.read_text()))
NAMES = [path.stem for path in RECIPES]
#: A few steps of batch 8, one epoch: the smallest run that exercises everything.
TINY = ["training.epochs=1", "training.batch_size=8", "training.warmup_epochs=0"]


def recipe(name: str, *overrides: str) -> common.Recipe:
    return common.load_recipe(ROOT / "zoo" / "recipes" / f"{name}.json", [*TINY, *overrides])


def test_the_digit_presets_have_recipes():
    assert {"m5_fsdd_digits", "complex_cnn_fsdd_digits"} <= set(NAMES)
    assert any(name.startswith(("logmel_", "bilstm_attention_")) for name in NAMES)
    for path in RECIPES:
        assert path.with_suffix(".py").is_file(), f"{path.stem}: no script"


@pytest.mark.parametrize("name", NAMES)
def test_recipe_builds_an_end_to_end_8khz_model(name):
    r = recipe(name)
    assert r.preset == name and r.sample_rate == 8000 and r.samples == 8000
    assert r.architecture in kerasaudio.list_models()
    model = common.build_model(r)
    assert tuple(model.inputs[0].shape) == (None, 8000)
    assert tuple(model.outputs[0].shape) == (None, 10)
    twin = common.build_model(r, training=True)
    assert [w.shape for w in twin.weights] == [w.shape for w in model.weights]
    config = json.loads(json.dumps(common.builder_config(r)))
    rebuilt = common.build_from_config(config)
    assert rebuilt.count_params() == model.count_params()
    audio = np.random.default_rng(0).normal(size=(2, 8000)).astype("float32") * 0.1
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(rebuilt(audio)),
                               keras.ops.convert_to_numpy(model(audio)), atol=1e-6)


def test_overrides_set_nested_keys_with_json_values():
    data = {"training": {"epochs": 30}, "frontend": [{"config": {"axis": None}}]}
    out = common.apply_overrides(data, ["training.epochs=5", "frontend.0.config.axis=1",
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
])
def test_bad_recipes_fail_before_training(overrides, match):
    path = ROOT / "zoo" / "recipes" / f"{NAMES[0]}.json"
    with pytest.raises((InvalidOptionError, TypeError), match=match):
        common.load_recipe(path, overrides)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_tiny_official_run_writes_weights_config_and_metrics(name, tmp_path):
    r = recipe(name)
    metrics = common.run(r, protocols=["official"], out=tmp_path, sample=True, max_steps=2,
                         log=lambda line: None)
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
    model = common.build_from_config(config, weights=tmp_path / f"{name}.weights.h5")
    _, test = fsdd.official_split(common.load_index(sample=True))
    again = common.evaluate(model, r, test)
    assert again["confusion"] == official["confusion"]
    assert again["correct"] == np.trace(official["confusion"]) == official["correct"]


@pytest.mark.slow
def test_loso_fold_then_resume_keeps_it(tmp_path):
    r = recipe("m5_fsdd_digits")
    metrics = common.run(r, protocols=["loso"], folds=["george"], out=tmp_path, sample=True,
                         max_steps=1, log=lambda line: None)
    fold = metrics["loso"]["per_speaker"]["george"]
    assert fold["total"] == 20 and fold["train_clips"] == 100
    assert metrics["loso"]["mean_accuracy"] == fold["accuracy"]
    assert metrics["loso"]["speakers"] == ["george"] and metrics["loso"]["complete"] is False
    # The fold's model is saved where the ensembles look for it, and config.json rebuilds
    # it: it predicts the held-out speaker exactly as evaluated.
    assert fold["weights"] == "loso/george.weights.h5"
    config = json.loads((tmp_path / "config.json").read_text())
    model = common.build_from_config(config, weights=tmp_path / "loso" / "george.weights.h5")
    index = common.load_index(sample=True)
    again = common.evaluate(model, r, index[index["speaker"] == "george"])
    assert again["confusion"] == fold["confusion"]
    lines = []
    again = common.run(r, protocols=["loso"], folds=["george"], out=tmp_path, sample=True,
                       max_steps=1, resume=True, log=lines.append)
    assert again["loso"]["per_speaker"]["george"] == fold and lines == []  # not retrained
    with pytest.raises(InvalidOptionError, match="different recipe"):
        common.run(recipe("m5_fsdd_digits", "seed=5"), protocols=["loso"], out=tmp_path,
                   sample=True, resume=True)


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
    frame = common.load_index(sample=True)
    a, _ = common.train(r, frame, max_steps=2)
    b, _ = common.train(r, frame, max_steps=2)
    for x, y in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)


def _tiny_fit(optimizer, *, epochs: int, steps: int, swa_epochs: int = 0):
    """`common._fit` on a Dense -> BatchNorm -> Dense model and one fixed batch.

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
    common._fit(model, optimizer, ds, strategy=tf.distribute.get_strategy(), epochs=epochs,
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
    frame = common.load_index(sample=True)
    base, base_info = common.train(recipe("logmel_cnn_fsdd_digits"), frame, max_steps=3)
    for option in ["training.ema_momentum=0.9", "training.swa_epochs=1"]:
        model, info = common.train(recipe("logmel_cnn_fsdd_digits", option), frame,
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
    del old["training"]["ema_momentum"], old["training"]["swa_epochs"]
    assert common._same_training(old, r.to_dict())
    assert not common._same_training(old, recipe("logmel_cnn_fsdd_digits",
                                                 "training.swa_epochs=1").to_dict())


@pytest.mark.parametrize("shape", [(3, 7, 40), (3, 7, 40, 1)])
def test_filter_augment_adds_one_smooth_curve_per_example_in_training_only(shape):
    from zoo.augment import FilterAugment

    layer = common.make_layer({"class_name": "FilterAugment",
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
    from zoo.augment import TimeStretch

    layer = common.make_layer({"class_name": "TimeStretch",
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
    from zoo.augment import FreqMixStyle

    layer = common.make_layer({"class_name": "FreqMixStyle",
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
def test_recipe_script_trains_under_mirrored_strategy_on_two_cpus(tmp_path):
    """Logical devices must be set before TensorFlow starts: a fresh interpreter."""
    name = "logmel_cnn_fsdd_digits"
    script = ROOT / "zoo" / "recipes" / f"{name}.py"
    code = textwrap.dedent(f"""
        import runpy, sys
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        sys.argv = [{str(script)!r}, "--strategy", "mirrored", "--sample", "--max-steps",
                    "2", "--protocol", "official", "--out", {str(tmp_path)!r},
                    "--verbose", "0", "--set", "training.epochs=1",
                    "--set", "training.batch_size=8"]
        runpy.run_path(sys.argv[0], run_name="__main__")
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["environment"]["strategy"] == "MirroredStrategy"
    assert metrics["environment"]["replicas"] == 2
    assert metrics["official"]["replicas"] == 2 and metrics["official"]["steps"] == 2
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["preset"] == name and summary["official"] == metrics["official"]["accuracy"]


def test_publish_preset_writes_a_loadable_entry_with_the_run_metrics(tmp_path, monkeypatch):
    r = recipe("m5_fsdd_digits")
    out = tmp_path / "run"
    metrics = common.run(r, protocols=["official", "loso"], folds=["theo"], out=out,
                         sample=True, max_steps=1, log=lambda line: None)
    manifests = [tmp_path / "a" / "manifest.json", tmp_path / "b" / "manifest.json"]
    for path in manifests:
        path.parent.mkdir()
        path.write_text('{"format": 1, "presets": {}}\n')
    with pytest.raises(InvalidOptionError, match="incomplete"):
        common.publish_preset(r, out, manifest_path=manifests)
    with pytest.raises(InvalidOptionError, match="different recipe"):
        common.publish_preset(recipe("m5_fsdd_digits", "seed=3"), out,
                              manifest_path=manifests, require_loso=False)
    preset = common.publish_preset(r, out, manifest_path=manifests, require_loso=False)
    assert manifests[0].read_bytes() == manifests[1].read_bytes()
    entry = json.loads(manifests[0].read_text())["presets"]["m5_fsdd_digits"]
    assert entry["metrics"]["official_accuracy"] == metrics["official"]["accuracy"]
    assert entry["metrics"]["loso_per_speaker"] == {
        "theo": metrics["loso"]["per_speaker"]["theo"]["accuracy"]}
    assert entry["license"] == fsdd.LICENSE and entry["recipe"] == "zoo/recipes/m5_fsdd_digits.py"
    assert (manifests[1].parent / "weights" / preset.file).is_file()
    # The published preset loads through create_model and predicts what the run evaluated.
    monkeypatch.setenv("KERASAUDIO_MANIFEST", str(manifests[1]))
    monkeypatch.setenv("KERASAUDIO_OFFLINE", "1")
    monkeypatch.setenv("KERASAUDIO_HOME", str(tmp_path / "home"))
    model = kerasaudio.create_model("m5_fsdd_digits")
    _, test = fsdd.official_split(common.load_index(sample=True))
    assert common.evaluate(model, r, test)["confusion"] == metrics["official"]["confusion"]
