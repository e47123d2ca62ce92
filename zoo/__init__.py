"""Training recipes of the kerasaudio presets (see zoo/README.md).

`zoo.common` holds the shared machinery; each recipe is `zoo/recipes/<preset>.json` (what
to train) plus `zoo/recipes/<preset>.py` (a three-line script calling `zoo.common.main`).
"""
