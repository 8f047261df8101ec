"""The published book in a real browser: Debian's Chromium, driven by Playwright.

The built HTML (``DUSTCOURSE_BOOK_HTML``, default ``_build/html``) is served by a
local static server. Every page of the table of contents is visited once, from the
site root, and everything is recorded during that visit: console errors, failed and
external requests, links, images, glued values, the accessibility audit (axe-core) and
the contrast of the body text in light and in dark mode, a screenshot of each mode
(``<html>/../test-screenshots/``) and the exercise zips the page offers. The tests
below then judge those records, so a failure names the page and what went wrong.
"""

from __future__ import annotations

import re
import shutil
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
import yaml
from conftest import StaticServer, book_html, screenshot_dir

from dustcourse import data

ROOT = Path(__file__).resolve().parent.parent
HTML = book_html()
SCREENSHOTS = screenshot_dir()
EXERCISES = ROOT / "exercises"
MODES = ("light", "dark")
BLOCKING = {"serious", "critical"}  # axe-core impacts that fail the test
COLOUR_RULES = ["color-contrast", "link-in-text-block"]  # what changes with the colour mode
SHOT_HEIGHT = 8000  # px: the top of a long page is enough to judge it, and much faster
# Search queries a reader would type, and the page each must find (a later chapter
# adds its own query here).
SEARCHES = {"exchange rate": "book/data.html", "migrant": "book/rural-migration.html"}

pytestmark = pytest.mark.browser


def toc() -> list[tuple[str, str]]:
    """(caption of the part, page) for every page of _toc.yml, the root first."""
    spec = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    pages = [("", f"{spec['root']}.html")]
    for part in spec.get("parts", []):
        pages += [(part.get("caption", ""), f"{c['file']}.html") for c in part.get("chapters", [])]
    return pages


def assignments() -> list[str]:
    return sorted(p.name for p in EXERCISES.iterdir() if p.is_dir())


@dataclass
class Visit:
    """What one visit of one page recorded."""

    page: str
    url: str = ""
    problems: list[str] = field(default_factory=list)  # console/page errors, failed requests
    external: list[str] = field(default_factory=list)  # requests that left the local server
    facts: dict = field(default_factory=dict)  # links, ids, images, text... (see COLLECT)
    axe: dict[str, list[str]] = field(default_factory=dict)  # mode -> blocking violations
    colours: dict[str, dict] = field(default_factory=dict)  # mode -> text/background colours
    screenshots: dict[str, Path] = field(default_factory=dict)
    zips: dict[str, list[str]] = field(default_factory=dict)  # downloaded zip -> its names


# Everything read off a page in one round trip.
COLLECT = """() => {
  const visible = e => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
  const background = e => {
    for (; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      if (c && c !== 'transparent' && !/rgba\\(.*,\\s*0\\)$/.test(c)) return c;
    }
    return getComputedStyle(document.documentElement).backgroundColor;
  };
  const main = document.querySelector('main') || document.body;
  const paragraph = main.querySelector('article p') || main.querySelector('p') || main;
  return {
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
    images: [...document.querySelectorAll('img')].map(i => ({
      src: i.currentSrc || i.src, alt: (i.getAttribute('alt') || '').trim(),
      loaded: i.complete && i.naturalWidth > 0})),
    glued: [...main.querySelectorAll('.pasted-text, .pasted-inline')].map(e => ({
      text: e.textContent.trim(), visible: visible(e),
      folded: !!e.closest('details:not([open]), .dropdown, .toggle-hidden')})),
    math: main.querySelectorAll('.math').length,
    typeset: main.querySelectorAll('mjx-container').length,
    text: main.innerText.replace(/\\s+/g, ' '),
    downloads: [...document.querySelectorAll('a.download[href]')].map(a => a.href),
    theme: document.documentElement.dataset.theme,
    colour: getComputedStyle(paragraph).color,
    background: background(paragraph),
  };
}"""


def shot_name(page: str, mode: str) -> str:
    return f"{page.removesuffix('.html').replace('/', '__')}-{mode}.png"


class Recorder:
    """Listens to a browser context and files what happens under the current page."""

    def __init__(self, context, base: str):
        self.base, self.visit = base, None
        context.on("console", self._console)
        context.on("page", lambda page: page.on(
            "pageerror", lambda error: self._problem(f"page error: {error}")))
        context.on("requestfailed", lambda r: self._problem(
            f"request failed: {r.url} ({r.failure})"))
        context.on("response", lambda r: r.status >= 400 and self._problem(
            f"HTTP {r.status}: {r.url}"))
        # Nothing may leave the local server; such a request is recorded and never sent.
        context.route(re.compile(r"^(?!" + re.escape(base) + ").*"), self._external)

    def _problem(self, text: str) -> None:
        if self.visit is not None:
            self.visit.problems.append(text)

    def _console(self, message) -> None:
        if message.type in ("error", "warning"):
            self._problem(f"console {message.type}: {message.text} ({message.location})")

    def _external(self, route) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")):
            route.continue_()
            return
        if self.visit is not None:
            self.visit.external.append(url)
        route.abort()


