"""Stacking ensembles: aggregates against NumPy, class names, resampling, save/load, TFLite
(float and int8 in LiteRT), malaya-style classification_stack, and leak-free learned
stacking. Members are small real models trained briefly on the bundled FSDD sample."""

from __future__ import annotations

import hashlib

import keras
import numpy as np
import pytest
from scipy import signal
from scipy.stats import mstats

import kerasaudio
import kerasaudio.ensemble as ens
from kerasaudio.audio_io import load_audio
from kerasaudio.data import fix_length
from kerasaudio.datasets import fsdd
from kerasaudio.errors import InvalidOptionError
from kerasaudio.info import AudioInfo, model_info
from kerasaudio.layers import Resample, StackingEnsemble

L = kerasaudio.layers
CLASSES = list(fsdd.CLASSES)
EPS = 1e-7


# ----------------------------------------------------------------------------- members


def frontend(kind: str, rate: int) -> keras.Model:
    """A parameter-free front end (features of raw audio at `rate`)."""
    inp = keras.Input((rate,), name="audio")
    n_fft = 256 if rate == 8000 else 512
    if kind == "mfcc":
        x = L.MFCC(sample_rate=rate, n_mfcc=20, n_fft=n_fft, hop_length=rate // 50)(inp)
    else:
        x = L.MelSpectrogram(sample_rate=rate, n_fft=n_fft, hop_length=rate // 50,
                             n_mels=32)(inp)
        x = L.PowerToDb(top_db=80.0)(x)
    return keras.Model(inp, L.Standardize()(x), name=f"{kind}_frontend")


def train_member(kind: str, rate: int, x: np.ndarray, y: np.ndarray, *, seed: int = 0,
                 name: str | None = None, epochs: int = 40) -> keras.Model:
    """Train a small head on the front end's features; return the end-to-end model (raw
    audio at `rate` in, probabilities out): softmax over the 10 digits for class indices
    `y`, a sigmoid per tag for multi-hot rows `y`."""
    front = frontend(kind, rate)
    features = front.predict(x, verbose=0)
    keras.utils.set_random_seed(seed)
    head_in = keras.Input(features.shape[1:])
    h = head_in
    if kind == "mel":
        h = keras.layers.Conv1D(16, 3, activation="relu")(h)
        h = keras.layers.MaxPooling1D(2)(h)
    h = keras.layers.Flatten()(h)
    tags = y.ndim == 2
    out = keras.layers.Dense(y.shape[1] if tags else 10,
                             activation="sigmoid" if tags else "softmax")(h)
    head = keras.Model(head_in, out)
    head.compile(keras.optimizers.Adam(3e-3),
                 "binary_crossentropy" if tags else "sparse_categorical_crossentropy")
    head.fit(features, y, epochs=epochs, batch_size=len(x), verbose=0)
    return keras.Model(front.inputs, head(front.outputs[0]),
                       name=name or f"{kind}_{rate // 1000}k")


def upsample(x: np.ndarray) -> np.ndarray:
    return signal.resample_poly(x, 2, 1, axis=-1).astype(np.float32)


@pytest.fixture(scope="module")
def data(fsdd_sample):
    x = np.stack([fix_length(load_audio(p, sample_rate=8000)[0], 8000)
                  for p in fsdd_sample.path]).astype(np.float32)
    y = fsdd_sample.digit.astype(int).to_numpy()
    train = (fsdd_sample["take"] == 5).to_numpy()
    raw = [load_audio(p, sample_rate=8000)[0] for p in fsdd_sample.path]
    return {"x": x, "y": y, "train": train, "speakers": fsdd_sample.speaker.to_numpy(),
            "raw": raw}


@pytest.fixture(scope="module")
def members(data):
    """Three members trained on takes 5 of the sample: MFCC and log-mel at 8 kHz, log-mel
    at 16 kHz (fed by the ensemble's in-graph resampler)."""
    x, y, tr = data["x"], data["y"], data["train"]
    return [train_member("mfcc", 8000, x[tr], y[tr]),
            train_member("mel", 8000, x[tr], y[tr]),
            train_member("mel", 16000, upsample(x[tr]), y[tr])]


RATES = [8000, 8000, 16000]
#: The members' rates; the ensemble takes 8 kHz FSDD audio (the default would be 16 kHz).
AT_8K = {"sample_rates": RATES, "sample_rate": 8000}


def member_probs(models, x):
    """Each member's probabilities, computed outside the ensemble (16 kHz by scipy)."""
    out = []
    for model in models:
        rate = model.inputs[0].shape[1]
        out.append(model.predict(x if rate == 8000 else upsample(x), verbose=0))
    return np.stack(out).astype(np.float64)


def numpy_aggregate(p: np.ndarray, aggregate: str, w=None) -> np.ndarray:
    """The formulas of StackingEnsemble, written independently in NumPy. p: (M, n, C)."""
    m = p.shape[0]
    w = np.ones(m) if w is None else np.asarray(w, float)
    w = w[:, None, None] / w.sum()
    if aggregate == "mean":
        return (w * p).sum(0)
    if aggregate == "vote":
        onehot = np.eye(p.shape[2])[p.argmax(2)]
        return (w * onehot).sum(0)
    if aggregate == "gmean":
        out = np.exp((w * np.log(np.clip(p, EPS, 1))).sum(0))
    elif aggregate == "max":
        out = p.max(0)
    else:
        out = np.median(p, axis=0)
    return out / out.sum(1, keepdims=True)


# ----------------------------------------------------------------------------- aggregates


def test_members_learned_something(members, data):
    """The fixtures are real classifiers: well above chance (10%) on the unseen takes."""
    test = ~data["train"]
    probs = member_probs(members, data["x"][test])
    accuracy = (probs.argmax(2) == data["y"][test]).mean(1)
    assert (accuracy > 0.4).all(), accuracy


CASES = [("gmean", None, None), ("mean", None, None), ("median", None, None),
         ("max", None, None), ("vote", None, None), ("mean", [3.0, 1.0, 0.5], None),
         ("gmean", None, [1.0, 2.0, 0.5]), ("vote", None, [2.0, 1.0, 1.0]),
         ("median", None, "even")]


@pytest.mark.parametrize(("aggregate", "weight_list", "extra"), CASES,
                         ids=[f"{a}-{w or x or ''}" for a, w, x in CASES])
def test_stack_matches_numpy(members, data, aggregate, weight_list, extra):
    models = list(members)
    if extra == "even":  # four members, one twice: the median of an even count
        models = [*members, members[1]]
    x = data["x"][~data["train"]]
    rates = {"sample_rates": [m.inputs[0].shape[1] for m in models], "sample_rate": 8000}
    if weight_list is not None:
        ensemble = ens.stack(models, aggregate=weight_list, class_names=CLASSES, **rates)
        expected = numpy_aggregate(member_probs(models, x), "mean", weight_list)
    else:
        weights = extra if isinstance(extra, list) else None
        ensemble = ens.stack(models, aggregate=aggregate, weights=weights,
                             class_names=CLASSES, **rates)
        expected = numpy_aggregate(member_probs(models, x), aggregate, weights)
    got = ensemble.predict(x, verbose=0)
    assert ensemble.inputs[0].shape[1:] == (8000,)
    assert got.shape == (len(x), 10)
    np.testing.assert_allclose(got, expected, atol=2e-5)
    np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)


