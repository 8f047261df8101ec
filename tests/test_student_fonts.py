"""Chinese text in the students' plots: the course kernel's fonts, in a kernel and in a browser.

A student's plot with a Chinese title used to show empty boxes ("tofu") and one
"Glyph ... missing from font(s) DejaVu Sans" warning per character, because only the
book set a font with Chinese glyphs. The course kernel (registered by scripts/setup.sh)
now reads the course's matplotlibrc, so every notebook run with it (an exercise in
JupyterLab, `dustcourse check`, the graders) plots 汉字 with nothing in the notebook.

The proof is the picture itself: the PNG the kernel sends is compared with the same
figure rendered here with the course fonts (identical) and with matplotlib's default
font alone (the tofu rendering: different).
"""

from __future__ import annotations

import base64
import io
import json
import re
import warnings
from pathlib import Path

import matplotlib as mpl
import nbformat
import numpy as np
import pytest
from conftest import VENV_BIN, nbgrader_env

ROOT = Path(__file__).resolve().parent.parent
MATPLOTLIBRC = ROOT / "dustcourse" / "matplotlibrc"
TITLE = "隐入尘烟 票房"
# What a student writes: no font set-up, the notebook's default (inline) backend.
STUDENT_CELL = f"""import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(4, 1.2))
ax.set_title("{TITLE}")
ax.axis("off")
plt.show()"""
# What the kernel says about the font it used for the title (printed, then parsed).
FONT_CELL = """import json
from pathlib import Path
from matplotlib import font_manager
_props = fig.axes[0].title.get_fontproperties()
print("FONTS=" + json.dumps([Path(p).name for p in
      font_manager.fontManager._find_fonts_by_props(_props)]))"""


def course_fonts() -> list[str]:
    return list(mpl.rc_params_from_file(MATPLOTLIBRC, use_default_template=False)["font.family"])


def render(family: list[str]) -> np.ndarray:
    """The student's figure rendered here, with matplotlib's defaults and ``family``."""
    import matplotlib.pyplot as plt

    with mpl.rc_context(), warnings.catch_warnings():
        mpl.rcdefaults()
        mpl.rcParams["font.family"] = family
        warnings.simplefilter("ignore")  # the tofu rendering warns, by design
        fig, ax = plt.subplots(figsize=(4, 1.2))
        ax.set_title(TITLE)
        ax.axis("off")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")  # what the inline backend does
        plt.close(fig)
    return pixels(buffer.getvalue())


def pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)


def assert_shows_chinese(png: bytes) -> None:
    """The PNG is the course-font rendering, not the tofu one."""
    shown, good, tofu = pixels(png), render(course_fonts()), render(["DejaVu Sans"])
    assert tofu.shape != good.shape or np.abs(tofu - good).mean() > 1, "cannot tell them apart"
    assert shown.shape == good.shape and np.abs(shown - good).mean() < 0.5, (
        "the plot does not match the rendering with the course's CJK font"
    )
    assert shown.shape != tofu.shape or np.abs(shown - tofu).mean() > 1, "the title is tofu"


def test_the_course_kernel_reads_the_course_matplotlibrc():
    spec = json.loads((VENV_BIN.parent / "share/jupyter/kernels/python3/kernel.json").read_text())
    assert Path(spec["env"]["MATPLOTLIBRC"]).resolve() == MATPLOTLIBRC.resolve()
    fonts = course_fonts()
    assert any("CJK" in f for f in fonts) and fonts[0] == "DejaVu Sans"
    from dustcourse import book

    assert fonts == book.FONT_FAMILY, "the book and the students use the same fonts"


def test_no_exercise_overrides_the_fonts():
    """Nothing in an exercise folder (a matplotlibrc, a font setting) shadows the course's."""
    for folder in (ROOT / "exercises").iterdir():
        if folder.is_dir():
            assert not (folder / "matplotlibrc").exists()
            for notebook in folder.glob("*.ipynb"):
                text = notebook.read_text()
                assert not re.search(r"font\.family|rcParams\[.font", text), notebook


