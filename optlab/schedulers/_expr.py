"""``lr_lambda`` and ``scale_fn`` written as text, so a schedule fits in a config file.

Two forms, both turned into a Python callable of one number:

- a *registered name*, ``name`` or ``name:value`` (see :data:`REGISTERED`), which
  stands for one of a few common expressions;
- an *expression* in a small language: numbers, the variable (``epoch`` for
  ``lr_lambda``, ``x`` for CyclicLR's ``scale_fn``), the constant ``pi``,
  ``+ - * / ** %``, unary ``-``/``+``, parentheses, the functions ``min``,
  ``max``, ``abs``, ``exp``, ``log``, ``sqrt``, ``cos``, ``sin``, ``floor``,
  ``ceil``, comparisons (``< <= > >= == !=``, chained), ``and``/``or``/``not``
  and ``a if cond else b``.

The text is parsed once with :mod:`ast` and evaluated by walking the tree with
Python's own operators and :mod:`math` (never ``eval``), so an expression gives
exactly the floats that the same ``lambda epoch: ...`` would give torch: ``epoch``
is a Python int, ``/`` is true division, ``**`` is Python's power.
"""
from __future__ import annotations

import ast
import math
import numbers
import operator

import numpy as np

from ..errors import OptlabError

FUNCTIONS = {
    "min": (min, 2, None), "max": (max, 2, None), "abs": (abs, 1, 1),
    "exp": (math.exp, 1, 1), "log": (math.log, 1, 2), "sqrt": (math.sqrt, 1, 1),
    "cos": (math.cos, 1, 1), "sin": (math.sin, 1, 1), "floor": (math.floor, 1, 1), "ceil": (math.ceil, 1, 1),
}  # name -> (function, fewest arguments, most arguments or None)
CONSTANTS = {"pi": math.pi}
BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
          ast.Pow: operator.pow, ast.Mod: operator.mod}
UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
           ast.Eq: operator.eq, ast.NotEq: operator.ne}
MAX_INT_EXPONENT = 10_000  # int ** int beyond this would build a huge integer (and hang), not a factor

# name -> (parameter or None, expression, what it is). ``name:value`` binds the parameter.
REGISTERED = {
    "constant": (None, "1.0", "factor 1: LambdaLR keeps the base lr, MultiplicativeLR leaves the lr unchanged"),
    "linear_warmup": ("K", "epoch / K if epoch < K else 1.0",
                      "LambdaLR: linear warm-up from 0 over K steps, then the base lr"),
    "inverse_sqrt": ("K", "1.0 / sqrt(max(epoch, K) / K)",
                     "LambdaLR: constant for K steps, then decays as 1/sqrt(epoch/K)"),
    "exponential": ("G", "G ** epoch", "LambdaLR: G to the power epoch (ExponentialLR as a lambda)"),
}