@pytest.mark.jax
@pytest.mark.parametrize("aggregate", ["gmean", "mean", "median", "max", "vote"])
@pytest.mark.parametrize("members_count", [2, 3, 4])
def test_layer_formula(aggregate, members_count):
    """The layer alone on probability rows (incl. exact zeros and ties), any backend."""
    rng = np.random.default_rng(members_count)
    p = rng.dirichlet(np.ones(5) * 0.5, size=(members_count, 7))
    p[0, 0] = [0.0, 0.0, 1.0, 0.0, 0.0]  # a fully confident member
    layer = StackingEnsemble(members=members_count, classes=5, aggregate=aggregate)
    got = keras.ops.convert_to_numpy(layer([q.astype("float32") for q in p]))
    np.testing.assert_allclose(got, numpy_aggregate(p, aggregate), atol=2e-6)


def test_learned_layer_is_softmax_of_dense(members, data):
    x = data["x"][:9]
    p = member_probs(members, x)
    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=(30, 10)), rng.normal(size=10)
    fit = ens.StackerFit(kernel.astype("float32"), bias.astype("float32"), None, CLASSES,
                         p, data["y"][:9], np.zeros(9))
    ensemble = ens.stack(members, aggregate="learned", stacker=fit, class_names=CLASSES,
                         **AT_8K)
    features = np.concatenate(list(np.log(np.clip(p, EPS, 1))), axis=1)
    z = features @ kernel + bias
    expected = np.exp(z - z.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(ensemble.predict(x, verbose=0), expected, atol=1e-5)
    # Untrained "learned" starts as the normalised geometric mean.
    fresh = ens.stack(members, aggregate="learned", class_names=CLASSES, **AT_8K)
    np.testing.assert_allclose(fresh.predict(x, verbose=0), numpy_aggregate(p, "gmean"),
                               atol=1e-5)


# ----------------------------------------------------------------------------- malaya API


def test_classification_stack_is_malaya_compatible(members, data):
    raw = [data["raw"][i] for i in np.flatnonzero(~data["train"])[:12]]  # varied lengths
    stack = ens.classification_stack([members[0], members[2], members[2]],
                                     class_names=CLASSES, sample_rates=[8000, 16000, 16000],
                                     sample_rate=8000)
    probs = stack.predict_proba(raw, aggregate=mstats.gmean)
    fixed = np.stack([fix_length(c, 8000) for c in raw])
    p0, p2 = member_probs([members[0], members[2]], fixed)
    expected = mstats.gmean(np.stack([p0, p2, p2]), axis=0)  # the duplicate weighs twice
    assert probs.shape == (12, 10)
    np.testing.assert_allclose(probs, expected, rtol=1e-5)
    labels = stack.predict(raw, aggregate=mstats.gmean)
    assert labels == [CLASSES[i] for i in expected.argmax(1)]
    assert all(isinstance(label, str) for label in labels)
    # The same numbers as the Keras ensemble (unnormalised gmean) on fixed-length clips, up
    # to its clipping of probabilities at 1e-7 before the logarithm.
    keras_stack = ens.stack([members[0], members[2], members[2]], aggregate="gmean",
                            normalize=False, class_names=CLASSES,
                            sample_rates=[8000, 16000, 16000], sample_rate=8000)
    np.testing.assert_allclose(keras_stack.predict(fixed, verbose=0), expected, rtol=2e-4,
                               atol=1e-5)
    # String aggregates and np.mean work as well.
    np.testing.assert_allclose(stack.predict_proba(raw, aggregate=np.mean),
                               np.stack([p0, p2, p2]).mean(0), rtol=1e-5)


# ----------------------------------------------------------------------------- checks


def relabelled(model, names, name):
    """The same network presented with other class names (a new functional wrapper)."""
    return keras.Model(model.inputs, model.outputs, name=name), names


def test_class_name_mismatch_is_a_clear_error(members):
    other = [f"word{i}" for i in range(10)]
    with pytest.raises(InvalidOptionError, match=r"does not share.*missing \['0'"):
        ens.stack(members[:2], class_names=[CLASSES, other], sample_rates=8000)
    with pytest.raises(InvalidOptionError, match="pass class_names"):
        ens.stack(members[:2], sample_rates=8000)
    with pytest.raises(InvalidOptionError, match="outputs 10 classes but has 9"):
        ens.stack(members[:2], class_names=CLASSES[:9], sample_rates=8000)
    with pytest.raises(InvalidOptionError, match="does not share"):
        ens.classification_stack(members[:2], class_names=[CLASSES, other],
                                 sample_rates=8000)


def test_same_classes_in_another_order_are_reordered(members, data):
    x = data["x"][:10]
    reversed_names = CLASSES[::-1]  # member 1 claims its output 0 is class "9", ...
    ensemble = ens.stack(members[:2], aggregate="mean", class_names=[CLASSES, reversed_names],
                         sample_rates=8000)
    p0, p1 = member_probs(members[:2], x)
    np.testing.assert_allclose(ensemble.predict(x, verbose=0), (p0 + p1[:, ::-1]) / 2,
                               atol=1e-6)


def test_members_with_the_same_name(members, data):
    """Two different members named alike (e.g. two complex_cnn variants) both run."""
    twin = keras.Model(members[0].inputs[0], members[0].outputs[0], name=members[1].name)
    ensemble = ens.stack([members[1], twin], aggregate="mean", class_names=CLASSES,
                         sample_rates=8000)
    x = data["x"][:6]
    p1, p0 = member_probs([members[1], members[0]], x)
    np.testing.assert_allclose(ensemble.predict(x, verbose=0), (p0 + p1) / 2, atol=1e-6)


@pytest.mark.jax
@pytest.mark.parametrize(("orig", "target"), [(8000, 16000), (16000, 8000), (8000, 12000),
                                              (48000, 16000), (8000, 8000)])
def test_resample_matches_scipy(data, orig, target):
    x = data["x"][:3] if orig == 8000 else signal.resample_poly(
        data["x"][:3], orig // 8000, 1, axis=1).astype("float32")
    layer = Resample(sample_rate=orig, target_sample_rate=target)
    got = keras.ops.convert_to_numpy(layer(x))
    expected = signal.resample_poly(x, layer.up, layer.down, axis=1)
    assert got.shape == expected.shape == (3, int(np.ceil(x.shape[1] * target / orig)))
    np.testing.assert_allclose(got, expected, atol=2e-6)


def test_resample_config_names_and_the_old_spelling(data):
    """`sample_rate` / `target_sample_rate` in the config; a config or `.keras` file using
    `orig_sr` / `target_sr` still loads and computes the same."""
    layer = Resample(sample_rate=8000, target_sample_rate=16000, name="up")
    config = layer.get_config()
    assert config["sample_rate"] == 8000 and config["target_sample_rate"] == 16000
    assert "orig_sr" not in config and "target_sr" not in config
    old = {k: v for k, v in config.items() if k not in ("sample_rate", "target_sample_rate")}
    old.update({"orig_sr": 8000, "target_sr": 16000})
    restored = Resample.from_config(old)
    assert (restored.sample_rate, restored.target_sample_rate) == (8000, 16000)
    x = data["x"][:2]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored(x)),
                                  keras.ops.convert_to_numpy(layer(x)))
    # A whole model serialised with the old keys, as a .keras file holds it.
    inputs = keras.Input((8000,))
    model = keras.Model(inputs, Resample(sample_rate=8000, target_sample_rate=16000)(inputs))
    serialized = keras.saving.serialize_keras_object(model)
    for item in serialized["config"]["layers"]:
        if item["class_name"] == "Resample":
            cfg = item["config"]
            cfg["orig_sr"], cfg["target_sr"] = cfg.pop("sample_rate"), cfg.pop(
                "target_sample_rate")
    reloaded = keras.saving.deserialize_keras_object(serialized, safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(InvalidOptionError, match="name the same option"):
        Resample(sample_rate=8000, orig_sr=16000, target_sample_rate=16000)
    with pytest.raises(TypeError):
        Resample(8000, 16000)  # keyword-only


def test_resample_refuses_awkward_ratios():
    with pytest.raises(InvalidOptionError, match="320/441"):
        Resample(sample_rate=22050, target_sample_rate=16000)


def test_member_checks(members):
    features = keras.Input((101, 20))
    feature_model = keras.Model(features, keras.layers.Dense(10, activation="softmax")(
        keras.layers.Flatten()(features)), name="takes_features")
    with pytest.raises(InvalidOptionError, match="not raw mono audio"):
        ens.stack([members[0], feature_model], class_names=CLASSES, sample_rates=8000)
    short = keras.Input((4000,))
    half_second = keras.Model(short, keras.layers.Dense(10, activation="softmax")(short),
                              name="half_second")
    with pytest.raises(InvalidOptionError, match="different durations"):
        ens.stack([members[0], half_second], class_names=CLASSES, sample_rates=8000)
    with pytest.raises(InvalidOptionError, match="aggregate="):
        ens.stack(members, aggregate="harmonic", class_names=CLASSES, **AT_8K)
    with pytest.raises(InvalidOptionError, match="takes no member weights"):
        ens.stack(members, aggregate="median", weights=[1, 2, 3], class_names=CLASSES,
                  **AT_8K)


def test_input_rate_and_resampling_inside_the_graph(members):
    ensemble = ens.stack(members, class_names=CLASSES, **AT_8K)
    resamplers = [layer for layer in ensemble.layers if isinstance(layer, Resample)]
    assert [(r.sample_rate, r.target_sample_rate) for r in resamplers] == [(8000, 16000)]
    info = ens.ensemble_info(ensemble)
    assert info["sample_rate"] == 8000 and info["input_length"] == 8000
    assert info["class_names"] == CLASSES and info["members"] == 3
    # By default the input takes the highest member rate: the 8 kHz members get a
    # decimated copy.
    at16 = ens.stack(members, class_names=CLASSES, sample_rates=RATES)
    assert at16.inputs[0].shape[1:] == (16000,)
    assert {(r.sample_rate, r.target_sample_rate) for r in at16.layers
            if isinstance(r, Resample)} == {(16000, 8000)}


# ----------------------------------------------------------------------------- files


@pytest.mark.parametrize("aggregate", ["gmean", "learned"])
def test_save_and_load_one_keras_file(members, data, tmp_path, aggregate):
    ensemble = ens.stack([*members, members[0]], aggregate=aggregate, class_names=CLASSES,
                         sample_rates=[*RATES, 8000], sample_rate=8000, name="digits")
    if aggregate == "learned":  # non-trivial meta weights must survive the round trip
        layer = ensemble.get_layer("ensemble")
        layer.set_meta_weights(np.random.default_rng(1).normal(size=(40, 10)),
                               np.arange(10.0) / 10)
    path = tmp_path / "ensemble.keras"
    ensemble.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = data["x"][:16]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), ensemble.predict(x, verbose=0),
                               atol=1e-6)
    assert ens.ensemble_info(loaded)["class_names"] == CLASSES
    assert ens.ensemble_info(loaded)["weights"] == [1.0] * 4


