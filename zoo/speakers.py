"""Speaker-recognition recipes on FSDD's six speakers: the speaker counterpart of zoo/common.py.

A speaker recipe is the same JSON format as a digit recipe (`zoo.common.Recipe`: model,
front end, augmentation, training) with the speaker as the label. Everything that is not
speaker-specific (recipe parsing, layers, strategies, the training loop, the builder
config) comes from `zoo.common`; this module adds the speaker labels, the embedding
network and the verification protocols:

- `official`: train on takes 5-49 of every speaker (2,700 clips, six classes), test on
  takes 0-4 (300 clips). Reported: 6-way identification accuracy of the softmax head,
  and verification EER from the embeddings: the penultimate layer (the input of the
  `predictions` layer; the `include_top=False` network's embedding before any L2
  normalisation), cosine similarity of every unordered pair of held-out clips
  (44,850 trials: 7,350 same-speaker, 37,500 different-speaker). This model is the
  preset.
- `unseen` (the speaker-disjoint analogue of leave-one-speaker-out): for each speaker,
  train on takes 5-49 of the other five (2,250 clips, five classes); then embed every
  clip of the held-out speaker (500, never seen in training) and the held-out takes 0-4
  of the other five (250, not trained on either) and score every pair that involves
  the held-out speaker: 124,750 same-speaker trials (held-out x held-out) and 125,000
  different-speaker trials (held-out x other). EER per speaker and the mean.

Outputs go to `zoo/runs/<preset>/` like the digit recipes': `<preset>.weights.h5`,
`config.json` (the builder call; `zoo.common.build_from_config` rebuilds it), `recipe.json`
and `metrics.json`. `--publish` writes the official model into the package as a preset
(`kerasaudio.presets.publish`) with its metrics.

A recipe script is three lines (see zoo/recipes/deep_speaker_fsdd_speakers.py):

```python
import sys, pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
from zoo.speakers import main
main(pathlib.Path(__file__).with_suffix(".json"))
```

Run: `python zoo/recipes/<preset>.py [--protocol official,unseen] [--folds george,theo]
[--strategy mirrored] [--set training.epochs=5] [--publish]` (see `--help`).
"""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

import kerasaudio
from kerasaudio.data import audio_dataset
from kerasaudio.datasets import fsdd
from kerasaudio.errors import InvalidOptionError
from kerasaudio.metrics.eer import eer
from zoo.common import (
    RUNS_DIR,
    Recipe,
    _fit,
    _frontend_argument,
    _is_chief,
    _parser,
    _same_training,
    _schedule,
    _write_json,
    builder_config,
    load_index,
    load_recipe,
    make_layer,
    make_strategy,
    run_on_chief,
    start_metrics,
)
from zoo.publish import publish as publish_preset

__all__ = [
    "CLASSES",
    "PROTOCOLS",
    "build_model",
    "embed",
    "embedding_model",
    "evaluate",
    "main",
    "merge_unseen",
    "publish",
    "run",
    "speaker_builder_config",
    "train",
    "trials",
    "unseen_split",
    "verification",
]

#: Class names of a speaker preset, in output order.
CLASSES = tuple(fsdd.SPEAKERS)
#: `--protocol` choices.
PROTOCOLS = ("official", "unseen")


# ----------------------------------------------------------------------------- models


def build_model(recipe: Recipe, *, speakers: Sequence[str] = CLASSES,
                training: bool = False) -> keras.Model:
    """The recipe's model with one output per speaker in `speakers`.

    With `training=True`, the training twin with the recipe's augmentation layers around
    the front end (as `zoo.common.build_model`).
    """
    layers = [make_layer(spec) for spec in recipe.frontend]
    if training:
        layers = ([make_layer(spec) for spec in recipe.augment.waveform] + layers
                  + [make_layer(spec) for spec in recipe.augment.features])
    return kerasaudio.create_model(recipe.architecture, frontend=_frontend_argument(layers),
                                   input_shape=(recipe.samples,), classes=len(speakers),
                                   **recipe.options)


