"""The classroom path: the notebooks in JupyterLab 4, driven in Debian's Chromium through Playwright.

One JupyterLab server serves the whole module.  It is started by ``scripts/lab.sh``, the script
``make lab`` runs, with ``--no-browser`` and a free port, and the test opens the address it prints.
It serves copies of the notebooks in a temporary folder (the repository's are never touched), and
JupyterLab's config, data, runtime, settings and workspace folders are temporary too, so the test
leaves no state behind.  Screenshots land in ``_build/screenshots/lab/``.

The checks are about behaviour a student sees: the slider demos are live widgets whose figure changes
when a slider is moved with the keyboard, the exercise checks answer in the page, and a lab's live
training figure appears and changes while the model trains.

The last tests need no browser: the launch links of the student edition, the Binder environment and
the notebooks' set-up cell for Colab.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from scripts.launch_cells import repository, setup_source
from tests.helpers import CHROMIUM, chromium

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "_build" / "screenshots" / "lab"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
KERNEL = "mlp-book"  # the named kernel scripts/lab.sh registers
KERNEL_DISPLAY_NAME = "Python 3 (MLP book)"
LAB_NOTEBOOK = "chapters/mlp-scratch.ipynb"  # the scratch lab, trimmed to its first training run
LAB_EPOCHS = 2
EXERCISE = "student/exercises/activations.ipynb"

pytestmark = pytest.mark.slow
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")


# ---------------------------------------------------------------------------
# The notebooks JupyterLab serves: copies in a temporary folder


def read_notebook(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def code_sources(path: Path) -> list[str]:
    """The source of each code cell, in order: the i-th is the i-th code cell on the page."""
    return ["".join(c["source"]).strip() for c in read_notebook(path)["cells"] if c["cell_type"] == "code"]


def cleared(nb: dict[str, Any]) -> dict[str, Any]:
    """``nb`` without outputs or execution counts, so that a finished run cannot be mistaken for stored results."""
    cells = [
        {**c, "outputs": [], "execution_count": None} if c["cell_type"] == "code" else c for c in nb["cells"]
    ]  # fmt: skip
    return {**nb, "cells": cells}


def trimmed_lab(nb: dict[str, Any], epochs: int) -> dict[str, Any]:
    """The lab's cells up to its first ``trainer.fit``, training for ``epochs`` epochs, in the named kernel."""
    cells = nb["cells"]
    fits = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and "trainer.fit(" in "".join(c["source"])]
    assert fits, f"{LAB_NOTEBOOK} has no trainer.fit(...) cell to run"
    fit = fits[0]
    cells = cells[: fit + 1]
    source, n = re.subn(r"max_epochs=\d+", f"max_epochs={epochs}", "".join(cells[fit]["source"]))
    assert n == 1, f"the training cell of {LAB_NOTEBOOK} does not set max_epochs=<number> once:\n{source}"
    cells[fit] = {**cells[fit], "source": source}
    spec = {"name": KERNEL, "display_name": KERNEL_DISPLAY_NAME, "language": "python"}
    return cleared({**nb, "cells": cells, "metadata": {**nb["metadata"], "kernelspec": spec}})


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lab-root")
    copies = {
        "chapters/activations.ipynb": cleared(read_notebook(ROOT / "chapters/activations.ipynb")),
        EXERCISE: cleared(read_notebook(ROOT / EXERCISE)),
        LAB_NOTEBOOK: trimmed_lab(read_notebook(ROOT / LAB_NOTEBOOK), LAB_EPOCHS),
    }
    for name, nb in copies.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(json.dumps(nb))
    return root


# ---------------------------------------------------------------------------
# The server, started the way `make lab` starts it


@dataclass
class Lab:
    url: str  # the address the server printed, with its token
    base: str
    token: str
    log: Path

    def api(self, path: str) -> Any:
        """GET ``/api/<path>`` of the server's REST API, as JSON."""
        request = urllib.request.Request(f"{self.base}/api/{path}", headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)


def jupyter_state_dirs(folder: Path) -> dict[str, str]:
    """Environment variables that put every folder JupyterLab writes to inside ``folder``."""
    names = {
        "JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data", "JUPYTER_RUNTIME_DIR": "runtime",
        "JUPYTERLAB_SETTINGS_DIR": "settings", "JUPYTERLAB_WORKSPACES_DIR": "workspaces", "IPYTHONDIR": "ipython",
    }  # fmt: skip
    return {var: str(folder / sub) for var, sub in names.items()}


