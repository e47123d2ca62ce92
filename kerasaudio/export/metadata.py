"""Metadata inside `.tflite` files: TFLite Model Metadata for MediaPipe, and kerasaudio's own.

`add_metadata` writes two things into a flatbuffer:

- **TFLite Model Metadata** (the `TFLITE_METADATA` entry, schema `metadata_schema.fbs`,
  identifier `M001`): the input tensor carries `AudioProperties` (sample rate, channels)
  and, for classifiers, the output tensor carries the class names as an associated
  `TENSOR_AXIS_LABELS` file. The associated file travels in a zip archive appended to the
  flatbuffer, as the TFLite metadata tools do. MediaPipe's `AudioClassifier` (Android, iOS,
  Python) refuses models without this metadata and reads everything it needs from it.
- **kerasaudio metadata** (the `kerasaudio` entry): a small JSON object (sample rate,
  input length, channels, class names, and whatever else the exporter adds) that
  `read_metadata` returns without any TensorFlow or MediaPipe import. The reader lives in
  `kerasaudio.runtime` (which must not import this package) and is re-exported here.

The metadata flatbuffer is built here with the `flatbuffers` builder (field slots from
`metadata_schema.fbs`), and the model is edited through LiteRT's generated schema module,
so writing metadata needs neither `tflite-support` nor MediaPipe (whose Python wheel has no
audio metadata writer).
"""

from __future__ import annotations

import io
import json
import zipfile

import flatbuffers
import numpy as np

from kerasaudio.errors import InvalidOptionError
from kerasaudio.runtime import (
    KERASAUDIO_METADATA,
    _signature_output_order,
    read_metadata,
    split_associated_files,
)

__all__ = ["add_metadata", "read_metadata"]

#: Name of the metadata entry MediaPipe and the TFLite support library look for.
TFLITE_METADATA = "TFLITE_METADATA"
LABELS_FILE = "labels.txt"
#: AudioProperties needs metadata parser 1.3.0 or newer.
MIN_PARSER_VERSION = "1.3.0"

# metadata_schema.fbs enums.
_TENSOR_AXIS_LABELS = 2
_CONTENT_FEATURE_PROPERTIES = 1
_CONTENT_AUDIO_PROPERTIES = 4


def _table(builder: flatbuffers.Builder, fields: list[tuple[str, int, object]]) -> int:
    """One table: `fields` are `(kind, slot, value)`, kind in offset/uint32/uint8; values that
    are None are skipped."""
    builder.StartObject(max(slot for _, slot, _ in fields) + 1)
    for kind, slot, value in fields:
        if value is None:
            continue
        if kind == "offset":
            builder.PrependUOffsetTRelativeSlot(slot, value, 0)
        elif kind == "uint32":
            builder.PrependUint32Slot(slot, value, 0)
        else:
            builder.PrependUint8Slot(slot, value, 0)
    return builder.EndObject()


def _vector(builder: flatbuffers.Builder, offsets: list[int]) -> int:
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def _string(builder: flatbuffers.Builder, text: str | None) -> int | None:
    return None if text is None else builder.CreateString(text)


def _model_metadata(*, name: str, description: str, version: str, author: str,
                    license: str, sample_rate: int, channels: int,
                    labelled: bool) -> bytes:
    builder = flatbuffers.Builder(1024)
    audio = _table(builder, [("uint32", 0, sample_rate), ("uint32", 1, channels)])
    audio_content = _table(builder, [("uint8", 0, _CONTENT_AUDIO_PROPERTIES),
                                     ("offset", 1, audio)])
    input_name, input_text = _string(builder, "audio"), _string(
        builder, f"Raw audio, float32 in [-1, 1], {sample_rate} Hz, {channels} channel(s).")
    input_tensor = _table(builder, [("offset", 0, input_name), ("offset", 1, input_text),
                                    ("offset", 3, audio_content)])
    outputs = None
    if labelled:
        label_file = _table(builder, [
            ("offset", 0, _string(builder, LABELS_FILE)),
            ("offset", 1, _string(builder, "Class names, one per line, in score order.")),
            ("uint8", 2, _TENSOR_AXIS_LABELS)])
        builder.StartObject(0)  # FeatureProperties: an empty table
        feature = builder.EndObject()
        output_content = _table(builder, [("uint8", 0, _CONTENT_FEATURE_PROPERTIES),
                                          ("offset", 1, feature)])
        output_tensor = _table(builder, [
            ("offset", 0, _string(builder, "probability")),
            ("offset", 1, _string(builder, "Class probabilities.")),
            ("offset", 3, output_content),
            ("offset", 6, _vector(builder, [label_file]))])
        outputs = _vector(builder, [output_tensor])
    subgraph = _table(builder, [("offset", 2, _vector(builder, [input_tensor])),
                                ("offset", 3, outputs)])
    root = _table(builder, [
        ("offset", 0, _string(builder, name)), ("offset", 1, _string(builder, description)),
        ("offset", 2, _string(builder, version)),
        ("offset", 3, _vector(builder, [subgraph])),
        ("offset", 4, _string(builder, author)), ("offset", 5, _string(builder, license)),
        ("offset", 7, _string(builder, MIN_PARSER_VERSION))])
    builder.Finish(root, file_identifier=b"M001")
    return bytes(builder.Output())


