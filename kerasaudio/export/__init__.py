"""TFLite export: builtin ops only, float32 / float16 / dynamic range / int8, verified.

- `to_tflite(model, path, ...)` converts in a child process (a converter crash becomes a
  `ConversionError`, never a dead caller), runs the result in LiteRT against the Keras
  model on representative audio, and writes the file only if it agrees within tolerance.
  It returns an `ExportReport` (`kerasaudio.export.verify`).
- `convert(model, ...)` converts in this process and returns the flatbuffer; the
  quantization modes are described in `kerasaudio.export.convert`.
- `add_metadata` / `read_metadata`: TFLite Model Metadata for MediaPipe and kerasaudio's
  own metadata (`kerasaudio.export.metadata`).
- `equalize_channels` / `equalization_pairs`: cross-layer equalization before per-tensor
  quantization (`kerasaudio.export.equalization`).
- `fold_relu_batch_norms` / `relu_batch_norms`: batch norms after a ReLU folded into the
  layer before it for int8 (`kerasaudio.export.folding`), which `convert` applies.
- `op_names`, `float_ops` and `run_tflite` inspect and run converted files.
- `check_builtin_ops` / `flex_ops` find Flex ops in files from the standard Keras routes
  (`model.export(format="litert")`, `TFLiteConverter`); `builtin_recurrent` swaps Keras'
  `LSTM`/`GRU` for kerasaudio's builtin-ops ones (`kerasaudio.export.builtin`).
- `kerasaudio.export.graph` holds the flatbuffer edits `convert` applies (internal).

`TFLiteModel`, which runs exported files without Keras or TensorFlow, lives in
`kerasaudio.runtime` and is re-exported here.
"""

from kerasaudio.errors import (
    ConversionError,
    InvalidOptionError,
    KerasAudioError,
    VerificationError,
)
from kerasaudio.export.builtin import builtin_recurrent, check_builtin_ops, flex_ops
from kerasaudio.export.convert import (
    CALIBRATED,
    MAX_REPRESENTATIVE,
    QUANTIZATIONS,
    convert,
    first_layers_after_frontend,
)
from kerasaudio.export.equalization import (
    EqualizedPair,
    equalization_pairs,
    equalize_channels,
)
from kerasaudio.export.folding import FoldedNorm, fold_relu_batch_norms, relu_batch_norms
from kerasaudio.export.metadata import add_metadata, read_metadata
from kerasaudio.export.streaming import (
    MIN_AGREEMENT,
    STREAMING_TOLERANCE,
    StreamingReport,
    streaming_vad_tflite,
)
from kerasaudio.export.verify import (
    DEFAULT_TOLERANCE,
    FALLBACK,
    ExportReport,
    float_ops,
    op_names,
    to_tflite,
)
from kerasaudio.runtime import TFLiteModel, run_tflite

__all__ = [
    "CALIBRATED",
    "DEFAULT_TOLERANCE",
    "FALLBACK",
    "MAX_REPRESENTATIVE",
    "MIN_AGREEMENT",
    "QUANTIZATIONS",
    "STREAMING_TOLERANCE",
    "ConversionError",
    "EqualizedPair",
    "ExportReport",
    "FoldedNorm",
    "InvalidOptionError",
    "KerasAudioError",
    "StreamingReport",
    "TFLiteModel",
    "VerificationError",
    "add_metadata",
    "builtin_recurrent",
    "check_builtin_ops",
    "convert",
    "equalization_pairs",
    "equalize_channels",
    "first_layers_after_frontend",
    "flex_ops",
    "float_ops",
    "fold_relu_batch_norms",
    "op_names",
    "read_metadata",
    "relu_batch_norms",
    "run_tflite",
    "streaming_vad_tflite",
    "to_tflite",
]
