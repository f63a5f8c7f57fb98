"""The words an assignment's spec/ folder is written in.

An assignment is a folder: assignment.toml (the instructor's choices), reference/
(the solution, with solution markers), spec/ (what is graded, and how), and the
generated test_cases/ and student_template/. spec/ holds three modules:

- functions.py: FUNCTIONS, every Function or Method the assignment may grade, and
  COPIED_FILES, files of reference/ that students get as they are;
- cases.py: CASES, the Case objects that test them;
- mistakes.py: catalog(tie_rule), the Mistake objects of its catalog.

A function is graded exactly when assignment.toml gives it points. The generator
reads these declarations, runs the reference on every case and writes the vectors;
nothing here runs when a submission is graded.

Values in a case are named: `build(rng)` returns {name: value}, and a declaration
says which names become which arguments. A value may be an array, a number, a
string, None, a dtype, or a tuple, list or dict of these.
"""
from dataclasses import KW_ONLY, dataclass, field
from typing import Callable, Optional, Tuple

import numpy as np

from ..ties import TIE_RULE_TEXT, TIE_RULES

__all__ = ["Cache", "Case", "Entries", "Function", "Method", "Mistake", "RandomInit", "TIE_RULES",
           "TIE_RULE_TEXT", "Windows", "distinct", "q", "randn"]


# What a function returns, and what is graded -------------------------------------

@dataclass(frozen=True)
class Entries:
    """A dict whose entries are graded one by one, as name['key']: Entries("grads")."""
    name: str


@dataclass(frozen=True)
class Cache:
    """An argument that is the cache the student's own `forward` returns for the case's values.

    For a backward pass whose cache format is the student's own choice: the grader
    calls the student's forward pass on the values its declaration names, and passes
    on the value its `returns` leaves ungraded (None), as a training loop would.
    """
    forward: str


@dataclass(frozen=True)
class RandomInit:
    """Outputs that are randomly initialised parameters, checked by their statistics.

    Each array keeps its shape and dtype exactly. Arrays whose key starts with one of
    `zeros` must be all zeros; the others must have a mean near 0 and a standard
    deviation within the configured tolerance (tolerance.init_std) of the case value
    named by `scale`.
    """
    scale: str
    zeros: Tuple[str, ...] = ("b",)


@dataclass(frozen=True)
class Windows:
    """Pooling windows over the last two axes of an input, drawn in the report.

    size, stride and padding are each a number, a path into the case's values
    ("pool_param['stride']", "pool_size") whose value is a number or a (height, width)
    pair, or a pair of such. Padding counts as minus infinity: it never wins a window.
    ties: mark the inputs that tie for a window's maximum (max pooling).
    """
    input: str
    size: object
    stride: object
    padding: object = 0
    ties: bool = False


# What is graded ------------------------------------------------------------------

@dataclass(frozen=True)
class _Graded:
    """What a Function and a Method share: how the case's values reach the call, and what
    of its result is graded.

    args: the case values passed by position, in order. An entry is a value's name,
      a tuple of names (passed as one tuple, such as a cache), or a Cache. Trailing
      names a case does not give are left out.
    kwargs: the case values passed by keyword, when the case gives them.
    returns: how the return value maps to graded outputs: an output name, None (not
      graded, such as a cache), a list of these for a tuple, or Entries(name).
    after: outputs read after the call, {output: path}: from an argument the function
      updates, such as "bn_param['running_mean']", or from the object, "self.params".
    check: RandomInit for random initialisations; values are compared otherwise.
    windows: the pooling windows to draw in the report.
    seed: a case value that np.random is seeded with just before the call (and before
      the object is constructed, for a Method).
    """
    _: KW_ONLY
    args: tuple = ()
    kwargs: tuple = ()
    returns: object = None
    after: dict = field(default_factory=dict)
    check: Optional[RandomInit] = None
    windows: Optional[Windows] = None
    seed: Optional[str] = None

    @property
    def module(self):
        """The student file's module name: 'layers' for layers.py."""
        return self.file[:-3] if self.file.endswith(".py") else self.file


@dataclass(frozen=True)
class Function(_Graded):
    """A module-level function of a student file, called as name(*args, **kwargs)."""
    name: str
    file: str


@dataclass(frozen=True)
class Method(_Graded):
    """A method of a class the grader constructs: cls(*init_args, **init_kwargs).method(...).

    The grader constructs the object with the case values named by init_args (by
    position) and init_kwargs (by keyword, when the case gives them), sets each
    attribute of `attributes` ({attribute: case value name}; a dict value updates a
    dict the object already has, entry by entry), then calls the method. For the method
    "__init__" nothing is called after construction: its outputs are read with
    `after` from the object, such as "self.params".
    """
    cls: str
    method: str
    file: str
    _: KW_ONLY
    init_args: tuple = ()
    init_kwargs: tuple = ()
    attributes: dict = field(default_factory=dict)

    @property
    def name(self):
        return f"{self.cls}.{self.method}"


# Cases ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One test case: a function's name, a slug unique within it, a short label (the
    test's name a student sees), a one-sentence description, and build(rng), which
    draws the case's values {name: value} from a seeded numpy RandomState.

    returns: this case's own `returns`, where it differs from the function's (a call
    without labels that returns the scores, say).
    edge: inputs beyond what the assignment's other functions pass to this one (scores
    near 1000): a failure here is not blamed for another function's failures.
    A tag that spec/cases.py's TAGS describes ({tag: "regularization (reg > 0)"}) lets the
    feedback say so when a function fails exactly the cases with it.
    """
    function: str
    slug: str
    label: str
    description: str
    build: Callable
    tags: Tuple[str, ...] = ()
    returns: object = None
    edge: bool = False

    @property
    def id(self):
        return f"{self.function}/{self.slug}"


# Mistakes ------------------------------------------------------------------------

@dataclass(frozen=True)
class Mistake:
    """A small, wrong variant of the reference: a function with the same arguments, or
    for a Method a subclass of the reference's class. Its outputs on every case are
    stored; a student's wrong output that matches them names the mistake.

    confusion: a mix-up the public cases must catch (height for width, [pad:-pad] at pad
    0, the stride taken as the pool size): `generate` fails unless it changes the answer
    of some public case, so that students see it in their own tests too."""
    function: str      # the declared function it imitates
    slug: str          # unique within the function
    title: str         # a few words, for tables: "dw transposed"
    hint: str          # what the student did and how to fix it
    variant: Callable
    tie_rule: str = ""  # for tie-rule variants: the rule the variant follows
    confusion: bool = False


# Drawing values ------------------------------------------------------------------

QUANTUM = 64.0


def q(a):
    """Round to multiples of 1/64: sums and products of such values are exact in float64,
    so expected values do not depend on the order NumPy or BLAS adds in."""
    return np.round(np.asarray(a, dtype=np.float64) * QUANTUM) / QUANTUM


def randn(rng, *shape, scale=1.0):
    """Normal values of the given scale, rounded by q."""
    return q(scale * rng.randn(*shape))


def distinct(rng, *shape):
    """Values without ties: a shuffled arithmetic sequence, in steps of 1/8."""
    values = (np.arange(int(np.prod(shape))) - np.prod(shape) / 2) / 8.0
    return q(rng.permutation(values).reshape(shape))
