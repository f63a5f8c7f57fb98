"""The report as a browser shows it: headless Chromium through Playwright, never a downloaded browser."""
from pathlib import Path

import pytest

from helpers import CASES, ROOT

from grader.engine import grade
from grader.report import render_class_overview, render_report

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "reports" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1000, "height": 900}
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                      "(CI installs it with apt-get install chromium)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright for Python (pip install playwright; "
                                                              "no `playwright install`: the system chromium is used)")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def example_grade():
    return grade(ROOT / "examples" / "submission", CASES)


@pytest.fixture(scope="module")
def report_file(example_grade, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_report(example_grade), encoding="utf-8")
    return path


class Page:
    """A page opened on a local file that records console errors, page errors and every request."""

    def __init__(self, browser, path, viewport):
        self.context = browser.new_context(viewport=viewport)
        self.page = self.context.new_page()
        self.errors, self.requests = [], []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.as_uri())
        self.page.wait_for_load_state("load")

    def no_horizontal_scroll(self):
        return self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    def screenshot(self, name):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / name), full_page=True)

    def close(self):
        self.context.close()


@pytest.fixture
def open_page(browser):
    pages = []

    def opener(path, viewport):
        page = Page(browser, path, viewport)
        pages.append(page)
        return page

    yield opener
    for page in pages:
        page.close()


def test_desktop_report_shows_score_failure_diagnosis_and_heatmap_without_errors(open_page, report_file,
                                                                                  example_grade):
    view = open_page(report_file, DESKTOP)
    page = view.page
    score = page.locator("#score")
    assert score.is_visible() and score.inner_text().startswith(f"{example_grade.score:g} / {example_grade.possible:g}")
    failing = page.locator("#max-pool-backward-two-tied-maxima")
    failing.scroll_into_view_if_needed()
    assert failing.is_visible() and "wrong answer" in failing.inner_text()
    diagnosis = failing.locator(".diagnosis")
    assert diagnosis.is_visible() and "tie rule 'first' instead of 'all'" in diagnosis.inner_text()
    hint = page.locator("#fix-first")
    assert hint.is_visible() and "every tied maximum receives the full upstream gradient" in hint.inner_text()
    heatmap = failing.locator(".heatmap svg").first
    assert heatmap.is_visible() and heatmap.bounding_box()["width"] > 40
    assert failing.locator("circle.tie-marker").count() == 6
    assert view.errors == []
    assert [url for url in view.requests if not url.startswith("file://")] == []
    assert view.no_horizontal_scroll()
    view.screenshot("report-desktop.png")


def test_phone_report_has_no_horizontal_page_scroll(open_page, report_file):
    view = open_page(report_file, PHONE)
    page = view.page
    assert view.no_horizontal_scroll()
    assert page.locator("#score").is_visible()
    failing = page.locator("#softmax-loss-large-scores")
    failing.scroll_into_view_if_needed()
    assert failing.is_visible()
    box = failing.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert view.errors == []
    view.screenshot("report-phone.png")


def test_printed_report_hides_the_contents_and_keeps_every_case(open_page, report_file, example_grade):
    view = open_page(report_file, DESKTOP)
    view.page.emulate_media(media="print")
    assert not view.page.locator("nav.toc").is_visible()
    assert view.page.locator("article.case").count() == len([c for c in example_grade.cases
                                                             if not c.passed and not c.case.hidden])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    view.page.pdf(path=str(SCREENSHOTS / "report-print.pdf"), format="A4", print_background=True)
    assert (SCREENSHOTS / "report-print.pdf").stat().st_size > 10000


def test_class_overview_renders_without_errors_on_desktop_and_phone(open_page, tmp_path):
    from test_report import overview_context
    path = tmp_path / "overview.html"
    path.write_text(render_class_overview(overview_context()), encoding="utf-8")
    for viewport, name in ((DESKTOP, "overview-desktop.png"), (PHONE, "overview-phone.png")):
        view = open_page(path, viewport)
        assert view.page.locator("#histogram svg rect.hist-bar").count() == 2
        assert view.page.get_by_role("link", name="<b>Eve</b>").is_visible()
        assert view.no_horizontal_scroll() and view.errors == []
        view.screenshot(name)