def embedding_model(model: keras.Model) -> keras.Model:
    """The embedding network inside a speaker classifier: the input of `predictions`.

    Shares the weights of `model`. For `vggvox_v2` it is the fc6 embedding, for
    `deep_speaker` the `affine` output: the embedding of the `include_top=False` network
    up to its L2 normalisation, which cosine scoring makes irrelevant.
    """
    try:
        head = model.get_layer("predictions")
    except ValueError:
        raise InvalidOptionError(
            f"{model.name} has no 'predictions' layer: build it with include_top=True."
        ) from None
    return keras.Model(model.inputs, head.input, name=f"{model.name}_embedding")


def speaker_builder_config(recipe: Recipe) -> dict:
    """`zoo.common.builder_config` with the six speakers as the classes (`config.json`)."""
    config = builder_config(recipe)
    config["kwargs"]["classes"] = len(CLASSES)
    config["class_names"] = list(CLASSES)
    return config


# ----------------------------------------------------------------------------- data


def _dataset(recipe: Recipe, frame, speakers: Sequence[str], *, train: bool):
    """`(waveform, one-hot speaker)` batches; training batches are full and shuffled."""
    ds = audio_dataset(
        frame, classes=list(speakers), label_column="speaker",
        sample_rate=recipe.sample_rate, duration=recipe.duration,
        batch_size=recipe.training.batch_size, shuffle=train, seed=recipe.seed, cache=True,
        deterministic=True, drop_remainder=train,
        length_mode=recipe.augment.length_mode if train else "center")
    ds = ds.map(lambda x, y: (x, tf.one_hot(y, len(speakers))))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def unseen_split(index, speaker: str):
    """`(train, test)` of the unseen-speaker fold that holds out `speaker`.

    Train: takes 5-49 of the other five speakers. Test: every clip of `speaker` and
    takes 0-4 of the others (no test clip was trained on).
    """
    if speaker not in CLASSES:
        raise InvalidOptionError(f"speaker {speaker!r}: use one of {CLASSES}.")
    held = index["speaker"] == speaker
    test_takes = index["split"] == "test"
    train_df = index[~held & ~test_takes].reset_index(drop=True)
    test_df = index[held | test_takes].reset_index(drop=True)
    return train_df, test_df


# ----------------------------------------------------------------------------- training


def train(recipe: Recipe, frame, *, speakers: Sequence[str] = CLASSES,
          strategy: tf.distribute.Strategy | None = None, max_steps: int | None = None,
          log: Callable[[str], None] | None = None) -> tuple[keras.Model, dict]:
    """Train the recipe's speaker classifier on `frame` (its `speaker` column).

    As `zoo.common.train` (AdamW, warm-up + cosine decay, label smoothing, the same
    `strategy.run` loop, seeded) with `speakers` as the classes. Returns `(model, info)`:
    the plain model and `seconds`, `steps`, `replicas`, `history`.
    """
    strategy = strategy or tf.distribute.get_strategy()
    t = recipe.training
    if len(frame) < t.batch_size:
        raise InvalidOptionError(
            f"{len(frame)} training clips, fewer than one batch of {t.batch_size}.")
    missing = sorted(set(frame["speaker"]) - set(speakers))
    if missing:
        raise InvalidOptionError(f"training clips of speakers {missing} not in {speakers}.")
    unsupported = [name for name, value in [
        ("training.ema_momentum", t.ema_momentum), ("training.swa_epochs", t.swa_epochs),
        ("adversary", recipe.adversary), ("distill", recipe.distill)] if value]
    if unsupported:
        raise InvalidOptionError(f"speaker recipes do not support {unsupported} (digit "
                                 "recipes only, zoo/common.py).")
    keras.utils.set_random_seed(recipe.seed)
    steps = len(frame) // t.batch_size
    if max_steps is not None:
        steps = min(steps, max_steps)
    ds = _dataset(recipe, frame, speakers, train=True)
    with strategy.scope():
        model = build_model(recipe, speakers=speakers, training=True)
        optimizer = keras.optimizers.AdamW(_schedule(recipe, steps),
                                           weight_decay=t.weight_decay)
        optimizer.build(model.trainable_variables)
    start = time.perf_counter()
    history = _fit(model, optimizer, ds, strategy=strategy, epochs=t.epochs, steps=steps,
                   global_batch=t.batch_size, label_smoothing=t.label_smoothing,
                   jit_compile=t.jit_compile is True, log=log)
    seconds = time.perf_counter() - start
    plain = build_model(recipe, speakers=speakers)
    plain.set_weights(model.get_weights())
    return plain, {"seconds": round(seconds, 1), "steps": steps * t.epochs,
                   "replicas": strategy.num_replicas_in_sync, "history": history}