def quiet_settings(settings_dir: Path) -> None:
    """No "get notified about Jupyter news?" pop-up over the cells, and no update check."""
    path = settings_dir / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


@pytest.fixture(scope="module")
def lab(lab_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    state = tmp_path_factory.mktemp("jupyter-state")
    env = {**os.environ, **jupyter_state_dirs(state), "LAB_ROOT": str(lab_root)}
    quiet_settings(Path(env["JUPYTERLAB_SETTINGS_DIR"]))
    log = state / "lab.log"
    cmd = [str(ROOT / "scripts" / "lab.sh"), "--no-browser", "--port=0"]
    with log.open("w") as out:
        server = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        url = printed_url(server, log, timeout=60)
        base, token = url.split("/lab?token=")
        yield Lab(url, base, token, log)
    finally:
        server.send_signal(signal.SIGTERM)  # JupyterLab shuts its kernels down, then exits
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def printed_url(server: subprocess.Popen[bytes], log: Path, timeout: float) -> str:
    """The http://127.0.0.1:PORT/lab?token=... address the server prints once it is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"http://127\.0\.0\.1:\d+/lab\?token=[0-9a-f]{16,}", log.read_text())
        if found:
            return found.group(0)
        if server.poll() is not None:
            pytest.fail(f"scripts/lab.sh exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"JupyterLab printed no address within {timeout} s:\n{log.read_text()[-3000:]}")


# ---------------------------------------------------------------------------
# The browser and a notebook page


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Any, lab: Lab) -> Iterator[Any]:
    """A fresh page; the kernels it starts stay idle until the server shuts them all down at the end."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(90_000)  # JupyterLab loads slowly on a busy 2-core machine
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def open_notebook(page: Any, lab: Lab, path: str) -> None:
    """Open ``path`` alone (``reset`` drops any earlier layout); wait until its kernel is idle and its cells are there.

    Running cells before the page is connected to the kernel would open a "Select Kernel" dialog.
    """
    page.goto(f"{lab.base}/lab/tree/{path}?reset&token={lab.token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell", timeout=60000)
    deadline = time.monotonic() + 60
    while not any(s["path"] == path and s["kernel"]["execution_state"] == "idle" for s in lab.api("sessions")):
        if time.monotonic() > deadline:
            pytest.fail(f"the kernel of {path} did not start within 60 s:\n{lab.log.read_text()[-3000:]}")
        time.sleep(0.2)
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60000)
    # JupyterLab attaches the cells one by one as the page loads: wait until every code cell is there.
    code_cells = sum(cell["cell_type"] == "code" for cell in lab.api(f"contents/{path}")["content"]["cells"])
    page.wait_for_function(
        "n => document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell').length >= n", arg=code_cells, timeout=60000
    )


# Per code cell of the open notebook: its prompt ("[ ]:", "[*]:", "[7]:") and its outputs.  (textContent,
# not innerText: JupyterLab skips rendering cells out of view, and innerText only sees rendered text.)
CODE_CELLS_JS = """() => [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell')].map(cell => ({
    prompt: cell.querySelector('.jp-InputPrompt').textContent.trim(),
    outputs: [...cell.querySelectorAll('.jp-OutputArea-output')].map(o => ({
        mime: o.getAttribute('data-mime-type') || '', text: o.textContent,
        widget: o.querySelector('.jupyter-widgets') !== null})),
}))"""

# True when every code cell has run, or when one failed (then the rest never runs).
RUN_FINISHED_JS = """() => {
    const cells = [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell')];
    const failed = [...document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea-output')]
        .some(o => /Traceback|Error displaying widget/.test(o.textContent));
    return failed || (cells.length > 0 && cells.every(c => /^\\[\\d+\\]:$/.test(
        c.querySelector('.jp-InputPrompt').textContent.trim())));
}"""


