"""The shared test harness: a layer, a model family or an export tested in a few lines.

In the manner of keras-hub's `TestCase` (`run_layer_test`, `run_model_saving_test`,
`run_litert_export_test`), as plain functions for pytest:

- `run_layer_test`: builds a layer, calls it on real audio (or features computed from it),
  round-trips its config, saves it inside a model as a `.keras` file, loads it back in safe
  mode and checks the same output; optionally converts that model to TFLite (builtin ops
  only) and runs it in LiteRT.
- `run_model_test`: builds a registered model by name, checks its output shape, its
  parameter count (against the registry's for the registry defaults) and the `.keras`
  round trip in safe mode; optionally its TFLite conversion.
- `run_export_test`: `kerasaudio.export.to_tflite` (conversion in a child process, verified
  against Keras in LiteRT) on the given clips, then the written file run again in LiteRT.
- `real_audio`: clips of the bundled FSDD sample (real recordings, 8 kHz), cut or padded to
  a fixed length.

A new layer's test:

```python
from harness import real_audio, run_layer_test

def test_my_layer():
    run_layer_test(MyLayer, init_kwargs={"n_fft": 256}, input_data=real_audio(2, 8000),
                   expected_output_shape=(2, 63, 129), tflite=True)
```

A new family's test:

```python
def test_my_family():
    run_model_test("my_family", registry_parameters=True)
    run_model_test("my_family", init_kwargs={"classes": 3, "input_shape": (8000,)},
                   input_data=real_audio(2, 8000), expected_output_shape=(2, 3),
                   tflite=True)
```
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

import kerasaudio
from kerasaudio import export


def to_numpy(x) -> np.ndarray:
    """A backend tensor (or a list of them) as NumPy."""
    if isinstance(x, list | tuple):
        return [to_numpy(item) for item in x]
    return np.asarray(keras.ops.convert_to_numpy(x))


@functools.cache
def _sample_clips() -> tuple[np.ndarray, ...]:
    import soundfile as sf

    from kerasaudio.datasets import fsdd

    frame = fsdd.load(sample=True).sort_values("path")
    # One clip per speaker and digit, in a fixed order: varied voices, real recordings.
    picked = frame.drop_duplicates(["speaker", "digit"])
    return tuple(sf.read(path, dtype="float32")[0] for path in picked.path)


def real_audio(clips: int = 2, samples: int = 8000) -> np.ndarray:
    """`clips` real FSDD recordings (8 kHz) as float32 `(clips, samples)`, each one cut or
    zero-padded at the end to `samples`."""
    pool = _sample_clips()
    if clips > len(pool):
        raise ValueError(f"the bundled sample has {len(pool)} distinct clips; asked {clips}")
    out = np.zeros((clips, samples), np.float32)
    for row, audio in zip(out, pool[:clips], strict=False):
        row[: min(samples, len(audio))] = audio[:samples]
    return out


def _assert_same(got, want, *, atol: float, what: str) -> None:
    got, want = to_numpy(got), to_numpy(want)
    if isinstance(want, list):
        assert len(got) == len(want), f"{what}: {len(got)} outputs, expected {len(want)}"
        for g, w in zip(got, want, strict=True):
            _assert_same(g, w, atol=atol, what=what)
        return
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    np.testing.assert_allclose(got, want, rtol=0, atol=atol, err_msg=what)


def _saved_and_loaded(model: keras.Model, directory: str) -> keras.Model:
    path = Path(directory) / f"{model.name}.keras"
    model.save(path)
    return keras.saving.load_model(path, safe_mode=True)


def _tflite_check(model: keras.Model, input_data, want, *, atol: float) -> bytes:
    """Convert in process (builtin ops only), run in LiteRT on `input_data` row by row."""
    flatbuffer = export.convert(model, batch_size=1)
    flex = [op for op in export.op_names(flatbuffer) if "flex" in op.lower()]
    assert not flex, f"TFLite file needs the Flex delegate: {flex}"
    inputs = input_data if isinstance(input_data, list | tuple) else [input_data]
    rows = [export.run_tflite(flatbuffer, *(x[i:i + 1] for x in inputs))
            for i in range(len(inputs[0]))]
    got = [np.concatenate(outs) for outs in zip(*rows, strict=True)]
    want = to_numpy(want)
    _assert_same(got if isinstance(want, list) else got[0], want, atol=atol,
                 what="LiteRT against Keras")
    return flatbuffer


def run_layer_test(layer_cls: Callable[..., keras.layers.Layer], *, init_kwargs: dict,
                   input_data, expected_output_shape: tuple | None = None,
                   expected_output: np.ndarray | None = None, atol: float = 1e-6,
                   expected_atol: float = 1e-5, tflite: bool = False,
                   tflite_atol: float = 1e-4) -> np.ndarray:
    """Build, call, config round trip, `.keras` round trip in safe mode, optional TFLite.

    Args:
        layer_cls: the layer class (registered for Keras serialization).
        init_kwargs: its options.
        input_data: a batch (NumPy), best real audio (`real_audio`) or features of it.
        expected_output_shape: the output's shape, if given.
        expected_output: a reference output (e.g. librosa's), compared within
            `expected_atol`.
        atol: largest accepted difference between the layer's output and the re-built
            (config round trip) and re-loaded (`.keras`) layers' outputs.
        tflite: also convert a model of the layer to TFLite (builtin ops only, batch 1) and
            compare LiteRT's output with Keras' within `tflite_atol`.

    Returns:
        The layer's output on `input_data`, as NumPy.
    """
    layer = layer_cls(**init_kwargs)
    output = to_numpy(layer(input_data))
    assert np.isfinite(output).all(), f"{layer_cls.__name__}: non-finite output"
    if expected_output_shape is not None:
        assert output.shape == tuple(expected_output_shape), (
            f"{layer_cls.__name__}: output shape {output.shape}, expected "
            f"{tuple(expected_output_shape)}")
    if expected_output is not None:
        _assert_same(output, np.asarray(expected_output, output.dtype), atol=expected_atol,
                     what=f"{layer_cls.__name__} against the reference")

    # Config round trip: the same options, the same output (with the same weights).
    config = layer.get_config()
    rebuilt = layer_cls.from_config(config)
    assert rebuilt.get_config() == config, f"{layer_cls.__name__}: config changed"
    rebuilt_output = rebuilt(input_data)
    if layer.weights:
        rebuilt.set_weights(layer.get_weights())
        rebuilt_output = rebuilt(input_data)
    _assert_same(rebuilt_output, output, atol=atol, what="config round trip")

    # The layer inside a model: saved as .keras, loaded in safe mode, same output.
    inputs = keras.Input(np.shape(input_data)[1:], dtype=str(np.asarray(input_data).dtype))
    model = keras.Model(inputs, layer(inputs), name=f"{layer.name}_model")
    with tempfile.TemporaryDirectory() as directory:
        loaded = _saved_and_loaded(model, directory)
    restored = loaded.layers[-1]
    assert type(restored) is type(layer)
    assert restored.get_config() == layer.get_config()
    _assert_same(loaded(input_data), output, atol=atol, what=".keras round trip")

    if tflite:
        _tflite_check(model, np.asarray(input_data), output, atol=tflite_atol)
    return output


def run_model_test(name: str, *, init_kwargs: dict | None = None, input_data=None,
                   expected_output_shape: tuple | None = None,
                   expected_parameters: int | None = None, registry_parameters: bool = False,
                   saving: bool = True, atol: float = 1e-6, tflite: bool = False,
                   tflite_atol: float = 1e-4) -> keras.Model:
    """Build a registered model, check its shape and counts, save and load it.

    Args:
        name: a registered architecture (`kerasaudio.list_models()`).
        init_kwargs: options for `kerasaudio.create_model(name, ...)`.
        input_data: a batch to call the model on (checked for shape, finiteness, and the
            same output after the round trips). Without it, only counts are checked.
        expected_output_shape: the output's shape on `input_data`.
        expected_parameters: `model.count_params()`, if given.
        registry_parameters: check `count_params()` against the registry's `parameters`
            (the count of the registry defaults: build without `init_kwargs`).
        saving: `.keras` round trip in safe mode (same config, same output).
        tflite: convert to TFLite in process (builtin ops only, batch 1), run it in LiteRT
            on `input_data`, compare with Keras within `tflite_atol`.

    Returns:
        The model.
    """
    model = kerasaudio.create_model(name, **(init_kwargs or {}))
    if registry_parameters:
        info = kerasaudio.models.get_model_info(name)
        assert model.count_params() == info.parameters, (
            f"{name}: {model.count_params():,} parameters; the registry says "
            f"{info.parameters:,}")
    if expected_parameters is not None:
        assert model.count_params() == expected_parameters, (
            f"{name}: {model.count_params():,} parameters, expected {expected_parameters:,}")
    output = None
    if input_data is not None:
        output = to_numpy(model(input_data))
        assert all(np.isfinite(o).all() for o in (output if isinstance(output, list)
                                                  else [output])), f"{name}: non-finite"
        if expected_output_shape is not None:
            assert np.shape(output) == tuple(expected_output_shape), (
                f"{name}: output shape {np.shape(output)}, expected {expected_output_shape}")
    if saving:
        with tempfile.TemporaryDirectory() as directory:
            loaded = _saved_and_loaded(model, directory)
        assert [w.shape for w in loaded.weights] == [w.shape for w in model.weights]
        assert loaded.count_params() == model.count_params()
        if output is not None:
            _assert_same(loaded(input_data), output, atol=atol, what=f"{name} .keras round trip")
    if tflite:
        if input_data is None:
            raise ValueError("tflite=True needs input_data")
        _tflite_check(model, input_data, output, atol=tflite_atol)
    return model


def run_export_test(model: keras.Model, clips: np.ndarray, *, quantization: str | None = None,
                    tolerance: float | None = None, **options) -> export.ExportReport:
    """`to_tflite` verified in LiteRT, then the written file run again and compared.

    Args:
        model: a Keras model taking `clips`.
        clips: representative clips (calibration for int8, verification for every mode).
        quantization: as for `to_tflite`.
        tolerance: the largest accepted |TFLite - Keras| (default: `to_tflite`'s per mode).
        **options: more `to_tflite` options (e.g. `sample_rate`, `class_names`).

    Returns:
        The passed `ExportReport` (its `path` the written file, in a directory removed on
        return).
    """
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"{model.name}.tflite"
        report = export.to_tflite(model, path, quantization=quantization,
                                  representative_data=clips, tolerance=tolerance, **options)
        assert report.passed and path.exists()
        assert not [op for op in report.ops if "flex" in op.lower()], report.ops
        flatbuffer = path.read_bytes()
    assert len(flatbuffer) == report.size_bytes
    want = to_numpy(model(clips))
    got = np.concatenate([export.run_tflite(flatbuffer, clip[None])[0] for clip in clips])
    assert np.abs(got - want).max() <= report.tolerance, (
        f"LiteRT differs from Keras by {np.abs(got - want).max():.3g} "
        f"(tolerance {report.tolerance:.3g})")
    return report


def assert_mediapipe_scores(path, clips: np.ndarray, expected: np.ndarray, *,
                            sample_rate: int, class_names: list[str],
                            atol: float) -> np.ndarray:
    """MediaPipe's `AudioClassifier` loads the `.tflite` file at `path` and scores each
    clip as `expected` (`(clips, classes)`, e.g. the Keras model's outputs) within `atol`,
    every class named as in `class_names`. Returns MediaPipe's scores `(clips, classes)`
    in `class_names` order."""
    from mediapipe.tasks.python import audio
    from mediapipe.tasks.python.components.containers import audio_data
    from mediapipe.tasks.python.core import base_options

    options = audio.AudioClassifierOptions(
        base_options=base_options.BaseOptions(model_asset_path=str(path)),
        max_results=len(class_names))
    got = []
    with audio.AudioClassifier.create_from_options(options) as classifier:
        for clip, want in zip(clips, expected, strict=True):
            result = classifier.classify(audio_data.AudioData.create_from_array(clip,
                                                                                sample_rate))
            scores = {c.category_name: c.score
                      for c in result[0].classifications[0].categories}
            assert sorted(scores) == sorted(class_names)
            got.append([scores[name] for name in class_names])
            np.testing.assert_allclose(got[-1], want, atol=atol)
    return np.asarray(got)


class MirrorHandler(http.server.BaseHTTPRequestHandler):
    """A file mirror for `local_http_server` (conftest.py) that misbehaves on request.

    GET /<mode>[/<arg>]/<file> serves `<server.root>/<file>`: `files` (as it is), `slow`,
    `truncate` (half the body after the full Content-Length, then close), `corrupt` (one
    byte changed), `stall`, or `status/<code>` (that HTTP error)."""

    def do_GET(self):
        server = self.server
        parts = self.path.strip("/").split("/")
        mode, name = parts[0], parts[-1]
        if mode == "status":
            self.send_error(int(parts[1]))
            return
        path = server.root / name
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if mode == "files":
            self.wfile.write(data)
        elif mode == "corrupt":  # same size, one byte changed
            self.wfile.write(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
        elif mode == "truncate":  # fewer bytes than Content-Length, then close
            self.wfile.write(data[: len(data) // 2])
        elif mode == "stall":  # a little, then nothing until the test ends
            self.wfile.write(data[:100])
            self.wfile.flush()
            server.release.wait(10)
        elif mode == "slow":  # 8 chunks over about 0.8 s
            step = -(-len(data) // 8)
            for start in range(0, len(data), step):
                self.wfile.write(data[start:start + step])
                self.wfile.flush()
                time.sleep(0.1)


#: SpeechBrain 1.1.2 and torchaudio's pure-Python part, installed outside site-packages
#: by `make speechbrain-reference` (torchaudio's registry wheel is a CUDA build whose
#: compiled libraries do not load here; importable in site-packages it would also switch
#: transformers' AST feature extractor to it in every test process).
SPEECHBRAIN_REFERENCE = Path(os.environ.get("KERASAUDIO_SPEECHBRAIN_REFERENCE",
                                            Path(sys.prefix) / "speechbrain-reference"))


def run_with_speechbrain_reference(args: list[str], *, timeout: float = 600):
    """Run `python ARGS` in a child process that can import SpeechBrain and torchaudio's
    Python part (skips the calling test, with the reason, where `make
    speechbrain-reference` has not installed them)."""
    import pytest

    if not (SPEECHBRAIN_REFERENCE / "torchaudio").is_dir():
        pytest.skip(f"SpeechBrain reference not installed in {SPEECHBRAIN_REFERENCE} "
                    "(make test-parity installs it: make speechbrain-reference)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SPEECHBRAIN_REFERENCE), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done