# ----------------------------------------------------------------------------- scoring


def embed(model: keras.Model, recipe: Recipe, frame) -> tuple[np.ndarray, np.ndarray]:
    """`(probabilities, embeddings)` of every clip of `frame` (centred, as at inference)."""
    embedder = embedding_model(model)
    both = keras.Model(model.inputs, [model.outputs[0], embedder.outputs[0]])
    ds = audio_dataset(frame, sample_rate=recipe.sample_rate, duration=recipe.duration,
                       batch_size=recipe.training.batch_size, cache=False,
                       length_mode="center")
    probs, embeddings = both.predict(ds, verbose=0)
    return np.asarray(probs, "float64"), np.asarray(embeddings, "float64")


def trials(labels: Sequence, *, involving: np.ndarray | None = None):
    """Every unordered pair of clips `(i, j)`, `i < j`, and whether it is a target trial.

    Args:
        labels: the speaker of each clip.
        involving: optional boolean mask; keep only the pairs with at least one clip in it.

    Returns:
        `(i, j, target)`: index arrays and a boolean array (same speaker).
    """
    labels = np.asarray(labels)
    i, j = np.triu_indices(len(labels), k=1)
    if involving is not None:
        involving = np.asarray(involving, bool)
        keep = involving[i] | involving[j]
        i, j = i[keep], j[keep]
    return i, j, labels[i] == labels[j]


def verification(embeddings: np.ndarray, labels: Sequence, *,
                 involving: np.ndarray | None = None) -> dict:
    """Cosine-scored verification over `trials(labels, involving=...)`.

    Returns `eer`, `threshold` (cosine at the EER), `target_trials`, `nontarget_trials`.
    """
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    i, j, target = trials(labels, involving=involving)
    scores = np.einsum("nd,nd->n", unit[i], unit[j])
    rate, threshold = eer(target.astype(int), scores)
    return {"eer": round(rate, 5), "threshold": round(threshold, 5),
            "target_trials": int(target.sum()), "nontarget_trials": int((~target).sum())}


def evaluate(model: keras.Model, recipe: Recipe, frame) -> dict:
    """Identification accuracy (six-way) and verification EER on `frame`.

    Returns `identification_accuracy`, `correct`, `total`, the 6 x 6 `confusion`
    (rows: true speaker), `errors` (file, true, predicted) and `verification`
    (`verification` over every pair of clips of `frame`).
    """
    probs, embeddings = embed(model, recipe, frame)
    truth = np.array([CLASSES.index(s) for s in frame["speaker"]])
    predicted = probs.argmax(axis=1)
    confusion = np.zeros((len(CLASSES),) * 2, int)
    np.add.at(confusion, (truth, predicted), 1)
    correct = int((predicted == truth).sum())
    errors = [[os.path.basename(p), CLASSES[t], CLASSES[q]]
              for p, t, q in zip(frame["path"], truth, predicted, strict=True) if t != q]
    return {"identification_accuracy": round(correct / len(truth), 5), "correct": correct,
            "total": len(truth), "confusion": confusion.tolist(), "errors": errors,
            "verification": verification(embeddings, truth)}


# ----------------------------------------------------------------------------- protocols