@pytest.mark.slow
def test_a_students_plot_in_the_course_kernel_shows_chinese(tmp_path):
    """A real kernel of the course environment, started as JupyterLab starts it."""
    from jupyter_client.manager import start_new_kernel

    home = tmp_path / "home"
    home.mkdir()
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path), env=nbgrader_env(home))
    try:
        outputs = []
        for code in (STUDENT_CELL, FONT_CELL):
            msg_id = kc.execute(code)
            while True:
                msg = kc.get_iopub_msg(timeout=120)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    break
                outputs.append(msg)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
    assert "Glyph" not in text and "missing from font" not in text, text
    fonts = json.loads(re.search(r"FONTS=(.*)", text).group(1))
    assert any(f.startswith("NotoSansCJK") for f in fonts), fonts
    images = [m["content"]["data"]["image/png"] for m in outputs
              if m["msg_type"] == "display_data" and "image/png" in m["content"]["data"]]
    assert len(images) == 1
    assert_shows_chinese(base64.b64decode(images[0]))


def test_a_students_plot_graded_in_the_sandbox_shows_chinese():
    """The grading sandbox clears the environment and hides the course folder: it passes
    the course's matplotlibrc on itself (MATPLOTLIBRC, the one file bound read-only), so a
    graded plot uses the same fonts as the student's JupyterLab."""
    from dustcourse.grading.execute import execute_notebook
    from dustcourse.grading.sandbox import Limits

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(STUDENT_CELL),
        nbformat.v4.new_code_cell(FONT_CELL),
        nbformat.v4.new_code_cell("import os, matplotlib\n"
                                  "print('RC=' + matplotlib.matplotlib_fname())\n"
                                  "print('ENV=' + os.environ.get('MATPLOTLIBRC', ''))"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    result = execute_notebook(nbformat.writes(nb), limits=Limits(cell_timeout=180),
                              hide=(str(ROOT),))
    assert result.status == "ok", result.reason
    outputs = [o for c in nbformat.reads(result.notebook, as_version=4).cells for o in c.outputs]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "Glyph" not in text and "missing from font" not in text, text
    assert f"RC={MATPLOTLIBRC.resolve()}" in text and f"ENV={MATPLOTLIBRC.resolve()}" in text, text
    fonts = json.loads(re.search(r"FONTS=(.*)", text).group(1))
    assert any(f.startswith("NotoSansCJK") for f in fonts), fonts
    images = [o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1
    assert_shows_chinese(base64.b64decode(images[0]))


# --- the same in the student's JupyterLab, in Chromium ------------------------------

from test_browser_student import (  # noqa: E402  (the student's JupyterLab and page)
    ASSIGNMENT,
    IDLE,
    KERNEL_TIMEOUT,
    jupyterlab,  # noqa: F401  (fixture)
    menu,
    page,  # noqa: F401  (fixture)
    shot,
)


@pytest.mark.browser
@pytest.mark.slow
def test_a_students_plot_in_jupyterlab_shows_chinese(jupyterlab, page):  # noqa: F811
    """A notebook beside the exercise, with the student's plot, run in JupyterLab."""
    name = f"{ASSIGNMENT}/chinese-plot.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(STUDENT_CELL)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, jupyterlab.folder / name)

    page.goto(f"{jupyterlab.url}/lab/tree/{name}?token={jupyterlab.token}")
    page.wait_for_function(IDLE, timeout=KERNEL_TIMEOUT)
    menu(page, "Run", "runmenu:run-all")
    page.wait_for_function(
        f"() => ({IDLE})() && /\\[\\d+\\]/.test("
        "document.querySelector('.jp-Notebook .jp-CodeCell .jp-InputPrompt').textContent)",
        timeout=KERNEL_TIMEOUT,
    )
    image = page.locator(".jp-Notebook .jp-OutputArea-output img")
    image.wait_for()
    shot(page, "chinese-plot")
    stderr = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    assert stderr.count() == 0, stderr.all_text_contents()[:3]
    src = image.get_attribute("src")
    assert src.startswith("data:image/png;base64,")
    assert_shows_chinese(base64.b64decode(src.split(",", 1)[1]))
