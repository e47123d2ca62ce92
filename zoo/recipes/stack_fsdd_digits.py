"""Recipe of the `stack_fsdd_digits` preset: a stacking ensemble of published digit presets.

Nothing is trained here: the members are the presets listed in stack_fsdd_digits.json,
combined by `create_model("stack", members=..., aggregate=...)`. The recipe measures the
stack like every digit recipe, then (`--publish`) writes one weights file holding every
member's weights and the manifest entry:

- official split: the members' published (official-split) models on takes 0-4;
- leave-one-speaker-out: for each held-out speaker the members' LOSO fold models trained
  without that speaker (`zoo/runs/<member>/loso/<speaker>.weights.h5`, so every member's
  recipe must have run its six folds), combined by the same aggregate, via
  `benchmarks/ensemble.py`.

Run from the repository root: `python zoo/recipes/stack_fsdd_digits.py [--publish]`; the
numbers go to `zoo/runs/stack_fsdd_digits/metrics.json`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import kerasaudio  # noqa: E402
from benchmarks import ensemble as loso_stack  # noqa: E402
from kerasaudio.datasets import fsdd  # noqa: E402
from zoo.common import RUNS_DIR  # noqa: E402
from zoo.publish import publish  # noqa: E402


def measure(recipe: dict, data: str | None) -> tuple[object, dict]:
    """The stack of the members' presets and its official and LOSO accuracy."""
    start = time.perf_counter()
    model = kerasaudio.create_model("stack", members=recipe["members"],
                                    aggregate=recipe["aggregate"])
    _, test = fsdd.official_split(fsdd.load(data))
    labels = test.digit.astype(int).to_numpy()
    probs = model.predict(loso_stack.load_clips(test), batch_size=100, verbose=0)
    correct = int((probs.argmax(1) == labels).sum())
    official_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["--presets", ",".join(recipe["members"]), "--json", f"{tmp}/loso.json"]
        if data:
            argv += ["--data", data]
        loso = loso_stack.main(argv)
    if loso["speakers"] != list(fsdd.SPEAKERS):
        raise SystemExit(f"LOSO fold models missing: {loso['missing']}; run the members' "
                         "recipes with --protocol loso first.")
    row = loso["results"][f"ensemble {recipe['aggregate']}"]
    metrics = {
        "official_accuracy": round(correct / len(labels), 5),
        "official_correct": f"{correct}/{len(labels)}",
        "loso_accuracy": round(row["mean"], 5),
        "loso_per_speaker": {s: round(row[s], 5) for s in fsdd.SPEAKERS},
        "aggregate": recipe["aggregate"],
        "members": {m: {"loso_accuracy": round(loso["results"][m]["mean"], 5)}
                    for m in recipe["members"]},
        # nested, so it is not a column of available_models(pretrained=True)
        "checks": {"keras_stack_vs_loso_table_max_diff": loso["keras_max_diff"]},
        # no epochs or training seconds: nothing is trained (the members' entries have them)
        "training": {"date": datetime.date.today().isoformat(),
                     "evaluation_seconds": round(official_seconds, 1),
                     "note": "no training of its own: the members' recipes"},
    }
    return model, metrics


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="FSDD root (default: fsdd.find_root)")
    parser.add_argument("--recipe", default=str(pathlib.Path(__file__).with_suffix(".json")),
                        help="the recipe JSON (members, aggregate)")
    parser.add_argument("--publish", action="store_true",
                        help="write the weights and the manifest entries (package + zoo)")
    args = parser.parse_args(argv)
    recipe = json.loads(pathlib.Path(args.recipe).read_text())
    model, metrics = measure(recipe, args.data)
    out = RUNS_DIR / recipe["preset"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps({"recipe": recipe, **metrics}, indent=1))
    print(json.dumps(metrics, indent=1))
    if args.publish:
        members = ", ".join(recipe["members"])
        preset = publish(
            model, recipe["preset"], task="digits", class_names=fsdd.CLASSES,
            sample_rate=fsdd.SAMPLE_RATE,
            input_length=8000, metrics=metrics, recipe=f"zoo/recipes/{recipe['preset']}.py",
            training_data=(f"No training of its own: the published presets {members} "
                           "(FSDD official split, takes 5-49), probabilities combined by "
                           f"{recipe['aggregate']}; each member's entry describes its "
                           "training. Tested on takes 0-4; LOSO with the members' fold "
                           "models."),
            license=fsdd.LICENSE)
        print(f"published {preset.name}: {preset.file} ({preset.size:,} bytes, sha256 "
              f"{preset.sha256[:12]}...)")
    return metrics


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