def _first_output(model) -> int:
    """Tensor index of the Keras model's first output in a `schema.ModelT`: by the file's
    signature when it has exactly one for the main graph (as `kerasaudio.runtime.invoke`
    orders outputs), else the graph's first output."""
    signatures = model.signatureDefs or []
    if len(signatures) == 1 and signatures[0].subgraphIndex == 0 and signatures[0].outputs:
        by_name = {entry.name.decode() if isinstance(entry.name, bytes) else entry.name:
                   int(entry.tensorIndex) for entry in signatures[0].outputs}
        return by_name[_signature_output_order(by_name)[0]]
    return int(model.subgraphs[0].outputs[0])


def add_metadata(flatbuffer: bytes, *, sample_rate: int, class_names=None, channels: int = 1,
                 name: str = "kerasaudio model", description: str = "",
                 version: str = "1", author: str = "kerasaudio", license: str = "",
                 extra: dict | None = None) -> bytes:
    """Return `flatbuffer` with TFLite Model Metadata (for MediaPipe) and kerasaudio's JSON.

    Args:
        flatbuffer: a `.tflite` model whose first input is raw audio `(1, samples)`.
        sample_rate: the rate the model expects, Hz (MediaPipe resamples input to it).
        class_names: the labels of the classifier's first output (the Keras model's first:
            see `kerasaudio.runtime.output_details`), in order (None: not a classifier).
        channels: audio channels of the input.
        name, description, version, author, license: model card fields.
        extra: more JSON-serialisable fields for the kerasaudio entry (e.g. `input_length`,
            `quantization`, and the model-info record's `task` and `preset`: with
            `sample_rate`, `class_names` and `input_length` they are the record that
            `kerasaudio.info.AudioInfo.from_metadata` and `TFLiteModel.audio_info` read).

    Returns:
        The new `.tflite` contents (the flatbuffer, then a zip holding `labels.txt`).

    Example:
    ```python
    model = kerasaudio.create_model("m5", input_shape=(8000,), frontend="default",
                                    classes=10, n_channel=8)
    fb = kerasaudio.export.convert(model)
    fb = kerasaudio.export.add_metadata(fb, sample_rate=8000,
                                        class_names=[str(d) for d in range(10)],
                                        extra={"input_length": 8000})
    kerasaudio.export.read_metadata(fb)["class_names"][:3]  # ['0', '1', '2']
    kerasaudio.runtime.TFLiteModel(fb).sample_rate  # 8000
    ```
    """
    from ai_edge_litert import schema_py_generated as schema

    if not isinstance(sample_rate, int) or sample_rate <= 0:
        raise InvalidOptionError(f"sample_rate={sample_rate!r} must be a positive integer.")
    labels = None if class_names is None else [str(c) for c in class_names]
    if labels is not None and (not labels or any("\n" in c for c in labels)):
        raise InvalidOptionError("class_names must be non-empty names without newlines.")
    flatbuffer, _ = split_associated_files(flatbuffer)
    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    if labels is not None:
        shape = list(model.subgraphs[0].tensors[_first_output(model)].shape)
        if shape[-1] != len(labels):
            raise InvalidOptionError(
                f"{len(labels)} class names for an output of shape {shape}.")
    info = {"sample_rate": sample_rate, "channels": channels, "class_names": labels,
            "name": name, **(extra or {})}
    entries = {
        TFLITE_METADATA: _model_metadata(name=name, description=description,
                                         version=version, author=author, license=license,
                                         sample_rate=sample_rate, channels=channels,
                                         labelled=labels is not None),
        KERASAUDIO_METADATA: json.dumps(info).encode(),
    }
    model.metadata = [m for m in (model.metadata or [])
                      if m.name.decode() not in entries]
    for key, payload in entries.items():
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(payload, np.uint8)
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name = key
        entry.buffer = len(model.buffers) - 1
        model.metadata.append(entry)
    builder = flatbuffers.Builder(len(flatbuffer) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    out = io.BytesIO()
    out.write(builder.Output())
    if labels is not None:
        with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(LABELS_FILE, "\n".join(labels) + "\n")
    return out.getvalue()
