"""`to_tflite` and `TFLiteModel` against bad paths, bad files, integer calibration data and
user-defined layers (issue 20)."""

from __future__ import annotations

import os
import sys
import textwrap
import time

import keras
import numpy as np
import pytest
from crafted_audio import tiny_classifier, tone

import kerasaudio
from kerasaudio.errors import (
    ConversionError,
    InvalidOptionError,
    ModelFileError,
    ModelFileNotFoundError,
)
from kerasaudio.export import to_tflite
from kerasaudio.export.convert import clip_array
from kerasaudio.runtime import TFLiteModel


def small_model(*extra):
    """Raw 1 s audio at 8 kHz -> log-mel -> (extra layers) -> 3 classes."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8000,))
    x = kerasaudio.layers.MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=128,
                                         n_mels=16)(inputs)
    for layer in extra:
        x = layer(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


CLIPS = np.stack([tone(8000, amplitude=a) for a in (0.05, 0.2, 0.4, 0.8)])


@pytest.fixture(scope="module")
def tflite_file(tmp_path_factory):
    return tiny_classifier(tmp_path_factory.mktemp("tiny") / "tiny.tflite")


@pytest.mark.parametrize("where", ["proc", "file_parent", "directory", "nul"])
def test_unwritable_output_paths_fail_before_converting(where, tmp_path):
    if where == "proc":
        path, words = "/proc/kerasaudio.tflite", "cannot write in /proc"
    elif where == "file_parent":
        (tmp_path / "file").write_text("x")
        path, words = tmp_path / "file" / "deeper" / "m.tflite", "is a file, not a directory"
    elif where == "directory":
        (tmp_path / "exists").mkdir()
        path, words = tmp_path / "exists", "is a directory"
    else:
        path, words = str(tmp_path / "m\x00.tflite"), "NUL byte"
    before = sorted(p.name for p in tmp_path.rglob("*"))
    start = time.perf_counter()
    with pytest.raises(InvalidOptionError, match=words):
        to_tflite(small_model(), path, representative_data=CLIPS)
    # Converting takes a child process and seconds; the refusal comes first.
    assert time.perf_counter() - start < 3.0
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing left behind


@pytest.mark.integration
def test_a_failed_conversion_leaves_no_file_and_no_directory(tmp_path):
    model = small_model()
    target = tmp_path / "new" / "deeper" / "m.tflite"
    with pytest.raises(ConversionError):
        to_tflite(model, target, representative_data=CLIPS, timeout=0.01)  # killed
    assert list(tmp_path.iterdir()) == []
    report = to_tflite(model, target, representative_data=CLIPS)
    assert report.passed and os.listdir(target.parent) == ["m.tflite"]


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module of the user's, importable from a directory on sys.path (not the cwd)."""
    root = tmp_path / "user_code"
    root.mkdir()
    (root / "user_layers_for_export.py").write_text(textwrap.dedent('''
        import keras

        @keras.saving.register_keras_serializable(package="UserCode")
        class Doubled(keras.layers.Layer):
            def call(self, x):
                return x * 2.0

        class Unregistered(keras.layers.Layer):
            def call(self, x):
                return x + 1.0
    '''))
    monkeypatch.syspath_prepend(str(root))
    import user_layers_for_export

    yield user_layers_for_export
    sys.modules.pop("user_layers_for_export", None)


@pytest.mark.integration
def test_a_user_layer_converts_in_the_child_process(user_module, tmp_path):
    model = small_model(user_module.Doubled(), user_module.Unregistered())
    report = to_tflite(model, tmp_path / "m.tflite", representative_data=CLIPS)
    assert report.passed and report.max_abs_diff < 1e-4


def test_a_layer_defined_in_main_is_refused_with_a_fix():
    main_layer = type("MainLayer", (keras.layers.Layer,),
                      {"call": lambda self, x: x * 3.0, "__module__": "__main__"})
    with pytest.raises(InvalidOptionError, match=r"__main__.*move it into a \.py file"):
        to_tflite(small_model(main_layer()), None, representative_data=CLIPS)


@pytest.mark.integration
def test_the_conversion_never_imports_code_from_the_current_directory(tmp_path,
                                                                       monkeypatch):
    marker = tmp_path / "ran"
    for name in ("numpy", "keras", "json"):
        (tmp_path / f"{name}.py").write_text(
            f"open({str(marker)!r}, 'a').write({name!r})\nraise SystemExit(3)\n")
    monkeypatch.chdir(tmp_path)
    report = to_tflite(small_model(), None, representative_data=CLIPS)
    assert report.passed and not marker.exists()


