"""The labs' PyTorch | JAX tabs in a real browser: the JAX tab shows code and output, and every tab set follows.

The two lab pages are built (from stored outputs, as in tests/test_book.py)
into their own folder, ``_build/test-tabs/``: test_book.py's build of the
whole book may be running at the same time in another pytest worker, and two
builds into one folder would trip over each other.  Links from the labs to
chapters outside this small book are left unresolved, so warnings are not
errors here; test_book.py builds the whole book with warnings as errors.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from scripts.static_host import serve
from tests import test_book
from tests.test_book import CHROMIUM, ROOT, outside_requests

browser, page = test_book.browser, test_book.page  # fixtures: one Chromium per module, a fresh page per test

OUT = ROOT / "_build" / "test-tabs"
LABS = ["chapters/mlp-scratch", "chapters/mlp-concise"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")


def build_labs() -> None:
    """Build the introduction and the two labs from their stored outputs into ``OUT``.

    The doctrees of an earlier run are removed first: Sphinx would reuse them even though
    an extension (such as _ext/framework_tabs.py) has changed since.
    """
    shutil.rmtree(OUT / "_build" / ".doctrees", ignore_errors=True)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"
    extensions = config["sphinx"].get("local_extensions", {})  # paths are relative to the config file
    config["sphinx"]["local_extensions"] = {name: str(ROOT / path) for name, path in extensions.items()}
    toc = {"format": "jb-book", "root": "intro", "chapters": [{"file": lab} for lab in LABS]}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "_config.yml").write_text(yaml.safe_dump(config))
    (OUT / "_toc.yml").write_text(yaml.safe_dump(toc))
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jupyter_book), "build", str(ROOT), "--config", str(OUT / "_config.yml"), "--toc", str(OUT / "_toc.yml"),
           "--path-output", str(OUT)]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, f"build of the labs failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    build_labs()
    server, url = serve(OUT / "_build" / "html")
    yield url
    server.shutdown()


#: The text of the tab shown in every set (textContent: sections far from the window are not laid out,
#: see _static/book.css, and innerText reads nothing there).
SHOWN = """sets => sets.map(set => {
    const panel = [...set.querySelectorAll(':scope > .sd-tab-content')].find(p => p.offsetParent !== null);
    const label = panel && panel.previousElementSibling;
    const text = sel => panel ? [...panel.querySelectorAll(sel)].map(e => e.textContent.trim()).join('\\n') : '';
    return {tab: label ? label.textContent.trim() : null, code: text('.cell_input'), output: text('.cell_output')};
})"""


# Boxes shown only once a tab is chosen must become focusable when they scroll (_ext/static/book_a11y.js).
UNFOCUSABLE_SCROLL_BOXES = """() => [...document.querySelectorAll('.framework-tabs pre')].filter(
    b => b.offsetParent !== null && b.scrollWidth > b.clientWidth + 1 && b.getAttribute('tabindex') !== '0').length"""


def shown(page) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """For every framework tab set of the page: the label of the visible tab, and the code and output it shows."""
    return page.locator(".framework-tabs").evaluate_all(SHOWN)


@pytest.mark.parametrize("lab", LABS)
def test_clicking_jax_shows_jax_code_and_output_in_every_tab_set(page, site: str, lab: str) -> None:  # type: ignore[no-untyped-def]
    response = page.goto(f"{site}{lab}.html", wait_until="networkidle")
    assert response is not None and response.ok
    before = shown(page)
    assert len(before) >= 4, f"{lab}: expected tab sets for the model, forward pass, training and accuracy"
    assert {s["tab"] for s in before} == {"PyTorch"}, "PyTorch must be the tab shown first"
    assert all(s["code"] for s in before)

    page.locator(".framework-tabs").first.get_by_text("JAX", exact=True).click()
    after = shown(page)
    assert {s["tab"] for s in after} == {"JAX"}, "choosing JAX once must switch every tab set of the page"
    for s in after:
        assert s["code"] and "torch" not in s["code"], f"{lab}: a JAX tab shows no JAX code: {s}"
        assert any(word in s["code"] for word in ("jax", "jnp", "nnx", "params")), s["code"][:200]
    page.keyboard.press("Tab")  # a keyboard user: boxes in sections far from the window are measured now
    scrolling = page.evaluate(UNFOCUSABLE_SCROLL_BOXES)
    assert scrolling == 0, f"{lab}: {scrolling} shown JAX code box(es) scroll sideways but a keyboard cannot reach them"
    outputs = "\n".join(s["output"] for s in after)
    assert "validation accuracy" in outputs, f"{lab}: the JAX tabs show no training result"
    assert page.errors == [] and outside_requests(page, site) == []


def test_the_choice_follows_the_reader_to_the_next_lab_and_the_keyboard_switches_back(page, site: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{site}{LABS[0]}.html", wait_until="networkidle")
    page.locator(".framework-tabs").first.get_by_text("JAX", exact=True).click()
    page.goto(f"{site}{LABS[1]}.html", wait_until="networkidle")
    assert {s["tab"] for s in shown(page)} == {"JAX"}, "the JAX choice was not remembered on the next lab"

    radio = page.locator(".framework-tabs").first.locator(":scope > input:checked")
    radio.focus()  # Tab reaches the checked radio button of a set; the arrow keys move within it
    page.keyboard.press("ArrowLeft")
    assert {s["tab"] for s in shown(page)} == {"PyTorch"}, "the arrow key did not switch the tabs back"
    assert page.errors == []
