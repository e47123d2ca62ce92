"""The built documentation site, opened in headless Chromium (`make docs-check`).

`make docs` builds the site into build/docs/site; these tests serve it from 127.0.0.1 and
load the index, a user guide, an API page and the gallery in Debian's Chromium (driven by
Playwright, never a browser Playwright downloads). Each page must render its heading and
content, every image on it must have loaded (`naturalWidth > 0`), no script may fail and
no request may leave 127.0.0.1 (the site works offline). Screenshots go to
build/docs/screenshots/ as build artefacts.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.docs, pytest.mark.requires("playwright")]

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "build" / "docs" / "site"
SCREENSHOTS = ROOT / "build" / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
GALLERY = ("plot_confusion", "plot_logmel_vs_librosa", "plot_tflite_export",
           "plot_training_curves", "plot_vad_timeline")

# Page (relative to the site), the text its content must hold, the fewest content images.
PAGES = {
    "index": ("index.html", "Getting started", 0),
    "guide_frontends": ("guides/frontends/index.html", "Batch invariance", 0),
    "api_mel": ("api/kerasaudio.layers.mel/index.html", "MelSpectrogram", 0),
    "gallery_index": ("gallery/index.html", "Log-mel: kerasaudio against librosa",
                      len(GALLERY)),
    **{f"gallery_{name}": (f"gallery/{name}/index.html", "", 1) for name in GALLERY},
}
SCREENSHOT = ("index", "guide_frontends", "api_mel", "gallery_index",
              "gallery_plot_logmel_vs_librosa")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def site_url():
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no built site in {SITE}: run `make docs` first")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 900})
        outside = []

        def only_local(route):
            if urlsplit(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_local)
        yield context, outside
        context.close()


@pytest.mark.parametrize("name", list(PAGES))
def test_page_renders_with_its_images(name, site_url, browser):
    context, outside = browser
    path, text, min_images = PAGES[name]
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    response = page.goto(site_url + path, wait_until="load")
    assert response is not None and response.status == 200, path
    page.wait_for_load_state("networkidle")
    heading = page.locator("article h1").first.inner_text()
    assert heading.strip(), f"{path}: no heading"
    article = page.locator("article").inner_text()
    assert text in article, f"{path}: {text!r} not on the page"
    images = page.eval_on_selector_all(
        "article img", "imgs => imgs.map(i => [i.getAttribute('src'), i.complete, "
        "i.naturalWidth])")
    broken = [src for src, complete, width in images if not complete or width == 0]
    assert not broken, f"{path}: images that did not load: {broken}"
    assert len(images) >= min_images, f"{path}: {len(images)} images, {min_images} expected"
    assert not errors, f"{path}: script errors {errors}"
    assert not outside, f"requests that left 127.0.0.1: {outside}"
    if name in SCREENSHOT:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    page.close()