def test_integer_pcm_calibration_data_is_scaled():
    floats = CLIPS
    for dtype, scale in [("int16", 32768), ("int8", 128), ("int32", 2**31)]:
        ints = np.round(floats * (scale - 1)).astype(dtype)
        np.testing.assert_allclose(clip_array(ints, input_shape=(8000,)), ints / scale,
                                   rtol=1e-6)
    unsigned = np.round(floats * 127 + 128).astype("uint8")
    np.testing.assert_allclose(clip_array(unsigned, input_shape=(8000,)),
                               (unsigned.astype(float) - 128) / 128, rtol=1e-6)
    # A generator or list of integer clips too.
    ints = (floats * 32767).astype("int16")
    np.testing.assert_allclose(clip_array(list(ints), input_shape=(8000,)), ints / 32768)
    for dtype in ("uint16", "int64", "bool", "complex64"):
        with pytest.raises(InvalidOptionError, match=f"dtype {dtype}"):
            clip_array(np.zeros((2, 8000), dtype), input_shape=(8000,))


@pytest.mark.integration
def test_int16_calibration_gives_the_same_file_as_its_float_scale(tmp_path):
    model = small_model()
    ints = np.round(CLIPS * 32767).astype("int16")
    a = to_tflite(model, tmp_path / "a.tflite", quantization="int8", representative_data=ints)
    b = to_tflite(model, tmp_path / "b.tflite", quantization="int8",
                  representative_data=ints / np.float32(32768))
    assert a.passed and a.max_abs_diff == b.max_abs_diff
    assert open(a.path, "rb").read() == open(b.path, "rb").read()


@pytest.mark.integration
def test_one_clip_is_accepted_and_wrong_shapes_are_named():
    assert clip_array(CLIPS[0], input_shape=(8000,)).shape == (1, 8000)
    with pytest.raises(InvalidOptionError, match=r"has shape \(500,\).*\(clips, 8000\)"):
        clip_array(np.zeros(500, np.float32), input_shape=(8000,))
    with pytest.raises(InvalidOptionError, match=r"has shape \(3, 500\)"):
        clip_array(np.zeros((3, 500), np.float32), input_shape=(8000,))
    report = to_tflite(small_model(), None, representative_data=CLIPS[1])
    assert report.passed and report.clips == 1


@pytest.mark.parametrize("kind, error, words", [
    ("empty", ModelFileError, r"is empty \(0 bytes\)"),
    ("text", ModelFileError, "is not a TFLite model"),
    ("garbage", ModelFileError, "is not a TFLite model"),
    ("truncated", ModelFileError, "corrupt TFLite flatbuffer"),
    ("directory", ModelFileError, "is a directory"),
    ("missing", ModelFileNotFoundError, "no such file"),
    ("nul", ModelFileError, "NUL byte"),
])
@pytest.mark.integration
def test_tflite_model_files_that_are_not_models(kind, error, words, tmp_path, tflite_file):
    path = tmp_path / f"{kind}.tflite"
    contents = {"empty": b"", "text": b"not a model\n",
                "garbage": np.random.default_rng(1).bytes(5000),
                "truncated": open(tflite_file, "rb").read()[:300]}
    if kind in contents:
        path.write_bytes(contents[kind])
    elif kind == "directory":
        path.mkdir()
    elif kind == "nul":
        path = str(path) + "\x00"
    with pytest.raises(error, match=words) as info:
        TFLiteModel(path)
    assert info.value.path.replace("\\x00", "\x00") == os.fspath(path)
    if kind in contents:  # the same contents given as bytes
        with pytest.raises(ModelFileError, match=words):
            TFLiteModel(contents[kind])


@pytest.mark.integration
def test_tflite_model_takes_bytes_paths_and_contents(tflite_file):
    by_path = TFLiteModel(os.fsencode(tflite_file))
    by_contents = TFLiteModel(open(tflite_file, "rb").read())
    clip = tone(8000)
    np.testing.assert_array_equal(by_path.predict(clip), by_contents.predict(clip))


@pytest.mark.integration
def test_a_flatbuffer_without_kerasaudio_metadata(tmp_path):
    path = tmp_path / "plain.tflite"
    path.write_bytes(kerasaudio.export.convert(small_model()))
    with pytest.raises(ModelFileError, match="no kerasaudio metadata"):
        TFLiteModel(path)


@pytest.mark.integration
def test_the_exported_file_gets_the_usual_permissions(tmp_path):
    """`to_tflite` writes through a 0600 temporary file; the file it leaves has the mode
    any new file of the user gets (0666 & ~umask)."""
    path, umask = tmp_path / "m.tflite", 0o027
    old = os.umask(umask)
    try:
        to_tflite(small_model(), path, verify=False, sample_rate=8000)
    finally:
        os.umask(old)
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~umask)  # 0o640
