"""Training on your own clips: a table of files and labels in, a `.keras` model out.

`train_table(start, table, out=...)` (and `kerasaudio train START --csv FILE`) fine-tunes a
zoo model on the user's data:

- the table: a CSV file, a pandas DataFrame or a dict of columns, one row per clip, with
  a path column (default `fname`, as in the Freesound Kaggle competitions) and a label
  column (default `labels`, several labels of a clip separated by commas); optionally a
  group column (a speaker, a recording session, a precomputed fold) that keeps each
  group inside one fold. `read_table` checks it and names every problem it can.
- the start: a packaged recipe or pretrained preset (`m5_fsdd_digits`, ...: the recipe's
  architecture, front end, augmentation and optimiser settings, and, for a preset, its
  trained weights with a new classification head), a recipe `.json` file, or a
  registered architecture that a packaged recipe uses (that recipe's settings, random
  weights).
- single-label (softmax, categorical cross-entropy) or multi-label (sigmoid, binary
  cross-entropy) training with the recipe engine's loop (`kerasaudio.training.fit`)
  under any `tf.distribute` strategy.

The run directory gets `model.keras` (the model trained on every clip, with its
model-info record: task `"single-label"` or `"multi-label"`, class names, sample rate,
input length), `metrics.json`, `training_curve.png` (when matplotlib is installed) and,
with folds, `oof_predictions.csv` (each clip's probabilities from the fold model that did
not train on it). Every epoch and every finished fold is checkpointed under
`checkpoints/`: running the same command again continues where it stopped. Under a
multi-worker strategy only the chief writes.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kerasaudio.errors import InvalidOptionError
from kerasaudio.training.table import TASKS, Table, assign_folds, listing, read_table

__all__ = ["AUGMENTATIONS", "TASKS", "Table", "assign_folds", "read_table", "start_recipe",
           "train_table"]

#: `augment=` names and what each adds to the recipe's augmentation (`"none"` removes it).
AUGMENTATIONS = {
    "gain": ("waveform", {"class_name": "RandomGain", "config": {"min_db": -6, "max_db": 6}}),
    "noise": ("waveform", {"class_name": "AddNoise",
                           "config": {"min_snr_db": 10, "max_snr_db": 40}}),
    "speed": ("waveform", {"class_name": "SpeedPerturbation",
                           "config": {"min_factor": 0.9, "max_factor": 1.1}}),
    "mixup": ("mixup_alpha", 0.2),
    "none": (None, None),
}
def _packaged_for(architecture: str) -> str:
    from kerasaudio.training.recipe import load_recipe, packaged_recipes

    users = [name for name in packaged_recipes()
             if getattr(load_recipe(name), "architecture", None) == architecture]
    if not users:
        raise InvalidOptionError(
            f"no packaged recipe uses the architecture {architecture!r}; start from a "
            f"packaged recipe ({', '.join(packaged_recipes())}) or a recipe .json file.")
    own = [name for name in users if name.startswith(architecture + "_")]
    return (own or users)[0]


def _adapt_frontend(frontend: list, sample_rate: int, duration: float) -> list:
    """The front end at another rate or clip length: layers with a `sample_rate` option
    take the new rate, and a `Reshape` to a fixed frame count gets -1 (the count follows
    the clip)."""
    out = []
    for spec in frontend:
        spec = json.loads(json.dumps(spec))
        config = spec.setdefault("config", {})
        if "sample_rate" in config:
            config["sample_rate"] = sample_rate
        if spec.get("class_name") == "Reshape" and config.get("target_shape"):
            config["target_shape"] = [-1, *config["target_shape"][1:]]
        out.append(spec)
    return out


def start_recipe(start: str | os.PathLike, *, name: str = "model",
                 overrides: Sequence[str] = (), multi_label: bool = False,
                 sample_rate: int | None = None, duration: float | None = None,
                 frontend: str | list | None = None,
                 augment: Sequence[str] | None = None):
    """The recipe a user-data training runs, and the preset whose weights it starts from.

    Args:
        start: a packaged recipe or preset name, a recipe `.json` file, or a registered
            architecture (the packaged recipe of that architecture, random weights).
        name: the run's name (the recipe's `preset` field).
        overrides: `key.path=value` recipe overrides (`apply_overrides`), applied last.
        multi_label: sigmoid outputs (`classifier_activation="sigmoid"`).
        sample_rate: resample the clips to this rate (None: the recipe's); the front end
            follows (see the module's `_adapt_frontend`).
        duration: the model's window in seconds (None: the recipe's).
        frontend: the front end: a packaged recipe's name (its front end) or a list of
            layer specs (None: the start's own).
        augment: names from `AUGMENTATIONS` replacing the recipe's augmentation (None:
            the recipe's own; `["none"]`: no augmentation).

    Returns:
        `(recipe, preset)`: a checked `Recipe`, and the preset name whose weights to
        start from (None for a recipe file or an architecture).

    Raises:
        InvalidOptionError: an unknown start, front end or augmentation, or a recipe
            that does not check.

    Example:
    ```python
    from kerasaudio.training.user_data import start_recipe

    recipe, preset = start_recipe("m5_fsdd_digits", multi_label=True, augment=["gain"])
    recipe.options["classifier_activation"], preset  # ('sigmoid', 'm5_fsdd_digits')
    ```
    """
    from kerasaudio.models import list_architectures
    from kerasaudio.training.recipe import (
        StackRecipe,
        apply_overrides,
        find_recipe,
        load_recipe,
        packaged_recipes,
        parse_recipe,
    )

    if sample_rate is not None and (isinstance(sample_rate, bool) or not isinstance(
            sample_rate, int) or sample_rate < 1):
        raise InvalidOptionError(f"sample_rate={sample_rate!r}: use a positive integer (Hz).")
    if duration is not None and not (isinstance(duration, (int, float))
                                     and math.isfinite(duration) and duration > 0):
        raise InvalidOptionError(f"duration={duration!r}: use a positive number of seconds.")
    text = os.fspath(start)
    preset = None
    if text in packaged_recipes():
        preset = text
    elif not text.endswith(".json") and text in list_architectures():
        text = _packaged_for(text)
    recipe = load_recipe(text)
    if isinstance(recipe, StackRecipe):
        raise InvalidOptionError(f"{text}: a stacking recipe trains nothing; start from "
                                 "one of its members.")
    data = recipe.to_dict()
    data["preset"] = name
    data["description"] = f"{os.fspath(start)} trained on user data"
    if sample_rate is not None:
        data["data"]["sample_rate"] = int(sample_rate)
    if duration is not None:
        data["data"]["duration"] = float(duration)
    if frontend is not None:
        if isinstance(frontend, str):
            other = load_recipe(find_recipe(frontend))
            if isinstance(other, StackRecipe):
                raise InvalidOptionError(f"frontend={frontend!r}: a stacking recipe has "
                                         "no front end.")
            frontend = other.frontend
        data["frontend"] = list(frontend)
    if (sample_rate is not None or duration is not None or frontend is not None):
        data["frontend"] = _adapt_frontend(data["frontend"], data["data"]["sample_rate"],
                                           data["data"]["duration"])
    if augment is not None:
        unknown = [a for a in augment if a not in AUGMENTATIONS]
        if unknown:
            raise InvalidOptionError(f"augment {unknown}: use names from "
                                     f"{sorted(AUGMENTATIONS)}.")
        waveform: list = []
        section: dict[str, Any] = {"length_mode": "random", "waveform": waveform,
                                   "features": [], "mixup_alpha": None}
        for item in augment:
            where, value = AUGMENTATIONS[item]
            if where == "waveform":
                waveform.append(value)
            elif where is not None:
                section[where] = value
        data["augment"] = section
    if multi_label:
        data["model"]["options"]["classifier_activation"] = "sigmoid"
    return parse_recipe(apply_overrides(data, overrides)), preset


def _write_json(path: Path, data) -> None:
    from kerasaudio.training.protocols import write_json

    write_json(path, data)


def _preset_weights(preset: str) -> list:
    """The preset's trained weights as arrays, in the order of its model's weights."""
    import keras

    from kerasaudio.hub import create_model

    source = create_model(preset)
    return [(w.path, keras.ops.convert_to_numpy(w)) for w in source.weights]


def _load_preset_weights(model, preset: str | None, values: list) -> None:
    """`values` (`_preset_weights`) into `model`, all but the classification head's."""
    head = {id(w) for w in model.layers[-1].weights}
    ours = model.weights
    bad = [w.path for w, (_, v) in zip(ours, values, strict=False)
           if id(w) not in head and tuple(w.shape) != tuple(v.shape)]
    if len(values) != len(ours) or bad:
        raise InvalidOptionError(
            f"cannot start from {preset}'s weights: the model built for this data differs "
            f"({len(ours)} against {len(values)} weights"
            f"{'; ' + listing(bad) if bad else ''}; a different sample rate, duration or "
            "front end changes the shapes). Start from its architecture instead "
            "(pretrained=False, --from-scratch: random weights).")
    for w, (_, v) in zip(ours, values, strict=True):
        if id(w) not in head:
            w.assign(v)


class _Checkpoint:
    """One training's checkpoint in `folder`: the training twin's weights, the optimizer's
    variables, the epochs done and their history, in one `.npz` replaced atomically after
    each epoch (`state.json` is a readable copy of the state; the `.npz` is what counts)."""

    def __init__(self, folder: Path, *, write: bool):
        self.folder, self.write = folder, write

    def restore(self, model, optimizer) -> tuple[int, dict | None]:
        import numpy as np

        path = self.folder / "weights.npz"
        if not path.is_file():
            return 0, None
        with np.load(path) as arrays:  # no pickles: plain arrays and a JSON string
            state = json.loads(str(arrays["state"]))
            values = [arrays[f"w{i}"] for i in range(len(model.weights))]
            opt = [arrays[f"o{i}"] for i in range(len(optimizer.variables))]
        for variable, value in zip([*model.weights, *optimizer.variables], [*values, *opt],
                                   strict=True):
            variable.assign(value)
        return state["epochs"], state["history"]

    def save(self, model, optimizer, epochs: int, history: dict) -> None:
        import keras
        import numpy as np

        if not self.write:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        arrays = {f"w{i}": keras.ops.convert_to_numpy(w) for i, w in enumerate(model.weights)}
        arrays.update({f"o{i}": keras.ops.convert_to_numpy(v)
                       for i, v in enumerate(optimizer.variables)})
        state = {"epochs": epochs, "history": history}
        arrays["state"] = np.array(json.dumps(state))
        tmp = self.folder / "weights.npz.tmp"
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        tmp.replace(self.folder / "weights.npz")  # weights and state in one rename
        _write_json(self.folder / "state.json", state)  # a readable copy


def _dataset(recipe, table: Table, rows: Sequence[int], *, train: bool):
    """`(waveform, float label row)` batches of `rows` (training: shuffled, full batches)
    or waveform batches in order (`train=False`)."""
    from kerasaudio.data import audio_dataset
    from kerasaudio.training.pipeline import finish

    paths = [table.paths[r] for r in rows]
    common = {"sample_rate": recipe.sample_rate, "duration": recipe.duration,
              "batch_size": recipe.training.batch_size, "seed": recipe.seed,
              "deterministic": True}
    if not train:
        return audio_dataset(paths, length_mode="center", **common)
    labels = [list(table.labels[r]) for r in rows]
    # Decoded every epoch: a user's table may not fit in memory decoded.
    ds = audio_dataset(paths, labels, classes=table.class_names, multi_label=True,
                       shuffle=True, drop_remainder=True,
                       length_mode=recipe.augment.length_mode, **common)
    return finish(ds, recipe, train=True)


def _train_once(recipe, table: Table, rows: Sequence[int], *, preset: str | None,
                checkpoint: _Checkpoint, strategy, max_steps: int | None, verbose: int,
                log: Callable[[str], None] | None):
    """Train on `rows`; return the plain model and the per-epoch history."""
    import keras

    from kerasaudio.training.build import build_model
    from kerasaudio.training.fit import fit, schedule

    t = recipe.training
    if len(rows) < t.batch_size:
        raise InvalidOptionError(
            f"{len(rows)} training clips, fewer than one batch of {t.batch_size}; lower "
            "the batch size (--batch-size, --set training.batch_size=N).")
    keras.utils.set_random_seed(recipe.seed)
    steps = len(rows) // t.batch_size
    if max_steps is not None:
        steps = min(steps, max_steps)
    ds = _dataset(recipe, table, rows, train=True)
    names = table.class_names
    start = _preset_weights(preset) if preset is not None else None
    with strategy.scope():
        twin = build_model(recipe, training=True, class_names=names)
        if start is not None:
            _load_preset_weights(twin, preset, start)
        ema = {} if t.ema_momentum is None else {"use_ema": True,
                                                 "ema_momentum": t.ema_momentum}
        optimizer = keras.optimizers.AdamW(schedule(recipe, steps),
                                           weight_decay=t.weight_decay, **ema)
        optimizer.build(twin.trainable_variables)
    done, history = checkpoint.restore(twin, optimizer)
    if done and log is not None:
        log(f"resuming from the checkpoint after epoch {done} ({checkpoint.folder})")
    # A weight average (SWA) spans epochs: such a training checkpoints only its end.
    every_epoch = not t.swa_epochs

    def on_epoch_end(epoch: int, history: dict) -> None:
        if every_epoch or epoch + 1 == t.epochs:
            checkpoint.save(twin, optimizer, epoch + 1, history)

    history = fit(twin, optimizer, ds, strategy=strategy, epochs=t.epochs, steps=steps,
                  global_batch=t.batch_size, label_smoothing=t.label_smoothing,
                  jit_compile=t.jit_compile is True, log=log if verbose else None,
                  swa_epochs=t.swa_epochs, multi_label=table.multi_label,
                  initial_epoch=done, history=history, on_epoch_end=on_epoch_end,
                  progress=verbose > 0)
    plain = build_model(recipe, class_names=names)
    plain.set_weights(twin.get_weights())
    return plain, history


def _scores(table: Table, rows: Sequence[int], probabilities) -> dict:
    """`accuracy` (the top class is one of the clip's labels) and, multi-label, `lwlrap`."""
    import numpy as np

    from kerasaudio.metrics import lwlrap

    truth = table.targets(rows)
    top = np.asarray(probabilities).argmax(axis=1)
    out = {"accuracy": round(float(truth[np.arange(len(rows)), top].mean()), 5),
           "clips": len(rows)}
    if table.multi_label:
        out["lwlrap"] = round(float(lwlrap(truth, probabilities)), 5)
    return out


def _plot(path: Path, curves: dict[str, dict], log: Callable[[str], None] | None) -> bool:
    """The training curves (loss, accuracy per epoch) as a PNG; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        if log is not None:
            log(f"{path.name} not written: matplotlib is not installed "
                "(pip install matplotlib, or kerasaudio[plot]).")
        return False
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for label, history in curves.items():
        final = label == "all clips"
        style = {"linewidth": 2.0} if final else {"linewidth": 0.8, "alpha": 0.6}
        epochs = range(1, len(history["loss"]) + 1)
        axes[0].plot(epochs, history["loss"], label=label, **style)
        axes[1].plot(epochs, history["accuracy"], label=label, **style)
    for ax, title in zip(axes, ("training loss", "training accuracy"), strict=True):
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize="small")
    figure.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    figure.savefig(tmp, dpi=100)
    plt.close(figure)
    tmp.replace(path)
    return True


def _write_oof(path: Path, table: Table, folds: list[int], probabilities) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["fname", "labels", "fold", *table.class_names])
        for i, row in enumerate(probabilities):
            writer.writerow([table.names[i], ",".join(table.labels[i]), folds[i],
                             *(f"{p:.6f}" for p in row)])
    tmp.replace(path)


def _save_model(model, path: Path) -> None:
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    tmp.replace(path)


def train_table(start: str | os.PathLike, table, *, out: str | os.PathLike,
                audio_dir: str | os.PathLike | None = None, path_column: str = "fname",
                label_column: str = "labels", group_column: str | None = None,
                n_folds: int | None = None, multi_label: bool | None = None,
                classes: Sequence[str] | None = None, epochs: int | None = None,
                batch_size: int | None = None, sample_rate: int | None = None,
                duration: float | None = None, frontend: str | list | None = None,
                augment: Sequence[str] | None = None, overrides: Sequence[str] = (),
                pretrained: bool = True, seed: int | None = None, strategy=None,
                max_steps: int | None = None, verbose: int = 1,
                log: Callable[[str], None] | None = print) -> tuple:
    """Train a zoo model on a table of clips; write the run directory.

    With folds (`group_column` and/or `n_folds`, see `assign_folds`) one model per fold
    trains on the other folds and predicts its own clips (`oof_predictions.csv`, and the
    metrics' `accuracy`/`lwlrap` are over those out-of-fold predictions); without folds
    the metrics are the final model's on its own training clips (an optimistic number,
    said so in `evaluated_on`). Either way `model.keras` is a model trained on every clip.

    Running it again with the same arguments continues from the checkpoints in `out`
    (finished folds are kept; an interrupted training continues after its last finished
    epoch); different arguments are refused, so that a run directory never mixes two
    runs.

    Args:
        start: a packaged recipe or preset, a recipe `.json` file, or an architecture
            (see `start_recipe`).
        table: a CSV file, a pandas DataFrame or a dict of columns (see `read_table`).
        out: the run directory.
        audio_dir, path_column, label_column, group_column, multi_label, classes: see
            `read_table`.
        n_folds: see `assign_folds` (None: one fold per group, or no folds without a
            group column).
        epochs, batch_size, seed: override the recipe's (None: keep).
        sample_rate, duration, frontend, augment: see `start_recipe`.
        overrides: `key.path=value` recipe overrides.
        pretrained: start a preset from its trained weights (new head); False: random.
        strategy: a `tf.distribute` strategy (None: the current one).
        max_steps: cap on the steps per epoch (smoke tests).
        verbose: 1: progress bars and a line per epoch; 0: quiet.
        log: where progress lines go (None: nowhere).

    Returns:
        `(model, metrics)`: the model trained on every clip (as saved in `model.keras`,
        with its model-info record) and the metrics written to `metrics.json`: `task`,
        `class_names`, `clips`, `accuracy` (and `lwlrap` for multi-label),
        `evaluated_on`, `folds` (per fold: `accuracy`, `lwlrap`, `clips`, `history`),
        `history` (the final model's per-epoch training `loss` and `accuracy`),
        `start`, `preset_weights`, `recipe`, `files`.

    Raises:
        InvalidOptionError: bad options or table (see `read_table`, `start_recipe`), or
            a run directory holding another run.
        AudioFileNotFoundError: files of the table that do not exist.

    Example:
    ```python
    import os
    import tempfile
    from kerasaudio.training.user_data import train_table

    clips = kerasaudio.datasets.fsdd.load(sample=True)[:16]
    table = {"fname": [os.path.basename(p) for p in clips.path],
             "labels": [str(d) for d in clips.digit]}
    model, metrics = train_table("m5", table, out=tempfile.mkdtemp(),
                          audio_dir=os.path.dirname(clips.path[0]), epochs=1,
                          batch_size=8, overrides=["model.options.n_channel=4"],
                          verbose=0, log=None)
    sorted(metrics["files"])  # ['metrics.json', 'model.keras', 'training_curve.png']
    kerasaudio.info.model_info(model).task  # 'single-label'

    ```
    """
    import numpy as np
    import tensorflow as tf

    from kerasaudio.models import with_info
    from kerasaudio.training.strategy import is_chief

    if max_steps is not None and max_steps < 1:
        raise InvalidOptionError(f"max_steps={max_steps}: must be >= 1.")
    if not isinstance(verbose, int) or isinstance(verbose, bool):
        raise InvalidOptionError(f"verbose={verbose!r}: use 0 or 1.")
    data = read_table(table, audio_dir=audio_dir, path_column=path_column,
                      label_column=label_column, group_column=group_column,
                      multi_label=multi_label, classes=classes)
    folds = None
    if group_column is not None or n_folds is not None:
        folds = assign_folds(len(data), groups=data.groups, n_folds=n_folds,
                             seed=0 if seed is None else seed)
    options = list(overrides)
    for key, value in (("training.epochs", epochs), ("training.batch_size", batch_size),
                       ("seed", seed)):
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < (
                    0 if key == "seed" else 1):
                raise InvalidOptionError(f"{key.split('.')[-1]}={value!r}: use an integer "
                                         f">= {0 if key == 'seed' else 1}.")
            options.append(f"{key}={value}")
    out = Path(out)
    recipe, preset = start_recipe(start, name=out.name or "model", overrides=options,
                                  multi_label=data.multi_label, sample_rate=sample_rate,
                                  duration=duration, frontend=frontend, augment=augment)
    if not pretrained:
        preset = None
    strategy = strategy or tf.distribute.get_strategy()
    chief = is_chief(strategy)
    run = {"start": os.fspath(start), "preset_weights": preset, "recipe": recipe.to_dict(),
           "table": data.fingerprint(), "folds": folds, "max_steps": max_steps}
    run_path = out / "checkpoints" / "run.json"
    if run_path.is_file():
        if json.loads(run_path.read_text()) != json.loads(json.dumps(run)):
            raise InvalidOptionError(
                f"{out} holds a run with other data or settings ({run_path}); choose "
                "another output directory or remove it.")
    elif chief:
        run_path.parent.mkdir(parents=True, exist_ok=True)
        _write_json(run_path, run)
    start_time = time.perf_counter()
    common = {"preset": preset, "strategy": strategy, "max_steps": max_steps,
              "verbose": verbose, "log": log}
    metrics = {"task": TASKS[data.multi_label], "class_names": list(data.class_names),
               "clips": len(data), "start": os.fspath(start), "preset_weights": preset}
    curves = {}
    if folds is not None:
        probabilities = np.zeros((len(data), len(data.class_names)), np.float32)
        per_fold = {}
        for k in sorted(set(folds)):
            folder = out / "checkpoints" / f"fold_{k}"
            test = [i for i, f in enumerate(folds) if f == k]
            done = folder / "predictions.npz"
            if done.is_file():
                with np.load(done) as saved:
                    probabilities[test] = saved["probabilities"]
                result = json.loads((folder / "result.json").read_text())
            else:
                if log is not None:
                    log(f"fold {k + 1}/{len(set(folds))}: {len(test)} held-out clips")
                train_rows = [i for i, f in enumerate(folds) if f != k]
                model, history = _train_once(recipe, data, train_rows,
                                             checkpoint=_Checkpoint(folder, write=chief),
                                             **common)
                probabilities[test] = model.predict(_dataset(recipe, data, test, train=False),
                                                    verbose=0)
                result = {**_scores(data, test, probabilities[test]), "history": history}
                if chief:
                    with open(folder / "predictions.tmp", "wb") as f:
                        np.savez(f, probabilities=probabilities[test])
                    (folder / "predictions.tmp").replace(done)
                    _write_json(folder / "result.json", result)
            per_fold[str(k)] = result
            curves[f"fold {k}"] = result["history"]
        metrics.update(_scores(data, range(len(data)), probabilities))
        metrics["evaluated_on"] = "out-of-fold predictions"
        metrics["folds"] = per_fold
    if log is not None:
        log(f"training on all {len(data)} clips")
    model, history = _train_once(recipe, data, range(len(data)),
                                 checkpoint=_Checkpoint(out / "checkpoints" / "final",
                                                        write=chief), **common)
    curves["all clips"] = history
    if folds is None:
        every = range(len(data))
        metrics.update(_scores(data, every, model.predict(
            _dataset(recipe, data, every, train=False), verbose=0)))
        metrics["evaluated_on"] = "training clips (no folds: an optimistic estimate)"
    model = with_info(model, task=TASKS[data.multi_label], class_names=data.class_names,
                      sample_rate=recipe.sample_rate, input_length=recipe.samples,
                      preset=None)
    metrics.update({"history": history, "seconds": round(time.perf_counter() - start_time, 1),
                    "replicas": strategy.num_replicas_in_sync, "recipe": recipe.to_dict()})
    files = ["metrics.json", "model.keras"]
    if chief:
        out.mkdir(parents=True, exist_ok=True)
        _save_model(model, out / "model.keras")
        if folds is not None:
            _write_oof(out / "oof_predictions.csv", data, folds, probabilities)
            files.append("oof_predictions.csv")
        if _plot(out / "training_curve.png", curves, log):
            files.append("training_curve.png")
    metrics["files"] = sorted(files)
    if chief:
        _write_json(out / "metrics.json", metrics)
    return model, metrics
