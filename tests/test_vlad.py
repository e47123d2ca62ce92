"""VLADPooling (NetVLAD / GhostVLAD) against an independent numpy computation of the formula."""

import keras
import numpy as np
import pytest

from kerasaudio import export
from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers.vlad import VLADPooling


def vlad_reference(features, scores, centers, clusters, *, mask=None, intra=True, l2=True):
    """V_k = sum_n softmax(scores_n)_k (x_n - c_k), k < clusters, float64, one k at a time."""
    batch, dim = features.shape[0], features.shape[-1]
    x = features.reshape(batch, -1, dim).astype(np.float64)
    s = scores.reshape(batch, -1, scores.shape[-1]).astype(np.float64)
    a = np.exp(s - s.max(axis=-1, keepdims=True))
    a /= a.sum(axis=-1, keepdims=True)
    if mask is not None:
        a = a * mask.reshape(batch, -1, 1)
    out = np.zeros((batch, clusters, dim))
    for k in range(clusters):
        out[:, k] = (a[:, :, k : k + 1] * (x - centers[k])).sum(axis=1)
    if intra:
        out /= np.linalg.norm(out, axis=-1, keepdims=True)
    out = out.reshape(batch, clusters * dim)
    if l2:
        out /= np.linalg.norm(out, axis=-1, keepdims=True)
    return out


def make_inputs(shape, clusters, ghosts, seed=0):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(*shape, 16)).astype("float32")
    scores = rng.normal(scale=2.0, size=(*shape, clusters + ghosts)).astype("float32")
    centers = rng.normal(size=(clusters + ghosts, 16)).astype("float32")
    return features, scores, centers


def layer_with_centers(centers, **kwargs):
    layer = VLADPooling(**kwargs)
    layer.build([(None, None, centers.shape[1]), (None, None, centers.shape[0])])
    layer.centers.assign(centers)
    return layer


def run(layer, features, scores, **kwargs):
    return keras.ops.convert_to_numpy(layer([features, scores], **kwargs))


@pytest.mark.jax
@pytest.mark.parametrize(("clusters", "ghosts"), [(8, 2), (4, 0), (3, 1)])
@pytest.mark.parametrize("shape", [(3, 1, 7), (2, 11), (2, 3, 5)])
def test_matches_numpy_formula(clusters, ghosts, shape):
    features, scores, centers = make_inputs(shape, clusters, ghosts)
    layer = layer_with_centers(centers, clusters=clusters, ghost_clusters=ghosts)
    out = run(layer, features, scores)
    assert out.shape == (shape[0], clusters * 16)
    np.testing.assert_allclose(out, vlad_reference(features, scores, centers, clusters),
                               atol=2e-6)


@pytest.mark.jax
@pytest.mark.parametrize(("intra", "l2"), [(True, True), (True, False), (False, True),
                                           (False, False)])
def test_normalisation_options(intra, l2):
    features, scores, centers = make_inputs((2, 1, 9), 8, 2, seed=1)
    layer = layer_with_centers(centers, clusters=8, ghost_clusters=2, intra_normalize=intra,
                               l2_normalize=l2)
    out = run(layer, features, scores)
    expected = vlad_reference(features, scores, centers, 8, intra=intra, l2=l2)
    np.testing.assert_allclose(out, expected, rtol=2e-5, atol=2e-6)
    norms = np.linalg.norm(out, axis=1)
    blocks = np.linalg.norm(out.reshape(2, 8, 16), axis=-1)
    if l2:
        np.testing.assert_allclose(norms, 1.0, atol=1e-6)
    if intra:
        # Each cluster block has norm 1 before the global step, so after it 1 / sqrt(K).
        np.testing.assert_allclose(blocks, 1.0 / np.sqrt(8) if l2 else 1.0, atol=1e-6)
        if not l2:
            np.testing.assert_allclose(norms, np.sqrt(8), atol=1e-5)


@pytest.mark.jax
def test_ghost_clusters_are_excluded():
    features, scores, centers = make_inputs((2, 1, 12), 4, 2, seed=2)
    layer = layer_with_centers(centers, clusters=4, ghost_clusters=2)
    out = run(layer, features, scores)
    # The ghost centres never reach the output...
    moved = centers.copy()
    moved[4:] += 100.0
    layer.centers.assign(moved)
    np.testing.assert_array_equal(run(layer, features, scores), out)
    layer.centers.assign(centers)
    # ...and a descriptor a ghost cluster absorbs (huge ghost score) counts for nothing:
    # the output equals that of the other descriptors alone.
    absorbed = scores.copy()
    absorbed[:, :, :3, 4] = 60.0
    kept = vlad_reference(features[:, :, 3:], scores[:, :, 3:], centers, 4)
    np.testing.assert_allclose(run(layer, features, absorbed), kept, atol=2e-6)
    # Ghost scores still change the soft-assignment of the real clusters.
    assert not np.allclose(run(layer, features, scores + np.eye(6)[4] * 3), out)