def test_the_stack_has_a_record_derived_from_its_members(members, data, tmp_path):
    """Members with model-info records need no class_names=/sample_rates=; the stack's
    record holds their classes, the input's rate and length, and their common task, and
    survives a safe-mode `.keras` round trip."""
    recorded = [kerasaudio.models.with_info(m, task="digits", class_names=CLASSES,
                                            sample_rate=rate)
                for m, rate in zip(members, RATES, strict=True)]
    ensemble = ens.stack(recorded, sample_rate=8000)
    expected = AudioInfo(task="digits", class_names=CLASSES, sample_rate=8000,
                         input_length=8000)
    assert isinstance(ensemble, kerasaudio.models.AudioModel)
    assert model_info(ensemble) == expected
    x = data["x"][:8]
    np.testing.assert_allclose(
        ensemble.predict(x, verbose=0),
        ens.stack(members, class_names=CLASSES, **AT_8K).predict(x, verbose=0), atol=1e-6)
    path = tmp_path / "recorded.keras"
    ensemble.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert model_info(loaded) == expected
    assert ens.ensemble_info(loaded)["class_names"] == CLASSES
    # the members' records stay with them inside the stack
    nested = [model_info(layer) for layer in loaded.layers
              if isinstance(layer, kerasaudio.models.AudioModel)]
    assert [record.sample_rate for record in nested] == RATES

    # members recording different tasks (or none): the stack's task is unknown
    mixed = [recorded[0], kerasaudio.models.with_info(members[1], class_names=CLASSES,
                                                      sample_rate=8000)]
    assert model_info(ens.stack(mixed)) == expected.replace(task=None)
    # a member renamed inside the stack (its name is taken) keeps its record
    namesake = kerasaudio.models.with_info(
        keras.Model(members[0].inputs[0], members[0].outputs[0], name=members[1].name),
        task="words", class_names=CLASSES, sample_rate=8000)
    pair = ens.stack([recorded[1], namesake], aggregate="mean")
    inside = {layer.name: model_info(layer) for layer in pair.layers
              if isinstance(layer, kerasaudio.models.AudioModel)}
    assert len(inside) == 2 and model_info(namesake) in inside.values()
    assert model_info(pair).task is None
    # an argument contradicting a member's record is refused
    with pytest.raises(InvalidOptionError, match="contradict its model-info record"):
        ens.stack(recorded[:2], class_names=CLASSES[::-1])
    with pytest.raises(InvalidOptionError, match="contradicts its model-info record"):
        ens.stack(recorded[:2], sample_rates=16000)