def run(recipe: Recipe, *, protocols: Sequence[str] = PROTOCOLS,
        folds: Sequence[str] | None = None, out: str | os.PathLike | None = None,
        strategy: tf.distribute.Strategy | None = None, data: str | None = None,
        sample: bool = False, max_steps: int | None = None, resume: bool = False,
        verbose: int = 0, log: Callable[[str], None] = print) -> dict:
    """Run the speaker protocols and write the outputs; return the metrics.

    Arguments as `zoo.common.run`; `protocols` are `"official"` and/or `"unseen"`,
    `folds` the held-out speakers of `unseen` to run (default all six). Unseen folds are
    written to `metrics.json` as they finish (`resume=True` skips finished ones).
    """
    unknown = sorted(set(protocols) - set(PROTOCOLS))
    if unknown:
        raise InvalidOptionError(f"protocols {unknown}: use {PROTOCOLS}.")
    if folds:
        bad = sorted(set(folds) - set(CLASSES))
        if bad:
            raise InvalidOptionError(f"folds {bad}: use speakers of {CLASSES}.")
    strategy = strategy or tf.distribute.get_strategy()
    return run_on_chief(_run, recipe, out=out, protocols=protocols, folds=folds,
                        strategy=strategy, data=data, sample=sample, max_steps=max_steps,
                        resume=resume, verbose=verbose, log=log)


def _run(recipe: Recipe, *, protocols, folds, out: Path, strategy, data, sample, max_steps,
         resume, verbose, log) -> dict:
    metrics_path, metrics = start_metrics(recipe, out, rerun="unseen", protocols=protocols,
                                          folds=folds, resume=resume, strategy=strategy,
                                          sample=sample, task="speakers")
    _write_json(out / "config.json", speaker_builder_config(recipe))
    index = load_index(data, sample=sample)

    if "official" in protocols and not (resume and "official" in metrics):
        train_df, test_df = fsdd.official_split(index)
        log(f"[{recipe.preset}] official split: train {len(train_df)} clips (takes 5-49), "
            f"test {len(test_df)} (takes 0-4), {len(CLASSES)} speakers")
        model, info = train(recipe, train_df, strategy=strategy, max_steps=max_steps,
                            log=log if verbose else None)
        result = evaluate(model, recipe, test_df)
        weights = out / f"{recipe.preset}.weights.h5"
        model.save_weights(weights)
        metrics["official"] = {**result, **info, "train_clips": len(train_df),
                               "parameters": model.count_params(),
                               "embedding_dim": int(embedding_model(model).outputs[0].shape[-1]),
                               "weights": weights.name,
                               "weights_bytes": weights.stat().st_size}
        metrics["date"] = datetime.date.today().isoformat()
        _write_json(metrics_path, metrics)
        v = result["verification"]
        log(f"[{recipe.preset}] official: identification {result['identification_accuracy']:.4f}"
            f" ({result['correct']}/{result['total']}), EER {v['eer']:.4f} over "
            f"{v['target_trials']} target / {v['nontarget_trials']} non-target trials, "
            f"trained in {info['seconds']:.0f} s")

    if "unseen" in protocols:
        unseen = metrics.setdefault("unseen", {"per_speaker": {}})
        for speaker in CLASSES:
            if folds and speaker not in folds:
                continue
            if resume and speaker in unseen["per_speaker"]:
                continue
            train_df, test_df = unseen_split(index, speaker)
            others = [s for s in CLASSES if s != speaker]
            model, info = train(recipe, train_df, speakers=others, strategy=strategy,
                                max_steps=max_steps)
            _, embeddings = embed(model, recipe, test_df)
            held = (test_df["speaker"] == speaker).to_numpy()
            result = verification(embeddings, test_df["speaker"], involving=held)
            unseen["per_speaker"][speaker] = {**result, **info, "train_clips": len(train_df),
                                              "test_clips": len(test_df),
                                              "held_out_clips": int(held.sum())}
            _summarise_unseen(unseen)
            done = unseen["per_speaker"]
            _write_json(metrics_path, metrics)
            log(f"[{recipe.preset}] unseen {speaker:9s}: EER {result['eer']:.4f} over "
                f"{result['target_trials']} target / {result['nontarget_trials']} non-target "
                f"trials, trained in {info['seconds']:.0f} s; running mean "
                f"{unseen['mean_eer']:.4f} over {len(done)} fold(s)")
    _write_json(metrics_path, metrics)
    return metrics


