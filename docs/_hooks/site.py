"""MkDocs hooks of the documentation site (`make docs`; mkdocs.yml names this file).

- The API reference: one page per public module of the package (every module and package
  under `kerasaudio/` with no path component starting with `_`), found on disk at build
  time, so a new module gets its page without editing the site. Each page is a
  mkdocstrings `:::` directive; packages list their submodules.
- `--8<-- "FILE[:SECTION]"` lines include a repository file or a marked section of it
  (the README's sections, BENCHMARKS.md), before links are resolved.
- Links to repository files that are also site pages (`../BENCHMARKS.md`, `docs/design.md`
  in an included README section, `kerasaudio/errors.py`) point to those pages.
"""

from __future__ import annotations

import importlib
import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "kerasaudio"

#: Repository files shown as a site page (repository path -> page in docs/).
SITE_PAGES = {"BENCHMARKS.md": "benchmarks.md", "CHANGELOG.md": "changelog.md",
              "README.md": "index.md", "zoo/README.md": "zoo.md"}

_INCLUDE = re.compile(r'^--8<-- "(?P<path>[^":]+)(?::(?P<section>[\w-]+))?"[ \t]*$', re.M)

_LINK = re.compile(r"\]\((?P<target>[^)\s#:]+\.(?:md|py))(?P<anchor>#[^)\s]*)?\)")


def public_modules(root: Path = ROOT / PACKAGE) -> list[str]:
    """Dotted names of the package's public modules and packages, sorted."""
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(part.startswith("_") for part in parts):
            continue
        names.append(".".join(parts))
    return sorted(names)


def _page(name: str) -> str:
    return f"api/{name}.md"


def _content(name: str, modules: list[str]) -> str:
    children = [m for m in modules if m.rsplit(".", 1)[0] == name and m != name]
    lines = [f"# `{name}`", "", f"::: {name}"]
    if children:
        lines += ["    options:", "      members: false", "", "## Modules", ""]
        lines += [f"- [`{child}`]({child}.md)" for child in children]
    return "\n".join(lines) + "\n"


def on_config(config):
    # absl (TensorFlow's logging) binds its handler to the stderr of the moment it is
    # imported; imported first inside a gallery example, that is mkdocs-gallery's output
    # capture, and absl's exit handler then fails on it.
    try:
        importlib.import_module("absl.logging")
    except ImportError:
        pass
    modules = public_modules()
    config["extra"]["api_modules"] = modules
    api = [{name: _page(name)} for name in modules]
    for entry in config["nav"] or []:
        if isinstance(entry, dict) and "API reference" in entry:
            entry["API reference"] = api
    return config


def on_files(files, config):
    modules = config["extra"]["api_modules"]
    for name in modules:
        files.append(File.generated(config, _page(name), content=_content(name, modules)))
    return files


def _site_page(repo_path: str) -> str | None:
    """The docs page showing a repository file, or None."""
    if repo_path in SITE_PAGES:
        return SITE_PAGES[repo_path]
    if repo_path.startswith("docs/") and repo_path.endswith(".md"):
        return repo_path[len("docs/"):]
    if repo_path.startswith(f"{PACKAGE}/") and repo_path.endswith(".py"):
        module = repo_path[:-len(".py")].removesuffix("/__init__").replace("/", ".")
        return _page(module)
    return None


def include(markdown: str) -> str:
    """Expand `--8<-- "FILE"` and `--8<-- "FILE:NAME"` lines (FILE relative to the
    repository root; NAME a section marked `<!-- --8<-- [start:NAME] -->` ...
    `<!-- --8<-- [end:NAME] -->` in it). A missing file or section fails the build."""

    def expand(match):
        text = (ROOT / match["path"]).read_text(encoding="utf-8")
        name = match["section"]
        if name is None:
            return text
        start, end = f"<!-- --8<-- [start:{name}] -->", f"<!-- --8<-- [end:{name}] -->"
        if start not in text or end not in text:
            raise ValueError(f"{match['path']} has no section {name!r} to include")
        return text.split(start, 1)[1].split(end, 1)[0].strip("\n")

    return _INCLUDE.sub(expand, markdown)


def on_page_markdown(markdown, page, config, files):
    """Point links to repository files at the pages that show them.

    A page's links are written either relative to its place in docs/ (a page of its own)
    or relative to the repository root (a README section included with a snippet); a
    target that is not a documentation file is read both ways.
    """
    here = posixpath.dirname(page.file.src_uri)
    up = "../" * (here.count("/") + 1) if here else ""

    def repoint(match):
        target, anchor = match["target"], match["anchor"] or ""
        if files.get_file_from_path(posixpath.normpath(posixpath.join(here, target))):
            return match[0]
        for repo_path in (posixpath.normpath(posixpath.join("docs", here, target)),
                          posixpath.normpath(target)):
            site_page = _site_page(repo_path)
            if site_page and files.get_file_from_path(site_page):
                return f"]({up}{site_page}{anchor})"
        return match[0]

    return _LINK.sub(repoint, include(markdown))
