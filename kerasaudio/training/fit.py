"""Training a recipe's model: AdamW, warm-up and cosine decay, one loop for every strategy.

`train(recipe, frame)` trains the training twin on a table of clips and returns the plain
model with the trained weights: AdamW, linear warm-up then cosine decay, label smoothing,
a fixed number of epochs (no early stopping: nothing is chosen on test clips), optional
weight averaging (EMA or SWA, then the batch-norm statistics recomputed),
speaker-adversarial training and distillation from finished runs' models, under any
`tf.distribute` strategy, seeded by the recipe.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from kerasaudio.datasets import fsdd
from kerasaudio.errors import InvalidOptionError
from kerasaudio.training.build import build_from_config, build_model
from kerasaudio.training.pipeline import dataset
from kerasaudio.training.recipe import Distill, Recipe

__all__ = ["fit", "schedule", "teachers", "train"]

def schedule(recipe: Recipe, steps_per_epoch: int):
    """The learning rate: linear warm-up from 1/100 over `warmup_epochs`, then cosine decay
    to 0 at the end of the last epoch (no warm-up: cosine decay from the first step)."""
    t = recipe.training
    total = max(1, t.epochs * steps_per_epoch)
    warmup = min(total - 1, round(t.warmup_epochs * steps_per_epoch))
    if warmup <= 0:
        return keras.optimizers.schedules.CosineDecay(t.learning_rate, total)
    return keras.optimizers.schedules.CosineDecay(
        t.learning_rate / 100, total - warmup, warmup_target=t.learning_rate,
        warmup_steps=warmup)


def fit(model: keras.Model, optimizer, ds: tf.data.Dataset, *, strategy, epochs: int,
        steps: int, global_batch: int, label_smoothing: float, jit_compile: bool,
        log: Callable[[str], None] | None, swa_epochs: int = 0, adversary: bool = False,
        teacher_models: Sequence[keras.Model] = (), distill_weight: float = 0.0,
        digits: int = len(fsdd.CLASSES), multi_label: bool = False,
        initial_epoch: int = 0, history: dict | None = None,
        on_epoch_end: Callable[[int, dict], None] | None = None,
        progress: bool = False) -> dict:
    """The training loop: `steps` full batches per epoch, under `strategy`.

    A plain `strategy.run` loop rather than `model.fit`: Keras 3's `fit` does not run
    under `MultiWorkerMirroredStrategy` (it reduces the first batch and every scalar
    metric with `strategy.reduce(..., axis=0)`, which fails there; keras-team/keras#20585),
    and one loop for every strategy means a test under `MirroredStrategy` covers the
    multi-worker path too. The loss is the mean over the global batch (`sum /
    global_batch` per replica), as `fit` computes it; gradients are summed across
    replicas by the optimizer.

    Args:
        model: the model to train (built under `strategy.scope()`).
        optimizer: its optimizer, built on `model.trainable_variables`.
        ds: `(x, one-hot y)` batches of `global_batch`, repeated as needed.
        strategy: the `tf.distribute` strategy.
        epochs: number of epochs.
        steps: batches per epoch.
        global_batch: batch size over all replicas.
        label_smoothing: of the cross-entropy.
        jit_compile: XLA-compile the step.
        log: gets a line per epoch (None: quiet).
        swa_epochs: replace the trainable weights by their mean over the ends of the last
            `swa_epochs` epochs. With that, or an optimizer using EMA (its average is
            copied in), the batch-norm statistics are then recomputed: `steps` more
            forward passes in training mode, no weight update.
        adversary: `model` has two outputs (labels, speakers), `y` is the one-hot label
            (`digits` wide) followed by the one-hot speaker, and the loss is the sum of
            the two cross-entropies; `history` then has `speaker_accuracy` too.
        teacher_models: distillation: the label loss becomes `(1 - distill_weight) *
            CE(y, probs) + distill_weight * CE(mean of the teachers' probabilities on x,
            probs)` (teachers in inference mode).
        distill_weight: see `teacher_models`.
        digits: width of the label part of `y` with `adversary`.
        multi_label: `y` is multi-hot and the model's outputs are independent sigmoid
            probabilities: the loss is the binary cross-entropy (mean over classes), and
            `accuracy` counts a clip as right when its highest-scoring class is one of
            its labels.
        initial_epoch: epochs already run (a resumed training): the loop runs epochs
            `initial_epoch` to `epochs - 1`; the optimizer's step count, restored with its
            variables, keeps the learning-rate schedule where it was.
        history: the `history` of the epochs already run (extended in place).
        on_epoch_end: called as `on_epoch_end(epoch, history)` after each epoch (epoch
            counted from 0): a checkpoint hook.
        progress: show a progress bar (`keras.utils.Progbar`) over each epoch's steps.

    Returns:
        The per-epoch `history`: `loss` and `accuracy` on the training batches.
    """
    if multi_label:
        loss_fn = keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing,
                                                  reduction=None)
    else:
        loss_fn = keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing,
                                                       reduction=None)
    variables = model.trainable_variables

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            if adversary:
                probs, speaker_probs = model(x, training=True)
                y, y_speaker = y[:, :digits], y[:, digits:]
            else:
                probs = model(x, training=True)
            per_example = loss_fn(y, probs)
            objective = per_example
            if teacher_models:
                soft = tf.add_n([teacher(x, training=False) for teacher in teacher_models])
                soft = tf.stop_gradient(soft / len(teacher_models))
                objective = ((1 - distill_weight) * per_example
                             + distill_weight * keras.losses.categorical_crossentropy(
                                 soft, probs))
            loss = tf.reduce_sum(objective) / global_batch
            if adversary:
                loss += tf.reduce_sum(loss_fn(y_speaker, speaker_probs)) / global_batch
            if model.losses:
                loss += tf.add_n(model.losses) / strategy.num_replicas_in_sync
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        if multi_label:  # the top class is one of the clip's labels
            hits = tf.gather(y, tf.argmax(probs, -1), batch_dims=1)
        else:
            hits = tf.cast(tf.equal(tf.argmax(probs, -1), tf.argmax(y, -1)), tf.float32)
        speaker_hits = (tf.cast(tf.equal(tf.argmax(speaker_probs, -1),
                                         tf.argmax(y_speaker, -1)), tf.float32)
                        if adversary else tf.zeros_like(hits))
        return tf.reduce_sum(per_example), tf.reduce_sum(hits), tf.reduce_sum(speaker_hits)

    @tf.function(jit_compile=jit_compile)
    def train_step(iterator):
        sums = strategy.run(replica_step, args=next(iterator))
        return [strategy.reduce("SUM", value, axis=None) for value in sums]

    iterator = iter(strategy.experimental_distribute_dataset(ds.repeat()))
    if history is None:
        history = {"loss": [], "accuracy": []}
    if adversary:
        history.setdefault("speaker_accuracy", [])
    averaged = None
    for epoch in range(initial_epoch, epochs):
        start = time.perf_counter()
        loss_sum = hit_sum = speaker_sum = 0.0
        bar = keras.utils.Progbar(steps, unit_name="step") if progress else None
        for step in range(steps):
            loss, hits, speaker_hits = train_step(iterator)
            loss_sum += float(loss)
            hit_sum += float(hits)
            speaker_sum += float(speaker_hits)
            if bar is not None:
                bar.update(step + 1, [("loss", loss_sum / ((step + 1) * global_batch))])
        seen = steps * global_batch
        history["loss"].append(round(loss_sum / seen, 5))
        history["accuracy"].append(round(hit_sum / seen, 5))
        if adversary:
            history["speaker_accuracy"].append(round(speaker_sum / seen, 5))
        if swa_epochs and epoch >= epochs - swa_epochs:
            values = [np.asarray(keras.ops.convert_to_numpy(v), np.float64) for v in variables]
            averaged = values if averaged is None else [
                a + v for a, v in zip(averaged, values, strict=True)]
        if log is not None:
            log(f"epoch {epoch + 1}/{epochs}: loss {loss_sum / seen:.4f}, accuracy "
                f"{hit_sum / seen:.4f} ({time.perf_counter() - start:.1f} s)")
        if on_epoch_end is not None:
            on_epoch_end(epoch, history)
    if averaged is not None:
        for variable, total in zip(variables, averaged, strict=True):
            variable.assign((total / swa_epochs).astype(variable.dtype))
    if getattr(optimizer, "use_ema", False):
        optimizer.finalize_variable_values(variables)
    if averaged is not None or getattr(optimizer, "use_ema", False):
        _refresh_batch_norm(model, iterator, strategy=strategy, steps=steps)
    _agree_on_statistics(model, strategy)
    return history


def _agree_on_statistics(model: keras.Model, strategy) -> None:
    """Give every replica the mean of the replicas' non-trainable float variables.

    Keras 3 creates batch-norm moving statistics without a cross-replica aggregation, so
    under `MultiWorkerMirroredStrategy` each worker updates its copy from its own share
    of the batches and the workers end with different statistics (the trainable weights
    agree: their gradients are all-reduced). Their mean is what `tf.keras` reported for
    such variables (`ON_READ` with `MEAN`); after this, every worker holds the same model.
    """
    variables = [v for v in model.non_trainable_variables if "float" in str(v.dtype)]
    if strategy.num_replicas_in_sync == 1 or not variables:
        return

    @tf.function
    def means():
        local = strategy.run(lambda: [tf.identity(v.value) for v in variables])
        return [strategy.reduce("MEAN", value, axis=None) for value in local]

    for variable, mean in zip(variables, means(), strict=True):
        variable.assign(mean)


def _refresh_batch_norm(model: keras.Model, iterator, *, strategy, steps: int) -> None:
    """Recompute the batch-norm statistics for the current (averaged) weights.

    `steps` forward passes in training mode on training batches (augmented as in
    training), no weight update: the moving means and variances follow the averaged
    weights' activations.
    """

    @tf.function
    def step(iterator):
        x, _ = next(iterator)
        strategy.run(lambda x: model(x, training=True), args=(x,))

    for _ in range(steps):
        step(iterator)


def train(recipe: Recipe, frame: pd.DataFrame, *,
          class_names: Sequence[str] | None = None,
          strategy: tf.distribute.Strategy | None = None, max_steps: int | None = None,
          log: Callable[[str], None] | None = None) -> tuple[keras.Model, dict]:
    """Train the recipe's model on `frame`; return `(model, info)`.

    Every epoch is `len(frame) // batch_size` full batches (the clips left over differ
    from epoch to epoch, as the data are reshuffled), or `max_steps`. Seeded by
    `recipe.seed`: the same recipe and data give the same weights on the same machine.

    `training.ema_momentum` / `training.swa_epochs` average the weights (see `fit`);
    `adversary` trains a speaker head on the speakers of `frame` behind a gradient
    reversal (`kerasaudio.training.adversary`), which is not part of the returned model;
    `distill` adds the teachers' probabilities to the loss (`Distill`, `teachers`).

    Args:
        recipe: the recipe.
        frame: the training clips (a table in `fsdd.load`'s form).
        class_names: the classes to train (default: the task's); a speakers-task fold
            trains on the speakers of its training clips.
        strategy: a `tf.distribute` strategy (default: the current one).
        max_steps: cap on the steps per epoch (smoke tests).
        log: gets a line per epoch (None: quiet).

    Returns:
        `model`, the plain (inference) model holding the trained weights, and `info`:
        `seconds`, `steps`, `replicas` and the per-epoch `history`.

    Raises:
        InvalidOptionError: fewer clips than one batch, or clips of classes not in
            `class_names`.

    Example:
    ```python
    from kerasaudio.training import load_recipe, train
    from kerasaudio.training.pipeline import load_index

    recipe = load_recipe("m5_fsdd_digits", ["training.epochs=1", "training.batch_size=8"])
    model, info = train(recipe, load_index(sample=True), max_steps=2)
    info["steps"]  # 2
    ```
    """
    strategy = strategy or tf.distribute.get_strategy()
    t = recipe.training
    if len(frame) < t.batch_size:
        raise InvalidOptionError(
            f"{len(frame)} training clips, fewer than one batch of {t.batch_size}.")
    names = list(recipe.class_names if class_names is None else class_names)
    if recipe.task == "speakers":
        missing = sorted(set(frame["speaker"]) - set(names))
        if missing:
            raise InvalidOptionError(f"training clips of speakers {missing} not in {names}.")
    keras.utils.set_random_seed(recipe.seed)
    steps = len(frame) // t.batch_size
    if max_steps is not None:
        steps = min(steps, max_steps)
    adversary = recipe.adversary
    speakers = sorted(set(frame["speaker"]), key=fsdd.SPEAKERS.index) if adversary else ()
    ds = dataset(recipe, frame, train=True, class_names=names, speakers=speakers)
    with strategy.scope():
        twin = build_model(recipe, training=True, class_names=names)
        model = twin
        if adversary:
            from kerasaudio.training.adversary import speaker_adversary_model

            model = speaker_adversary_model(twin, len(speakers), factor=adversary.factor,
                                            units=adversary.units, layer=adversary.layer)
        teacher_models = teachers(recipe.distill, frame) if recipe.distill else []
        ema = {} if t.ema_momentum is None else {"use_ema": True,
                                                 "ema_momentum": t.ema_momentum}
        optimizer = keras.optimizers.AdamW(schedule(recipe, steps),
                                           weight_decay=t.weight_decay, **ema)
        optimizer.build(model.trainable_variables)
    start = time.perf_counter()
    history = fit(model, optimizer, ds, strategy=strategy, epochs=t.epochs, steps=steps,
                  global_batch=t.batch_size, label_smoothing=t.label_smoothing,
                  jit_compile=t.jit_compile is True, log=log, swa_epochs=t.swa_epochs,
                  adversary=bool(adversary), teacher_models=teacher_models,
                  distill_weight=recipe.distill.weight if recipe.distill else 0.0,
                  digits=len(names))
    seconds = time.perf_counter() - start
    plain = build_model(recipe, class_names=names)
    plain.set_weights(twin.get_weights())  # the speaker head, if any, is dropped
    info = {"seconds": round(seconds, 1), "steps": steps * t.epochs,
            "replicas": strategy.num_replicas_in_sync, "history": history}
    return plain, info


def teachers(distill: Distill, frame: pd.DataFrame) -> list[keras.Model]:
    """The frozen teacher models of a training on `frame` (see `Distill`).

    A training on all six speakers gets each run's official model; a training without
    one speaker gets each run's leave-one-speaker-out model of that speaker.

    Raises:
        InvalidOptionError: `frame` lacks more than one speaker, or a teacher run has no
            `config.json` or no weights for this training.
    """
    missing = [s for s in fsdd.SPEAKERS if s not in set(frame["speaker"])]
    if len(missing) > 1:
        raise InvalidOptionError(
            f"distill: the training clips lack {missing}; teachers exist for all six "
            "speakers (official) or one held-out speaker (a LOSO fold).")
    models = []
    for name in distill.teachers:
        run_dir = Path(name)
        config_path = run_dir / "config.json"
        if not config_path.is_file():
            raise InvalidOptionError(f"distill: no {config_path}; run the teacher first.")
        config = json.loads(config_path.read_text())
        weights = (run_dir / "loso" / f"{missing[0]}.weights.h5" if missing
                   else run_dir / f"{config['preset']}.weights.h5")
        if not weights.is_file():
            raise InvalidOptionError(f"distill: no {weights} (teacher {name}).")
        model = build_from_config(config, weights=weights)
        model.trainable = False
        models.append(model)
    return models
