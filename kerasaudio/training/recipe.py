"""The recipe format: what to train, as JSON, parsed and checked before anything runs.

A training recipe (`kerasaudio/recipes/<preset>.json` for the packaged presets):

```json
{
  "preset": "logmel_cnn_fsdd_digits",
  "description": "what and why",
  "task": "digits",
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

Every key but `preset`, `model` and `frontend` has a default. `task` is `"digits"` (the
ten FSDD digits) or `"speakers"` (FSDD's six speakers as the classes). Off by default:
weight averaging (`training.ema_momentum` or `training.swa_epochs`), speaker-adversarial
training (`adversary`, `Adversary`), distillation from finished runs (`distill`,
`Distill`) and synthetic training speakers (`data.synthetic`: `{"takes": 2, "seed": 0}`;
the clips come from the caller, see `kerasaudio.training.protocols.run`). The speaker
task takes none of these.

A stacking recipe (`StackRecipe`) trains nothing: `{"preset", "description", "members":
[preset names], "aggregate": "gmean"}`; see `kerasaudio.training.stack`.

Layers are `{"class_name": ..., "config": {...}}`, looked up by name in
`kerasaudio.layers`, `kerasaudio.layers.augment`, `kerasaudio.training.augment` (the
recipe-only augmentation layers), then `keras.layers` (`Lambda` excepted: a recipe holds
data, never code).
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras

from kerasaudio.data import LENGTH_MODES
from kerasaudio.datasets import fsdd
from kerasaudio.errors import InvalidOptionError

__all__ = [
    "RECIPES_DIR",
    "TASKS",
    "Adversary",
    "Augment",
    "Distill",
    "Recipe",
    "StackRecipe",
    "Training",
    "apply_overrides",
    "find_recipe",
    "load_recipe",
    "make_layer",
    "packaged_recipes",
    "parse_recipe",
]

#: The packaged recipes (package data): one `<preset>.json` per published preset.
RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes"
#: Recipe tasks and their class names, in output order.
TASKS = {"digits": tuple(fsdd.CLASSES), "speakers": tuple(fsdd.SPEAKERS)}
#: Aggregates a stacking recipe may name (`kerasaudio.layers.StackingEnsemble`'s).
AGGREGATES = ("gmean", "mean", "median", "max", "vote")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")


@dataclass
class Training:
    """Optimisation settings of a recipe (the `training` section).

    `ema_momentum`: an exponential moving average of the trainable weights (the
    optimizer's `use_ema`), copied into the model at the end; None: off.
    `swa_epochs`: stochastic weight averaging, the trainable weights become the mean of
    their values at the ends of the last `swa_epochs` epochs; 0: off. With either, the
    batch-norm statistics are recomputed for the averaged weights.
    """

    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    jit_compile: bool | str = "auto"
    ema_momentum: float | None = None
    swa_epochs: int = 0


@dataclass
class Adversary:
    """Speaker-adversarial training (the `adversary` section; absent or null: off).

    A speaker head (`kerasaudio.training.adversary.speaker_adversary_model`: gradient
    reversal with lambda `factor`, Dense(`units`, relu), softmax over the training
    speakers) on the output of the layer `layer` of the training twin; its cross-entropy
    (same label smoothing as the digits, weight 1) is added to the digit loss, and the
    reversed gradient pushes the shared layers towards speaker-invariant features.
    Training only: the saved model has the digit head alone.
    """

    factor: float = 0.1
    units: int = 64
    layer: str = "avg_pool"


@dataclass
class Distill:
    """Distillation from the models of finished runs (the `distill` section; null: off).

    `teachers`: run directories (each with `config.json` and its weights; relative paths
    are taken from the current directory). The teacher of a training on all six speakers
    is each run's official model; of a leave-one-speaker-out fold, each run's model of the
    same fold, so no teacher has seen the test speaker. On every training batch the
    teachers' probabilities are averaged, and the loss is `(1 - weight) * CE(labels,
    student) + weight * CE(teachers, student)`.
    """

    teachers: list = field(default_factory=list)
    weight: float = 0.5


@dataclass
class Augment:
    """Augmentation of a recipe (the `augment` section).

    `length_mode`: how training clips are fitted into the window (`"random"`: random
    crop offset and random split of the padding; `"center"` as at test time). `waveform`
    layers go before the front end, `features` layers after it, `mixup_alpha` (None:
    off) mixes pairs in the input pipeline.
    """

    length_mode: str = "random"
    waveform: list = field(default_factory=list)
    features: list = field(default_factory=list)
    mixup_alpha: float | None = None


def _check_synthetic(synthetic, data: dict):
    if synthetic is None:
        return None
    if (not isinstance(synthetic, dict) or set(synthetic) - {"takes", "seed"}
            or not all(isinstance(synthetic.get(k, 0), int) for k in synthetic)
            or synthetic.get("takes", 2) < 1):
        raise InvalidOptionError(
            f"recipe: data.synthetic={synthetic!r}; use null or "
            '{"takes": N >= 1, "seed": S}.')
    if data.get("adversary") is not None:
        raise InvalidOptionError(
            "recipe: data.synthetic and adversary: the speaker head knows FSDD's "
            "speakers only; use one.")
    return {"takes": synthetic.get("takes", 2), "seed": synthetic.get("seed", 0)}


def _check_training(training: Training) -> None:
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


def _section(cls, value, name: str):
    """`cls(**value)` with an `InvalidOptionError` naming the section on a bad key."""
    if not isinstance(value, dict):
        raise InvalidOptionError(f"recipe: {name} must be an object, got {value!r}.")
    try:
        return cls(**value)
    except TypeError as exc:
        known = list(cls.__dataclass_fields__)
        raise InvalidOptionError(f"recipe: {name}: {exc}; known keys: {known}.") from None


@dataclass
class Recipe:
    """A parsed, checked training recipe. `Recipe.from_dict(data)`; `to_dict()` inverts it.

    Example:
    ```python
    from kerasaudio.training import load_recipe

    recipe = load_recipe("m5_fsdd_digits", ["training.epochs=1"])
    recipe.samples, recipe.class_names[:3]  # (8000, ('0', '1', '2'))
    ```
    """

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
    task: str = "digits"

    @property
    def samples(self) -> int:
        """Input length of the model, in samples."""
        return round(self.duration * self.sample_rate)

    @property
    def class_names(self) -> tuple[str, ...]:
        """The model's output classes, in order (the digits or the six speakers)."""
        return TASKS[self.task]

    @classmethod
    def from_dict(cls, data: dict) -> Recipe:
        """Parse and check a recipe dict (a bad layer fails here, not after training).

        Raises:
            InvalidOptionError: an unknown or missing key, an unregistered architecture,
                a layer that does not exist or does not accept its config, an option out
                of range, or options the recipe's task does not take.
        """
        if not isinstance(data, dict):
            raise InvalidOptionError(f"recipe: expected a JSON object, got {data!r}.")
        data = copy.deepcopy(data)
        known = {"preset", "description", "task", "data", "model", "frontend", "augment",
                 "training", "adversary", "distill", "seed"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidOptionError(f"recipe: unknown key(s) {unknown}; known: {sorted(known)}.")
        for key in ("preset", "model", "frontend"):
            if key not in data:
                raise InvalidOptionError(f"recipe: missing {key!r}.")
        task = data.get("task", "digits")
        if task not in TASKS:
            raise InvalidOptionError(f"recipe: task={task!r}; use one of {list(TASKS)}.")
        model = data["model"]
        if not isinstance(model, dict) or "architecture" not in model:
            raise InvalidOptionError("recipe: model.architecture is missing.")
        from kerasaudio.models import get_model_info

        get_model_info(model["architecture"])  # a registered name
        extra = sorted(set(model) - {"architecture", "options"})
        if extra:
            raise InvalidOptionError(f"recipe: unknown model key(s) {extra}.")
        options = dict(model.get("options") or {})
        reserved = sorted({"frontend", "input_shape", "classes", "weights"} & set(options))
        if reserved:
            raise InvalidOptionError(
                f"recipe: model.options may not set {reserved}: the recipe sets them.")
        sampling = data.get("data", {})
        extra = sorted(set(sampling) - {"sample_rate", "duration", "synthetic"})
        if extra:
            raise InvalidOptionError(f"recipe: unknown data key(s) {extra}.")
        synthetic = _check_synthetic(sampling.get("synthetic"), data)
        augment = _section(Augment, data.get("augment", {}), "augment")
        if augment.length_mode not in LENGTH_MODES:
            raise InvalidOptionError(
                f"recipe: augment.length_mode={augment.length_mode!r}; use one of "
                f"{LENGTH_MODES}.")
        training = _section(Training, data.get("training", {}), "training")
        _check_training(training)
        adversary = data.get("adversary")
        if adversary is not None:
            adversary = _section(Adversary, adversary, "adversary")
            if adversary.factor < 0 or adversary.units < 1:
                raise InvalidOptionError(
                    f"recipe: adversary {asdict(adversary)}: factor >= 0 and units >= 1.")
        distill = data.get("distill")
        if distill is not None:
            distill = _section(Distill, distill, "distill")
            if not distill.teachers or not 0 < distill.weight <= 1:
                raise InvalidOptionError(
                    f"recipe: distill {asdict(distill)}: list teachers and 0 < weight <= 1.")
        if task == "speakers":
            unsupported = [name for name, value in [
                ("training.ema_momentum", training.ema_momentum),
                ("training.swa_epochs", training.swa_epochs), ("adversary", adversary),
                ("distill", distill), ("data.synthetic", synthetic)] if value]
            if unsupported:
                raise InvalidOptionError(
                    f"recipe: the speakers task does not take {unsupported} (digit "
                    "recipes only).")
        recipe = cls(preset=data["preset"], architecture=model["architecture"],
                     options=options, frontend=list(data["frontend"]),
                     sample_rate=int(sampling.get("sample_rate", fsdd.SAMPLE_RATE)),
                     duration=float(sampling.get("duration", 1.0)), augment=augment,
                     training=training, adversary=adversary, distill=distill,
                     seed=int(data.get("seed", 0)), description=data.get("description", ""),
                     synthetic=synthetic, task=task)
        for spec in [*recipe.frontend, *augment.waveform, *augment.features]:
            make_layer(spec)
        if not recipe.frontend:
            builder = get_model_info(recipe.architecture).builder
            default = getattr(sys.modules[builder.__module__], "default_frontend", None)
            if default is not None and default():
                raise InvalidOptionError(
                    f"recipe: an empty frontend means raw audio straight into the network, "
                    f"but {recipe.architecture} needs features; list its front-end layers.")
        return recipe

    def to_dict(self) -> dict:
        """The recipe as JSON-ready data (`recipe.json` of a run; `from_dict` reads it)."""
        return {
            "preset": self.preset,
            "description": self.description,
            "task": self.task,
            # "synthetic" only when set: a recipe without it keeps the form it always had
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


@dataclass
class StackRecipe:
    """A stacking recipe: published digit presets combined by `aggregate`, no training.

    Example:
    ```python
    from kerasaudio.training import load_recipe

    recipe = load_recipe("stack_fsdd_digits")
    recipe.members[:2]  # ['logmel_cnn_fsdd_digits', 'mfcc_cnn_fsdd_digits']
    ```
    """

    preset: str
    members: list
    aggregate: str = "gmean"
    description: str = ""
    task: str = "digits"

    @property
    def class_names(self) -> tuple[str, ...]:
        """The digits, as every member's."""
        return TASKS[self.task]

    @classmethod
    def from_dict(cls, data: dict) -> StackRecipe:
        """Parse and check a stacking recipe dict.

        Raises:
            InvalidOptionError: an unknown or missing key, fewer than two members, a
                member that is not a preset name, or an unknown aggregate.
        """
        known = {"preset", "description", "members", "aggregate"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidOptionError(f"stacking recipe: unknown key(s) {unknown}; known: "
                                     f"{sorted(known)}.")
        if "preset" not in data:
            raise InvalidOptionError("stacking recipe: missing 'preset'.")
        members = data["members"]
        if (not isinstance(members, list) or len(members) < 2
                or not all(isinstance(m, str) and _NAME.match(m) for m in members)):
            raise InvalidOptionError(f"stacking recipe: members={members!r}; list two or "
                                     "more preset names.")
        aggregate = data.get("aggregate", "gmean")
        if aggregate not in AGGREGATES:
            raise InvalidOptionError(f"stacking recipe: aggregate={aggregate!r}; use one of "
                                     f"{list(AGGREGATES)}.")
        return cls(preset=data["preset"], members=list(members), aggregate=aggregate,
                   description=data.get("description", ""))

    def to_dict(self) -> dict:
        """The recipe as JSON-ready data, in its file's form."""
        return {"preset": self.preset, "description": self.description,
                "members": list(self.members), "aggregate": self.aggregate}


def parse_recipe(data: dict) -> Recipe | StackRecipe:
    """A `StackRecipe` for a dict with `members`, else a training `Recipe`."""
    if isinstance(data, dict) and "members" in data:
        return StackRecipe.from_dict(data)
    return Recipe.from_dict(data)


def packaged_recipes() -> list[str]:
    """The names of the recipes shipped in the package (`kerasaudio/recipes/*.json`).

    Example:
    ```python
    from kerasaudio.training import packaged_recipes

    "m5_fsdd_digits" in packaged_recipes()  # True
    ```
    """
    return sorted(path.stem for path in RECIPES_DIR.glob("*.json"))


def find_recipe(name: str | os.PathLike) -> Path:
    """The recipe file `name` stands for: a packaged recipe's name, or a `.json` file.

    Only these two: a name is looked up among the packaged recipes alone (never in the
    current directory), and a path is used only when it ends in `.json` and is a file.

    Raises:
        InvalidOptionError: neither a packaged recipe nor an existing `.json` file.

    Example:
    ```python
    from kerasaudio.training import find_recipe

    find_recipe("m5_fsdd_digits").name  # 'm5_fsdd_digits.json'
    ```
    """
    text = os.fspath(name)
    if text.endswith(".json"):
        path = Path(text)
        if path.is_file():
            return path
        raise InvalidOptionError(f"no recipe {text!r}: no such file.")
    if _NAME.match(text) and (RECIPES_DIR / f"{text}.json").is_file():
        return RECIPES_DIR / f"{text}.json"
    raise InvalidOptionError(
        f"no recipe {text!r}: give a packaged recipe ({', '.join(packaged_recipes())}) or "
        "the path of a recipe .json file.")


def load_recipe(name: str | os.PathLike,
                overrides: Sequence[str] = ()) -> Recipe | StackRecipe:
    """Read a recipe (see `find_recipe`) and apply `key.path=value` overrides.

    Args:
        name: a packaged recipe's name or the path of a `.json` recipe file.
        overrides: `dotted.key=value` strings (see `apply_overrides`).

    Returns:
        A `Recipe`, or a `StackRecipe` for a file with `members`.

    Raises:
        InvalidOptionError: no such recipe, a file that is not JSON, or a recipe that
            does not check (see `Recipe.from_dict`).

    Example:
    ```python
    from kerasaudio.training import load_recipe

    recipe = load_recipe("logmel_cnn_fsdd_digits", ["training.epochs=5"])
    recipe.training.epochs  # 5
    ```
    """
    path = find_recipe(name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidOptionError(f"recipe {os.fspath(path)!r}: cannot read it: {exc}") from None
    return parse_recipe(apply_overrides(data, overrides))


def apply_overrides(data: dict, overrides: Iterable[str]) -> dict:
    """Set `dotted.key=value` entries of a recipe dict; values are JSON (else strings).

    `training.epochs=5`, `augment.mixup_alpha=null`,
    `augment.waveform=[{"class_name": "RandomGain", "config": {}}]`. A list index is a
    number: `frontend.2.config.axis=1`. The input is not changed.

    Raises:
        InvalidOptionError: an override without `=`, or a path through a value that is
            neither an object nor a list (or a list index out of range).

    Example:
    ```python
    from kerasaudio.training import apply_overrides

    apply_overrides({"training": {"epochs": 30}}, ["training.epochs=5"])
    # {'training': {'epochs': 5}}
    ```
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
        try:
            for key in keys[:-1]:
                node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
            if isinstance(node, list):
                node[int(keys[-1])] = value
            else:
                node[keys[-1]] = value
        except (ValueError, IndexError, AttributeError, TypeError):
            raise InvalidOptionError(f"override {item!r}: {path!r} is not a path into the "
                                     "recipe.") from None
    return data


def _layer_sources() -> tuple:
    from kerasaudio import layers
    from kerasaudio.layers import augment as augment_layers
    from kerasaudio.training import augment

    return (layers, augment_layers, augment, keras.layers)


def make_layer(spec: dict) -> keras.layers.Layer:
    """A layer from `{"class_name": name, "config": {...}}` (see the module docstring).

    Raises:
        InvalidOptionError: a spec that is not such a dict, no layer class of that name,
            or a config the class does not accept.

    Example:
    ```python
    from kerasaudio.training import make_layer

    make_layer({"class_name": "PowerToDb", "config": {"top_db": 80.0}})
    ```
    """
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise InvalidOptionError(f"layer spec {spec!r}: expected {{'class_name', 'config'}}.")
    name = spec["class_name"]
    config = spec.get("config", {})
    if not isinstance(config, dict):
        raise InvalidOptionError(f"layer spec {name}: config must be an object.")
    if name != "Lambda":
        for source in _layer_sources():
            cls = getattr(source, str(name), None)
            if isinstance(cls, type) and issubclass(cls, keras.layers.Layer):
                try:
                    return cls(**config)
                except (TypeError, ValueError) as exc:  # a bad option, in the layer's words
                    raise InvalidOptionError(f"layer spec {name}: {exc}") from None
    raise InvalidOptionError(f"layer spec: no layer class named {name!r}.")
