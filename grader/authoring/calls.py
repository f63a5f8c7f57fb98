"""From a declaration and a case's values to the call the worker makes.

A case's build(rng) returns named values. The declaration (spec.Function or
spec.Method) says which names become which arguments; this module turns both into
the JSON call the worker runs (see worker.perform) and the arrays it refers to by
name, which are stored in the case's .npz and sent to the worker with the call.

Call trees: {"a": name} an input array, {"v": json} a plain value, {"t": [...]} a
tuple, {"l": [...]} a list and {"d": {...}} a dict holding arrays or tuples,
{"dtype": "float32"} a NumPy dtype, and {"call": {...}, "take": i} item i of what
another of the student's functions returns (a cache).
"""
import ast

import numpy as np

from ..errors import UserError
from . import spec


class CallError(UserError):
    """A case's values do not fit its function's declaration."""


def build_call(function, case, values, declarations):
    """(call, arrays, plain values) for one case of `function`.

    declarations: {name: declaration} of every declared function, for Cache arguments.
    plain values: the case's values that are not arrays, as JSON, by name.
    """
    encoder = _Encoder(values, case.id)
    call = _target(function, encoder)
    call.update(_arguments(function, encoder, declarations, case))
    call["returns"] = _selector(case.returns if case.returns is not None else function.returns)
    if function.seed is not None:
        seed = values.get(function.seed)
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise CallError(f"case {case.id}: {function.name} is seeded with the value {function.seed!r}, "
                            f"which must be an integer; got {seed!r}")
        call["seed"] = int(seed)
    if function.after:
        call["after"] = {name: {"path": encoder.path(text, function), "text": text}
                         for name, text in function.after.items()}
    unused = sorted(set(values) - encoder.used - ({function.seed} if function.seed else set()))
    if unused:
        raise CallError(f"case {case.id} gives {', '.join(map(repr, unused))}, which no argument of "
                        f"{function.name} takes: pass it, or leave it out of the case")
    plain = {name: _json(value) for name, value in values.items() if not _contains_array(value)}
    # Arrays inside the arguments that `after` reads from (here, or in the forward pass a Cache
    # comes from): changing them in place is the point.
    roots = [parse_path(text)[0] for text in function.after.values()] + encoder.updated
    mutable = sorted({array for root in roots for array in encoder.owned.get(root, ())})
    return call, encoder.arrays, plain, mutable


def _target(function, encoder):
    if isinstance(function, spec.Method):
        init = {"args": [encoder.value(name) for name in function.init_args if encoder.has(name)],
                "kwargs": {name: encoder.value(name) for name in function.init_kwargs if encoder.has(name)}}
        missing = [name for name in function.init_args if not encoder.has(name)]
        if missing:
            raise CallError(f"case {encoder.case}: {function.name}'s constructor takes {', '.join(missing)}, "
                            f"which the case does not give")
        return {"op": "call", "module": function.module, "class": function.cls, "method": function.method,
                "init": init, "attributes": {attribute: encoder.value(name)
                                             for attribute, name in function.attributes.items()}}
    return {"op": "call", "module": function.module, "function": function.name}


def _arguments(function, encoder, declarations, case, record=True):
    """{"args": [...], "kwargs": {...}}; record: note where each value goes, for `after` paths."""
    args = []
    for position, entry in enumerate(function.args):
        if isinstance(entry, str) and not encoder.has(entry):
            later = [e for e in function.args[position + 1:] if not isinstance(e, str) or encoder.has(e)]
            if later:
                raise CallError(f"case {case.id}: {function.name} takes {entry!r} by position before "
                                f"arguments the case gives; give it a value")
            break
        place = [{"arg": position}] if record else None
        args.append(_argument(entry, encoder, declarations, function, case, place))
    kwargs = {name: encoder.value(name, [{"kwarg": name}] if record else None)
              for name in function.kwargs if encoder.has(name)}
    return {"args": args, "kwargs": kwargs}


def _argument(entry, encoder, declarations, function, case, place):
    if isinstance(entry, str):
        return encoder.value(entry, place)
    if isinstance(entry, tuple):
        return {"t": [_argument(item, encoder, declarations, function, case,
                                place + [{"index": index}] if place is not None else None)
                      for index, item in enumerate(entry)]}
    if isinstance(entry, spec.Cache):
        forward = declarations.get(entry.forward)
        if forward is None:
            raise CallError(f"{function.name}: its cache comes from {entry.forward!r}, which is not declared")
        take = _cache_position(forward.returns)
        encoder.updated += [parse_path(text)[0] for text in forward.after.values()]
        inner = _target(forward, encoder)
        inner.update(_arguments(forward, encoder, declarations, case, record=False))
        return {"call": inner, "take": take, "function": forward.name}
    raise CallError(f"{function.name}: argument {entry!r} must be a value's name, a tuple of names or a Cache")