@pytest.mark.jax
def test_netvlad_has_no_ghosts_and_ghostvlad_keeps_their_centres():
    netvlad = VLADPooling(clusters=8)
    ghost = VLADPooling(clusters=8, ghost_clusters=2)
    for layer in (netvlad, ghost):
        layer.build([(None, 1, None, 512), (None, 1, None, layer.total_clusters)])
    assert netvlad.centers.shape == (8, 512)
    assert ghost.centers.shape == (10, 512)  # the authors' weight layout
    assert ghost.compute_output_shape([(None, 1, None, 512), (None, 1, None, 10)]) == (
        None, 4096)


@pytest.mark.jax
def test_mask_gives_each_example_its_unpadded_output():
    rng = np.random.default_rng(3)
    lengths = [9, 5, 2]
    features = rng.normal(size=(3, 9, 16)).astype("float32")
    scores = rng.normal(size=(3, 9, 6)).astype("float32")
    mask = np.arange(9)[None, :] < np.array(lengths)[:, None]
    features[~mask] = 0.0  # zero padding
    centers = rng.normal(size=(6, 16)).astype("float32")
    layer = layer_with_centers(centers, clusters=4, ghost_clusters=2)
    out = run(layer, features, scores, mask=mask)
    for i, n in enumerate(lengths):
        alone = vlad_reference(features[i : i + 1, :n], scores[i : i + 1, :n], centers, 4)
        np.testing.assert_allclose(out[i : i + 1], alone, atol=2e-6)
    # Without the mask, the zero frames do count (assigned like any descriptor).
    assert not np.allclose(run(layer, features, scores)[2], out[2], atol=1e-3)


def test_keras_mask_propagates_from_masking_layer():
    rng = np.random.default_rng(4)
    inputs = keras.Input((None, 8))
    x = keras.layers.Masking(0.0)(inputs)
    scores = keras.layers.Dense(5)(x)
    out = VLADPooling(clusters=3, ghost_clusters=2)([x, scores])
    model = keras.Model(inputs, out)
    seq = rng.normal(size=(1, 6, 8)).astype("float32")
    padded = np.concatenate([seq, np.zeros((1, 4, 8), "float32")], axis=1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(padded)),
                               keras.ops.convert_to_numpy(model(seq)), atol=2e-6)


def test_trains_centres_and_roundtrips(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((1, 10, 4))
    scores = keras.layers.Conv2D(3, 1)(inputs)
    x = VLADPooling(clusters=2, ghost_clusters=1, name="vlad")([inputs, scores])
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    x_train = np.random.default_rng(5).normal(size=(8, 1, 10, 4)).astype("float32")
    before = keras.ops.convert_to_numpy(model.get_layer("vlad").centers)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x_train, np.arange(8) % 2, epochs=2, verbose=0)
    assert not np.allclose(keras.ops.convert_to_numpy(model.get_layer("vlad").centers), before)
    path = tmp_path / "vlad.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x_train)),
                                  keras.ops.convert_to_numpy(model(x_train)))
    config = model.get_layer("vlad").get_config()
    assert (config["clusters"], config["ghost_clusters"]) == (2, 1)
    assert config["intra_normalize"] and config["l2_normalize"]


def test_tflite_builtins_match():
    inputs = keras.Input((1, 12, 16))
    scores = keras.layers.Conv2D(10, 1)(inputs)
    model = keras.Model(inputs, VLADPooling(clusters=8, ghost_clusters=2)([inputs, scores]))
    flatbuffer = export.convert(model, batch_size=1)
    assert not [op for op in export.op_names(flatbuffer) if "flex" in op.lower()]
    x = np.random.default_rng(6).normal(size=(1, 1, 12, 16)).astype("float32")
    (lite,) = export.run_tflite(flatbuffer, x)
    np.testing.assert_allclose(lite, keras.ops.convert_to_numpy(model(x)), atol=1e-5)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"clusters": 0}, "clusters"),
    ({"ghost_clusters": -1}, "ghost_clusters"),
    ({"epsilon": 0.0}, "epsilon"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(InvalidOptionError, match=match):
        VLADPooling(**kwargs)


@pytest.mark.parametrize(("shapes", "match"), [
    ([(None, 5, 16), (None, 5, 9)], "expected clusters \\+ ghost_clusters"),
    ([(None, 5, 16), (None, 4, 10)], "same positions"),
    ([(None, 16), (None, 10)], "rank >= 3"),
    ((None, 5, 16), "takes \\[features, scores\\]"),
])
def test_bad_input_shapes(shapes, match):
    with pytest.raises(InvalidOptionError, match=match):
        VLADPooling(clusters=8, ghost_clusters=2).build(shapes)
