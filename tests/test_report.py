"""The HTML report, the Gradescope summary and the class overview: what students and instructors see."""
import copy
import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from helpers import CASES, ROOT, edit_submission, write_solution

from grader.cases import load_manifest
from grader.engine import grade
from grader.outputs import write_outputs
from grader.report import render_class_overview, render_gradescope_summary, render_report
from grader.report.render import report_link

SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(1)>"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


# A small DOM, from the standard library's parser ---------------------------------------

class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def iter(self):
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.iter()

    def find_all(self, tag=None, cls=None):
        return [n for n in self.iter() if (tag is None or n.tag == tag)
                and (cls is None or cls in (n.attrs.get("class") or "").split())]

    def by_id(self, ident):
        return next(n for n in self.iter() if n.attrs.get("id") == ident)

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def words(self):
        return " ".join(self.text().split())


class TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#document", {})

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, attrs, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html):
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


class ConservativeSanitiser(HTMLParser):
    """Keeps only simple elements and the href of links; drops scripts and styles with their text."""

    ALLOWED = {"p", "br", "h1", "h2", "h3", "h4", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td",
               "strong", "em", "b", "i", "code", "pre", "a"}
    DROPPED_WITH_CONTENT = {"script", "style"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.skipping = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in self.DROPPED_WITH_CONTENT:
            self.skipping += 1
        elif not self.skipping and tag in self.ALLOWED:
            kept = [(k, v) for k, v in attrs if tag == "a" and k == "href" and not (v or "").startswith("javascript:")]
            self.out.append(f"<{tag}" + "".join(f' {k}="{_attr_escape(v)}"' for k, v in kept) + ">")

    def handle_endtag(self, tag):
        if tag in self.DROPPED_WITH_CONTENT:
            self.skipping = max(0, self.skipping - 1)
        elif not self.skipping and tag in self.ALLOWED and tag != "br":
            self.out.append(f"</{tag}>")

    def handle_data(self, data):
        if not self.skipping:
            self.out.append(data.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def _attr_escape(value):
    return (value or "").replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def sanitise(html):
    sanitiser = ConservativeSanitiser()
    sanitiser.feed(html)
    sanitiser.close()
    return "".join(sanitiser.out)


def points(value):
    return f"{round(float(value), 2):g}"


# Graded submissions, shared by the tests of this module ---------------------------------

@pytest.fixture(scope="module")
def example_grade():
    return grade(ROOT / "examples" / "submission", CASES)


@pytest.fixture(scope="module")
def tie_first_grade(tmp_path_factory):
    return grade(write_solution(tmp_path_factory.mktemp("tie-first"), tie_rule="first"), CASES)


@pytest.fixture(scope="module")
def hostile_outputs(tmp_path_factory):
    """A submission whose relu_backward prints markup and raises an exception with markup in its message."""
    directory = write_solution(tmp_path_factory.mktemp("hostile"))
    edit_submission(directory, "layers.py", "    dx = np.where(x > 0, dout, 0.0)\n",
                    f"    print({IMAGE!r})\n    raise ValueError({SCRIPT!r})\n")
    out = tmp_path_factory.mktemp("hostile-out")
    write_outputs(grade(directory, CASES), out)
    return {"report": (out / "report.html").read_text(encoding="utf-8"),
            "summary": json.loads((out / "results.json").read_text(encoding="utf-8"))["output"]}


def case_of(grade_result, case_id):
    return next(c for c in grade_result.cases if c.case.id == case_id)


def anchor(case_id):
    return "".join(ch if ch.isalnum() else "-" for ch in case_id).strip("-").lower()


# Escaping ------------------------------------------------------------------------------

def test_report_shows_exception_message_and_printed_markup_as_escaped_text(hostile_outputs):
    html = hostile_outputs["report"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script" not in html.lower() and "<img" not in html.lower()
    article = parse(html).by_id("relu-backward-with-exact-zeros")
    assert SCRIPT in article.find_all("pre", "traceback")[0].text()
    assert IMAGE in article.find_all("pre", "printed")[0].text()


def test_gradescope_summary_shows_exception_message_as_escaped_text(hostile_outputs):
    summary = hostile_outputs["summary"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in summary
    assert "<script" not in summary.lower() and "<img" not in summary.lower()


# Hidden cases --------------------------------------------------------------------------

HIDDEN_TIE_CASES = ["max_pool_backward/overlap-with-ties", "max_pool_backward/integer-valued-many-ties"]


@pytest.mark.parametrize("case_id", HIDDEN_TIE_CASES)
def test_failing_hidden_case_shows_only_its_label_points_and_status(tie_first_grade, case_id):
    result = case_of(tie_first_grade, case_id)
    assert result.case.hidden and not result.passed
    row = parse(render_report(tie_first_grade)).by_id(anchor(case_id))
    assert row.words() == (f"✗ {result.case.label} hidden {result.status_text} "
                           f"{points(result.score)} / {points(result.case.points)}")
    assert not [n for n in row.iter() if n.tag in ("svg", "table", "pre", "details", "figure")]


def test_report_never_shows_the_numbers_of_a_hidden_case(tie_first_grade):
    manifest = load_manifest(CASES)
    shown_elsewhere = set()
    for case in manifest.cases:
        if not case.hidden:
            data = manifest.load(case)
            for array in [*data.inputs.values(), *data.expected.values()]:
                shown_elsewhere |= {f"{float(v):.6g}" for v in np.ravel(array)}
    telling = set()
    for hidden in [c for c in manifest.cases if c.hidden]:
        data = manifest.load(hidden)
        for array in [*data.inputs.values(), *data.expected.values()]:
            telling |= {f"{float(v):.6g}" for v in np.ravel(array)}
    telling = {number for number in telling - shown_elsewhere if len(number) >= 4}
    assert len(telling) > 50, "the hidden cases have few numbers of their own to look for"
    html = render_report(tie_first_grade)
    found = {number for number in telling if re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", html)}
    assert found == set()


def test_report_shows_nothing_of_a_hidden_case_even_if_its_arrays_were_left_on_it(tie_first_grade):
    leaky = copy.deepcopy(tie_first_grade)
    result = case_of(leaky, "max_pool_backward/overlap-with-ties")
    sentinel = np.full((1, 2, 5, 5), 12345.678)
    result.inputs = {"x": sentinel, "dout": sentinel[:, :, :2, :2]}
    for output in result.outputs:
        output.expected, output.got = sentinel, sentinel * 2
    html = render_report(leaky) + render_gradescope_summary(leaky)
    assert "12345.7" not in html and "24691.4" not in html and "12345.678" not in html


# The Gradescope summary -----------------------------------------------------------------

def test_gradescope_summary_survives_a_conservative_sanitiser(example_grade):
    text = parse(sanitise(render_gradescope_summary(example_grade))).words()
    withheld = example_grade.hidden_visibility != "visible"
    for function in example_grade.functions:
        shown = [c for c in example_grade.cases if c.case.function == function["name"]
                 and not (withheld and c.case.hidden)]
        score, possible = sum(c.score for c in shown), sum(c.case.points for c in shown)
        assert f"{function['name']}: {points(score)} / {points(possible)} points" in text
    failing = [c for c in example_grade.cases if not c.passed and not c.case.hidden]
    assert failing
    for result in failing:
        assert f"{result.case.function}: {result.case.label}" in text
        assert " ".join(result.summary.split()) in text
        for diagnosis in result.diagnoses:
            assert f"Likely mistake: {diagnosis.title}." in text
            assert " ".join(diagnosis.hint.split()) in text


def test_gradescope_summary_withholds_hidden_results_until_they_are_released(example_grade):
    assert example_grade.hidden_visibility == "after_published"
    text = parse(render_gradescope_summary(example_grade)).words()
    hidden = [c for c in example_grade.cases if c.case.hidden]
    assert f"{points(example_grade.score)} / {points(example_grade.possible)}" not in text
    assert not [c for c in hidden if c.case.label in text]
    assert f"{len(hidden)} hidden tests worth {points(sum(c.case.points for c in hidden))} points" in text


def test_gradescope_summary_shows_the_total_when_hidden_results_are_visible(example_grade):
    visible = copy.copy(example_grade)
    visible.hidden_visibility = "visible"
    text = parse(render_gradescope_summary(visible)).words()
    assert f"Score: {points(example_grade.score)} / {points(example_grade.possible)} points" in text
    for result in example_grade.cases:
        if result.case.hidden and not result.passed:
            assert f"{result.case.function}: {result.case.label}" in text


def test_gradescope_summary_uses_no_styles_scripts_or_attributes_but_links(example_grade):
    tree = parse(render_gradescope_summary(example_grade))
    tags = {n.tag for n in tree.iter()}
    assert tags <= ConservativeSanitiser.ALLOWED
    assert all(not n.attrs or (n.tag == "a" and set(n.attrs) == {"href"}) for n in tree.iter())


# A self-contained report -----------------------------------------------------------------

def assert_self_contained(html):
    tree = parse(html)
    assert not tree.find_all("link") and not tree.find_all("script") and not tree.find_all("iframe")
    for node in tree.iter():
        for name in ("src", "href", "xlink:href", "action", "srcset", "poster", "data"):
            value = (node.attrs.get(name) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//", "javascript:")), (node.tag, name, value)
    for style in tree.find_all("style"):
        assert "@import" not in style.text() and "url(" not in style.text()


def test_report_is_self_contained(example_grade):
    assert_self_contained(render_report(example_grade))


def test_report_opens_with_score_function_table_and_contents_in_that_order(example_grade):
    html = render_report(example_grade)
    tree = parse(html)
    assert tree.by_id("score").words() == f"{points(example_grade.score)} / {points(example_grade.possible)} points"
    rows = tree.by_id("functions").find_all("tr")[1:-1]
    assert [r.find_all("code")[0].text() for r in rows] == [f["name"] for f in example_grade.functions]
    assert all(r.find_all("div", "bar") for r in rows)
    assert html.index('id="score"') < html.index('id="functions"') < html.index('id="fix-first"') \
        < html.index('class="toc"')


def test_what_to_fix_first_names_each_diagnosed_mistake_once_with_its_hint(example_grade):
    box = parse(render_report(example_grade)).by_id("fix-first")
    diagnoses = {d.key: d for c in example_grade.cases for d in c.diagnoses}
    assert len(diagnoses) == 2
    for diagnosis in diagnoses.values():
        assert box.words().count(f"Likely mistake: {diagnosis.title}.") == 1
        assert " ".join(diagnosis.hint.split()) in box.words()


def test_passing_cases_are_one_line_rows_with_description_tags_and_points(example_grade):
    tree = parse(render_report(example_grade))
    result = case_of(example_grade, "max_pool_backward/shared-maximum-overlap")
    assert result.passed
    row = tree.by_id(anchor(result.case.id))
    assert row.tag == "li" and not row.find_all("table") and not row.find_all("svg")
    assert row.words() == (f"✓ {result.case.label} {result.case.description} overlap "
                           f"{points(result.score)} / {points(result.case.points)}")


def test_exception_is_shown_as_a_traceback_of_the_students_own_files(hostile_outputs):
    article = parse(hostile_outputs["report"]).by_id("relu-backward-with-exact-zeros")
    box = article.find_all("div", "exception")[0]
    assert box.find_all("div", "exc-head")[0].words() == "Your code raised ValueError"
    traceback = box.find_all("pre", "traceback")[0].text()
    assert 'File "layers.py"' in traceback and "in relu_backward" in traceback
    assert '"<string>"' not in traceback
    assert traceback.rstrip().endswith(f"ValueError: {SCRIPT}")


# Heatmaps and tie markers ------------------------------------------------------------------

def _pool_param(tree):
    if isinstance(tree, dict):
        if isinstance(tree.get("v"), dict) and "pool_height" in tree["v"]:
            return tree["v"]
        return _pool_param(tree.get("t", []))
    for item in tree:
        found = _pool_param(item)
        if found:
            return found
    return None


def tied_positions(x, pool):
    """Every input that shares its window's maximum with another input of that window."""
    ph, pw, stride = pool["pool_height"], pool["pool_width"], pool["stride"]
    tied = set()
    for n, c in np.ndindex(*x.shape[:2]):
        for top in range(0, x.shape[2] - ph + 1, stride):
            for left in range(0, x.shape[3] - pw + 1, stride):
                window = x[n, c, top:top + ph, left:left + pw]
                at_max = [(n, c, top + i, left + j) for i, j in np.argwhere(window == window.max())]
                if len(at_max) > 1:
                    tied |= set(at_max)
    return {",".join(map(str, p)) for p in tied}


def test_tie_rule_heatmap_marks_the_tied_inputs_and_the_wrong_cells_exactly(tie_first_grade):
    result = case_of(tie_first_grade, "max_pool_backward/two-tied-maxima")
    assert result.case.label == "two tied maxima in one window" and not result.passed
    dx = next(o for o in result.outputs if o.name == "dx")
    differ = {",".join(map(str, i)) for i in np.argwhere(~np.isclose(dx.expected, dx.got, rtol=1e-9, atol=0))}
    ties = tied_positions(result.inputs["x"], _pool_param(result.case.call["args"]))
    article = parse(render_report(tie_first_grade)).by_id(anchor(result.case.id))
    svg = article.find_all("div", "heatmap")[0]
    markers = {n.attrs["data-index"] for n in svg.find_all("circle", "tie-marker")}
    wrong = {n.attrs["data-index"] for n in svg.find_all("rect", "wrong")}
    cells = svg.find_all("rect", "wrong") + svg.find_all("rect", "right")
    assert len(ties) == 6 and markers == ties
    assert len(differ) == 3 and wrong == differ
    assert wrong < ties                      # only the tied inputs lose their gradient
    assert len(cells) == dx.expected.size


def test_max_pool_case_shows_its_input_x_with_the_tied_maxima_outlined(tie_first_grade):
    result = case_of(tie_first_grade, "max_pool_backward/two-tied-maxima")
    ties = tied_positions(result.inputs["x"], _pool_param(result.case.call["args"]))
    article = parse(render_report(tie_first_grade)).by_id(anchor(result.case.id))
    column = article.find_all("div", "input")[0]
    assert column.find_all("div", "column-title")[0].words() == "input x (outlined: tied maxima)"
    outlined = [float(td.text()) for td in column.find_all("td", "tied")]
    x = result.inputs["x"]
    assert sorted(outlined) == sorted(float(x[tuple(map(int, p.split(",")))]) for p in ties)


def test_large_max_pool_output_shows_the_failing_windows_in_numbers(tmp_path):
    directory = write_solution(tmp_path / "halved")
    edit_submission(directory, "layers.py",
                    "    dx = _scatter_windows(share * dout[..., None, None], x.shape, stride)\n",
                    "    dx = _scatter_windows(share * dout[..., None, None], x.shape, stride)\n"
                    "    dx[:, :, 0, :] *= 0.5\n")
    graded = grade(directory, CASES)
    result = case_of(graded, "max_pool_backward/stride-differs-from-pool")
    dx = result.outputs[0]
    assert dx.expected.size > 36 and not result.passed
    article = parse(render_report(graded)).by_id(anchor(result.case.id))
    windows = article.find_all("div", "window")
    assert [w.find_all("div", "grid-label")[0].text() for w in windows] == ["x[0, 1, 0:2, 0:2]", "x[0, 1, 0:2, 3:5]"]
    assert [td.text() for w in windows for td in w.find_all("td", "wrong")] == ["4.75", "2.375", "2.25", "1.125"]


# The class overview ------------------------------------------------------------------------

def overview_context():
    functions = [{"name": "affine_forward", "possible": 4.0, "mean": 3.5, "full_marks_rate": 0.75},
                 {"name": "max_pool_backward", "possible": 18.0, "mean": 12.25, "full_marks_rate": 0.5}]
    return {
        "title": "Backprop by hand", "generated": "2026-01-02 03:04", "count": 5, "graded": 4,
        "failed_to_grade": 1, "mean": 17.5, "median": 18.0, "possible": 22.0,
        "histogram": [{"low": 0.0, "high": 11.0, "count": 1}, {"low": 11.0, "high": 22.0, "count": 3}],
        "functions": functions,
        "cases": [{"id": "affine_forward/two-dim-input", "function": "affine_forward", "label": "2-D input",
                   "hidden": False, "pass_rate": 0.75},
                  {"id": "max_pool_backward/overlap-with-ties", "function": "max_pool_backward",
                   "label": "ties inside overlapping windows", "hidden": True, "pass_rate": 0.25}],
        "mistakes": [{"key": "max_pool_backward/ties-first", "function": "max_pool_backward",
                      "title": "tie rule 'first' instead of 'all'", "count": 2}],
        "students": [
            {"name": "Ada", "report": "students/ada/report.html", "score": 22.0, "possible": 22.0,
             "status": "graded", "error": "", "functions": {"affine_forward": 4.0, "max_pool_backward": 18.0}},
            {"name": "<b>Eve</b>", "report": "students/eve #1/report.html", "score": 10.0, "possible": 22.0,
             "status": "graded", "error": "", "functions": {"affine_forward": 4.0, "max_pool_backward": 6.0}},
        ],
        "not_graded": [
            {"name": "Bob", "report": "students/bob/report.html", "score": 0.0, "possible": 22.0,
             "status": "not graded", "error": "layers.py: <i>unreadable</i>", "functions": {}},
            {"name": "Cy", "report": "", "score": 0.0, "possible": 22.0, "status": "error",
             "error": "the grading process died", "functions": {}},
        ],
    }


def test_class_overview_draws_one_histogram_bar_per_bin_scaled_to_the_tallest():
    tree = parse(render_class_overview(overview_context()))
    bars = tree.by_id("histogram").find_all("rect", "hist-bar")
    assert [int(b.attrs["data-count"]) for b in bars] == [1, 3]
    heights = [float(b.attrs["height"]) for b in bars]
    assert heights[1] > 0 and heights[0] == pytest.approx(heights[1] / 3, abs=0.1)


def test_class_overview_links_every_graded_students_report():
    tree = parse(render_class_overview(overview_context()))
    links = {a.text(): a.attrs["href"] for a in tree.by_id("students").find_all("a")}
    assert links == {"Ada": "students/ada/report.html", "<b>Eve</b>": "students/eve%20%231/report.html"}


def test_class_overview_lists_the_submissions_it_could_not_grade_apart_with_their_reasons():
    tree = parse(render_class_overview(overview_context()))
    rows = tree.by_id("not-graded").find_all("tr")
    assert [[cell.text() for cell in row.find_all("td")] for row in rows[1:]] == [
        ["Bob", "layers.py: <i>unreadable</i>"], ["Cy", "the grading process died"]]
    assert {a.text(): a.attrs["href"] for a in tree.by_id("not-graded").find_all("a")} == {
        "Bob": "students/bob/report.html"}
    assert "Bob" not in tree.by_id("students").words()


def test_class_overview_escapes_student_names_and_errors():
    html = render_class_overview(overview_context())
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html and "<b>Eve" not in html
    assert "&lt;i&gt;unreadable&lt;/i&gt;" in html and "<i>" not in html


def test_class_overview_shows_rates_mistakes_and_is_self_contained():
    html = render_class_overview(overview_context())
    tree = parse(html)
    assert "75%" in tree.by_id("functions").words() and "25%" in tree.by_id("cases").words()
    mistakes = tree.by_id("mistakes").words()
    assert "tie rule 'first' instead of 'all'" in mistakes and "50%" in mistakes
    assert_self_contained(html)


@pytest.mark.parametrize("path, link", [("javascript:alert(1)", "javascript%3Aalert%281%29"),
                                        ("https://example.com/r.html", "https%3A//example.com/r.html"),
                                        ("/etc/passwd", ""), ("//example.com/r.html", "")])
def test_class_overview_links_only_relative_paths(path, link):
    assert report_link(path) == link
