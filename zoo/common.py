"""Shared machinery of the training recipes: one JSON config + a three-line script each.

A recipe (`zoo/recipes/<preset>.json`) says what to train; this module does the rest:

- builds the end-to-end model (raw audio in, the front end inside) from a registered
  architecture (`kerasaudio.create_model`), and a *training twin* of it with the
  augmentation layers around the front end (waveform layers before it, feature layers
  after it; all are the identity outside training); the trained weights go back into the
  plain model, which is what is saved and evaluated;
- reads FSDD through `kerasaudio.data.audio_dataset` (decoded once per run and cached in
  memory), one-hot labels, optional mixup in the input pipeline;
- trains with AdamW, linear warm-up then cosine decay, label smoothing, a fixed number of
  epochs (no early stopping: nothing is chosen on the test clips), under any
  `tf.distribute` strategy;
- runs the protocols: `official` (train on takes 5-49 of every speaker, test on takes
  0-4; this model is the preset) and `loso` (six retrainings, each speaker held out in
  turn), and writes under `zoo/runs/<preset>/`: `<preset>.weights.h5`, `config.json` (the
  exact builder call: `build_from_config` rebuilds the model), `metrics.json` (official
  and per-speaker accuracy, confusion matrices, histories, times, versions) and
  `recipe.json` (the recipe as run, overrides included); each LOSO fold's model goes to
  `loso/<held-out speaker>.weights.h5` (same `config.json`);
- publishes the official model as a pretrained preset (`publish_preset`, `--publish`):
  weights into `kerasaudio/presets/weights/`, the entry with its official and LOSO
  metrics into `zoo/manifest.json` and `kerasaudio/presets/manifest.json`.

Recipe format (JSON; every key but `preset`, `model` and `frontend` has a default):

```json
{
  "preset": "logmel_cnn_fsdd_digits",
  "description": "what and why",
  "data": {"sample_rate": 8000, "duration": 1.0, "synthetic": null},
  "model": {"architecture": "complex_cnn", "options": {"filters": [16, 32, 64, 128, 256]}},
  "frontend": [{"class_name": "MelSpectrogram", "config": {"sample_rate": 8000}}],
  "augment": {"length_mode": "random", "waveform": [], "features": [], "mixup_alpha": null},
  "training": {"epochs": 30, "batch_size": 64, "learning_rate": 0.003,
               "weight_decay": 0.0001, "warmup_epochs": 1, "label_smoothing": 0.1,
               "ema_momentum": null, "swa_epochs": 0},
  "adversary": null,
  "distill": null,
  "seed": 0
}
```

Off by default: weight averaging (`training.ema_momentum`: an exponential moving average
of the weights, or `training.swa_epochs`: the mean of the weights at the ends of the last
N epochs), speaker-adversarial training (`adversary`: `{"factor": 0.1, "units": 64,
"layer": "avg_pool"}`, see `zoo/adversary.py`) and distillation from finished runs' models
(`distill`: `{"teachers": ["zoo/runs/<preset>", ...], "weight": 0.5}`), and synthetic
training speakers (`data.synthetic`: `{"takes": 2, "seed": 0}` adds the digit words spoken
by offline speech synthesisers, `zoo/synthetic.py`, to every training split; the test
clips stay FSDD's).

Layers are `{"class_name": ..., "config": {...}}`, looked up in `kerasaudio.layers`,
`kerasaudio.layers.augment`, `zoo.augment` (recipe-only augmentation such as
`FilterAugment`), then `keras.layers`.

A new recipe is a JSON file and `zoo/recipes/<preset>.py`:

```python
import sys, pathlib
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
from zoo.common import main
main(pathlib.Path(__file__).with_suffix(".json"))
```

Run: `python zoo/recipes/<preset>.py [--protocol official,loso] [--strategy mirrored]
[--set training.epochs=5] [--tag quick] [--publish]` (see `--help`).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

import kerasaudio
from kerasaudio.data import LENGTH_MODES, audio_dataset
from kerasaudio.datasets import fsdd
from kerasaudio.errors import InvalidOptionError
from kerasaudio.layers import augment as augment_layers
from zoo import augment as zoo_augment  # recipe-only augmentation layers
from zoo.adversary import speaker_adversary_model
from zoo.publish import publish

__all__ = [
    "PROTOCOLS",
    "RUNS_DIR",
    "STRATEGIES",
    "Adversary",
    "Distill",
    "Recipe",
    "apply_overrides",
    "build_from_config",
    "build_model",
    "builder_config",
    "evaluate",
    "load_recipe",
    "main",
    "make_layer",
    "make_strategy",
    "publish_preset",
    "run",
    "train",
]

#: Where runs are written by default (git-ignored).
RUNS_DIR = Path(__file__).resolve().parent / "runs"
#: `--protocol` choices.
PROTOCOLS = ("official", "loso")
#: `--strategy` choices.
STRATEGIES = ("default", "mirrored", "multiworker")
#: Version of the `config.json` layout (bump when it changes incompatibly).
CONFIG_FORMAT = 1


# ----------------------------------------------------------------------------- recipes


@dataclass
class Training:
    """Optimisation settings of a recipe (the `training` section)."""

    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    jit_compile: bool | str = "auto"
    #: Exponential moving average of the trainable weights (the optimizer's `use_ema`),
    #: copied into the model at the end; None: off.
    ema_momentum: float | None = None
    #: Stochastic weight averaging: the trainable weights are the mean of their values at
    #: the end of each of the last `swa_epochs` epochs; 0: off.
    swa_epochs: int = 0
    # With either, the batch-norm statistics are recomputed for the averaged weights (one
    # more epoch of forward passes in training mode, no weight update).


@dataclass
class Adversary:
    """Speaker-adversarial training (the `adversary` section; absent or null: off).

    A speaker head (`zoo.adversary.speaker_adversary_model`: gradient reversal with
    lambda `factor`, Dense(`units`, relu), softmax over the training speakers) on the
    output of the layer `layer` of the training twin; its cross-entropy (same label
    smoothing as the digits, weight 1) is added to the digit loss, and the reversed
    gradient pushes the shared layers towards speaker-invariant features. Training only:
    the saved model has the digit head alone.
    """

    factor: float = 0.1
    units: int = 64
    layer: str = "avg_pool"


@dataclass
class Distill:
    """Distillation from the models of finished runs (the `distill` section; null: off).

    `teachers`: run directories (`zoo/runs/<preset>...`, relative to the repository
    root, each with `config.json` and its weights). The teacher of a training on all six
    speakers is each run's official model; of a LOSO fold, each run's model of the same
    fold (trained without the same held-out speaker), so no teacher has seen the test
    speaker. On every training batch (the student's input, mixup included; the student's
    feature augmentation is inside its own model) the teachers' probabilities are
    averaged, and the loss is `(1 - weight) * CE(labels, student) + weight *
    CE(teachers, student)`.
    """

    teachers: list = field(default_factory=list)
    weight: float = 0.5


@dataclass
class Augment:
    """Augmentation of a recipe (the `augment` section).

    `length_mode`: how training clips are fitted into the window (`"random"`: random
    crop offset and random split of the padding, a time-shift augmentation in itself;
    `"center"` as at test time). `waveform` layers go before the front end, `features`
    layers after it, `mixup_alpha` (None: off) mixes pairs in the input pipeline.
    """

    length_mode: str = "random"
    waveform: list = field(default_factory=list)
    features: list = field(default_factory=list)
    mixup_alpha: float | None = None


@dataclass
class Recipe:
    """A parsed, checked recipe. `Recipe.from_dict(json.load(f))`; `to_dict()` inverts it."""

    preset: str
    architecture: str
    options: dict
    frontend: list
    sample_rate: int = fsdd.SAMPLE_RATE
    duration: float = 1.0
    augment: Augment = field(default_factory=Augment)
    training: Training = field(default_factory=Training)
    adversary: Adversary | None = None
    distill: Distill | None = None
    seed: int = 0
    description: str = ""
    synthetic: dict | None = None

    @property
    def samples(self) -> int:
        """Input length of the model, in samples."""
        return round(self.duration * self.sample_rate)

    @classmethod
    def from_dict(cls, data: dict) -> Recipe:
        data = copy.deepcopy(data)
        known = {"preset", "description", "data", "model", "frontend", "augment",
                 "training", "adversary", "distill", "seed"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidOptionError(f"recipe: unknown key(s) {unknown}; known: {sorted(known)}.")
        for key in ("preset", "model", "frontend"):
            if key not in data:
                raise InvalidOptionError(f"recipe: missing {key!r}.")
        model = data["model"]
        if "architecture" not in model:
            raise InvalidOptionError("recipe: model.architecture is missing.")
        kerasaudio.models.get_model_info(model["architecture"])  # a registered name
        extra = sorted(set(model) - {"architecture", "options"})
        if extra:
            raise InvalidOptionError(f"recipe: unknown model key(s) {extra}.")
        options = dict(model.get("options") or {})
        reserved = sorted({"frontend", "input_shape", "classes", "weights"} & set(options))
        if reserved:
            raise InvalidOptionError(
                f"recipe: model.options may not set {reserved}: the recipe sets them."
            )
        sampling = data.get("data", {})
        extra = sorted(set(sampling) - {"sample_rate", "duration", "synthetic"})
        if extra:
            raise InvalidOptionError(f"recipe: unknown data key(s) {extra}.")
        synthetic = sampling.get("synthetic")
        if synthetic is not None:
            if (not isinstance(synthetic, dict) or set(synthetic) - {"takes", "seed"}
                    or not all(isinstance(synthetic.get(k, 0), int) for k in synthetic)
                    or synthetic.get("takes", 2) < 1):
                raise InvalidOptionError(
                    f"recipe: data.synthetic={synthetic!r}; use null or "
                    '{"takes": N >= 1, "seed": S}.')
            synthetic = {"takes": synthetic.get("takes", 2), "seed": synthetic.get("seed", 0)}
            if data.get("adversary") is not None:
                raise InvalidOptionError(
                    "recipe: data.synthetic and adversary: the speaker head knows FSDD's "
                    "speakers only; use one.")
        augment = Augment(**data.get("augment", {}))
        if augment.length_mode not in LENGTH_MODES:
            raise InvalidOptionError(
                f"recipe: augment.length_mode={augment.length_mode!r}; use one of "
                f"{LENGTH_MODES}.")
        training = Training(**data.get("training", {}))
        if training.ema_momentum is not None and not 0 < training.ema_momentum < 1:
            raise InvalidOptionError(
                f"recipe: training.ema_momentum={training.ema_momentum}; use a number in "
                "(0, 1) or null.")
        if not 0 <= training.swa_epochs <= training.epochs:
            raise InvalidOptionError(
                f"recipe: training.swa_epochs={training.swa_epochs}; use 0 (off) to "
                f"training.epochs ({training.epochs}).")
        if training.ema_momentum is not None and training.swa_epochs:
            raise InvalidOptionError(
                "recipe: training.ema_momentum and training.swa_epochs are two ways of "
                "averaging the weights; set one.")
        adversary = data.get("adversary")
        if adversary is not None:
            adversary = Adversary(**adversary)
            if adversary.factor < 0 or adversary.units < 1:
                raise InvalidOptionError(
                    f"recipe: adversary {asdict(adversary)}: factor >= 0 and units >= 1.")
        distill = data.get("distill")
        if distill is not None:
            distill = Distill(**distill)
            if not distill.teachers or not 0 < distill.weight <= 1:
                raise InvalidOptionError(
                    f"recipe: distill {asdict(distill)}: list teachers and 0 < weight <= 1.")
        recipe = cls(preset=data["preset"], architecture=model["architecture"],
                     options=options, frontend=list(data["frontend"]),
                     sample_rate=int(sampling.get("sample_rate", fsdd.SAMPLE_RATE)),
                     duration=float(sampling.get("duration", 1.0)), augment=augment,
                     training=training, adversary=adversary, distill=distill,
                     seed=int(data.get("seed", 0)), description=data.get("description", ""),
                     synthetic=synthetic)
        for spec in [*recipe.frontend, *augment.waveform, *augment.features]:
            make_layer(spec)  # fail on a bad layer now, not after hours of training
        if not recipe.frontend:
            module = sys.modules[kerasaudio.models.get_model_info(
                recipe.architecture).builder.__module__]
            if module.default_frontend():
                raise InvalidOptionError(
                    f"recipe: an empty frontend means raw audio straight into the network, "
                    f"but {recipe.architecture} needs features; list its front-end layers.")
        return recipe

    def to_dict(self) -> dict:
        return {
            "preset": self.preset,
            "description": self.description,
            # "synthetic" only when set: earlier runs' recipes (without it) still match
            "data": {"sample_rate": self.sample_rate, "duration": self.duration,
                     **({"synthetic": self.synthetic} if self.synthetic else {})},
            "model": {"architecture": self.architecture, "options": self.options},
            "frontend": self.frontend,
            "augment": asdict(self.augment),
            "training": asdict(self.training),
            "adversary": None if self.adversary is None else asdict(self.adversary),
            "distill": None if self.distill is None else asdict(self.distill),
            "seed": self.seed,
        }


def load_recipe(path: str | os.PathLike, overrides: Sequence[str] = ()) -> Recipe:
    """Read a recipe JSON file and apply `key.path=value` overrides (see `apply_overrides`)."""
    with open(path) as fh:
        data = json.load(fh)
    return Recipe.from_dict(apply_overrides(data, overrides))


def apply_overrides(data: dict, overrides: Iterable[str]) -> dict:
    """Set `dotted.key=value` entries of a recipe dict; values are JSON (else strings).

    `training.epochs=5`, `augment.mixup_alpha=null`,
    `augment.waveform=[{"class_name": "RandomGain", "config": {}}]`. A list index is a
    number: `frontend.2.config.axis=1`.
    """
    data = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise InvalidOptionError(f"override {item!r}: expected key.path=value.")
        path, raw = item.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        keys = path.split(".")
        node = data
        for key in keys[:-1]:
            if isinstance(node, list):
                node = node[int(key)]
            else:
                node = node.setdefault(key, {})
        last = keys[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return data


_LAYER_SOURCES = (kerasaudio.layers, augment_layers, zoo_augment, keras.layers)


def make_layer(spec: dict) -> keras.layers.Layer:
    """A layer from `{"class_name": name, "config": {...}}` (kerasaudio, then Keras layers)."""
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise InvalidOptionError(f"layer spec {spec!r}: expected {{'class_name', 'config'}}.")
    name = spec["class_name"]
    for source in _LAYER_SOURCES:
        cls = getattr(source, name, None)
        if isinstance(cls, type) and issubclass(cls, keras.layers.Layer):
            return cls(**spec.get("config", {}))
    raise InvalidOptionError(f"layer spec: no layer class named {name!r}.")


# ----------------------------------------------------------------------------- models


def build_model(recipe: Recipe, *, training: bool = False) -> keras.Model:
    """The recipe's model: raw audio `(samples,)` in, class probabilities out.

    With `training=True`, the training twin: the same layers and weights with the
    recipe's augmentation layers before (waveform) and after (features) the front end.
    """
    layers = [make_layer(spec) for spec in recipe.frontend]
    if training:
        layers = ([make_layer(spec) for spec in recipe.augment.waveform] + layers
                  + [make_layer(spec) for spec in recipe.augment.features])
    return kerasaudio.create_model(recipe.architecture, frontend=_frontend_argument(layers),
                                   input_shape=(recipe.samples,),
                                   classes=len(fsdd.CLASSES), **recipe.options)


def _frontend_argument(layers: list):
    """No layers: the family's own (empty) default front end, i.e. raw audio straight in."""
    return layers if layers else "default"


