"""Plain data for what grading found: per output, per case, per function, per submission."""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from .cases import Case

STATUS_TEXT = {
    "passed": "passed",
    "partial": "partly correct",
    "failed": "wrong answer",
    "error": "raised an exception",
    "not-implemented": "not implemented yet",
    "timeout": "timed out",
    "crashed": "crashed",
    "not-run": "not run",
    "interface": "interface problem",
    "import": "could not be imported",
    "internal": "autograder error",
}


@dataclass
class Diagnosis:
    key: str                 # "max_pool_backward/ties-first", or "generic/sign-flipped"
    title: str
    hint: str
    outputs: List[str]       # the outputs it explains


@dataclass
class OutputResult:
    name: str
    points: float
    score: float
    message: str = ""                      # why it failed; "" when it passed
    comparison: Optional[Any] = None
    expected: Optional[Any] = None
    got: Optional[Any] = None

    @property
    def passed(self):
        return self.score >= self.points and not self.message


@dataclass
class CaseResult:
    case: Case
    status: str
    score: float
    summary: str = ""                      # one line on what went wrong
    outputs: List[OutputResult] = field(default_factory=list)
    diagnoses: List[Diagnosis] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)      # advice: the layer at fault, a None return
    warnings: List[str] = field(default_factory=list)   # no points lost: modified inputs, float32
    error: Optional[dict] = None           # {type, message, frames}
    output: str = ""                       # what the student's code printed, bounded
    seconds: float = 0.0
    inputs: Dict[str, Any] = field(default_factory=dict)
    internal: str = ""                     # traceback of an autograder error, never shown to students

    @property
    def possible(self):
        return self.case.points

    @property
    def passed(self):
        return self.status == "passed"

    @property
    def status_text(self):
        return STATUS_TEXT[self.status]


@dataclass
class FunctionSummary:
    name: str
    module: str
    score: float
    possible: float
    passed: int
    cases: int


@dataclass
class GradeResult:
    title: str
    tie_rule: str
    submission: str
    cases: List[CaseResult]
    functions: List[dict]                  # the manifest's functions, in interface order
    problems: List[str] = field(default_factory=list)   # file-level: missing, syntax, imports
    notes: List[str] = field(default_factory=list)      # how the files were found
    notices: List[str] = field(default_factory=list)    # what the sandbox changed
    seconds: float = 0.0
    budget_exhausted: bool = False
    hidden_visibility: str = "after_published"
    import_output: str = ""                # what the student's files printed when imported
    modules: List[dict] = field(default_factory=list)   # the manifest's student files, with their imports
    isolation: str = ""                    # how student code was isolated (see grader/sandbox/kernel.py)
    interpreter: str = ""                  # the Python and NumPy that ran it

    @property
    def score(self):
        return round(sum(c.score for c in self.cases), 2)

    @property
    def possible(self):
        return round(sum(c.possible for c in self.cases), 2)

    def by_function(self):
        summaries = []
        for function in self.functions:
            results = [c for c in self.cases if c.case.function == function["name"]]
            if not results:
                continue
            summaries.append(FunctionSummary(
                function["name"], function["module"], round(sum(c.score for c in results), 2),
                round(sum(c.possible for c in results), 2), sum(c.passed for c in results), len(results)))
        return summaries
