"""`python -m zoo train RECIPE`: run a recipe into zoo/runs/ and publish it as a preset.

The run is `kerasaudio train`'s (`kerasaudio.training.command`: the same options, the
same run directory layout), with what only the repository has:

- the default run directory `zoo/runs/<preset>[-<tag>]`;
- synthetic training speakers for recipes with `data.synthetic` (`zoo.synthetic`,
  generated on first use);
- `--merge DIR` (speaker recipes): add the unseen-speaker folds of parallel runs;
- `--publish`: after the run, publish the official model of the run directory as the
  preset (`publish_run`, through `zoo.publish.publish`); `--protocol ''` publishes a
  finished run without training.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from kerasaudio.training.command import add_arguments, run_from_args, summary
from zoo import RUNS_DIR

__all__ = ["configure", "publish_run", "run_recipe", "synthetic_clips"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare `python -m zoo train`'s arguments on `parser`."""
    add_arguments(parser)
    parser.add_argument("--merge", action="append", default=[], metavar="DIR",
                        help="speaker recipes: add the unseen-speaker folds of another run "
                        "directory of the same recipe (folds run in parallel) before "
                        "publishing (repeatable)")
    parser.add_argument("--publish", action="store_true",
                        help="after the run, publish the official model as the preset "
                        "(zoo.publish: weights and manifest entry); digit recipes need the "
                        "official split and all six LOSO folds in the run directory; "
                        "--protocol '' publishes a finished run without training")
    parser.set_defaults(func=command)


def synthetic_clips(recipe, *, log: Callable[[str], None] = print):
    """The recipe's synthetic training clips (`data.synthetic`, generated on first use
    into `zoo/runs/synthetic_digits-t<takes>-s<seed>/`) as an `fsdd.load` table; None
    when it has none."""
    if not getattr(recipe, "synthetic", None):
        return None
    from zoo import synthetic

    takes, seed = recipe.synthetic["takes"], recipe.synthetic["seed"]
    frame = synthetic.load(synthetic.generate(synthetic.default_directory(takes, seed),
                                              takes=takes, seed=seed, log=log))
    log(f"[{recipe.preset}] + {len(frame)} synthetic clips ({frame.speaker.nunique()} "
        "voices) in every training split")
    return frame


def run_recipe(recipe, *, out: str | os.PathLike, log: Callable[[str], None] = print,
               **options) -> dict:
    """`kerasaudio.training.protocols.run` with the recipe's synthetic clips, if any."""
    from kerasaudio.training import protocols

    return protocols.run(recipe, out=out, extra_train=synthetic_clips(recipe, log=log),
                         log=log, **options)


def _read_metrics(out: Path) -> dict:
    path = out / "metrics.json"
    if not path.is_file():
        from kerasaudio.errors import InvalidOptionError

        raise InvalidOptionError(f"publish: no {path}; run the recipe first.")
    return json.loads(path.read_text())


def _digits_entry(recipe, out: Path, metrics: dict, *, require_loso: bool) -> dict:
    from kerasaudio.datasets import fsdd
    from kerasaudio.errors import InvalidOptionError
    from kerasaudio.training.build import build_from_config

    if "official" not in metrics:
        raise InvalidOptionError("publish: the official protocol has not been run.")
    loso = metrics.get("loso", {})
    if require_loso and not loso.get("complete"):
        raise InvalidOptionError(
            f"publish: leave-one-speaker-out is incomplete (done: "
            f"{loso.get('speakers', [])}); run --protocol loso first.")
    config = json.loads((out / "config.json").read_text())
    official = metrics["official"]
    model = build_from_config(config, weights=out / official["weights"])
    published = {
        "official_accuracy": official["accuracy"],
        "loso_accuracy": loso.get("mean_accuracy"),
        "loso_per_speaker": {s: r["accuracy"] for s, r in loso.get("per_speaker", {}).items()},
        "official_correct": f"{official['correct']}/{official['total']}",
        "training": {"epochs": recipe.training.epochs,
                     "official_seconds": official["seconds"],
                     "loso_seconds": loso.get("seconds"), "date": metrics.get("date"),
                     "environment": metrics.get("environment")},
    }
    augment = [spec["class_name"] for spec in
               [*recipe.augment.waveform, *recipe.augment.features]]
    if recipe.augment.mixup_alpha:
        augment.append(f"mixup(alpha={recipe.augment.mixup_alpha})")
    training_data = (
        f"FSDD (Free Spoken Digit Dataset), {official['train_clips']} clips: the official "
        f"split's training takes 5-49 of all six speakers, {recipe.sample_rate} Hz, "
        f"{recipe.samples}-sample windows; augmentation: "
        f"{', '.join(augment) or 'none'} (length mode {recipe.augment.length_mode}). "
        f"Tested on takes 0-4; LOSO: six retrainings, each speaker held out.")
    return {"model": model, "class_names": config["class_names"],
            "sample_rate": config["sample_rate"], "input_length": config["samples"],
            "metrics": published, "training_data": training_data, "license": fsdd.LICENSE,
            "architecture": config["architecture"],
            "config": {**config["kwargs"], "frontend": config["frontend"] or "default"}}


