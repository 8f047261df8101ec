"""The student's path in a real browser: an exercise in JupyterLab, checked and fixed.

JupyterLab (pinned, from the venv) serves a temporary folder holding a copy of the
released warm-up, as a student has it after unzipping the download. Chromium, driven by
Playwright, opens the notebook and does what the notebook asks: *Run All Cells* on the
blank notebook (the first answer raises NotImplementedError), a wrong answer typed into
a cell (its public check fails with its message), then the instructor's answers
(written to disk, reloaded in JupyterLab), *Restart Kernel and Run All Cells* (no error
anywhere) and nbgrader's *Validate* button (success).
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from conftest import VENV_BIN, free_port, nbgrader_env, screenshot_dir
from playwright.sync_api import expect

from dustcourse.submissions import make_submission

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "ps0-warmup"
RELEASE = ROOT / "exercises" / ASSIGNMENT
SOURCE = ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
NOTEBOOK = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"  # inside the folder JupyterLab serves
KERNEL_TIMEOUT = 120_000  # ms: a cold kernel on a busy 2-core machine can be slow

# The student's JupyterLab settings: every cell kept in the page (no windowing, so
# the test can read any cell), no news prompt, no autosave racing the test's own writes.
LAB_SETTINGS = {
    "notebook-extension/tracker": {"windowingMode": "none"},
    "apputils-extension/notification": {"fetchNews": "false"},
    "docmanager-extension/plugin": {"autosave": False},
}

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@dataclass
class Lab:
    url: str
    token: str
    folder: Path
    log: Path
    external: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory, request) -> Lab:
    """JupyterLab on 127.0.0.1 (random port, a token) in a folder with the exercise."""
    import json

    root = tmp_path_factory.mktemp("jupyterlab")
    folder, home = root / "student", root / "home"
    shutil.copytree(RELEASE, folder / ASSIGNMENT)
    for name, values in LAB_SETTINGS.items():
        path = home / ".jupyter/lab/user-settings/@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    port, token = free_port(), secrets.token_hex(16)
    log = root / "jupyterlab.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                str(VENV_BIN / "jupyter-lab"), "--no-browser", "--allow-root",
                "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
                # nothing fetched from outside: no update check, no news, no PyPI search
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
            ],
            cwd=folder, env=nbgrader_env(home), stdout=out, stderr=subprocess.STDOUT,
        )

    def shut_down() -> None:  # JupyterLab stops its kernels when it is terminated
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    request.addfinalizer(shut_down)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("JupyterLab did not start:\n" + log.read_text()[-3000:])
            time.sleep(0.25)
    return Lab(url, token, folder, log)


@pytest.fixture(scope="module")
def page(browser, jupyterlab):
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def outside(route) -> None:  # record and refuse anything not for JupyterLab
        jupyterlab.external.append(route.request.url)
        route.abort()

    context.route(re.compile(r"^(?!" + re.escape(jupyterlab.url) + r"|data:|blob:).*"), outside)
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


# --- what a student does in JupyterLab ----------------------------------------------

# The kernel is connected and idle (the status bar says "<kernel name> | Idle"; the
# toolbar's indicator alone says idle before the kernel has connected), and no cell
# waits to run.
IDLE = """() => {
  const bar = document.querySelector('#jp-main-statusbar');
  const kernel = document.querySelector('.jp-Notebook-ExecutionIndicator');
  const running = [...document.querySelectorAll('.jp-Notebook .jp-InputPrompt')]
    .some(p => p.textContent.includes('*'));
  return bar && /\\|\\s*Idle/.test(bar.textContent) && kernel
    && kernel.dataset.status === 'idle' && !running;
}"""


def cell_index() -> dict[str, int]:
    """grade id -> position of the cell in the notebook (and in JupyterLab's page)."""
    nb = nbformat.read(RELEASE / f"{ASSIGNMENT}.ipynb", as_version=4)
    return {c.metadata.get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(nb.cells)}


def cell_selector(grade_id: str) -> str:
    return f'.jp-Notebook .jp-Cell[data-windowed-list-index="{cell_index()[grade_id]}"]'


def output_of(page, grade_id: str) -> str:
    area = page.locator(f"{cell_selector(grade_id)} .jp-OutputArea")
    return area.text_content() if area.count() else ""


def wait_until_run(page, grade_id: str) -> None:
    """Wait until the kernel is idle and the cell ``grade_id`` has an execution count."""
    prompt = f"{cell_selector(grade_id)} .jp-InputPrompt"
    page.wait_for_function(
        f"() => ({IDLE})() && /\\[\\d+\\]/.test(document.querySelector('{prompt}').textContent)",
        timeout=KERNEL_TIMEOUT,
    )


def menu(page, title: str, command: str) -> None:
    """Click ``title`` in JupyterLab's menu bar, then the item for ``command``."""
    page.locator("#jp-MainMenu").get_by_text(title, exact=True).click()
    page.locator(f'li.lm-Menu-item[data-command="{command}"]').click()


def accept_dialog(page) -> str:
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    text = dialog.text_content()
    dialog.locator(".jp-mod-accept").click()
    dialog.wait_for(state="detached")
    return text


def shot(page, name: str) -> None:
    folder = screenshot_dir()
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=folder / f"jupyterlab-{name}.png")