def _serialize_layer(spec: dict) -> dict:
    config = keras.saving.serialize_keras_object(make_layer(spec))
    config["config"].pop("name", None)  # auto-generated; a fresh one on rebuild
    return config


def builder_config(recipe: Recipe) -> dict:
    """The exact `create_model` call of the preset, as JSON-ready data (`config.json`).

    Keys: `format`, `preset`, `architecture`, `kwargs` (every builder option but
    `frontend`), `frontend` (each layer as `keras.saving.serialize_keras_object` gives
    it, with every option spelt out), `sample_rate`, `samples` (the fixed input length),
    `length_mode` (how a clip is fitted to `samples` at inference: centred, cropped or
    zero-padded), `class_names`.
    """
    return {
        "format": CONFIG_FORMAT,
        "preset": recipe.preset,
        "architecture": recipe.architecture,
        "kwargs": {"input_shape": [recipe.samples], "classes": len(fsdd.CLASSES),
                   **recipe.options},
        "frontend": [_serialize_layer(spec) for spec in recipe.frontend],
        "sample_rate": recipe.sample_rate,
        "samples": recipe.samples,
        "length_mode": "center",
        "class_names": list(fsdd.CLASSES),
    }


def build_from_config(config: dict, *, weights: str | os.PathLike | None = None) -> keras.Model:
    """Rebuild a preset's model from its `config.json` (optionally with its weights).

    Example:
    ```python
    config = json.load(open("zoo/runs/m5_fsdd_digits/config.json"))
    model = build_from_config(config, weights="zoo/runs/m5_fsdd_digits/"
                                              "m5_fsdd_digits.weights.h5")
    ```
    """
    frontend = [keras.saving.deserialize_keras_object(copy.deepcopy(layer))
                for layer in config["frontend"]]
    kwargs = dict(config["kwargs"])
    kwargs["input_shape"] = tuple(kwargs["input_shape"])
    return kerasaudio.create_model(config["architecture"],
                                   frontend=_frontend_argument(frontend),
                                   weights=None if weights is None else os.fspath(weights),
                                   **kwargs)


