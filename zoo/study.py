"""`python -m zoo study STUDY.json`: variants of a digit recipe run with the same protocols.

Each variant is the recipe with some `--set`-style overrides; it is run (official split
and the six leave-one-speaker-out folds, or what `--protocol` says) into
`zoo/runs/<preset>-study-<variant>/`, resumably, and a Markdown table of the results is
printed and written to `zoo/runs/<preset>-study-<study>.md`.

    python -m zoo study zoo/studies/logmel_augment.json             # every variant
    python -m zoo study zoo/studies/logmel_augment.json --only none speed
    python -m zoo study zoo/studies/logmel_augment.json --table     # table only

A study file: `{"recipe": <a packaged recipe's name, or a recipe .json path relative to
the repository root>, "base": [overrides applied to every variant], "variants": {"name":
{"description": "...", "set": [overrides]}}}`.
"""

from __future__ import annotations

import argparse
import json
import pathlib

from kerasaudio.datasets.fsdd import SPEAKERS
from kerasaudio.training.recipe import Recipe, load_recipe
from zoo import ROOT, RUNS_DIR

__all__ = ["configure", "recipe_source", "table"]


def recipe_source(study: dict) -> str | pathlib.Path:
    """The study's recipe: a packaged recipe's name, or a `.json` path under the root."""
    name = study["recipe"]
    return ROOT / name if str(name).endswith(".json") else name


def _out(recipe: Recipe, variant: str) -> pathlib.Path:
    return RUNS_DIR / f"{recipe.preset}-study-{variant}"


def _cell(value) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def table(study: dict, recipe_path: str | pathlib.Path) -> str:
    """The Markdown table of every variant that has results."""
    head = ("| variant | what | official | LOSO mean | " + " | ".join(SPEAKERS)
            + " | mean of folds run | train s |")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, variant in study["variants"].items():
        recipe = load_recipe(recipe_path, [*study.get("base", []), *variant["set"]])
        path = _out(recipe, name) / "metrics.json"
        if not path.exists():
            continue
        metrics = json.loads(path.read_text())
        official = metrics.get("official", {}).get("accuracy")
        loso = metrics.get("loso", {})
        per = loso.get("per_speaker", {})
        mean = loso.get("mean_accuracy") if loso.get("complete") else None
        seconds = sum(r["seconds"] for r in per.values()) + metrics.get(
            "official", {}).get("seconds", 0)
        cells = [_cell(per.get(s, {}).get("accuracy")) for s in SPEAKERS]
        partial = (f"{_cell(sum(r['accuracy'] for r in per.values()) / len(per))} "
                   f"({len(per)})" if per else "")
        rows.append(f"| {name} | {variant.get('description', '')} | {_cell(official)} | "
                    f"{'**' + _cell(mean) + '**' if mean is not None else ''} | "
                    + " | ".join(cells) + f" | {partial} | {seconds:.0f} |")
    return "\n".join(rows)


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare `python -m zoo study`'s arguments on `parser`."""
    parser.add_argument("study", help="study JSON file")
    parser.add_argument("--only", nargs="*", default=None, help="variants to run")
    parser.add_argument("--protocol", default="official,loso")
    parser.add_argument("--folds", default=None,
                        help="comma-separated LOSO speakers (screening; default all six)")
    parser.add_argument("--table", action="store_true", help="print the table only")
    parser.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """Run the study's variants (unless `--table`) and write its table."""
    from zoo.train import run_recipe

    study = json.loads(pathlib.Path(args.study).read_text())
    recipe_path = recipe_source(study)
    protocols = [p for p in args.protocol.split(",") if p]
    if not args.table:
        for name, variant in study["variants"].items():
            if args.only is not None and name not in args.only:
                continue
            recipe = load_recipe(recipe_path, [*study.get("base", []), *variant["set"]])
            print(f"== {name}: {variant.get('description', '')}", flush=True)
            run_recipe(recipe, protocols=protocols, out=_out(recipe, name), resume=True,
                       folds=args.folds.split(",") if args.folds else None,
                       log=lambda line: print(line, flush=True))
    text = table(study, recipe_path)
    print(text)
    preset = load_recipe(recipe_path).preset
    RUNS_DIR.mkdir(parents=True, exist_ok=True)
    (RUNS_DIR / f"{preset}-study-{pathlib.Path(args.study).stem}.md").write_text(text + "\n")
    return 0