def run_all(page: Any, timeout_s: float = 120) -> list[dict[str, Any]]:
    """Run > Run All Cells, as a student would; returns the code cells once the run is over."""
    page.locator(".lm-MenuBar-item", has_text="Run").click()
    page.locator(".lm-Menu-item", has_text=re.compile(r"^Run All Cells")).first.click()
    try:
        page.wait_for_function(RUN_FINISHED_JS, timeout=timeout_s * 1000)
    except PlaywrightTimeout:
        shoot(page, "run-all-timed-out")
        prompts = " ".join(c["prompt"] for c in page.evaluate(CODE_CELLS_JS))
        pytest.fail(f"Run All Cells did not finish within {timeout_s} s; prompts: {prompts}")
    return page.evaluate(CODE_CELLS_JS)


FINISHED = re.compile(r"^\[\d+\]:$")  # the prompt of a cell that has run


def problems(cells: list[dict[str, Any]]) -> list[str]:
    """Every sign of failure a student would see: cells that did not run, errors, broken widgets."""
    found = [f"cell {i} did not run ({c['prompt']})" for i, c in enumerate(cells) if not FINISHED.match(c["prompt"])]
    for i, cell in enumerate(cells):
        for out in cell["outputs"]:
            if re.search(r"Traceback|Error displaying widget", out["text"]) or (
                out["mime"] == "application/vnd.jupyter.stderr" and re.search(r"Error|Exception", out["text"])
            ):
                found.append(f"cell {i} shows: {out['text'][:800]}")
    return found


def shoot(target: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(SHOTS / f"{name}.png"))


@pytest.fixture(scope="module", autouse=True)
def fresh_screenshots() -> None:
    """Only this run's screenshots in the folder (a failure's shot from an earlier run would mislead)."""
    shutil.rmtree(SHOTS, ignore_errors=True)


# ---------------------------------------------------------------------------
# The tests in the browser


def test_make_lab_prints_the_address_and_registers_the_kernel(lab: Lab) -> None:
    log = lab.log.read_text()
    assert "student/exercises/" in log, "lab.sh no longer tells where the student edition is"
    spec = lab.api("kernelspecs")["kernelspecs"].get(KERNEL)
    assert spec is not None, f"the kernel {KERNEL!r} is not registered"
    assert spec["spec"]["display_name"] == KERNEL_DISPLAY_NAME
    assert Path(spec["spec"]["argv"][0]) == ROOT / ".venv" / "bin" / "python", "the kernel runs another Python"
    with urllib.request.urlopen(lab.url, timeout=10) as response:  # the printed address logs a browser in
        assert response.status == 200 and "JupyterLab" in response.read().decode()


def demo_cell_indices() -> list[int]:
    """Positions, among the code cells, of the activations chapter's slider demos (from its stored outputs)."""
    nb = read_notebook(ROOT / "chapters/activations.ipynb")
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    return [i for i, c in enumerate(code) if any(WIDGET_MIME in o.get("data", {}) for o in c["outputs"])]


# The src of every image in the code cell's outputs: a redrawn figure is a new image.
IMAGES_JS = """([i]) => [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell')[i]
    .querySelectorAll('.jp-OutputArea-output img')].map(img => img.src).join(' ')"""


def wait_for_new_figure(page: Any, i: int, before: str, action: str) -> None:
    """Wait until the images in code cell ``i`` are no longer ``before``."""
    try:
        page.wait_for_function(f"([i]) => ({IMAGES_JS})([i]) !== {json.dumps(before)}", arg=[i], timeout=15000)
    except PlaywrightTimeout:
        shoot(page, "demo-did-not-change")
        pytest.fail(f"{action} did not change the figure of the demo in code cell {i} within 15 s")