def set_mode(page, mode: str) -> None:
    """Click the theme's colour-mode button until the page shows ``mode``."""
    button = page.locator(".theme-switch-button:visible").first
    for _ in range(3):
        if page.evaluate("document.documentElement.dataset.theme") == mode:
            break
        button.click()
    assert page.evaluate("document.documentElement.dataset.theme") == mode, mode
    page.mouse.move(0, 0)  # no hover and no focus: no tooltip in the screenshot
    page.evaluate("document.activeElement && document.activeElement.blur()")
    # The theme fades colours in (0.15 s transitions): measure them when they have settled.
    # Bounded: on a loaded machine a transition's promise has been seen never to settle.
    page.evaluate("""() => Promise.race([Promise.all(document.getAnimations()
        .filter(a => a instanceof CSSTransition).map(a => a.finished.catch(() => null))),
        new Promise(resolve => setTimeout(resolve, 3000))])""")


def audit(page, recorder: Recorder, rules: list[str] | None = None) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now (all rules,
    or only ``rules``)."""
    from axe_playwright_python.sync_playwright import Axe

    # axe fetches the stylesheets again itself, and resolves the theme's
    # `@import "../basic.css"` against the page instead of the stylesheet: its own
    # 404, not the book's, so its requests are not recorded.
    visit, recorder.visit = recorder.visit, None
    try:
        options = {"resultTypes": ["violations"]}
        if rules:
            options["runOnly"] = {"type": "rule", "values": rules}
        results = Axe().run(page, options=options).response
    finally:
        recorder.visit = visit
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"][:5])
        for v in results["violations"] if v["impact"] in BLOCKING
    ]


def visit_page(page, recorder: Recorder, base: str, path: str, *, modes=MODES,
               via: str | None = None, tmp: Path | None = None) -> Visit:
    """Load ``path`` (through ``via``, e.g. the site root that redirects to it) and
    record everything the tests judge. ``modes=()`` records errors and facts only."""
    visit = Visit(path)
    recorder.visit = visit
    page.goto(urljoin(base, via or path), wait_until="networkidle")
    visit.url = page.url
    if via:
        assert urldefrag(page.url).url == urljoin(base, path), f"{via} led to {page.url}"
    if page.locator(".math").count():
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("() => MathJax.startup.promise")
    visit.facts = page.evaluate(COLLECT)
    for mode in modes:
        set_mode(page, mode)
        facts = page.evaluate(COLLECT)
        visit.colours[mode] = {k: facts[k] for k in ("colour", "background", "theme")}
        # The first mode gets every rule; the other only those that colours decide.
        visit.axe[mode] = audit(page, recorder, None if mode == modes[0] else COLOUR_RULES)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / shot_name(path, mode)
        height = min(page.evaluate("document.documentElement.scrollHeight"), SHOT_HEIGHT)
        page.screenshot(path=shot, full_page=True, animations="disabled",
                        clip={"x": 0, "y": 0, "width": 1280, "height": height})
        visit.screenshots[mode] = shot
    if modes:  # back to the reader's default for the next page
        page.evaluate("localStorage.removeItem('mode'); localStorage.removeItem('theme')")
    zips = [h for h in visit.facts["downloads"] if urlparse(h).path.endswith(".zip")]
    for href in zips if tmp else []:
        with page.expect_download() as info:  # a click, as a reader downloads it
            tail = "/".join(urlparse(href).path.split("/")[-2:])  # <hash>/<name>.zip
            page.locator(f'a.download[href$="{tail}"]').first.click()
        download = info.value
        target = tmp / download.suggested_filename
        download.save_as(target)
        with zipfile.ZipFile(target) as archive:
            visit.zips[download.suggested_filename] = archive.namelist()
    page.wait_for_load_state("networkidle")
    recorder.visit = None
    return visit


@pytest.fixture(scope="module")
def site(browser, tmp_path_factory):
    """Visit every toc page once (the first through the site root), then search."""
    if not (HTML / "index.html").is_file():
        pytest.fail(f"no book in {HTML}: run `make book` (make test does it first)")
    missing = [page for _, page in toc() if not (HTML / page).is_file()]
    if missing:
        pytest.fail(f"{missing} in _toc.yml but not in {HTML}: rebuild the book (`make book`)")
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    downloads = tmp_path_factory.mktemp("downloads")
    with StaticServer(HTML) as base:
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, color_scheme="light", accept_downloads=True
        )
        recorder = Recorder(context, base)
        page = context.new_page()
        page.set_default_timeout(30_000)
        visits = {}
        for index, (_, path) in enumerate(toc()):
            visits[path] = visit_page(page, recorder, base, path, tmp=downloads,
                                      via="index.html" if index == 0 else None)
        searches = {}
        for query in SEARCHES:
            searches[query] = search(page, recorder, base, query)
        context.close()
        yield base, visits, searches  # the server stays up for the link and download checks


def search(page, recorder: Recorder, base: str, query: str) -> Visit:
    """Type ``query`` into the book's search box, as a reader does; record the results page."""
    visit = Visit(f"search: {query}")
    recorder.visit = visit
    page.goto(urljoin(base, toc()[0][1]), wait_until="networkidle")
    page.locator(".search-button-field:visible").first.click()
    box = page.locator('input[name="q"]:visible').first
    box.fill(query)
    box.press("Enter")
    page.wait_for_url("**/search.html?*")
    page.wait_for_function(
        "() => /found/i.test((document.querySelector('#search-results') || {}).textContent || '')"
    )
    visit.url = page.url
    visit.facts = {"results": page.evaluate(
        "[...document.querySelectorAll('#search-results ul a')].map(a => a.href)")}
    page.wait_for_load_state("networkidle")
    recorder.visit = None
    return visit