def _cache_position(returns):
    if isinstance(returns, list) and returns.count(None) == 1:
        return returns.index(None)
    raise CallError(f"a Cache's forward pass must return a tuple with one ungraded item (None) in its returns, "
                    f"the cache; its returns is {returns!r}")


def _selector(selector):
    """A returns selector as JSON: Entries(name) becomes {"dict": name}."""
    if isinstance(selector, spec.Entries):
        return {"dict": selector.name}
    if isinstance(selector, (list, tuple)):
        return [_selector(item) for item in selector]
    return selector


class _Encoder:
    """Encodes named case values as call trees, collecting the arrays and where each name went."""

    def __init__(self, values, case_id):
        self.values, self.case = values, case_id
        self.arrays = {}
        self.used = set()
        self.places = {}   # value name -> where the call passes it: [{"arg": 3}], [{"kwarg": "x"}], ...
        self.owned = {}    # value name -> the names of the arrays it holds
        self.updated = []  # values a forward pass called for a Cache updates (its `after` roots)

    def has(self, name):
        return name in self.values

    def value(self, name, place=None):
        if name not in self.values:
            raise CallError(f"case {self.case} gives no value named {name!r}")
        self.used.add(name)
        if place is not None:
            self.places.setdefault(name, place)
        before = set(self.arrays)
        tree = self._encode(self.values[name], name)
        self.owned.setdefault(name, set()).update(set(self.arrays) - before)
        return tree

    def _encode(self, value, name):
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                raise CallError(f"case {self.case}: {name} is an array of Python objects; use a numeric dtype")
            key = name
            if key in self.arrays and self.arrays[key] is not value:
                raise CallError(f"case {self.case}: two different arrays are named {key!r}")
            self.arrays[key] = value
            return {"a": key}
        if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
            return {"dtype": np.dtype(value).name}
        if isinstance(value, tuple):
            return {"t": [self._encode(item, f"{name}{index}") for index, item in enumerate(value)]}
        if isinstance(value, dict) and _holds_arrays(value):
            return {"d": {str(k): self._encode(v, self._nested(name, k)) for k, v in value.items()}}
        if isinstance(value, list) and _holds_arrays(value):
            return {"l": [self._encode(item, f"{name}{index}") for index, item in enumerate(value)]}
        return {"v": _json(value)}

    def _nested(self, name, key):
        """The name of an array inside a dict value: its key, unless a value of the case has that name."""
        return str(key) if str(key) not in self.values else f"{name}_{key}"

    def path(self, text, function):
        """An `after` path ("bn_param['running_mean']", "self.params") as the worker follows it."""
        root, steps = parse_path(text)
        if root == "self":
            if not isinstance(function, spec.Method):
                raise CallError(f"{function.name}: after path {text!r} reads from self, but {function.name} is "
                                f"a function, not a method")
            return [{"self": True}] + steps
        place = self.places.get(root)
        if place is None:
            raise CallError(f"{function.name}: after path {text!r} starts at {root!r}, which is not an argument "
                            f"of the call")
        return place + steps


def parse_path(text):
    """('bn_param', [{"key": "running_mean"}]) for "bn_param['running_mean']"; attributes as {"attr": a}."""
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise CallError(f"path {text!r} is not of the form name['key'] or name.attribute") from None
    steps = []
    while not isinstance(node, ast.Name):
        if isinstance(node, ast.Attribute):
            steps.append({"attr": node.attr})
            node = node.value
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            steps.append({"key": node.slice.value})
            node = node.value
        else:
            raise CallError(f"path {text!r} is not of the form name['key'] or name.attribute")
    return node.id, steps[::-1]


def resolve(text, values):
    """The value a path names in a case's values: "pool_param['stride']" -> 2."""
    root, steps = parse_path(text)
    value = values[root]
    for step in steps:
        value = getattr(value, step["attr"]) if "attr" in step else value[step["key"]]
    return value


def _holds_arrays(value):
    """Whether a dict or list needs a node of its own: it holds arrays, tuples or dtypes,
    which JSON would not keep as they are."""
    if isinstance(value, (np.ndarray, tuple, np.dtype)) or (isinstance(value, type) and issubclass(value, np.generic)):
        return True
    if isinstance(value, dict):
        return any(_holds_arrays(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_arrays(v) for v in value)
    return False


def _contains_array(value):
    if isinstance(value, np.ndarray):
        return True
    if isinstance(value, dict):
        return any(_contains_array(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_contains_array(v) for v in value)
    return False


def _json(value):
    """A case value as plain JSON (arrays are never passed here)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise CallError(f"a case value of type {type(value).__name__} cannot be passed to the student's code; use "
                    f"arrays, numbers, strings, None, dtypes, and tuples, lists and dicts of these")