@needs_chromium
def test_activation_demos_are_live_widgets(page: Any, lab: Lab) -> None:
    demos = demo_cell_indices()
    assert len(demos) >= 3, f"expected the chapter's slider demos, found {len(demos)}"
    open_notebook(page, lab, "chapters/activations.ipynb")
    cells = run_all(page)
    shoot(page, "activations-run-all")
    assert problems(cells) == []

    for i in demos:
        outputs = cells[i]["outputs"]
        shown = [o["mime"] or "widget" if o["widget"] else f"{o['mime']}: {o['text'].strip()[:200]}" for o in outputs]
        assert [o["widget"] for o in outputs] == [True], f"demo cell {i} shows {shown} instead of one live widget"
    widget_outputs = page.locator(".jp-NotebookPanel .jp-CodeCell .jp-OutputArea-output:has(.jupyter-widgets)")
    assert widget_outputs.count() == len(demos)

    moved = 0
    for n, i in enumerate(demos):
        output = page.locator(".jp-NotebookPanel .jp-CodeCell").nth(i).locator(".jp-OutputArea-output")
        output.scroll_into_view_if_needed()
        page.wait_for_function(
            "([i]) => [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell')[i]"
            ".querySelectorAll('.jp-OutputArea-output img')].some(img => img.complete && img.naturalWidth > 0)",
            arg=[i], timeout=15000,
        )  # fmt: skip
        # A slider can matter only for some choices (the explorer's alpha only for leaky ReLU),
        # so first pick the option after the current one on each row of buttons.
        for row in output.locator(".widget-toggle-buttons").all():
            before = page.evaluate(IMAGES_JS, [i])
            row.locator("button:not(.mod-active)").first.click()
            wait_for_new_figure(page, i, before, "choosing another option")
        sliders = output.locator("[role=slider]")
        if sliders.count() == 0:
            continue
        slider, before = sliders.first, page.evaluate(IMAGES_JS, [i])
        value = slider.get_attribute("aria-valuenow")
        at_end = float(value or 0) >= float(slider.get_attribute("aria-valuemax") or 0)
        slider.focus()
        page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
        wait_for_new_figure(page, i, before, "moving a slider with the keyboard")
        assert slider.get_attribute("aria-valuenow") != value, "the figure changed but the slider did not move"
        shoot(output, f"activations-demo-{n + 1}-after-a-key")
        moved += 1
    assert moved >= 1, "no demo has a slider"
    assert problems(page.evaluate(CODE_CELLS_JS)) == []
    assert page.errors == []


def write_cell(page: Any, cell: Any, code: str) -> None:
    """Replace the code in ``cell`` as a student does: click in it, select everything, type."""
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(code)


@needs_chromium
def test_exercise_check_answers_in_the_page(page: Any, lab: Lab, lab_root: Path) -> None:
    open_notebook(page, lab, EXERCISE)
    sources = code_sources(lab_root / EXERCISE)
    check = sources.index("check_relu(relu)")
    stub = check - 1
    assert "def relu" in sources[stub]
    cells = run_all(page)
    assert problems(cells) == []
    assert "relu: not attempted yet" in cells[check]["outputs"][0]["text"]

    code_cells = page.locator(".jp-NotebookPanel .jp-CodeCell")
    answers = [
        ("def relu(x): return x", "✘ relu: not yet. Off at input -3", "wrong"),
        ("def relu(x): return x.clamp(min=0)", "✔ relu: correct.", "right"),
    ]
    for code, verdict, name in answers:
        write_cell(page, code_cells.nth(stub), code)
        page.keyboard.press("Shift+Enter")  # runs the answer and moves to the check cell below
        page.keyboard.press("Shift+Enter")  # runs the check
        feedback = code_cells.nth(check).locator(".jp-OutputArea-output")
        feedback.filter(has_text=verdict).wait_for(timeout=20000)
        shoot(code_cells.nth(check), f"exercise-check-{name}-answer")
    assert problems(page.evaluate(CODE_CELLS_JS)) == []
    assert page.errors == []


# Records every figure the training cell shows, and whether the cell was still running then.
WATCH_FIGURE_JS = """([i]) => {
    const cell = document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell')[i];
    window.figures = [];
    const record = () => {
        const running = cell.querySelector('.jp-InputPrompt').textContent.includes('*');
        for (const img of cell.querySelectorAll('.jp-OutputArea-output img')) {
            if (!window.figures.some(f => f.src === img.src)) { window.figures.push({src: img.src, running}); }
        }
    };
    new MutationObserver(record).observe(cell, {subtree: true, childList: true, attributes: true});
}"""


