"""Speaker losses: triplet (hard, all, ordered) and AAM-softmax against NumPy, and training."""

import itertools
import math

import keras
import numpy as np
import pytest

import kerasaudio
from kerasaudio.data import fix_length, load_audio
from kerasaudio.errors import InvalidOptionError
from kerasaudio.losses import (
    AAMSoftmax,
    AAMSoftmaxLoss,
    TripletLoss,
    aam_softmax_loss,
    cosine_similarity_matrix,
    triplet_loss,
)
from kerasaudio.models.deep_speaker import default_frontend

SMALL = dict(filters=(8, 16, 32, 64), embedding_dim=32)


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def unit(x):
    x = np.asarray(x, np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def numpy_triplets(labels, emb, margin):
    """Every valid (a, p, n) loss, by explicit loops."""
    e = unit(emb)
    out = []
    for a, p, n in itertools.product(range(len(labels)), repeat=3):
        if a != p and labels[a] == labels[p] and labels[n] != labels[a]:
            out.append(max(0.0, e[a] @ e[n] - e[a] @ e[p] + margin))
    return np.array(out)


def numpy_batch_hard(labels, emb, margin):
    e = unit(emb)
    losses = []
    for a in range(len(labels)):
        pos = [e[a] @ e[p] for p in range(len(labels)) if p != a and labels[p] == labels[a]]
        neg = [e[a] @ e[n] for n in range(len(labels)) if labels[n] != labels[a]]
        if pos and neg:
            losses.append(max(0.0, max(neg) - min(pos) + margin))
    return np.mean(losses) if losses else 0.0


def random_batch(seed=0, n=9, dim=5, speakers=3):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % speakers
    return labels, (rng.normal(size=(n, dim)) * rng.uniform(0.5, 3, size=(n, 1))).astype(
        "float32")


@pytest.mark.jax
def test_cosine_similarity_matrix():
    a = np.random.default_rng(0).normal(size=(4, 3))
    b = np.random.default_rng(1).normal(size=(2, 3))
    np.testing.assert_allclose(to_numpy(cosine_similarity_matrix(a, b)), unit(a) @ unit(b).T,
                               atol=1e-6)
    np.testing.assert_allclose(np.diag(to_numpy(cosine_similarity_matrix(a))), 1.0, atol=1e-6)


@pytest.mark.jax
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("margin", [0.0, 0.1, 0.5])
def test_triplet_all_and_hard_match_numpy(seed, margin):
    labels, emb = random_batch(seed)
    want_all = numpy_triplets(labels, emb, margin).mean()
    got_all = float(triplet_loss(labels, emb, margin=margin, mining="all"))
    assert got_all == pytest.approx(want_all, abs=1e-6)
    got_hard = float(triplet_loss(labels, emb, margin=margin, mining="hard"))
    assert got_hard == pytest.approx(numpy_batch_hard(labels, emb, margin), abs=1e-6)
    # The loss class gives the same numbers (labels arrive as floats through Keras).
    assert float(TripletLoss(margin=margin, mining="all")(labels, emb)) == pytest.approx(
        want_all, abs=1e-6)


@pytest.mark.jax
def test_triplet_hand_made_margin_behaviour():
    # Anchor (1, 0); positive at 60 degrees: cos 0.5; negative at 90 degrees: cos 0.
    emb = np.array([[1, 0], [0.5, math.sqrt(3) / 2], [0, 1]], "float32")
    labels = np.array([7, 7, 3])
    # Anchors 0 and 1 each have one triplet: (0, 1, 2): 0 - 0.5 + m;
    # (1, 0, 2): cos(1, 2) - cos(1, 0) + m = 0.866 - 0.5 + m.
    for margin in (0.0, 0.3, 0.5, 0.7, 1.0):
        first = max(0.0, 0.0 - 0.5 + margin)
        second = max(0.0, math.sqrt(3) / 2 - 0.5 + margin)
        got = float(triplet_loss(labels, emb, margin=margin, mining="all"))
        assert got == pytest.approx((first + second) / 2, abs=1e-6)
    # Well separated speakers: every triplet satisfied -> exactly 0.
    tight = np.array([[1, 0.01], [1, -0.01], [-1, 0.02], [-1, -0.02]], "float32")
    for mining in ("hard", "all"):
        assert float(triplet_loss([0, 0, 1, 1], tight, margin=0.1, mining=mining)) == 0.0
    # No valid triplet (a single speaker, or all distinct): 0, not NaN.
    assert float(triplet_loss([1, 1, 1], emb, mining="hard")) == 0.0
    assert float(triplet_loss([1, 2, 3], emb, mining="all")) == 0.0


@pytest.mark.jax
def test_triplet_ordered_is_the_reference_layout():
    rng = np.random.default_rng(3)
    emb = rng.normal(size=(6, 4)).astype("float32")  # anchors 0-1, positives 2-3, negatives 4-5
    e = unit(emb)
    want = np.mean([max(0.0, e[i] @ e[4 + i] - e[i] @ e[2 + i] + 0.1) for i in range(2)])
    got = float(triplet_loss(np.zeros(6), emb, margin=0.1, mining="ordered"))
    assert got == pytest.approx(want, abs=1e-6)
    # The reference's own 1-D check: anchor 0.9 -> 1, positive 1, negative -1 after
    # normalisation: max(-1 - 1 + alpha, 0).
    one_d = np.array([[0.9], [1.0], [-1.0]], "float32")
    assert float(triplet_loss(None, one_d, margin=2.5, mining="ordered")) == pytest.approx(0.5)
    assert float(triplet_loss(None, one_d, margin=0.1, mining="ordered")) == 0.0


def test_triplet_gradient_flows_only_through_violating_triplets():
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        pytest.skip("GradientTape check")
    labels, emb = random_batch(4)
    variable = tf.Variable(emb)
    with tf.GradientTape() as tape:
        loss = triplet_loss(labels, variable, margin=0.2, mining="hard")
    grad = tape.gradient(loss, variable).numpy()
    assert float(loss) > 0 and np.abs(grad).max() > 1e-3 and np.isfinite(grad).all()
    # A tiny step against the gradient lowers the loss.
    stepped = float(triplet_loss(labels, emb - 0.05 * grad, margin=0.2, mining="hard"))
    assert stepped < float(loss)
    tight = tf.Variable(np.array([[1, 0.01], [1, -0.01], [-1, 0.02], [-1, -0.02]], "float32"))
    with tf.GradientTape() as tape:
        zero = triplet_loss([0, 0, 1, 1], tight, margin=0.1, mining="all")
    np.testing.assert_array_equal(tape.gradient(zero, tight).numpy(), 0.0)


def numpy_arcface(labels, cosines, scale, margin):
    losses = []
    for y, row in zip(labels, np.asarray(cosines, np.float64), strict=True):
        theta = math.acos(row[y])
        if theta + margin < math.pi:
            target = math.cos(theta + margin)
        else:
            target = row[y] - margin * math.sin(margin)
        logits = scale * row.copy()
        logits[y] = scale * target
        losses.append(np.log(np.sum(np.exp(logits - logits.max()))) - (logits[y] - logits.max()))
    return np.array(losses)


@pytest.mark.jax
@pytest.mark.parametrize(("scale", "margin"), [(30.0, 0.2), (64.0, 0.5), (10.0, 0.0)])
def test_aam_softmax_loss_matches_numpy(scale, margin):
    rng = np.random.default_rng(0)
    cosines = np.tanh(rng.normal(size=(8, 5))).astype("float32")
    cosines[0, 2] = -0.99  # theta + margin past pi: the monotonic fallback
    labels = np.array([2, 0, 1, 4, 3, 2, 0, 1])
    got = to_numpy(aam_softmax_loss(labels, cosines, scale=scale, margin=margin))
    np.testing.assert_allclose(got, numpy_arcface(labels, cosines, scale, margin), rtol=2e-5,
                               atol=2e-5)
    loss = AAMSoftmaxLoss(scale=scale, margin=margin)
    assert float(loss(labels, cosines)) == pytest.approx(got.mean(), rel=1e-5)


@pytest.mark.jax
def test_aam_margin_raises_the_loss_and_zero_margin_is_scaled_softmax():
    cosines = np.array([[0.8, 0.3, -0.2], [0.1, 0.6, 0.5]], "float32")
    labels = np.array([0, 2])
    losses = [float(np.mean(to_numpy(aam_softmax_loss(labels, cosines, margin=m))))
              for m in (0.0, 0.1, 0.2, 0.4)]
    assert losses == sorted(losses) and losses[0] < losses[-1]
    logits = 30.0 * cosines.astype(np.float64)
    ce = np.log(np.exp(logits).sum(1)) - logits[[0, 1], labels]
    np.testing.assert_allclose(to_numpy(aam_softmax_loss(labels, cosines, margin=0.0)), ce,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.jax
def test_aam_layer_outputs_cosines_and_serializes():
    layer = AAMSoftmax(classes=4)
    x = np.random.default_rng(1).normal(size=(3, 6)).astype("float32") * 5
    cos = to_numpy(layer(x))
    w = to_numpy(layer.kernel)
    np.testing.assert_allclose(cos, unit(x) @ unit(w.T).T, atol=1e-6)
    assert cos.shape == (3, 4) and np.abs(cos).max() <= 1.0
    again = AAMSoftmax.from_config(layer.get_config())
    assert again.classes == 4
    loss = AAMSoftmaxLoss.from_config(AAMSoftmaxLoss(scale=20.0, margin=0.3).get_config())
    assert (loss.scale, loss.margin) == (20.0, 0.3)
    triplet = TripletLoss.from_config(TripletLoss(margin=0.2, mining="all").get_config())
    assert (triplet.margin, triplet.mining) == (0.2, "all")


@pytest.mark.parametrize(("factory", "kwargs", "match"), [
    (TripletLoss, dict(mining="semi"), "mining"),
    (TripletLoss, dict(margin=-0.1), "margin"),
    (AAMSoftmaxLoss, dict(scale=0.0), "scale"),
    (AAMSoftmaxLoss, dict(margin=2.0), "margin"),
    (AAMSoftmax, dict(classes=0), "classes"),
])
def test_bad_options(factory, kwargs, match):
    with pytest.raises(InvalidOptionError, match=match):
        factory(**kwargs)


@pytest.fixture(scope="module")
def speaker_batch(fsdd_sample):
    """Real 8 kHz FSDD clips: 4 speakers x 4 clips (1 s each), integer speaker labels."""
    rows = fsdd_sample[fsdd_sample.speaker.isin(["george", "jackson", "lucas", "theo"])]
    rows = rows.groupby("speaker").head(4)
    audio = np.stack([fix_length(load_audio(p, sample_rate=8000)[0], 8000) for p in rows.path])
    labels = rows.speaker.astype("category").cat.codes.to_numpy().astype("int32")
    return audio.astype("float32"), labels


@pytest.mark.slow
@pytest.mark.parametrize("head", ["triplet", pytest.param("aam", marks=pytest.mark.jax)])
def test_training_steps_lower_the_loss_on_real_audio(speaker_batch, head, tmp_path):
    audio, labels = speaker_batch
    keras.utils.set_random_seed(0)
    embed = kerasaudio.create_model("deep_speaker", include_top=False,
                                    frontend=default_frontend(8000), input_shape=(8000,),
                                    blocks=1, **SMALL)
    if head == "triplet":
        model, loss = embed, TripletLoss(margin=0.1, mining="all")
    else:
        model = keras.Model(embed.input, AAMSoftmax(classes=4, name="aam")(embed.output))
        loss = AAMSoftmaxLoss(scale=30.0, margin=0.2)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)

    def batch_loss():  # in training mode: BatchNorm on the batch's own statistics
        return float(loss(labels, model(audio, training=True)))

    before = batch_loss()
    model.fit(audio, labels, batch_size=16, epochs=1, verbose=0)  # one step
    after = batch_loss()
    assert np.isfinite([before, after]).all() and after < before
    path = tmp_path / f"{head}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded.loss) is type(loss)
    np.testing.assert_allclose(to_numpy(loaded(audio[:2])), to_numpy(model(audio[:2])),
                               atol=1e-6)