def _summarise_unseen(unseen: dict) -> None:
    done = unseen["per_speaker"]
    unseen["per_speaker"] = {s: done[s] for s in CLASSES if s in done}
    unseen["mean_eer"] = round(float(np.mean([r["eer"] for r in done.values()])), 5)
    unseen["speakers"] = [s for s in CLASSES if s in done]
    unseen["complete"] = set(done) == set(CLASSES)
    unseen["seconds"] = round(sum(r["seconds"] for r in done.values()), 1)


def merge_unseen(out: str | os.PathLike, others: Sequence[str | os.PathLike]) -> dict:
    """Add the unseen-speaker folds of other runs of the same recipe to `out`'s metrics.

    Folds can run in parallel processes, each with its own output directory
    (`--folds nicolas,theo --tag b`); this merges their `metrics.json` fold results into
    `<out>/metrics.json` (a fold already in `out` is kept) and returns the metrics.
    """
    path = Path(out) / "metrics.json"
    metrics = json.loads(path.read_text())
    unseen = metrics.setdefault("unseen", {"per_speaker": {}})
    for other in others:
        theirs = json.loads((Path(other) / "metrics.json").read_text())
        if not _same_training(metrics.get("recipe"), theirs.get("recipe")):
            raise InvalidOptionError(f"{other}: a different recipe than {out}; not merged.")
        if theirs.get("sample") != metrics.get("sample"):
            raise InvalidOptionError(f"{other}: sample and full-data runs do not mix.")
        for speaker, result in theirs.get("unseen", {}).get("per_speaker", {}).items():
            unseen["per_speaker"].setdefault(speaker, {**result, "run": str(other)})
    if unseen["per_speaker"]:
        _summarise_unseen(unseen)
    _write_json(path, metrics)
    return metrics


# ----------------------------------------------------------------------------- publishing


def preset_metrics(metrics: dict) -> dict:
    """The manifest `metrics` of a speaker preset, from a run's `metrics.json`."""
    official = metrics["official"]
    v = official["verification"]
    out = {"identification_accuracy": official["identification_accuracy"],
           "eer": v["eer"],
           "eer_trials": {"target": v["target_trials"], "nontarget": v["nontarget_trials"]},
           "protocol": "official: train takes 5-49, test takes 0-4 (identification: softmax "
                       "head; EER: cosine of penultimate embeddings, all pairs of held-out "
                       "clips)",
           "train_seconds": official["seconds"], "epochs": metrics["recipe"]["training"][
               "epochs"], "date": metrics.get("date")}
    unseen = metrics.get("unseen", {})
    if unseen.get("per_speaker"):
        out["unseen_eer_mean"] = unseen["mean_eer"]
        out["unseen_eer"] = {s: r["eer"] for s, r in unseen["per_speaker"].items()}
        out["unseen_folds_complete"] = unseen["complete"]
        out["unseen_protocol"] = ("for each speaker: train on takes 5-49 of the other five; "
                                  "EER over the pairs involving the held-out speaker (all its "
                                  "500 clips vs each other and vs takes 0-4 of the others)")
    return out