def _speaker_metrics(metrics: dict) -> dict:
    """The manifest `metrics` of a speaker preset, from a run's `metrics.json`."""
    official = metrics["official"]
    v = official["verification"]
    out = {"identification_accuracy": official["identification_accuracy"],
           "eer": v["eer"],
           "eer_trials": {"target": v["target_trials"], "nontarget": v["nontarget_trials"]},
           "protocol": "official: train takes 5-49, test takes 0-4 (identification: softmax "
                       "head; EER: cosine of penultimate embeddings, all pairs of held-out "
                       "clips)",
           "train_seconds": official["seconds"],
           "epochs": metrics["recipe"]["training"]["epochs"], "date": metrics.get("date")}
    unseen = metrics.get("unseen", {})
    if unseen.get("per_speaker"):
        out["unseen_eer_mean"] = unseen["mean_eer"]
        out["unseen_eer"] = {s: r["eer"] for s, r in unseen["per_speaker"].items()}
        out["unseen_folds_complete"] = unseen["complete"]
        out["unseen_protocol"] = ("for each speaker: train on takes 5-49 of the other five; "
                                  "EER over the pairs involving the held-out speaker (all its "
                                  "500 clips vs each other and vs takes 0-4 of the others)")
    return out


def _speakers_entry(recipe, out: Path, metrics: dict) -> dict:
    from kerasaudio.datasets import fsdd
    from kerasaudio.errors import InvalidOptionError
    from kerasaudio.training.build import build_model

    if "official" not in metrics:
        raise InvalidOptionError(f"{out}/metrics.json has no official run to publish.")
    model = build_model(recipe)
    model.load_weights(out / metrics["official"]["weights"])
    return {"model": model, "class_names": list(recipe.class_names),
            "sample_rate": recipe.sample_rate, "input_length": recipe.samples,
            "metrics": _speaker_metrics(metrics),
            "training_data": (f"FSDD, the six speakers as classes, official split: takes "
                              f"5-49 of every speaker and digit (2,700 clips), "
                              f"{recipe.sample_rate} Hz, {recipe.duration:g} s windows"),
            "license": fsdd.LICENSE}


def _stack_entry(recipe, metrics: dict) -> dict:
    import kerasaudio
    from kerasaudio.datasets import fsdd
    from kerasaudio.errors import InvalidOptionError

    needed = ("official_accuracy", "loso_accuracy")
    if any(key not in metrics for key in needed):
        raise InvalidOptionError("publish: run the stacking recipe's official and loso "
                                 "protocols first.")
    model = kerasaudio.create_model("stack", members=recipe.members,
                                    aggregate=recipe.aggregate)
    members = ", ".join(recipe.members)
    published = {k: v for k, v in metrics.items() if k not in ("recipe", "sample")}
    return {"model": model, "class_names": list(fsdd.CLASSES),
            "sample_rate": fsdd.SAMPLE_RATE, "input_length": int(model.inputs[0].shape[1]),
            "metrics": published,
            "training_data": (f"No training of its own: the published presets {members} "
                              "(FSDD official split, takes 5-49), probabilities combined by "
                              f"{recipe.aggregate}; each member's entry describes its "
                              "training. Tested on takes 0-4; LOSO with the members' fold "
                              "models."),
            "license": fsdd.LICENSE}