@pytest.mark.export
@pytest.mark.parametrize("quantization", [None, "int8"])
def test_single_file_tflite_export(members, data, tmp_path, quantization):
    """All three members, the 16 kHz one behind the in-graph resampler, in one file (int8:
    the front ends and the resampler stay float32, the networks are int8)."""
    from kerasaudio.export import TFLiteModel, run_tflite, to_tflite

    ensemble = ens.stack(members, aggregate="gmean", class_names=CLASSES, **AT_8K)
    info = ens.ensemble_info(ensemble)
    test = ~data["train"]
    path = tmp_path / "ensemble.tflite"
    report = to_tflite(ensemble, path, quantization=quantization,
                       representative_data=data["x"][test], labels=data["y"][test],
                       sample_rate=info["sample_rate"], class_names=info["class_names"])
    assert report.passed and path.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ensemble.tflite"]
    assert "RFFT2D" in report.ops and "LOG" in report.ops  # front ends and the gmean
    assert "CONV_2D" in report.ops  # the resampler (and the 16 kHz member's conv)
    flatbuffer = path.read_bytes()
    (lite,) = run_tflite(flatbuffer, data["x"][test][:1])
    np.testing.assert_allclose(lite, ensemble.predict(data["x"][test][:1], verbose=0),
                               atol=report.tolerance)
    assert report.top1_agreement >= (1.0 if quantization is None else 0.9)
    assert report.tflite_accuracy >= report.keras_accuracy - (0.0 if quantization is None
                                                              else 0.05)
    runner = TFLiteModel(flatbuffer)
    assert runner.class_names == CLASSES and runner.sample_rate == 8000


