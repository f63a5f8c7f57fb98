"""`python -m grader check`: the instructor's one command that says the assignment is sound.

Steps, in order (each is skipped, with a reason, when an earlier one makes it meaningless):
1. the config is valid and the assignment loads (assignment.toml, spec/, reference/);
2. test_cases/ and student_template/ are what `generate` writes from them;
3. the reference, laid out as a student would submit it, scores full marks;
4. the untouched template scores 0, with no crash and no error of the grader's;
5. every catalogued mistake is detected and named: on some case its stored outputs
   lose points and the feedback names it. (Its outputs are scored as a student's
   would be, so this checks the cases and the diagnosis without running the variant.)
"""
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import List

from ..cases import load_manifest
from ..errors import UserError
from . import generate
from .assignment import CASES_DIR, CONFIG_FILE, REFERENCE_DIR, TEMPLATE_DIR
from .template import solution_version

CRASHES = ("crashed", "timeout", "internal", "import", "interface")


@dataclass
class Step:
    name: str
    ok: bool
    details: List[str] = field(default_factory=list)


@dataclass
class Report:
    steps: List[Step] = field(default_factory=list)

    @property
    def ok(self):
        return all(step.ok for step in self.steps)


def check_assignment(folder=".", progress=None):
    """Run every check on the assignment in folder; returns a Report. Raises UserError only if
    the assignment cannot be loaded at all (that is the first check's failure)."""
    folder = Path(folder)
    report = Report()

    def done(step):
        report.steps.append(step)
        if progress:
            progress(step)
        return step

    generated = generate.generate(folder)   # raises UserError on a broken config or declaration
    assignment = generated.assignment
    done(Step("config", True, [f"{folder / CONFIG_FILE}: {len(assignment.graded)} functions graded, "
                               f"{generated.case_count} cases, tie rule {assignment.config.assignment.tie_rule!r}"]))
    problems = generate.check(generated, folder)
    if problems:
        done(Step("in sync", False, [f"{path}: {problem}" for path, problem in problems[:10]]
                  + [f"run `python -m grader generate --assignment {folder}`"]))
        return report
    done(Step("in sync", True, [f"{CASES_DIR}/ and {TEMPLATE_DIR}/ are what generate writes"]))

    manifest = load_manifest(folder / CASES_DIR)
    config = folder / CONFIG_FILE
    with tempfile.TemporaryDirectory(prefix="bpgrader-check-") as scratch:
        solution = Path(scratch) / "reference-as-submission"
        solution.mkdir()
        for module in manifest.modules:
            source = (folder / REFERENCE_DIR / module["file"]).read_text(encoding="utf-8")
            text = solution_version(source, module["file"], assignment.config.assignment.tie_rule,
                                    assignment.config)
            (solution / module["file"]).write_text(text, encoding="utf-8")
        done(_reference_step(_grade(solution, folder, manifest, config)))
        template = Path(scratch) / "template"
        template.mkdir()
        for module in manifest.modules:
            (template / module["file"]).write_bytes((folder / TEMPLATE_DIR / module["file"]).read_bytes())
        done(_template_step(_grade(template, folder, manifest, config)))
    done(_mistakes_step(manifest))
    return report


def _grade(submission, folder, manifest, config):
    from ..engine import grade
    return grade(submission, folder / CASES_DIR, config_path=config, manifest=manifest)


def _reference_step(result):
    wrong = [c for c in result.cases if not c.passed]
    details = [f"{result.score:g} / {result.possible:g} points"]
    details += result.problems
    details += [f"{c.case.id}: {c.status_text}: {c.summary or 'no details'}" for c in wrong[:10]]
    return Step("reference scores full marks", not wrong and result.score == result.possible, details)


def _template_step(result):
    crashed = [c for c in result.cases if c.status in CRASHES]
    details = [f"{result.score:g} / {result.possible:g} points"]
    details += [f"{c.case.id}: {c.status_text}: {c.summary}" for c in crashed[:10]]
    scored = [c for c in result.cases if c.score > 0]
    details += [f"{c.case.id}: the untouched template earns {c.score:g} points" for c in scored[:10]]
    return Step("template scores 0 without a crash", not crashed and not scored and result.score == 0, details)


def _mistakes_step(manifest):
    """Every mistake of the catalog, scored as a student's answer on each case that stores it."""
    from ..evaluate import evaluate
    from ..runner import CallOutcome
    details, failures = [], 0
    for key, entry in manifest.raw["mistakes"].items():
        function, slug = key.rsplit("/", 1)
        cases = [case for case in manifest.cases if case.function == function and slug in case.mistakes]
        if not cases:
            failures += 1
            details.append(f"{key} ({entry['title']}): no case tells it apart from the right answer; add a "
                           f"case on which it gives a different result")
            continue
        named = False
        for case in cases:
            data = manifest.load(case)
            outputs = {name: ({"kind": "ndarray", "type": "numpy.ndarray", "subclass": False, "repr": ""}, value)
                       for name, value in data.mistakes[slug].items()}
            result = evaluate(case, data, CallOutcome("ok", outputs), manifest, manifest.settings["worker_memory_mb"])
            if result.score < case.points and any(d.key == key for d in result.diagnoses):
                named = True
                break
        if not named:
            failures += 1
            details.append(f"{key} ({entry['title']}): its outputs lose points but the feedback does not name "
                           f"it on any of its {len(cases)} case(s)")
    details.insert(0, f"{len(manifest.raw['mistakes']) - failures} of {len(manifest.raw['mistakes'])} "
                      f"mistakes detected and named")
    return Step("every mistake is detected and named", failures == 0, details)


__all__ = ["check_assignment", "Report", "Step", "UserError"]