# ----------------------------------------------------------------------------- data


def _dataset(recipe: Recipe, frame, *, train: bool, speakers: Sequence[str] = ()):
    """`(waveform, one-hot digit)` batches of `frame` (a table from `fsdd.load`).

    Training batches are full (the remainder is dropped: every replica of every worker
    then runs the same number of steps); test batches keep every clip. With `speakers`
    (speaker-adversarial training), the label is the one-hot digit followed by the
    one-hot speaker (index in `speakers`), so that mixup mixes both alike.
    """
    classes = len(fsdd.CLASSES)
    names, column = fsdd.CLASSES, "digit"
    if speakers:
        # One joint class per (speaker, digit), split into the two one-hots below.
        column = "_speaker_digit"
        frame = frame.assign(**{column: [speakers.index(s) * classes + int(d) for s, d in
                                         zip(frame["speaker"], frame["digit"], strict=True)]})
        names = list(range(classes * len(speakers)))
    ds = audio_dataset(
        frame, classes=names, label_column=column, sample_rate=recipe.sample_rate,
        duration=recipe.duration, batch_size=recipe.training.batch_size, shuffle=train,
        seed=recipe.seed, cache=True, deterministic=True, drop_remainder=train,
        length_mode=recipe.augment.length_mode if train else "center")
    if speakers:
        ds = ds.map(lambda x, y: (x, tf.concat(
            [tf.one_hot(y % classes, classes), tf.one_hot(y // classes, len(speakers))], -1)))
    else:
        ds = ds.map(lambda x, y: (x, tf.one_hot(y, classes)))
    if train and recipe.augment.mixup_alpha:
        mixup = augment_layers.MixUp(alpha=recipe.augment.mixup_alpha, seed=recipe.seed)
        # Sequential map: the draws come in batch order, the same in every run.
        ds = ds.map(lambda x, y: mixup((x, y), training=True))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def synthetic_clips(recipe: Recipe, *, log: Callable[[str], None] = print):
    """The recipe's synthetic training clips (`data.synthetic`, generated on first use by
    `zoo/synthetic.py`) as an `fsdd.load` table; None when it has none."""
    if not recipe.synthetic:
        return None
    from zoo import synthetic

    takes, seed = recipe.synthetic["takes"], recipe.synthetic["seed"]
    frame = synthetic.load(synthetic.generate(synthetic.default_directory(takes, seed),
                                              takes=takes, seed=seed, log=log))
    log(f"[{recipe.preset}] + {len(frame)} synthetic clips ({frame.speaker.nunique()} "
        "voices) in every training split")
    return frame


def _with_synthetic(train_df, extra):
    """`train_df` followed by the synthetic clips, if any (the table unchanged if none)."""
    return train_df if extra is None else pd.concat([train_df, extra], ignore_index=True)


def load_index(data: str | None = None, *, sample: bool = False):
    """The FSDD table (`fsdd.load`): the full dataset, or the bundled 120-clip sample."""
    return fsdd.load(sample=True) if sample else fsdd.load(data)


# ----------------------------------------------------------------------------- training


def make_strategy(name: str = "default") -> tf.distribute.Strategy:
    """`"default"` (one device), `"mirrored"` (all local devices) or `"multiworker"`.

    `"multiworker"` reads the cluster from the `TF_CONFIG` environment variable (see
    zoo/README.md) and must be created before any other TensorFlow call.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise InvalidOptionError(f"strategy={name!r}: use one of {STRATEGIES}.")


def _schedule(recipe: Recipe, steps_per_epoch: int):
    t = recipe.training
    total = max(1, t.epochs * steps_per_epoch)
    warmup = min(total - 1, round(t.warmup_epochs * steps_per_epoch))
    if warmup <= 0:
        return keras.optimizers.schedules.CosineDecay(t.learning_rate, total)
    return keras.optimizers.schedules.CosineDecay(
        t.learning_rate / 100, total - warmup, warmup_target=t.learning_rate,
        warmup_steps=warmup)


def _fit(model: keras.Model, optimizer, ds, *, strategy, epochs: int, steps: int,
         global_batch: int, label_smoothing: float, jit_compile: bool,
         log: Callable[[str], None] | None, swa_epochs: int = 0,
         adversary: bool = False, teachers: Sequence[keras.Model] = (),
         distill_weight: float = 0.0) -> dict:
    """The training loop: `steps` full batches per epoch, under `strategy`.

    A plain `strategy.run` loop rather than `model.fit`, because Keras 3's `fit` does not
    run under `MultiWorkerMirroredStrategy` (it reduces the first batch and then every
    scalar metric with `strategy.reduce(..., axis=0)`, which fails there;
    keras-team/keras#20585, still so in Keras 3.15), and one loop for every strategy
    means the test under `MirroredStrategy` covers the multi-worker path too. The loss is
    the mean over the global batch (`sum / global_batch` per replica), as `fit`
    computes it; gradients are summed across replicas by the optimizer.

    With `adversary`, the model has two outputs (digits, speakers), `y` is the one-hot
    digit followed by the one-hot speaker, and the loss is the sum of the two
    cross-entropies; `history` then also has the speaker head's `speaker_accuracy`. With
    `swa_epochs`, the trainable weights are replaced by their mean over the ends of the
    last `swa_epochs` epochs; with that or an optimizer using EMA (its average is copied
    in), the batch-norm statistics are then recomputed: `steps` more forward passes in
    training mode, no weight update. With `teachers`, the digit loss is
    `(1 - distill_weight) * CE(y, probs) + distill_weight * CE(mean of the teachers'
    probabilities on x, probs)` (the teachers in inference mode).
    """
    loss_fn = keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing,
                                                   reduction=None)
    variables = model.trainable_variables
    digits = len(fsdd.CLASSES)

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            if adversary:
                probs, speaker_probs = model(x, training=True)
                y, y_speaker = y[:, :digits], y[:, digits:]
            else:
                probs = model(x, training=True)
            per_example = loss_fn(y, probs)
            objective = per_example
            if teachers:
                soft = tf.add_n([teacher(x, training=False) for teacher in teachers])
                soft = tf.stop_gradient(soft / len(teachers))
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
    history = {"loss": [], "accuracy": []}
    if adversary:
        history["speaker_accuracy"] = []
    averaged = None
    for epoch in range(epochs):
        start = time.perf_counter()
        loss_sum = hit_sum = speaker_sum = 0.0
        for _ in range(steps):
            loss, hits, speaker_hits = train_step(iterator)
            loss_sum += float(loss)
            hit_sum += float(hits)
            speaker_sum += float(speaker_hits)
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
    if averaged is not None:
        for variable, total in zip(variables, averaged, strict=True):
            variable.assign((total / swa_epochs).astype(variable.dtype))
    if getattr(optimizer, "use_ema", False):
        optimizer.finalize_variable_values(variables)
    if averaged is not None or getattr(optimizer, "use_ema", False):
        _refresh_batch_norm(model, iterator, strategy=strategy, steps=steps)
    return history


def _refresh_batch_norm(model: keras.Model, iterator, *, strategy, steps: int) -> None:
    """Recompute the batch-norm statistics for the current (averaged) weights.

    `steps` forward passes in training mode on training batches (augmented as in
    training), no weight update: the moving means and variances follow the averaged
    weights' activations (momentum 0.9 forgets the old ones within a few dozen steps).
    """

    @tf.function
    def step(iterator):
        x, _ = next(iterator)
        strategy.run(lambda x: model(x, training=True), args=(x,))

    for _ in range(steps):
        step(iterator)


def train(recipe: Recipe, frame, *, strategy: tf.distribute.Strategy | None = None,
          max_steps: int | None = None,
          log: Callable[[str], None] | None = None) -> tuple[keras.Model, dict]:
    """Train the recipe's model on `frame`; return `(model, info)`.

    Every epoch is `len(frame) // batch_size` full batches (the clips left over differ
    from epoch to epoch, as the data are reshuffled), or `max_steps` (for tests). `model`
    is the plain (inference) model holding the trained weights; `info` has `seconds`,
    `steps`, `replicas` and the per-epoch `history` (loss and accuracy on the augmented
    training batches). `log` gets a line per epoch. Seeded by `recipe.seed`: the same
    recipe and data give the same weights.

    `training.ema_momentum` / `training.swa_epochs` average the weights (then the
    batch-norm statistics are recomputed, see `_fit`); `adversary` trains a speaker head
    on the speakers of `frame` behind a gradient reversal (`zoo.adversary`), which is
    not part of the returned model; `distill` adds the teachers' probabilities to the
    loss (`Distill`).
    """
    strategy = strategy or tf.distribute.get_strategy()
    t = recipe.training
    if len(frame) < t.batch_size:
        raise InvalidOptionError(
            f"{len(frame)} training clips, fewer than one batch of {t.batch_size}.")
    keras.utils.set_random_seed(recipe.seed)
    steps = len(frame) // t.batch_size
    if max_steps is not None:
        steps = min(steps, max_steps)
    adversary = recipe.adversary
    speakers = sorted(set(frame["speaker"]), key=fsdd.SPEAKERS.index) if adversary else ()
    ds = _dataset(recipe, frame, train=True, speakers=speakers)
    with strategy.scope():
        twin = build_model(recipe, training=True)
        model = twin
        if adversary:
            model = speaker_adversary_model(twin, len(speakers), factor=adversary.factor,
                                            units=adversary.units, layer=adversary.layer)
        teachers = _teachers(recipe.distill, frame) if recipe.distill else []
        ema = {} if t.ema_momentum is None else {"use_ema": True,
                                                 "ema_momentum": t.ema_momentum}
        optimizer = keras.optimizers.AdamW(_schedule(recipe, steps),
                                           weight_decay=t.weight_decay, **ema)
        optimizer.build(model.trainable_variables)
    start = time.perf_counter()
    history = _fit(model, optimizer, ds, strategy=strategy, epochs=t.epochs, steps=steps,
                   global_batch=t.batch_size, label_smoothing=t.label_smoothing,
                   jit_compile=t.jit_compile is True, log=log, swa_epochs=t.swa_epochs,
                   adversary=bool(adversary), teachers=teachers,
                   distill_weight=recipe.distill.weight if recipe.distill else 0.0)
    seconds = time.perf_counter() - start
    plain = build_model(recipe)
    plain.set_weights(twin.get_weights())  # the speaker head, if any, is dropped
    info = {"seconds": round(seconds, 1), "steps": steps * t.epochs,
            "replicas": strategy.num_replicas_in_sync, "history": history}
    return plain, info


def _teachers(distill: Distill, frame) -> list[keras.Model]:
    """The teacher models for a training on `frame` (see `Distill`), frozen."""
    missing = [s for s in fsdd.SPEAKERS if s not in set(frame["speaker"])]
    if len(missing) > 1:
        raise InvalidOptionError(
            f"distill: the training clips lack {missing}; teachers exist for all six "
            "speakers (official) or one held-out speaker (a LOSO fold).")
    models = []
    for name in distill.teachers:
        run_dir = Path(name) if Path(name).is_absolute() else RUNS_DIR.parents[1] / name
        config_path = run_dir / "config.json"
        if not config_path.exists():
            raise InvalidOptionError(f"distill: no {config_path}; run the teacher first.")
        config = json.loads(config_path.read_text())
        weights = (run_dir / "loso" / f"{missing[0]}.weights.h5" if missing
                   else run_dir / f"{config['preset']}.weights.h5")
        if not weights.exists():
            raise InvalidOptionError(f"distill: no {weights} (teacher {name}).")
        model = build_from_config(config, weights=weights)
        model.trainable = False
        models.append(model)
    return models


def probabilities(model: keras.Model, recipe: Recipe, frame) -> np.ndarray:
    """`model`'s class probabilities for the clips of `frame`, centred as at inference."""
    ds = _dataset(recipe, frame, train=False)
    return model.predict(ds.map(lambda x, y: x), verbose=0)


def evaluate(model: keras.Model, recipe: Recipe, frame) -> dict:
    """Accuracy of `model` on `frame` (clips centred in the window, as at inference).

    Returns `accuracy`, `correct`, `total`, the 10 x 10 `confusion` matrix (rows: true
    digit) and the `errors` (file name, true and predicted digit).
    """
    probs = probabilities(model, recipe, frame)
    truth = np.asarray(frame["digit"], int)
    predicted = probs.argmax(axis=1)
    confusion = np.zeros((len(fsdd.CLASSES),) * 2, int)
    np.add.at(confusion, (truth, predicted), 1)
    correct = int((predicted == truth).sum())
    errors = [[os.path.basename(p), int(t), int(q)]
              for p, t, q in zip(frame["path"], truth, predicted, strict=True) if t != q]
    return {"accuracy": round(correct / len(truth), 5), "correct": correct,
            "total": len(truth), "confusion": confusion.tolist(), "errors": errors}


# ----------------------------------------------------------------------------- protocols


def _is_chief(strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


def _environment(strategy) -> dict:
    return {"kerasaudio": kerasaudio.__version__, "keras": keras.version(),
            "tensorflow": tf.__version__, "python": platform.python_version(),
            "backend": keras.backend.backend(), "strategy": type(strategy).__name__,
            "replicas": strategy.num_replicas_in_sync, "cpus": os.cpu_count()}


def _same_training(old: dict | None, new: dict) -> bool:
    """Whether two recipe dicts train the same thing (the description aside)."""
    if old is None:
        return False

    def strip(data: dict) -> dict:
        # Through Recipe: a run written before an option existed has its default.
        try:
            data = Recipe.from_dict(data).to_dict()
        except (InvalidOptionError, TypeError, ValueError):
            pass
        return {k: v for k, v in data.items() if k != "description"}

    return strip(old) == strip(new)


def _write_json(path: Path, data) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)


def run(recipe: Recipe, *, protocols: Sequence[str] = PROTOCOLS,
        folds: Sequence[str] | None = None, out: str | os.PathLike | None = None,
        strategy: tf.distribute.Strategy | None = None, data: str | None = None,
        sample: bool = False, max_steps: int | None = None, resume: bool = False,
        verbose: int = 0, log: Callable[[str], None] = print) -> dict:
    """Run the recipe's protocols and write the outputs; return the metrics.

    Args:
        recipe: the recipe.
        protocols: `"official"` (trains and saves the preset) and/or `"loso"`.
        folds: LOSO speakers to run (default all six).
        out: output directory (default `zoo/runs/<preset>`).
        strategy: a `tf.distribute` strategy (default: the current one).
        data: FSDD directory (default: found by `fsdd.find_root`).
        sample: use the bundled 120-clip sample (tests).
        max_steps: cap on the steps per epoch (tests).
        resume: keep the results already in `out/metrics.json` and run only what is
            missing (LOSO folds are written as they finish).
        verbose: log a line per epoch of the official training.
        log: where progress lines go.

    Returns:
        The metrics dict written to `metrics.json`.
    """
    unknown = sorted(set(protocols) - set(PROTOCOLS))
    if unknown:
        raise InvalidOptionError(f"protocols {unknown}: use {PROTOCOLS}.")
    strategy = strategy or tf.distribute.get_strategy()
    return run_on_chief(_run, recipe, out=out, protocols=protocols, folds=folds,
                        strategy=strategy, data=data, sample=sample, max_steps=max_steps,
                        resume=resume, verbose=verbose, log=log)


def run_on_chief(run_recipe: Callable, recipe, *, out, strategy, **options) -> dict:
    """`run_recipe(recipe, out=..., strategy=..., **options)` in the recipe's run directory
    (`out`, default `zoo/runs/<preset>`); the other workers of a multi-worker run compute
    the same thing in a scratch directory, removed at the end."""
    if not _is_chief(strategy):
        scratch = Path(tempfile.mkdtemp(prefix=f"{recipe.preset}-worker-"))
        try:
            return run_recipe(recipe, out=scratch, strategy=strategy, **options)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return run_recipe(recipe, out=Path(out) if out is not None else RUNS_DIR / recipe.preset,
                      strategy=strategy, **options)


def start_metrics(recipe, out: Path, *, rerun: str, protocols, folds, resume, strategy,
                  sample, **fields) -> tuple[Path, dict]:
    """`(metrics_path, metrics)` of a run starting in `out`, with `recipe.json` written.

    Results of the same recipe already in `out` are kept (a LOSO run after an official
    one adds to it); a different recipe starts afresh (refused with `resume`). The
    `rerun` protocol's old folds are dropped when it runs again in full without
    `resume`. `fields` go into the metrics after the preset's name."""
    out.mkdir(parents=True, exist_ok=True)
    metrics_path = out / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    if not _same_training(metrics.get("recipe"), recipe.to_dict()):
        if resume and metrics:
            raise InvalidOptionError(
                f"--resume: {metrics_path} was written by a different recipe; use another "
                "--out/--tag or drop --resume.")
        metrics = {}
    if rerun in protocols and not resume and not folds:
        metrics.pop(rerun, None)
    metrics.update({"preset": recipe.preset, **fields, "recipe": recipe.to_dict(),
                    "environment": _environment(strategy), "sample": bool(sample)})
    _write_json(out / "recipe.json", recipe.to_dict())
    return metrics_path, metrics


def _run(recipe: Recipe, *, protocols, folds, out: Path, strategy, data, sample, max_steps,
         resume, verbose, log) -> dict:
    metrics_path, metrics = start_metrics(recipe, out, rerun="loso", protocols=protocols,
                                          folds=folds, resume=resume, strategy=strategy,
                                          sample=sample)
    _write_json(out / "config.json", builder_config(recipe))
    index = load_index(data, sample=sample)
    extra = synthetic_clips(recipe, log=log)

    if "official" in protocols and not (resume and "official" in metrics):
        train_df, test_df = fsdd.official_split(index)
        train_df = _with_synthetic(train_df, extra)
        log(f"[{recipe.preset}] official split: train {len(train_df)} clips (takes 5-49), "
            f"test {len(test_df)} (takes 0-4)")
        model, info = train(recipe, train_df, strategy=strategy, max_steps=max_steps,
                            log=log if verbose else None)
        result = evaluate(model, recipe, test_df)
        weights = out / f"{recipe.preset}.weights.h5"
        model.save_weights(weights)
        metrics["official"] = {**result, **info, "train_clips": len(train_df),
                               "parameters": model.count_params(),
                               "weights": weights.name}
        metrics["date"] = datetime.date.today().isoformat()
        _write_json(metrics_path, metrics)
        log(f"[{recipe.preset}] official split: accuracy {result['accuracy']:.4f} "
            f"({result['correct']}/{result['total']}) in {info['seconds']:.0f} s")

    if "loso" in protocols:
        loso = metrics.setdefault("loso", {"per_speaker": {}})
        for speaker, train_df, test_df in fsdd.leave_one_speaker_out(index):
            if folds and speaker not in folds:
                continue
            if resume and speaker in loso["per_speaker"]:
                continue
            train_df = _with_synthetic(train_df, extra)
            model, info = train(recipe, train_df, strategy=strategy, max_steps=max_steps)
            result = evaluate(model, recipe, test_df)
            # Each fold's model is kept (the same config.json rebuilds it): ensembles and
            # error analyses are studied on the folds without retraining.
            fold_weights = out / "loso" / f"{speaker}.weights.h5"
            fold_weights.parent.mkdir(exist_ok=True)
            model.save_weights(fold_weights)
            loso["per_speaker"][speaker] = {**result, **info, "train_clips": len(train_df),
                                            "weights": f"loso/{fold_weights.name}"}
            done = loso["per_speaker"]
            loso["mean_accuracy"] = round(float(np.mean(
                [r["accuracy"] for r in done.values()])), 5)
            loso["speakers"] = sorted(done, key=fsdd.SPEAKERS.index)
            loso["complete"] = set(done) == set(fsdd.SPEAKERS)
            loso["seconds"] = round(sum(r["seconds"] for r in done.values()), 1)
            _write_json(metrics_path, metrics)
            log(f"[{recipe.preset}] LOSO held out {speaker:9s}: accuracy "
                f"{result['accuracy']:.4f} ({result['correct']}/{result['total']}) in "
                f"{info['seconds']:.0f} s; running mean {loso['mean_accuracy']:.4f} over "
                f"{len(done)} fold(s)")
    _write_json(metrics_path, metrics)
    return metrics


# ----------------------------------------------------------------------------- publishing


def publish_preset(recipe: Recipe, out: str | os.PathLike | None = None, *,
                   manifest_path: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
                   weights_dir: str | os.PathLike | None = None,
                   require_loso: bool = True) -> kerasaudio.presets.Preset:
    """Publish the official-split model of a finished run as the pretrained preset.

    Reads `out` (default `zoo/runs/<preset>`): `metrics.json` must come from this very
    recipe (the description aside), from the full dataset (not the bundled sample), with
    the official protocol done and, unless `require_loso=False`, all six LOSO folds. The
    model is rebuilt from `config.json` with `<preset>.weights.h5` and handed to
    `kerasaudio.presets.publish` with metrics `official_accuracy`, `loso_accuracy` (mean
    over the folds), `loso_per_speaker`, and the training details; FSDD's license.
    `manifest_path` / `weights_dir` default to the repository's manifests and the
    package's weights directory (see `publish`).

    Example:
    ```python
    recipe = load_recipe("zoo/recipes/m5_fsdd_digits.json")
    run(recipe)                 # official + LOSO, into zoo/runs/m5_fsdd_digits/
    publish_preset(recipe)      # kerasaudio.create_model("m5_fsdd_digits") now loads it
    ```
    """
    out = Path(out) if out is not None else RUNS_DIR / recipe.preset
    metrics_path = out / "metrics.json"
    if not metrics_path.exists():
        raise InvalidOptionError(f"publish: no {metrics_path}; run the recipe first.")
    metrics = json.loads(metrics_path.read_text())
    if not _same_training(metrics.get("recipe"), recipe.to_dict()):
        raise InvalidOptionError(
            f"publish: {metrics_path} was written by a different recipe; rerun it.")
    if metrics.get("sample") and manifest_path is None:
        raise InvalidOptionError(
            "publish: this run used the bundled 120-clip sample; refusing to publish it "
            "into the package's manifest.")
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
    per_speaker = {s: r["accuracy"] for s, r in loso.get("per_speaker", {}).items()}
    published = {
        "official_accuracy": official["accuracy"],
        "loso_accuracy": loso.get("mean_accuracy"),
        "loso_per_speaker": per_speaker,
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
    return publish(
        model, recipe.preset, task="digits", class_names=config["class_names"],
        sample_rate=config["sample_rate"], input_length=config["samples"],
        metrics=published, recipe=f"zoo/recipes/{recipe.preset}.py",
        training_data=training_data, license=fsdd.LICENSE,
        architecture=config["architecture"],
        config={**config["kwargs"], "frontend": config["frontend"] or "default"},
        manifest_path=manifest_path, weights_dir=weights_dir)


# ----------------------------------------------------------------------------- CLI


def _parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--protocol", default="official,loso",
                        help="comma-separated: official, loso (default both)")
    parser.add_argument("--folds", default=None,
                        help="comma-separated LOSO speakers to run (default all six)")
    parser.add_argument("--strategy", choices=STRATEGIES, default="default",
                        help="tf.distribute strategy (multiworker reads TF_CONFIG)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override a recipe entry, e.g. training.epochs=5 (repeatable)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="shorthand for --set training.epochs=N")
    parser.add_argument("--seed", type=int, default=None, help="shorthand for --set seed=N")
    parser.add_argument("--tag", default=None,
                        help="write to zoo/runs/<preset>-<tag> instead of zoo/runs/<preset>")
    parser.add_argument("--out", default=None, help="output directory (overrides --tag)")
    parser.add_argument("--data", default=None, help="FSDD directory (default: found)")
    parser.add_argument("--sample", action="store_true",
                        help="use the bundled 120-clip sample (smoke test)")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="cap the steps per epoch (smoke test)")
    parser.add_argument("--resume", action="store_true",
                        help="keep finished results in the output's metrics.json")
    parser.add_argument("--publish", action="store_true",
                        help="after the run, publish the official model as the preset "
                             "(weights into kerasaudio/presets/weights/, entry into both "
                             "manifests); needs the official split and all six LOSO folds "
                             "in the output directory (--protocol '' publishes a finished "
                             "run without training)")
    parser.add_argument("--verbose", type=int, default=1,
                        help="1: a line per epoch of the official training; 0: quiet")
    return parser


def main(recipe_path: str | os.PathLike | None = None,
         argv: Sequence[str] | None = None) -> dict:
    """Command line of a recipe script (`recipe_path`), or of `python -m zoo.common RECIPE`."""
    parser = _parser((__doc__ or "").splitlines()[0])
    if recipe_path is None:
        parser.add_argument("recipe", help="recipe JSON file")
    args = parser.parse_args(argv)
    path = Path(recipe_path if recipe_path is not None else args.recipe)
    # The strategy first: MultiWorkerMirroredStrategy must exist before other TF calls.
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
    metrics = run(recipe, protocols=protocols, folds=folds, out=out, strategy=strategy,
                  data=args.data, sample=args.sample, max_steps=args.max_steps,
                  resume=args.resume, verbose=args.verbose)
    if args.publish and _is_chief(strategy):
        preset = publish_preset(recipe, out)
        print(f"[{recipe.preset}] published: {preset.file} (sha256 {preset.sha256[:12]}...)")
    summary = {"preset": recipe.preset}
    if "official" in metrics:
        summary["official"] = metrics["official"]["accuracy"]
    if "loso" in metrics and "mean_accuracy" in metrics["loso"]:
        summary["loso_mean"] = metrics["loso"]["mean_accuracy"]
        summary["loso"] = {s: r["accuracy"] for s, r in
                           metrics["loso"]["per_speaker"].items()}
    print(json.dumps(summary))
    return metrics


if __name__ == "__main__":
    main()