# ----------------------------------------------------------------------------- leakage


def _row_key(row: np.ndarray) -> bytes:
    return hashlib.sha1(np.ascontiguousarray(row, np.float32).tobytes()).digest()


@pytest.mark.slow
def test_fit_stacker_never_feeds_in_fold_predictions(data):
    """Every prediction the meta-learner is fitted on was made by a model that saw neither
    that clip nor any clip of its speaker: checked from the outside, by recording what each
    builder call trained on and finding which recorded model made each prediction."""
    x, y, speakers = data["x"], data["y"], data["speakers"]
    trained_on: list[tuple[keras.Model, set]] = []

    def builder(kind):
        def build(xs, ys):
            model = train_member(kind, 8000, np.asarray(xs), ys, seed=len(trained_on))
            trained_on.append((model, {_row_key(r) for r in xs}))
            return model
        return build

    fit = ens.fit_stacker([builder("mfcc"), builder("mel")], (x, y), folds=3,
                          groups=speakers, meta="logistic", class_names=CLASSES,
                          sample_rate=8000, refit=False)
    assert fit.oof.shape == (2, 120, 10) and not np.isnan(fit.oof).any()
    assert len(trained_on) == 6  # 2 members x 3 folds, no refit
    keys = [_row_key(r) for r in x]
    speaker_keys = {s: {keys[i] for i in np.flatnonzero(speakers == s)} for s in set(speakers)}
    predictions = {id(m): m.predict(x, verbose=0) for m, _ in trained_on}
    for member in range(2):
        for i in range(len(x)):
            makers = [(m, seen) for m, seen in trained_on
                      if np.allclose(predictions[id(m)][i], fit.oof[member, i], atol=1e-6)]
            assert len(makers) == 1, "each prediction comes from exactly one fold model"
            _, seen = makers[0]
            assert keys[i] not in seen
            assert not speaker_keys[speakers[i]] & seen  # group-aware: no clip of the speaker
    # The folds never split a speaker, and records say the same.
    for s in set(speakers):
        assert len(set(fit.folds[speakers == s].tolist())) == 1
    for record in fit.records:
        assert not set(record.trained_on.tolist()) & set(record.predicted.tolist())
    # The meta-learner was fitted on exactly these out-of-fold predictions.
    from sklearn.linear_model import LogisticRegression

    refit = LogisticRegression(C=1.0, max_iter=5000).fit(ens.meta_features(fit.oof), y)
    np.testing.assert_allclose(fit.kernel, refit.coef_.T, atol=1e-4)
    assert set(fit.scores) >= {"member_0", "member_1", "mean", "gmean", "meta_cv"}


@pytest.mark.slow
def test_fit_stacker_with_fold_models(data, tmp_path):
    """Leave-one-speaker-out fold models: speaker s's predictions come from the model
    trained without s; the learned ensemble deploys as one model and one TFLite file."""
    x, y, speakers = data["x"], data["y"], data["speakers"]
    fold_models, seen = {}, {}
    for s in sorted(set(speakers)):
        keep = speakers != s
        fold_models[s] = train_member("mfcc", 8000, x[keep], y[keep], name=f"without_{s}")
        seen[s] = set(np.flatnonzero(keep).tolist())
    fit = ens.fit_stacker([fold_models], (x, y), groups=speakers, folds=3, meta="dense",
                          class_names=CLASSES, sample_rate=8000, epochs=100)
    for record in fit.records:
        assert not seen[record.fold] & set(record.predicted.tolist())
        np.testing.assert_allclose(
            fit.oof[0, record.predicted],
            fold_models[record.fold].predict(x[record.predicted], verbose=0), atol=1e-6)
    # The dense meta-learner is the "learned" layer: same numbers in Keras.
    ensemble = fit.ensemble([fold_models["george"]])
    probs = fold_models["george"].predict(x[:8], verbose=0)[None]
    np.testing.assert_allclose(ensemble.predict(x[:8], verbose=0), fit.predict_proba(probs),
                               atol=1e-5)
    with pytest.raises(InvalidOptionError, match="no fold model for group"):
        ens.fit_stacker([{"george": fold_models["george"]}], (x, y), groups=speakers,
                        class_names=CLASSES, sample_rate=8000)


