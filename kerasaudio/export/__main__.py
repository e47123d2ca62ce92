"""The child process of `kerasaudio.export.to_tflite`: `python -m kerasaudio.export ARGS`.

ARGS is one JSON object naming a `.keras` model file (loaded in safe mode), an optional
`.npy` file of calibration clips (loaded without pickle), the output path, `convert`'s
options, and the user's objects the model names (`custom_objects`: `[registered name,
module, attribute]` triples) with the directories of their modules (`module_paths`,
appended to `sys.path`). Those modules are imported before the model is loaded: they are
the modules the parent process had imported the objects from. The parent runs this so
that a converter crash cannot take it down.
"""

from __future__ import annotations

import importlib
import json
import sys

import numpy as np


def main(arguments: str) -> None:
    """Convert the model `arguments` names and write the flatbuffer where it says."""
    import keras

    # Registers kerasaudio's layers and model blocks with Keras for deserialization.
    import kerasaudio.layers
    import kerasaudio.models  # noqa: F401
    from kerasaudio.export.convert import convert

    args = json.loads(arguments)
    for path in args.get("module_paths", ()):
        if path not in sys.path:
            sys.path.append(path)
    custom_objects = {}
    for name, module, attribute in args.get("custom_objects", ()):
        custom_objects[name] = getattr(importlib.import_module(module), attribute)
    model = keras.saving.load_model(args["model"], safe_mode=True,
                                    custom_objects=custom_objects or None)
    representative = None
    if args["representative"]:
        representative = np.load(args["representative"], allow_pickle=False)
    flatbuffer = convert(model, batch_size=args["batch_size"],
                         quantization=args["quantization"],
                         representative_data=representative,
                         float_frontend=args.get("float_frontend", True),
                         keep_float=args.get("keep_float", ()),
                         per_channel=args.get("per_channel", True),
                         strip_names=args.get("strip_names", False),
                         float16_constants=args.get("float16_constants", False),
                         equalize=args.get("equalize"))
    with open(args["output"], "wb") as f:
        f.write(flatbuffer)


if __name__ == "__main__":
    main(sys.argv[1])
