"""`kerasaudio export NAME -o FILE`: a preset (or a `.keras` file of one) to a verified
TFLite file, through `kerasaudio.export.to_tflite`, calibrated and verified on the
preset's bundled clips. Internal to the command (`kerasaudio.cli`).
"""

from __future__ import annotations

from kerasaudio.cli.classifier import Classifier
from kerasaudio.cli.output import shown
from kerasaudio.errors import InvalidOptionError

__all__ = ["add_command", "run"]


def add_command(commands) -> None:
    """Declare `export` and its options on the `kerasaudio` subparsers `commands`."""
    export = commands.add_parser(
        "export", help="export a preset to TFLite (verified in LiteRT)",
        description="Convert a preset to a .tflite file with builtin ops only, calibrated "
        "(int8, int16x8) and verified against Keras on the preset's bundled sample clips, with "
        "metadata that MediaPipe's AudioClassifier reads. Prints the report.")
    export.add_argument("name", help="preset name or .keras file of a preset model (its "
                        "model-info record names the preset)")
    export.add_argument("--quantization",
                        choices=["float32", "float16", "dynamic", "int8", "int16x8"],
                        default="float32",
                        help="weights/activations (default: float32); int16x8 = int8 weights "
                        "with int16 activations, for raw-waveform or complex-spectrogram "
                        "models without per-clip standardisation, which int8 cannot follow "
                        "on quiet clips")
    export.add_argument("-o", "--output", required=True, help="the .tflite file to write")
    export.add_argument("--keep-float", default=None, metavar="LAYER[,LAYER...]",
                        help="layers kept float32 in a quantized file (besides the front "
                        "end). Default: none, but an int8 file that fails verification is "
                        "converted again with the first layer after the front end in float32; "
                        "'' turns that off")
    export.add_argument("--per-tensor", action="store_true",
                        help="one weight scale per tensor instead of per output channel "
                        "(dynamic, int8, int16x8): 12 bytes less per channel, coarser weights")
    export.add_argument("--no-equalize", action="store_true",
                        help="with --per-tensor: skip the cross-layer equalization of the "
                        "weights (kerasaudio.export.equalize_channels) done by default")
    export.add_argument("--strip-names", action="store_true",
                        help="drop the tensor names (the input and output keep theirs): a "
                        "smaller file with the same outputs, no layer names for debugging")
    export.add_argument("--float16-constants", action="store_true",
                        help="store the large non-negative matrices of the float32 ops "
                        "(the front end's mel filterbank) as float16 in a quantized file")
    export.set_defaults(run=run)


def run(args) -> int:
    """Export the preset or `.keras` model `args.name` to `args.output`, verified in
    LiteRT on its preset's bundled clips; print the report."""
    from kerasaudio.export import to_tflite
    from kerasaudio.hub import representative_clips

    classifier = Classifier(args.name)
    if classifier.model is None:
        raise InvalidOptionError(f"{shown(args.name)}: export takes a preset or a .keras "
                                 "model, not a .tflite file.")
    preset = classifier.preset
    if preset is None:
        raise InvalidOptionError(f"{shown(args.name)}'s model-info record names no pretrained "
                                 "preset, whose bundled clips calibrate and verify the "
                                 "export; use kerasaudio.export.to_tflite with clips of "
                                 "your own.")
    clips, labels = representative_clips(preset)
    report = to_tflite(
        classifier.model, args.output,
        quantization=None if args.quantization == "float32" else args.quantization,
        representative_data=clips, labels=labels, sample_rate=classifier.sample_rate,
        class_names=classifier.class_names,
        metadata={"name": preset.name, "preset": preset.name, "license": preset.license,
                  "description": preset.training_data},
        keep_float=None if args.keep_float is None else
        [name.strip() for name in args.keep_float.split(",") if name.strip()],
        per_channel=not args.per_tensor, strip_names=args.strip_names,
        float16_constants=args.float16_constants,
        equalize=False if args.no_equalize else None)
    print(report)
    return 0