# ----------------------------------------------------------------------------- one entry


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.integration
def test_fit_stacker_on_precomputed_probabilities(members, data):
    """Out-of-fold probabilities given directly: the same meta-learner as from the members,
    and `fit_meta` is its alias."""
    from sklearn.linear_model import LogisticRegression

    test = ~data["train"]
    x, y = data["x"][test], data["y"][test]
    oof = member_probs(members, x)
    fit = ens.fit_stacker(oof, y, folds=3, class_names=CLASSES)
    reference = LogisticRegression(C=1.0, max_iter=5000).fit(ens.meta_features(oof), y)
    np.testing.assert_allclose(fit.kernel, reference.coef_.T, atol=1e-4)
    assert not fit.multi_label and fit.members is None and fit.folds.shape == (len(y),)
    assert set(fit.scores) == {"member_0", "member_1", "member_2", "mean", "gmean", "meta_cv"}
    assert fit.scores["member_0"] == pytest.approx((oof[0].argmax(1) == y).mean())
    from_models = ens.fit_stacker(members, (x, y), folds=3, class_names=CLASSES, **AT_8K)
    np.testing.assert_allclose(from_models.oof, oof, atol=1e-5)
    # The same meta-learner: its probabilities on the same features. (Its kernel is only
    # determined to the solver's tolerance: out-of-fold inputs 1e-5 apart can move single
    # weights by 1e-2 along directions the loss hardly sees.)
    features = ens.meta_features(oof)
    ours = _softmax(features @ from_models.kernel + from_models.bias)
    theirs = _softmax(features @ fit.kernel + fit.bias)
    np.testing.assert_array_equal(ours.argmax(axis=1), theirs.argmax(axis=1))
    np.testing.assert_allclose(ours, theirs, atol=1e-2)
    kernel, bias, _ = ens.fit_meta(oof, y)
    np.testing.assert_array_equal(kernel, fit.kernel)
    np.testing.assert_array_equal(bias, fit.bias)
    no_cv = ens.fit_stacker(oof, y, folds=None)
    assert no_cv.folds is None and "meta_cv" not in no_cv.scores
    with pytest.raises(InvalidOptionError, match="members, clips, classes"):
        ens.fit_stacker(oof[0], y)
    with pytest.raises(InvalidOptionError, match="folds=None"):
        ens.fit_stacker(members, (x, y), folds=None, class_names=CLASSES, **AT_8K)


# ----------------------------------------------------------------------------- multi-label

SPEAKERS = sorted(fsdd.SPEAKERS)
#: Multi-hot classes of two tasks at once: the digit and the speaker of every clip.
TAGS = CLASSES + SPEAKERS


def multi_hot(frame) -> np.ndarray:
    y = np.zeros((len(frame), len(TAGS)), np.float32)
    y[np.arange(len(frame)), frame.digit.astype(int).to_numpy()] = 1
    y[np.arange(len(frame)), [10 + SPEAKERS.index(s) for s in frame.speaker]] = 1
    return y


@pytest.fixture(scope="module")
def taggers(data, fsdd_sample):
    """Two multi-label members (digit and speaker tags) trained on takes 5."""
    y = multi_hot(fsdd_sample)
    x, tr = data["x"], data["train"]
    return [train_member(kind, 8000, x[tr], y[tr], epochs=60, name=f"{kind}_tagger")
            for kind in ("mfcc", "mel")]


@pytest.fixture(scope="module")
def tag_fit(taggers, data, fsdd_sample):
    """The learned multi-label stack, fitted on the takes 0 the taggers never saw."""
    test = ~data["train"]
    return ens.fit_stacker(taggers, (data["x"][test], multi_hot(fsdd_sample)[test]),
                           folds=5, class_names=TAGS, sample_rate=8000)


@pytest.mark.integration
def test_multi_label_stacking_beats_its_members_in_lwlrap(taggers, tag_fit, data,
                                                          fsdd_sample):
    from kerasaudio.metrics.lwlrap import lwlrap

    test = ~data["train"]
    x, y = data["x"][test], multi_hot(fsdd_sample)[test]
    fit = tag_fit
    assert fit.multi_label and fit.class_names == TAGS and fit.labels.shape == (60, 16)
    # Each member's score is its lwlrap on clips it never saw.
    for i, model in enumerate(taggers):
        assert fit.scores[f"member_{i}"] == pytest.approx(
            lwlrap(y, model.predict(x, verbose=0)), abs=1e-9)
    # One logistic regression per tag on the members' log-odds of that tag only.
    from sklearn.linear_model import LogisticRegression

    odds = ens.meta_features(fit.oof, multi_label=True).reshape(60, 2, 16)
    for k in (0, 12):
        lr = LogisticRegression(C=1.0, max_iter=5000).fit(odds[:, :, k], y[:, k])
        np.testing.assert_allclose(fit.kernel[[k, 16 + k], k], lr.coef_[0], atol=1e-4)
        assert fit.bias[k] == pytest.approx(lr.intercept_[0], abs=1e-4)
    mask = np.zeros((32, 16), bool)
    mask[np.arange(32), np.arange(32) % 16] = True
    assert not fit.kernel[~mask].any()
    # The meta-learner, refitted without each fold and scored on it, ranks tags better
    # than either member alone.
    members = [fit.scores["member_0"], fit.scores["member_1"]]
    assert fit.scores["meta_cv"] > max(members), fit.scores
    # The deployable stack computes what the meta-learner computes: sigmoid per tag.
    ensemble = fit.ensemble()
    got = ensemble.predict(x, verbose=0)
    np.testing.assert_allclose(got, fit.predict_proba(fit.oof), atol=1e-5)
    assert ens.ensemble_info(ensemble)["multi_label"]
    assert np.abs(got.sum(1) - 1).max() > 0.5  # independent tags, not a distribution