def test_student_runs_the_checks_and_fixes_the_answers(jupyterlab, page):
    index = cell_index()
    answers = [g for g in index if g and not g.endswith("_tests") and g.startswith("q")]
    assert "q1_figures_per_article" in answers

    # 1. Open the notebook and wait for its kernel.
    page.goto(f"{jupyterlab.url}/lab/tree/{NOTEBOOK}?token={jupyterlab.token}")
    page.wait_for_function(IDLE, timeout=KERNEL_TIMEOUT)

    # 2. Run -> Run All Cells on the blank notebook: the first answer cell raises
    #    NotImplementedError, and JupyterLab stops there, as it does for a student.
    menu(page, "Run", "runmenu:run-all")
    wait_until_run(page, "q1_figures_per_article")
    assert "NotImplementedError" in output_of(page, "q1_figures_per_article")
    page.locator(cell_selector("q1_figures_per_article")).scroll_into_view_if_needed()
    shot(page, "1-blank-run-all")

    # 3. Type a wrong answer, run it and its check (Shift+Enter twice): the public
    #    check fails with the message of its assert.
    page.locator(f"{cell_selector('q1_figures_per_article')} .cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text("figures_per_article = len(figures)")
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    wait_until_run(page, "q1_figures_per_article_tests")
    check = output_of(page, "q1_figures_per_article_tests")
    assert "AssertionError" in check
    assert "figures_per_article should be a pandas Series" in check
    shot(page, "2-wrong-answer")

    # 4. The answers: the instructor's solutions written into the student's file, then
    #    File -> Reload Notebook from Disk, and Run -> Restart Kernel and Run All Cells.
    solved = make_submission(RELEASE / f"{ASSIGNMENT}.ipynb", SOURCE)
    nbformat.write(solved, jupyterlab.folder / NOTEBOOK)
    menu(page, "File", "docmanager:reload")
    assert "reload" in accept_dialog(page).lower()
    expect(page.locator(f"{cell_selector('q1_figures_per_article')} .cm-content")).to_contain_text(
        "value_counts")  # the reloaded answer (JupyterLab updates the page asynchronously)
    menu(page, "Run", "runmenu:restart-and-run-all")
    assert "restart" in accept_dialog(page).lower()
    last_code = max(i for i, c in enumerate(solved.cells) if c.cell_type == "code")
    last = next(g for g, i in index.items() if i == last_code)
    wait_until_run(page, last)

    # Every code cell ran, and no cell shows an error: every public check passes.
    prompts = page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").all_text_contents()
    assert prompts and all(re.search(r"\[\d+\]", p) for p in prompts), prompts
    errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    assert errors.count() == 0, errors.all_text_contents()[:3]
    for grade_id in index:
        if grade_id and grade_id.endswith("_tests"):
            assert "Error" not in output_of(page, grade_id), grade_id
    assert re.search(r"\d\.\d+", output_of(page, "q2_implied_rate")), "the rate is shown"
    page.locator(cell_selector("q2_implied_rate")).scroll_into_view_if_needed()
    shot(page, "3-solved")

    # 5. nbgrader's Validate button (the notebook's own advice before submitting).
    page.locator(".jp-NotebookPanel-toolbar").get_by_role("button", name="Validate").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    page.wait_for_function(
        "() => !/validating/i.test(document.querySelector('.jp-Dialog').textContent)",
        timeout=KERNEL_TIMEOUT,
    )
    assert "Success! Your notebook passes all the tests." in dialog.text_content()
    shot(page, "4-validate")
    dialog.locator(".jp-mod-accept").click()

    # Nothing the student's browser asked for left this machine.
    assert not jupyterlab.external, jupyterlab.external
