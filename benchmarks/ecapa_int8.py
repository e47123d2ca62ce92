"""ECAPA-TDNN's FSDD preset as int8 TFLite files, against its float32 files, on unseen speakers.

`ecapa_tdnn_fsdd_speakers` exported by `kerasaudio.export.to_tflite`: its embedding
network (`kerasaudio.training.speakers.embedding_model`, the 128-d input of the classifier)
and the classifier itself, float32 and int8 (the TDNN batch norms folded before their
ReLUs, the attentive statistics float32). int8 calibrates on the bundled clips of three
speakers (george, jackson, lucas: 60 clips); everything is measured on the other three
(nicolas, theo, yweweler), on all their FSDD recordings (1,500 clips, centre-cut or
padded to 1 s): per-clip cosine between int8 and float embeddings, cosine-scored
verification EER over every pair (`kerasaudio.training.speakers.verification`) with
each file, the classifier's largest probability difference and top-1 agreement, file
sizes and LiteRT latency at batch 1, int8 over float32 side by side.

Run: `python benchmarks/ecapa_int8.py [--clips N]` (N recordings per speaker; default
all 500). Needs the FSDD recordings (`KERASAUDIO_FSDD`, default ../shared/data/fsdd).
"""

from __future__ import annotations

import argparse
import glob
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

CALIBRATION = ("george", "jackson", "lucas")
UNSEEN = ("nicolas", "theo", "yweweler")


def recordings(root: str, per_speaker: int) -> tuple[np.ndarray, np.ndarray]:
    """The unseen speakers' recordings at 8 kHz, 1 s, and their speaker names."""
    from kerasaudio.audio_io import load_audio
    from kerasaudio.data import fix_length

    clips, speakers = [], []
    for speaker in UNSEEN:
        files = sorted(glob.glob(os.path.join(root, "recordings", f"*_{speaker}_*.wav")))
        for path in files[:per_speaker]:
            audio = load_audio(path, sample_rate=8000)[0]
            clips.append(np.asarray(fix_length(audio, 8000, mode="center")))
            speakers.append(speaker)
    if not clips:
        raise SystemExit(f"no FSDD recordings under {root}/recordings")
    return np.stack(clips).astype("float32"), np.asarray(speakers)


def run(path: str, clips: np.ndarray) -> tuple[np.ndarray, float]:
    """Outputs of a .tflite file, clip by clip, and LiteRT ms per clip."""
    from kerasaudio.runtime import invoke, make_interpreter

    with open(path, "rb") as f:
        interpreter = make_interpreter(f.read())
    allocated: list = []
    outputs, start = [], time.perf_counter()
    for clip in clips:
        outputs.append(invoke(interpreter, [clip[None]], allocated=allocated)[0][0])
    return np.stack(outputs), (time.perf_counter() - start) / len(clips) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=500, help="recordings per speaker")
    args = parser.parse_args()

    import kerasaudio
    from kerasaudio.export.verify import cosine_similarity
    from kerasaudio.training.speakers import embedding_model, verification

    root = os.environ.get("KERASAUDIO_FSDD", os.path.join(
        os.path.dirname(__file__), "..", "..", "shared", "data", "fsdd"))
    model = kerasaudio.create_model("ecapa_tdnn_fsdd_speakers")
    sample, labels = kerasaudio.hub.representative_clips("ecapa_tdnn_fsdd_speakers")
    names = np.asarray(kerasaudio.info.model_info(model).class_names)[labels]
    calibration = sample[np.isin(names, CALIBRATION)]
    clips, speakers = recordings(root, args.clips)
    print(f"{len(clips)} recordings of {', '.join(UNSEEN)}; calibration: "
          f"{len(calibration)} bundled clips of {', '.join(CALIBRATION)}")
    network = embedding_model(model)
    with tempfile.TemporaryDirectory() as folder:
        results = {}
        for label, keras_model in (("embedding", network), ("classifier", model)):
            reference = keras_model.predict(clips, verbose=0, batch_size=64)
            for quantization in (None, "int8"):
                path = os.path.join(folder, f"{label}_{quantization}.tflite")
                kerasaudio.export.to_tflite(keras_model, path, quantization=quantization,
                                            representative_data=calibration, verify=False)
                lite, ms = run(path, clips)
                results[label, quantization] = (reference, lite, ms, os.path.getsize(path))
    float_eer = verification(results["embedding", None][0], speakers)["eer"]
    print("\n| file | size | int8/float size | LiteRT ms/clip | int8/float latency | "
          "cosine to Keras min / 1st pct / mean | EER (Keras float: "
          f"{float_eer:.4f}) | max prob. diff | top-1 agreement |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label in ("embedding", "classifier"):
        for quantization in (None, "int8"):
            reference, lite, ms, size = results[label, quantization]
            base = results[label, None]
            cosine = cosine_similarity(lite, reference)
            if label == "embedding":
                task = [f"{verification(lite, speakers)['eer']:.4f}", "", ""]
            else:
                task = ["", f"{np.abs(lite - reference).max():.4f}",
                        f"{(lite.argmax(1) == reference.argmax(1)).mean():.4f}"]
            print(f"| {label} {quantization or 'float32'} | {size / 1e6:.3f} MB | "
                  f"{size / base[3]:.3f} | {ms:.2f} | {ms / base[2]:.2f} | "
                  f"{cosine.min():.4f} / {np.percentile(cosine, 1):.4f} / "
                  f"{cosine.mean():.4f} | " + " | ".join(task) + " |")


if __name__ == "__main__":
    main()