@pytest.mark.integration
def test_multi_label_stack_from_a_dataframe_and_an_audio_dataset(taggers, tag_fit,
                                                                 fsdd_sample):
    """The same out-of-fold predictions and labels from a DataFrame of files (one
    Freesound-style `labels` column, or one 0/1 column per tag) and from
    `audio_dataset`."""
    from kerasaudio.data import audio_dataset

    frame = fsdd_sample[fsdd_sample["take"] != 5].reset_index(drop=True)
    frame["labels"] = [f"{d},{s}" for d, s in zip(frame.digit, frame.speaker, strict=True)]
    options = {"folds": 5, "class_names": TAGS, "sample_rate": 8000}
    from_frame = ens.fit_stacker(taggers, frame, label_column="labels", **options)
    for tag, column in zip(TAGS, multi_hot(frame).T, strict=True):
        frame[tag] = column.astype(int)
    from_columns = ens.fit_stacker(taggers, frame, label_column=TAGS, folds=5,
                                   sample_rate=8000)
    ds = audio_dataset(frame, classes=TAGS, sample_rate=8000, duration=1.0,
                       multi_label=True, label_column="labels", batch_size=16)
    from_dataset = ens.fit_stacker(taggers, ds, folds=5, sample_rate=8000)
    for fit in (from_frame, from_columns, from_dataset):
        assert fit.multi_label and fit.class_names == TAGS
        np.testing.assert_array_equal(fit.labels, tag_fit.labels)
        np.testing.assert_allclose(fit.oof, tag_fit.oof, atol=1e-4)
        np.testing.assert_allclose(fit.kernel, tag_fit.kernel, atol=1e-2)
    with pytest.raises(InvalidOptionError, match="no column"):
        ens.fit_stacker(taggers, frame, label_column="tags", **options)


def test_multi_label_dense_meta_learner(tag_fit):
    """The Keras head for multi-label: one weight per member and tag (the same block
    structure as the logistic one) and a bias per tag, loaded into the layer."""
    from kerasaudio.metrics.lwlrap import lwlrap

    fit = ens.fit_stacker(tag_fit.oof, tag_fit.labels, meta="dense", folds=None,
                          epochs=200, class_names=TAGS)
    assert fit.multi_label and fit.kernel.shape == (32, 16)
    off_block = np.ones((32, 16), bool)
    off_block[np.arange(32), np.arange(32) % 16] = False
    assert not fit.kernel[off_block].any()
    layer = StackingEnsemble(members=2, classes=16, aggregate="learned", multi_label=True)
    inputs = [p.astype("float32") for p in tag_fit.oof]
    layer(inputs)
    layer.set_meta_weights(fit.kernel, fit.bias)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(inputs)),
                               fit.predict_proba(tag_fit.oof), atol=1e-5)
    # Fitted on these predictions, it ranks their tags at least as well as they do.
    fitted = lwlrap(tag_fit.labels, fit.predict_proba(tag_fit.oof))
    assert fitted >= max(fit.scores["member_0"], fit.scores["member_1"])


def test_multi_label_errors_are_clear(tag_fit, taggers):
    y = tag_fit.labels.copy()
    y[:, 3] = 0  # a tag no clip has
    with pytest.raises(InvalidOptionError, match=r"class\(es\) \[3\] are all 0 or all 1"):
        ens.fit_stacker(tag_fit.oof, y)
    with pytest.raises(InvalidOptionError, match="multi_label=False contradicts"):
        ens.fit_stacker(tag_fit.oof, tag_fit.labels, multi_label=False)
    with pytest.raises(InvalidOptionError, match="0/1"):
        ens.fit_stacker(tag_fit.oof, tag_fit.labels * 2)
    with pytest.raises(InvalidOptionError, match="top class"):
        ens.stack(taggers, aggregate="vote", multi_label=True, class_names=TAGS,
                  sample_rates=8000)
    with pytest.raises(InvalidOptionError, match="fitted on multi-label"):
        ens.stack(taggers, aggregate="learned", stacker=tag_fit, multi_label=False,
                  class_names=TAGS, sample_rates=8000)


@pytest.mark.jax
def test_multi_label_layer_formula():
    """`learned` multi-label: sigmoid of a dense layer over the members' log-odds; untrained,
    the mean log-odds; the other aggregates are not renormalised."""
    rng = np.random.default_rng(3)
    p = rng.uniform(0.0, 1.0, size=(2, 5, 4))
    p[0, 0, 0], p[1, 0, 1] = 0.0, 1.0  # saturated scores are clipped, as in meta_features
    layer = StackingEnsemble(members=2, classes=4, aggregate="learned", multi_label=True)
    inputs = [q.astype("float32") for q in p]
    odds = ens.meta_features(p, multi_label=True)
    mean_odds = (odds[:, :4] + odds[:, 4:]) / 2
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(inputs)),
                               1 / (1 + np.exp(-mean_odds)), atol=1e-5)
    kernel, bias = rng.normal(size=(8, 4)), rng.normal(size=4)
    layer.set_meta_weights(kernel, bias)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(inputs)),
                               1 / (1 + np.exp(-(odds @ kernel + bias))), atol=1e-5)
    largest = StackingEnsemble(members=2, classes=4, aggregate="max", multi_label=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(largest(inputs)), p.max(0),
                               atol=1e-6)
    assert StackingEnsemble.from_config(layer.get_config()).multi_label