def publish_run(recipe, out: str | os.PathLike | None = None, *,
                manifest_path: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
                weights_dir: str | os.PathLike | None = None, require_loso: bool = True):
    """Publish the official model of a finished run as the preset `recipe.preset`.

    Reads the run directory `out` (default `zoo/runs/<preset>`): its `metrics.json` must
    come from this very recipe (the description aside) and from the full dataset, not
    the bundled sample (unless `manifest_path` names a manifest of your own), with the
    official protocol done and, for a digit recipe unless `require_loso=False`, all six
    LOSO folds; a stacking recipe needs both of its protocols. The model (rebuilt from
    the run) and its manifest entry (metrics, training data, FSDD's license, the
    recipe's packaged path) go to `zoo.publish.publish`, with `manifest_path` and
    `weights_dir` passed on.

    Returns:
        What `zoo.publish.publish` returns (the published preset).

    Raises:
        InvalidOptionError: no finished run of this recipe in `out`, or one that may not
            be published.

    Example:
    ```python
    from kerasaudio.training import load_recipe
    from zoo.train import publish_run, run_recipe

    recipe = load_recipe("m5_fsdd_digits")
    run_recipe(recipe, out="zoo/runs/m5_fsdd_digits")     # official + LOSO
    publish_run(recipe)   # kerasaudio.create_model("m5_fsdd_digits") now loads it
    ```
    """
    from kerasaudio.errors import InvalidOptionError
    from kerasaudio.training.protocols import same_training
    from kerasaudio.training.recipe import StackRecipe

    out = Path(out) if out is not None else RUNS_DIR / recipe.preset
    metrics = _read_metrics(out)
    if not same_training(metrics, recipe):
        raise InvalidOptionError(
            f"publish: {out / 'metrics.json'} was written by a different recipe; rerun it.")
    if metrics.get("sample") and manifest_path is None:
        raise InvalidOptionError(
            f"publish: {out} is a run on the bundled 120-clip sample; refusing to publish "
            "it into the package's manifest.")
    if isinstance(recipe, StackRecipe):
        entry = _stack_entry(recipe, metrics)
    elif recipe.task == "speakers":
        entry = _speakers_entry(recipe, out, metrics)
    else:
        entry = _digits_entry(recipe, out, metrics, require_loso=require_loso)
    from zoo.publish import publish

    model = entry.pop("model")
    task = "digits" if isinstance(recipe, StackRecipe) else recipe.task
    return publish(model, recipe.preset, task=task,
                   recipe=f"kerasaudio/recipes/{recipe.preset}.json",
                   manifest_path=manifest_path, weights_dir=weights_dir, **entry)


def command(args: argparse.Namespace) -> int:
    """Run `python -m zoo train` with parsed `args`; print the summary line."""
    from kerasaudio.errors import InvalidOptionError
    from kerasaudio.training.strategy import is_chief

    if args.publish and (args.sample or args.max_steps):
        raise InvalidOptionError("--publish: not from a --sample or --max-steps run.")
    if (args.publish or args.merge) and args.csv is not None:
        raise InvalidOptionError("--publish/--merge: FSDD recipe runs only, not --csv runs.")
    log = lambda line: print(line, flush=True)  # noqa: E731
    run = run_from_args(args, runs_dir=RUNS_DIR, extra_train=lambda r: synthetic_clips(
        r, log=log), log=log)
    recipe, metrics = run.recipe, run.metrics
    chief = is_chief(run.strategy)
    if args.merge and chief:
        from kerasaudio.training import speakers

        if getattr(recipe, "task", None) != "speakers" or "members" in recipe.to_dict():
            raise InvalidOptionError("--merge: speaker recipes only (their unseen folds).")
        metrics = speakers.merge_unseen(run.out, args.merge)
    if args.publish and chief:
        preset = publish_run(recipe, run.out)
        print(f"[{recipe.preset}] published: {preset.file} (sha256 {preset.sha256[:12]}...)")
        metrics = metrics or _read_metrics(run.out)
    print(json.dumps(summary(recipe, metrics)))
    return 0
