"""The model behind `predict`, `evaluate` and `export`: a preset, a `.keras` or a `.tflite`
file, loaded once and asked for the probabilities of a file's windows.

Internal to the command (`kerasaudio.cli`); Keras, TensorFlow and LiteRT are imported
only when a model is loaded.
"""

from __future__ import annotations

import os

from kerasaudio.cli.output import native_stderr_muted
from kerasaudio.errors import InvalidOptionError, ModelFileError, ModelFileNotFoundError

__all__ = ["Classifier", "load_keras_file"]


def load_keras_file(name: str):
    """The `.keras` model file `name` loaded in safe mode; an unreadable one is a
    `ModelFileError` (`ModelFileNotFoundError` when it does not exist)."""
    import keras

    if "\x00" in name:
        raise ModelFileError(name.replace("\x00", "\\x00"), "the path contains a NUL byte")
    if not os.path.exists(name):
        raise ModelFileNotFoundError(name, "no such file")
    if os.path.isdir(name):
        raise ModelFileError(name, "is a directory, not a .keras file")
    try:
        return keras.saving.load_model(name, safe_mode=True)
    except Exception as exc:  # a zip, JSON or HDF5 error, or a refusal of safe mode
        raise ModelFileError(name, f"cannot be loaded as a Keras model ({type(exc).__name__}: "
                             f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''})"
                             ) from None


class Classifier:
    """A preset, `.keras` or `.tflite` model behind one interface: windows -> probabilities.

    What the model takes and gives comes from its model-info record
    (`kerasaudio.info.model_info`: a preset's, a `.keras` file's own, a `.tflite` file's
    metadata). Unknown class names are shown as output indices; an unknown sample rate or
    input length is an error saying how to record it.
    """

    def __init__(self, name: str, *, max_duration: float | None = None):
        from kerasaudio.audio_io import MAX_DURATION
        from kerasaudio.info import model_info

        self.max_duration = MAX_DURATION if max_duration is None else max_duration
        if name.endswith(".tflite"):
            from kerasaudio.runtime import TFLiteModel

            self._lite: TFLiteModel | None = TFLiteModel(name,
                                                        max_duration=self.max_duration)
            with native_stderr_muted():  # LiteRT's one INFO line ("Created ... delegate")
                self._lite._interpreter.allocate_tensors()
            self.info = self._lite.audio_info
            self.class_names = self._lite.class_names
            self.sample_rate = self._lite.sample_rate
            self.input_length: int = self._lite.input_length
            self.model = self.preset = None
            return
        import kerasaudio
        from kerasaudio.hub import preset_of

        self._lite = None
        if name.endswith(".keras"):
            self.model = load_keras_file(name)
        else:
            self.model = kerasaudio.create_model(name)
        self.info = model_info(self.model)
        self.preset = preset_of(self.model)
        shape = tuple(self.model.inputs[0].shape[1:]) if len(self.model.inputs) == 1 else ()
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
            raise InvalidOptionError(
                f"{name} takes input of shape {shape or 'several inputs'}, not raw mono audio "
                "(samples,) or (samples, 1); classify with a model whose front end is inside.")
        self._channel_axis = len(shape) == 2
        width = self.model.outputs[0].shape[-1]
        names = self.info.class_names
        self.class_names = list(names) if names is not None and len(names) == width else None
        rate, length = self.info.sample_rate, self.info.input_length or shape[0]
        if rate is None or length is None:
            missing = "sample rate" if rate is None else "input length"
            raise InvalidOptionError(
                f"{name}: the {missing} of the audio the model takes is unknown (its "
                "model-info record has none). Record it before saving: model = "
                "kerasaudio.models.with_info(model, sample_rate=..., input_length=...).")
        self.sample_rate, self.input_length = int(rate), int(length)

    def predict_windows(self, path: str, hop: int | None, keep=None):
        """`(start_seconds, probabilities (windows, classes))` of one file (the windows
        `keep` chooses, see `kerasaudio.runtime.predict_windows`)."""
        if self._lite is not None:
            return self._lite.predict_windows(path, hop=hop, keep=keep)
        from kerasaudio.runtime import predict_windows

        def predict(clips):  # a direct call: no per-call tracing as model.predict does
            import keras

            clips = clips[..., None] if self._channel_axis else clips
            out = self.model(clips, training=False)
            return keras.ops.convert_to_numpy(out[0] if isinstance(out, (list, tuple))
                                              else out)

        return predict_windows(predict, path, model_sample_rate=self.sample_rate,
                               input_length=self.input_length, hop=hop,
                               max_duration=self.max_duration, keep=keep)