@pytest.mark.integration
def test_multi_label_learned_stack_exports_to_tflite(tag_fit, data, tmp_path):
    """The multi-label learned stack as one float TFLite file, run in LiteRT."""
    from ai_edge_litert.interpreter import Interpreter

    from kerasaudio.export import to_tflite
    from kerasaudio.runtime import TFLiteModel

    ensemble = tag_fit.ensemble()
    x = data["x"][~data["train"]][:8]
    path = tmp_path / "tags.tflite"
    report = to_tflite(ensemble, path, representative_data=x)
    assert report.passed and path.is_file()
    expected = ensemble.predict(x, verbose=0)
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    got = []
    for clip in x:
        interpreter.set_tensor(inp["index"], clip[None].astype(np.float32))
        interpreter.invoke()
        got.append(interpreter.get_tensor(out["index"])[0])
    np.testing.assert_allclose(np.stack(got), expected, atol=1e-4)
    assert "LOGISTIC" in report.ops  # the sigmoid head
    # the stack's record (tag names, rate, length) reaches the file's metadata
    record = model_info(ensemble)
    assert record.class_names == tuple(tag_fit.class_names) and record.sample_rate == 8000
    assert TFLiteModel(path).audio_info == record


# ----------------------------------------------------------------------------- windows, TTA


def test_aggregate_windows_by_hand():
    probs = np.array([[0.2, 0.8], [0.6, 0.4]])  # two windows, two classes
    np.testing.assert_allclose(ens.aggregate_windows(probs, "mean"), [0.4, 0.6])
    np.testing.assert_allclose(ens.aggregate_windows(probs, "max"), [0.6, 0.8])
    np.testing.assert_allclose(ens.aggregate_windows(probs, "gmean"),
                               [np.sqrt(0.12), np.sqrt(0.32)])
    # Exponential-softmax weights: class 0 (0.2 e^0.2 + 0.6 e^0.6) / (e^0.2 + e^0.6).
    np.testing.assert_allclose(ens.aggregate_windows(probs, "attention"),
                               [0.4394760, 0.6394760], atol=1e-6)
    # Given scores: window 1 weighs e^10 times window 0.
    np.testing.assert_allclose(
        ens.aggregate_windows(probs, "attention", scores=[[0.0], [10.0]]),
        (probs[0] + probs[1] * np.exp(10)) / (1 + np.exp(10)))
    np.testing.assert_allclose(ens.aggregate_windows(probs, "attention", temperature=1e-4),
                               [0.6, 0.8], atol=1e-6)
    np.testing.assert_allclose(ens.aggregate_windows(probs, "attention", temperature=1e6),
                               [0.4, 0.6], atol=1e-6)
    np.testing.assert_allclose(ens.aggregate_windows(probs, "max", normalize=True),
                               [0.6 / 1.4, 0.8 / 1.4])
    batch = np.stack([probs, probs[::-1]])  # (clips, windows, classes)
    np.testing.assert_allclose(ens.aggregate_windows(batch, "mean"), [[0.4, 0.6]] * 2)
    np.testing.assert_allclose(ens.aggregate_windows(batch, np.median), [[0.4, 0.6]] * 2)
    np.testing.assert_allclose(ens.aggregate_windows(batch, "max", axis=0), [[0.6, 0.8]] * 2)
    with pytest.raises(InvalidOptionError, match="method="):
        ens.aggregate_windows(probs, "mode")
    with pytest.raises(InvalidOptionError, match="broadcast"):
        ens.aggregate_windows(probs, "attention", scores=[1.0, 2.0, 3.0])


def test_predict_windows_on_a_real_recording(members, data):
    model = members[0]  # 1 s at 8 kHz
    recording = np.concatenate(data["raw"][:40])[:20000]  # 2.5 s of real speech
    per_window = ens.predict_windows(model, recording, hop=4000, aggregate=None)
    padded = np.pad(recording, (0, 4000))  # windows at 0, 4000, 8000, 12000
    by_hand = model.predict(np.stack([padded[s:s + 8000] for s in (0, 4000, 8000, 12000)]),
                            verbose=0)
    np.testing.assert_allclose(per_window, by_hand, atol=1e-6)
    np.testing.assert_allclose(ens.predict_windows(model, recording, hop=4000),
                               by_hand.mean(0), atol=1e-6)
    np.testing.assert_allclose(ens.predict_windows(model, recording, hop=4000,
                                                   aggregate="max"), by_hand.max(0),
                               atol=1e-6)
    short = data["raw"][0]  # shorter than a window: one window, centred
    assert len(short) < 8000
    np.testing.assert_allclose(
        ens.predict_windows(model, short, aggregate=None),
        model.predict(fix_length(short, 8000)[None], verbose=0), atol=1e-6)
    with pytest.raises(InvalidOptionError, match="window=4000 but the model takes 8000"):
        ens.predict_windows(model, recording, window=4000)


def test_tta_on_real_clips(members, data):
    model = members[1]
    clips = [data["raw"][i] for i in np.flatnonzero(~data["train"])[:6]]  # varied lengths

    def later(x):
        return np.concatenate([np.zeros(400, np.float32), x])

    def reversed_clip(x):
        return x[::-1]

    transforms = [None, later, reversed_clip]
    views = ens.tta(model, clips, transforms=transforms, aggregate=None)
    for view, transform in zip(views, transforms, strict=True):
        batch = np.stack([fix_length(c if transform is None else transform(c), 8000)
                          for c in clips])
        np.testing.assert_allclose(view, model.predict(batch, verbose=0), atol=1e-6)
    np.testing.assert_allclose(ens.tta(model, clips, transforms=transforms),
                               views.mean(0), atol=1e-12)
    np.testing.assert_allclose(ens.tta(model, clips, transforms=transforms, aggregate="gmean"),
                               np.exp(np.log(np.clip(views, 1e-7, 1)).mean(0)), atol=1e-12)
    with pytest.raises(InvalidOptionError, match="transforms is empty"):
        ens.tta(model, clips, transforms=[])