@needs_chromium
def test_lab_training_figure_is_live(page: Any, lab: Lab, lab_root: Path) -> None:
    open_notebook(page, lab, LAB_NOTEBOOK)
    assert page.locator(".jp-NotebookPanel .jp-KernelName").inner_text().strip() == KERNEL_DISPLAY_NAME
    fit = next(i for i, source in enumerate(code_sources(lab_root / LAB_NOTEBOOK)) if "trainer.fit(" in source)
    page.evaluate(WATCH_FIGURE_JS, [fit])
    cells = run_all(page, timeout_s=150)
    shoot(page.locator(".jp-NotebookPanel .jp-CodeCell").nth(fit), "lab-training-figure")
    assert problems(cells) == []
    figures = page.evaluate("window.figures")
    during = [f for f in figures if f["running"]]
    assert len(during) >= 2, (
        f"the training figure should appear and change while {LAB_EPOCHS} epochs train; "
        f"saw {len(during)} figure(s) during training and {len(figures) - len(during)} after"
    )
    final = page.evaluate(IMAGES_JS, [fit])
    assert final, "the training figure disappeared when training ended"
    assert page.errors == []


# ---------------------------------------------------------------------------
# Launch links, the Binder environment and the set-up cell (no browser)


def test_student_notebook_links_point_at_files_that_exist() -> None:
    """Every exercise page links its student copy in Colab and Binder; each link's file is in the repository."""
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    slug, branch = repo["url"].removeprefix("https://github.com/").rstrip("/"), repo["branch"]
    prefixes = {
        "colab": f"https://colab.research.google.com/github/{slug}/blob/{branch}/",
        "binder": f"https://mybinder.org/v2/gh/{slug}/{branch}?labpath=",
    }
    exercises = sorted((ROOT / "exercises").glob("*.ipynb"))
    assert exercises
    for notebook in exercises:
        text = "".join("".join(c["source"]) for c in read_notebook(notebook)["cells"] if c["cell_type"] == "markdown")
        links = re.findall(r"\]\((https://[^)\s]+)\)", text)
        for service, prefix in prefixes.items():
            targets = [link.removeprefix(prefix) for link in links if link.startswith(prefix)]
            assert targets, f"{notebook.name} has no {service} link to its student notebook"
            for target in targets:
                assert target == f"student/exercises/{notebook.name}", f"{notebook.name}: {service} opens {target}"
                assert (ROOT / target).is_file(), f"{notebook.name}: {service} opens {target}, which does not exist"


def pins(path: Path) -> dict[str, str]:
    """``{name: version}`` for every ``name==version`` line of a requirements file."""
    found = re.findall(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)", path.read_text(), re.MULTILINE)
    return {name.lower(): version for name, version in found}


def test_binder_installs_the_cpu_torch_and_the_books_pins() -> None:
    binder_file = ROOT / "binder" / "requirements.txt"
    binder, book = pins(binder_file), pins(ROOT / "requirements.txt")
    assert binder["torch"] == book["torch"].split("+")[0] + "+cpu", "Binder must install the CPU build of torch"
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in binder_file.read_text()
    for name, version in binder.items():
        if name != "torch":
            assert book.get(name) == version, f"binder pins {name}=={version}, requirements.txt {book.get(name)}"
    assert {"ipywidgets", "jupyterlab", "matplotlib", "numpy", "plotly"} <= binder.keys()


def test_setup_cell_keeps_the_installed_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where torch is installed (Colab), the set-up cell's pip command installs d2lmini and no torch.

    The cell runs here as if d2lmini were missing, with its commands captured; its pip command then
    runs for real as a dry run, with this checkout in place of the repository's git address.
    """
    commands: list[list[str]] = []
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "d2lmini" else find_spec(name, *a)
    )
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kwargs: commands.append(cmd))
    exec(setup_source(), {})
    monkeypatch.undo()
    pip = next(cmd for cmd in commands if cmd[1:4] == ["-m", "pip", "install"])
    package = f"d2lmini @ git+{repository()['url']}"
    assert package in pip, f"the set-up cell no longer installs {package!r}: {pip}"
    local = [f"d2lmini @ {ROOT.as_uri()}" if arg == package else arg for arg in pip]
    dry_run = [sys.executable, *local[1:4], "--dry-run", "--report", "-", "--no-build-isolation", *local[4:]]
    result = subprocess.run(dry_run, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    installs = {item["metadata"]["name"].lower() for item in json.loads(result.stdout)["install"]}
    assert importlib.util.find_spec("torch") is not None
    assert "torch" not in installs and not any(name.startswith("nvidia") for name in installs), installs
    assert "d2lmini" in installs