def all_visits(site) -> list[Visit]:
    _, visits, searches = site
    return [*visits.values(), *searches.values()]


def listing(found: dict[str, list[str]]) -> str:
    """Per page, what was found: an assertion message pytest does not shorten."""
    return "\n".join(f"{page}:\n  " + "\n  ".join(items) for page, items in found.items())


# --- the checks -------------------------------------------------------------------


def test_every_toc_page_loads_without_console_errors_or_failed_requests(site):
    problems = {v.page: v.problems for v in all_visits(site) if v.problems}
    assert not problems, listing(problems)


def test_no_request_leaves_the_local_server(site):
    """Math, search, fonts and scripts are all served by the book itself."""
    external = {v.page: v.external for v in all_visits(site) if v.external}
    assert not external, listing(external)


def test_math_is_typeset_locally(site):
    _, visits, _ = site
    with_math = {p: v.facts for p, v in visits.items() if v.facts["math"]}
    assert with_math, "no page has math: the local MathJax is not exercised"
    for page, facts in with_math.items():
        assert facts["typeset"] >= facts["math"], f"{page}: math not typeset by MathJax"


def test_every_internal_link_and_image_resolves(site):
    base, visits, _ = site
    ids = {urldefrag(v.url).url: set(v.facts["ids"]) for v in visits.values()}
    targets: dict[str, set[str]] = {}
    for v in visits.values():
        for href in v.facts["links"]:
            if href.startswith(base):
                url, fragment = urldefrag(href)
                targets.setdefault(url, set()).add(fragment)
        for image in v.facts["images"]:
            assert image["loaded"], f"{v.page}: image did not load: {image['src']}"
    broken = []
    for url, fragments in sorted(targets.items()):
        try:
            body = download(url).decode("utf-8", "replace")
        except OSError as exc:
            broken.append(f"{url}: {exc}")
            continue
        known = ids.get(url) or set(re.findall(r'\sid="([^"]+)"', body))
        broken += [f"{url}#{f}: no such anchor" for f in fragments if f and f not in known]
    assert not broken, "\n".join(broken)


def test_every_image_has_alt_text(site):
    _, visits, _ = site
    missing = [f"{v.page}: {i['src']}" for v in visits.values()
               for i in v.facts["images"] if not i["alt"]]
    assert not missing, "\n".join(missing)


def test_glued_values_are_visible(site):
    _, visits, _ = site
    for page, v in visits.items():
        for glued in v.facts["glued"]:
            assert glued["text"], f"{page}: empty glued value"
            assert glued["visible"] or glued["folded"], f"{page}: hidden glued value {glued}"
        assert not re.search(r"np\.(float|int)\d*\(", v.facts["text"]), page


def test_glued_numbers_of_the_data_chapter_are_rendered(site):
    """The sentences tests/test_book.py reads in the HTML, as the browser shows them."""
    _, visits, _ = site
    text = visits["book/data.html"].facts["text"]
    figures = data.load("article_figures")
    counts = figures["article"].value_counts()
    assert (f"holds {len(figures)} figures: {counts['newschina']} printed by NewsChina "
            f"and {counts['vice']} by VICE") in text
    assert f"There are {len(data.load('corrections'))} such rows" in text
    assert f"{figures['pair'].nunique()} pairs" in text


