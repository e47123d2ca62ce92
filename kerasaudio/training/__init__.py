"""The recipe engine: train, evaluate and measure the FSDD presets from their JSON recipes.

One module per job:

- `recipe`: the recipe format, loading (packaged names or explicit `.json` paths),
  `--set` overrides and validation (`load_recipe`, `Recipe`, `StackRecipe`);
- `build`: the end-to-end model and its training twin, `config.json` and rebuilding
  from it (`build_model`, `builder_config`, `build_from_config`);
- `augment`, `adversary`: recipe-only augmentation layers and the speaker-adversarial
  head;
- `pipeline`: the tf.data input pipelines;
- `fit`: the optimizer, schedule, weight averaging, distillation and training loop
  (`train`); `strategy`: `tf.distribute` strategies by name;
- `protocols` (digits: official split, leave-one-speaker-out), `speakers`
  (identification and unseen-speaker verification) and `stack` (stacking recipes): the
  protocols, their evaluation and the run directory;
- `command`: the options of `kerasaudio train` and `python -m zoo train`.

Publishing a run as a preset is not here: it is the repository's `zoo/` tooling's job.

Example:
```python
from kerasaudio import training

recipe = training.load_recipe("m5_fsdd_digits",
                               ["training.epochs=1", "training.batch_size=16"])
metrics = training.run(recipe, out="runs/m5_fsdd_digits", protocols=["official"],
                       sample=True, max_steps=2)
```
"""

import importlib

#: Public names and the module each comes from (imported on first use: TensorFlow loads
#: with the engine, not with `import kerasaudio.training`).
_NAMES = {
    "Recipe": "recipe", "StackRecipe": "recipe", "apply_overrides": "recipe",
    "find_recipe": "recipe", "load_recipe": "recipe", "make_layer": "recipe",
    "packaged_recipes": "recipe", "parse_recipe": "recipe",
    "build_from_config": "build", "build_model": "build", "builder_config": "build",
    "train": "fit", "make_strategy": "strategy",
    "evaluate": "protocols", "run": "protocols",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(f"kerasaudio.training.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'kerasaudio.training' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
