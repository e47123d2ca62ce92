"""Stacking ensembles of kerasaudio models: one exportable Keras model, a malaya-speech
compatible `classification_stack`, learned stacking on out-of-fold predictions, and
aggregation over windows and test-time augmentation.

## Which to use when

| you want | use |
|---|---|
| one Keras model (`.keras`, TFLite) from models you hold | `stack(models)` |
| that model as a registered model or a preset | `create_model("stack", members=[...])` |
| to combine probability tensors in a graph of your own | `layers.StackingEnsemble` |
| NumPy in and out, any clip length or aggregate (malaya-speech) | `classification_stack` |
| a meta-learner on out-of-fold predictions (also multi-label) | `fit_stacker` |
| one model over windows or augmented copies | `predict_windows`, `tta`, `aggregate_windows` |

There is one Keras stack builder, `stack`: the registered `"stack"` family
(`kerasaudio.ensemble.family.stack_model`, what `create_model("stack")` runs) builds its
members from their descriptions and calls it, and it combines the members with
`StackingEnsemble`. `classification_stack` is the NumPy route; with the same members and
`aggregate="gmean"` it gives the numbers of `stack(..., normalize=False)`.

- `stack(models, aggregate=...)` returns ONE Keras model: one raw-audio input, each member
  fed at its own sample rate (resampled inside the graph by `kerasaudio.layers.Resample`
  when the rates differ) through its own front end (the members are end-to-end models),
  and the members' probabilities combined by `kerasaudio.layers.StackingEnsemble`. It
  saves and loads as one `.keras` file (safe mode) and exports with
  `kerasaudio.export.to_tflite` as one `.tflite` file, int8 included.
- `classification_stack(models)` is the NumPy-level stack of malaya-speech:
  `predict_proba(inputs, aggregate=scipy.stats.mstats.gmean)` aggregates the members'
  `(clips, classes)` probability matrices over the model axis, `predict` returns label
  names. The same model may appear twice (which weights it).
- `fit_stacker(models, data, groups=speakers)` fits a meta-learner (a logistic
  regression, with scikit-learn or as a Keras Dense head; both load into the
  `"learned"` aggregate, so both export) on out-of-fold predictions, gathered from the
  members on `(clips, labels)`, a DataFrame of files or an `audio_dataset`, or given as
  an array `(members, clips, classes)`. Multi-hot labels fit one sigmoid per class
  (Kaggle-style multi-label tagging; scored with lwlrap).
- `kerasaudio.create_model("stack", members=[...])` is the same Keras builder as a
  registered model family (`kerasaudio.ensemble.family`; importing this package registers
  it), which is what makes an ensemble a preset (`stack_fsdd_digits`).

The modules: `builder` (`stack`, `describe_members`, `ensemble_info`), `classification`
(`classification_stack`), `learned` (`fit_stacker`, `StackerFit`), `sources` (what
`fit_stacker` reads), `windows` (`aggregate_windows`, `predict_windows`, `tta`), `family`
(the registered `stack` model, `member_spec`, `publishable_config`).

## What "out-of-fold" means here

A meta-learner trained on predictions a member made on its own training clips learns to
trust over-confident members: that is the leak stacking must avoid. `fit_stacker` takes
each member in one of three forms and says which protection applies:

1. a *builder*, `builder(x_train, y_train) -> keras.Model`: true K-fold stacking. For each
   fold the member is retrained on the other folds only and predicts the fold; the
   meta-learner sees only these out-of-fold predictions. With `groups` (e.g. speakers) the
   folds never split a group, so no speaker is both in a member's training data and in
   the predictions made for the meta-learner.
2. *fold models*, a dict `{group: model trained without that group}` (e.g. the zoo's
   leave-one-speaker-out models): the prediction for a clip of group `g` comes from
   `models[g]` only, a model that never saw group `g`.
3. a plain pretrained `keras.Model`: fit_stacker cannot know what it was trained on. Its
   predictions are used as they are, so `data` must be data the model never saw (e.g.
   a held-out split); the folds then only give an honest cross-validated accuracy of the
   meta-learner. Using training clips here leaks, and nothing can detect it.

`StackerFit.records` lists, for every member fit and every prediction block, which
examples the model was trained on (when known) and which it predicted, so the absence of
leaks can be checked (tests/test_ensemble.py does).

Example:
```python
import keras
import kerasaudio
import kerasaudio.ensemble as ens
clips, digits = kerasaudio.hub.representative_clips("m5_fsdd_digits")  # 120 x 1 s, 8 kHz
models = [kerasaudio.create_model(p) for p in
          ("logmel_cnn_fsdd_digits", "mfcc_cnn_fsdd_digits")]
ensemble = ens.stack(models, aggregate="gmean")   # one keras.Model, raw 8 kHz audio in
kerasaudio.info.model_info(ensemble)
# AudioInfo(task='digits', class_names=('0', ..., '9'), sample_rate=8000,
#           input_length=8000, preset=None)
ensemble.save("digits_ensemble.keras")
loaded = keras.saving.load_model("digits_ensemble.keras")  # safe mode; the record too
(loaded.predict(clips, verbose=0).argmax(axis=1) == digits).mean()  # the accuracy
```
`kerasaudio.export.to_tflite(ensemble, "digits.tflite", representative_data=clips)` then
writes it as one `.tflite` file whose metadata holds the same record.
"""

from kerasaudio.ensemble.builder import Member, describe_members, ensemble_info, stack
from kerasaudio.ensemble.classification import ClassificationStack, classification_stack
from kerasaudio.ensemble.family import member_spec, publishable_config, stack_model
from kerasaudio.ensemble.learned import (
    FitRecord,
    StackerFit,
    fit_meta,  # noqa: F401  (an alias of fit_stacker on probabilities; not in __all__)
    fit_stacker,
    meta_features,
)
from kerasaudio.ensemble.windows import aggregate_windows, predict_windows, tta

__all__ = [
    "ClassificationStack",
    "FitRecord",
    "Member",
    "StackerFit",
    "aggregate_windows",
    "classification_stack",
    "describe_members",
    "ensemble_info",
    "fit_stacker",
    "member_spec",
    "meta_features",
    "predict_windows",
    "publishable_config",
    "stack",
    "stack_model",
    "tta",
]