def publish(recipe: Recipe, out: str | os.PathLike | None = None, **kwargs):
    """Publish the official model of a finished run as the preset `recipe.preset`.

    Reads `<out>/<preset>.weights.h5` and `metrics.json` (default `out`:
    `zoo/runs/<preset>`) and calls `kerasaudio.presets.publish` (keyword arguments such
    as `manifest_path`/`weights_dir` are passed on). Returns the `Preset`.
    """
    out = Path(out) if out is not None else RUNS_DIR / recipe.preset
    metrics = json.loads((out / "metrics.json").read_text())
    if "official" not in metrics:
        raise InvalidOptionError(f"{out}/metrics.json has no official run to publish.")
    if not _same_training(metrics.get("recipe"), recipe.to_dict()):
        raise InvalidOptionError(f"{out}/metrics.json was written by a different recipe.")
    if metrics.get("sample"):
        raise InvalidOptionError(f"{out}: a run on the bundled sample; not published.")
    model = build_model(recipe)
    model.load_weights(out / metrics["official"]["weights"])
    return publish_preset(
        model, recipe.preset, task="speakers", class_names=CLASSES, sample_rate=recipe.sample_rate,
        input_length=recipe.samples, metrics=preset_metrics(metrics),
        recipe=f"zoo/recipes/{recipe.preset}.py",
        training_data=(f"FSDD, the six speakers as classes, official split: takes 5-49 of "
                       f"every speaker and digit (2,700 clips), {recipe.sample_rate} Hz, "
                       f"{recipe.duration:g} s windows"),
        license=fsdd.LICENSE, **kwargs)


# ----------------------------------------------------------------------------- CLI


def main(recipe_path: str | os.PathLike | None = None,
         argv: Sequence[str] | None = None) -> dict:
    """Command line of a speaker recipe script (or `python -m zoo.speakers RECIPE`)."""
    parser = _parser((__doc__ or "").splitlines()[0])
    parser.set_defaults(protocol="official,unseen")
    for action in parser._actions:
        if action.dest == "protocol":
            action.help = "comma-separated: official, unseen (default both)"
        elif action.dest == "folds":
            action.help = "comma-separated held-out speakers of `unseen` (default all six)"
    publish_help = ("after the run, publish the official model as the preset "
                    "(kerasaudio.presets.publish); with --protocol '' publish a finished run")
    if "--publish" in parser._option_string_actions:  # zoo.common's parser may have it
        parser._option_string_actions["--publish"].help = publish_help
    else:
        parser.add_argument("--publish", action="store_true", help=publish_help)
    parser.add_argument("--merge", action="append", default=[], metavar="DIR",
                        help="add the unseen-speaker folds of another output directory of "
                             "the same recipe (folds run in parallel) before publishing "
                             "(repeatable)")
    if recipe_path is None:
        parser.add_argument("recipe", help="recipe JSON file")
    args = parser.parse_args(argv)
    path = Path(recipe_path if recipe_path is not None else args.recipe)
    strategy = make_strategy(args.strategy)
    overrides = list(args.overrides)
    if args.epochs is not None:
        overrides.append(f"training.epochs={args.epochs}")
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    recipe = load_recipe(path, overrides)
    out = args.out
    if out is None and args.tag:
        out = RUNS_DIR / f"{recipe.preset}-{args.tag}"
    protocols = [p.strip() for p in args.protocol.split(",") if p.strip()]
    folds = [f.strip() for f in args.folds.split(",")] if args.folds else None
    metrics = {}
    if protocols:
        metrics = run(recipe, protocols=protocols, folds=folds, out=out, strategy=strategy,
                      data=args.data, sample=args.sample, max_steps=args.max_steps,
                      resume=args.resume, verbose=args.verbose)
    if args.merge and _is_chief(strategy):
        metrics = merge_unseen(out or RUNS_DIR / recipe.preset, args.merge)
    if args.publish and _is_chief(strategy):
        if args.sample or args.max_steps:
            raise InvalidOptionError("--publish: not from a --sample or --max-steps run.")
        preset = publish(recipe, out)
        print(f"published {preset.name}")
        metrics = metrics or json.loads(
            (Path(out or RUNS_DIR / recipe.preset) / "metrics.json").read_text())
    summary = {"preset": recipe.preset}
    if "official" in metrics:
        summary["identification_accuracy"] = metrics["official"]["identification_accuracy"]
        summary["eer"] = metrics["official"]["verification"]["eer"]
    if metrics.get("unseen", {}).get("per_speaker"):
        summary["unseen_eer_mean"] = metrics["unseen"]["mean_eer"]
        summary["unseen_eer"] = {s: r["eer"] for s, r in
                                 metrics["unseen"]["per_speaker"].items()}
    print(json.dumps(summary))
    return metrics


if __name__ == "__main__":
    main()