@pytest.mark.parametrize("mode", MODES)
def test_no_serious_accessibility_violations(site, mode):
    _, visits, _ = site
    violations = {p: v.axe[mode] for p, v in visits.items() if v.axe.get(mode)}
    assert not violations, listing(violations)


def luminance(css: str) -> float:
    r, g, b = (int(x) / 255 for x in re.findall(r"[\d.]+", css)[:3])
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


@pytest.mark.parametrize("mode", MODES)
def test_body_text_is_readable_in_light_and_dark_mode(site, mode):
    _, visits, _ = site
    for page, v in visits.items():
        colours = v.colours[mode]
        assert colours["theme"] == mode, page
        text, back = luminance(colours["colour"]), luminance(colours["background"])
        ratio = (max(text, back) + 0.05) / (min(text, back) + 0.05)
        assert ratio >= 7, f"{page} ({mode}): contrast {ratio:.1f} of {colours}"
        assert (back > 0.5) if mode == "light" else (back < 0.1), f"{page}: {colours}"


def test_screenshots_of_every_page_in_both_modes(site):
    _, visits, _ = site
    for v in visits.values():
        for mode in MODES:
            shot = v.screenshots[mode]
            assert shot.stat().st_size > 10_000, shot  # a real page, not a blank one


@pytest.mark.parametrize("query", sorted(SEARCHES))
def test_search_finds_the_chapter(site, query):
    base, _, searches = site
    results = searches[query].facts["results"]
    assert urljoin(base, SEARCHES[query]) in [urldefrag(r).url for r in results], results


def test_every_chapter_links_its_exercise(site):
    """Each chapter (not the welcome page, not the back matter) offers its exercise:
    a zip of the exercise folder, or at least the notebook."""
    _, visits, _ = site
    chapters = [page for caption, page in toc()[1:] if caption.lower() != "back matter"]
    assert chapters
    for page in chapters:
        offered = [urlparse(h).path for h in visits[page].facts["downloads"]]
        assert [p for p in offered if p.endswith((".zip", ".ipynb"))], f"{page}: no exercise"


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


@pytest.mark.parametrize("assignment", assignments())
def test_exercise_downloads_with_its_data(site, assignment):
    """exercises/<a>/ as it is, from the book: the zip (downloaded through the browser)
    holds the notebook and its data; without a zip, the page that links the notebook
    links every data file too, each served byte for byte."""
    _, visits, _ = site
    folder = EXERCISES / assignment
    files = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*")
             if p.is_file() and ".ipynb_checkpoints" not in p.parts}
    assert f"{assignment}.ipynb" in files
    assert any(re.fullmatch(r"data/[^/]+\.csv", f) for f in files), files
    zips = {name: names for v in visits.values() for name, names in v.zips.items()}
    if f"{assignment}.zip" in zips:
        assert set(zips[f"{assignment}.zip"]) == {f"{assignment}/{f}" for f in files}
        return
    pages = [v for v in visits.values() if any(
        urlparse(h).path.endswith(f"/{assignment}.ipynb") for h in v.facts["downloads"])]
    assert pages, f"no page of the book links {assignment}.zip or {assignment}.ipynb"
    links = {urlparse(h).path.rsplit("/", 1)[-1]: h for h in pages[0].facts["downloads"]}
    for relative, path in files.items():
        name = relative.rsplit("/", 1)[-1]
        assert name in links, f"{pages[0].page} does not link {relative} of {assignment}"
        assert download(links[name]) == path.read_bytes(), links[name]


def test_a_broken_page_fails_these_checks(browser, tmp_path):
    """The checks can fail: a script error, a missing image and a CDN script planted in
    a copy of the book are each caught."""
    if not (HTML / "index.html").is_file():
        pytest.fail(f"no book in {HTML}: run `make book`")
    copy = tmp_path / "html"
    shutil.copytree(HTML, copy)
    page_path = toc()[-1][1]
    target = copy / page_path
    planted = ('<script>window.noSuchFunction();</script>'
               '<img src="no-such-image.png" alt="planted">'
               '<script src="https://cdn.example.invalid/lib.js"></script></body>')
    target.write_text(target.read_text(encoding="utf-8").replace("</body>", planted, 1),
                      encoding="utf-8")
    with StaticServer(copy) as base:
        context = browser.new_context()
        recorder = Recorder(context, base)
        visit = visit_page(context.new_page(), recorder, base, page_path, modes=())
        context.close()
    site = (base, {page_path: visit}, {})
    with pytest.raises(AssertionError, match="noSuchFunction"):
        test_every_toc_page_loads_without_console_errors_or_failed_requests(site)
    assert any("no-such-image.png" in p for p in visit.problems), visit.problems
    with pytest.raises(AssertionError, match=re.escape("cdn.example.invalid")):
        test_no_request_leaves_the_local_server(site)