class Expression:
    """A parsed expression of one variable; calling it evaluates the tree.

    ``what`` names the option in messages (``lr_lambda``); ``text`` is kept as the
    expression's name (``repr``), for the run's recorded options.
    """

    def __init__(self, text: str, variable: str, what: str, constants: dict | None = None, label: str | None = None):
        self.text = text
        self.variable = variable
        self.what = what
        self.label = label or text
        self.names = {**CONSTANTS, **(constants or {})}
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as e:
            raise OptlabError(f"{what} {self.label!r} is not an expression ({e.msg}); "
                              f"allowed: numbers, {variable}, pi, + - * / ** %, comparisons, "
                              f"a if c else b, the functions {', '.join(FUNCTIONS)}") from None
        self._check(tree.body)
        self.tree = tree.body

    def __repr__(self):
        return self.label

    def _bad(self, what):
        return OptlabError(f"{self.what} {self.label!r}: {what} is not allowed; allowed: numbers, {self.variable}, pi, "
                           f"+ - * / ** %, comparisons, and/or/not, a if c else b, the functions "
                           f"{', '.join(FUNCTIONS)}")

    def _check(self, node):
        """Refuse every node outside the language, before anything is evaluated."""
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise self._bad(f"the constant {node.value!r}")
        elif isinstance(node, ast.Name):
            if node.id != self.variable and node.id not in self.names:
                raise self._bad(f"the name {node.id!r}")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in BINARY:
                raise self._bad(f"the operator {type(node.op).__name__}")
            self._check(node.left)
            self._check(node.right)
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in UNARY:
                raise self._bad(f"the operator {type(node.op).__name__}")
            self._check(node.operand)
        elif isinstance(node, ast.BoolOp):
            for v in node.values:
                self._check(v)
        elif isinstance(node, ast.Compare):
            if any(type(op) not in COMPARE for op in node.ops):
                raise self._bad("that comparison")
            for v in [node.left, *node.comparators]:
                self._check(v)
        elif isinstance(node, ast.IfExp):
            for v in (node.test, node.body, node.orelse):
                self._check(v)
        elif isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name not in FUNCTIONS or node.keywords:
                raise self._bad(f"the call {ast.unparse(node.func)}(...)" if name not in FUNCTIONS
                                else "a keyword argument")
            _, lo, hi = FUNCTIONS[name]
            if len(node.args) < lo or (hi is not None and len(node.args) > hi) or \
                    any(isinstance(a, ast.Starred) for a in node.args):
                want = f"{lo}" if lo == hi else (f"{lo} or more" if hi is None else f"{lo} to {hi}")
                raise self._bad(f"{name}() with {len(node.args)} arguments (it takes {want})")
            for a in node.args:
                self._check(a)
        else:
            raise self._bad(f"'{ast.unparse(node)}' ({type(node).__name__})")

    def _eval(self, node, value):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return value if node.id == self.variable else self.names[node.id]
        if isinstance(node, ast.BinOp):
            a, b = self._eval(node.left, value), self._eval(node.right, value)
            if isinstance(node.op, ast.Pow) and isinstance(a, int) and isinstance(b, int) \
                    and abs(b) > MAX_INT_EXPONENT and abs(a) > 1:
                raise OverflowError(f"integer power {a} ** {b} is too large")
            return BINARY[type(node.op)](a, b)
        if isinstance(node, ast.UnaryOp):
            return UNARY[type(node.op)](self._eval(node.operand, value))
        if isinstance(node, ast.BoolOp):
            out = None
            for v in node.values:  # Python's short-circuit: and -> first falsy, or -> first truthy
                out = self._eval(v, value)
                if isinstance(node.op, ast.And) != bool(out):
                    return out
            return out
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, value)
            for op, right_node in zip(node.ops, node.comparators):
                right = self._eval(right_node, value)
                if not COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self._eval(node.body if self._eval(node.test, value) else node.orelse, value)
        # ast.Call (the only node left after _check)
        fn = FUNCTIONS[node.func.id][0]
        return fn(*[self._eval(a, value) for a in node.args])

    def __call__(self, value):
        try:
            out = self._eval(self.tree, value)
        except (ArithmeticError, ValueError, TypeError) as e:
            raise OptlabError(f"{self.what} {self.label!r} fails at {self.variable}={value}: "
                              f"{type(e).__name__}: {e}") from None
        if isinstance(out, complex):
            raise OptlabError(f"{self.what} {self.label!r} is complex at {self.variable}={value} ({out}); "
                              "it must be a real number")
        return out


def registered(text: str, variable: str, what: str):
    """The :class:`Expression` of a registered ``name[:value]``, or None when ``text`` names none."""
    head, sep, arg = text.strip().partition(":")
    if head not in REGISTERED:
        return None
    if variable != "epoch":
        raise OptlabError(f"{what} {text!r}: the registered names ({', '.join(REGISTERED)}) are lr_lambda's; "
                          f"write {what} as an expression of {variable}")
    param, expr, _ = REGISTERED[head]
    if param is None:
        if sep:
            raise OptlabError(f"{what} {text!r}: {head!r} takes no value (write {head!r})")
        return Expression(expr, "epoch", what, label=head)
    if not sep:
        raise OptlabError(f"{what} {text!r}: {head!r} needs a value, e.g. '{head}:10'")
    try:
        value = ast.literal_eval(arg.strip())
    except (ValueError, SyntaxError):
        value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OptlabError(f"{what} {text!r}: the value after ':' must be a number, got {arg.strip()!r}")
    if head in ("linear_warmup", "inverse_sqrt") and not value > 0:
        raise OptlabError(f"{what} {text!r}: K must be > 0, got {value}")
    return Expression(expr, "epoch", what, constants={param: value}, label=f"{head}:{arg.strip()}")


def function(value, variable: str, what: str):
    """``value`` (a callable, a registered name or an expression) as a callable of one number."""
    if callable(value):
        return value
    if isinstance(value, str):
        return registered(value, variable, what) or Expression(value, variable, what)
    raise OptlabError(f"{what} should be a function, a registered name ({', '.join(REGISTERED)}) or an "
                      f"expression of {variable}, but got {type(value).__name__}")


def number(out, what: str, variable: str, value):
    """``out`` (what a user function returned) as a Python int or float; anything else is refused."""
    if isinstance(out, (bool, np.bool_)) or not isinstance(out, numbers.Real) or \
            (isinstance(out, np.floating) and not isinstance(out, float)):
        # a narrower numpy float would round torch's product in its own precision; not a number torch multiplies
        # like a Python float
        raise OptlabError(f"{what} must return a number (int or float), but returned {type(out).__name__} "
                          f"at {variable}={value}")
    return float(out) if isinstance(out, float) else int(out)
