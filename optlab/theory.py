"""Theory tables: what theory predicts next to what a run measured, with a pass or fail.

Every study that can check a claim of the lecture or of a paper returns a list
of :class:`Claim` -- the claim in words, the formula, the predicted value, the
measured value, the tolerance and the verdict -- under ``"theory"`` in its
summary and its ``metrics.json``; the report shows it as a table, and
``optlab check`` runs every study that has one in quick mode and exits
non-zero when a claim fails.

Tolerances are of four kinds:

* ``"rel"``: ``|measured - predicted| <= tol * |predicted|`` (rates, times);
* ``"abs"``: ``|measured - predicted| <= tol`` (positions, grid steps given as
  an absolute width);
* ``"le"`` / ``"ge"``: ``measured <= predicted + tol`` / ``measured >=
  predicted - tol`` (a bound that the measurement must respect).

A measured value that is not finite fails (unless the prediction is the same
non-finite value).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

KINDS = ("rel", "abs", "le", "ge")


@dataclass(frozen=True)
class Claim:
    """One checked claim. ``predicted`` and ``measured`` are numbers; ``source`` cites the
    paper or the lecture's statement; ``where`` says which case of the study it is (an
    objective, a condition number, a learning rate)."""

    claim: str
    formula: str
    predicted: float
    measured: float
    tolerance: float
    kind: str = "rel"
    source: str = ""
    where: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Invalid kind {self.kind!r} (must be one of {', '.join(KINDS)})")
        if not self.tolerance >= 0:
            raise ValueError(f"Invalid tolerance {self.tolerance!r} (must be >= 0)")

    @property
    def error(self) -> float:
        """``measured - predicted`` (relative to ``|predicted|`` for ``kind="rel"``)."""
        p, m = float(self.predicted), float(self.measured)
        if self.kind == "rel":
            return (m - p) / abs(p) if p != 0 else (0.0 if m == 0 else math.inf)
        return m - p

    @property
    def passed(self) -> bool:
        p, m = float(self.predicted), float(self.measured)
        if not math.isfinite(m) or not math.isfinite(p):
            return m == p
        tol = float(self.tolerance)
        if self.kind == "rel":
            return abs(m - p) <= tol * abs(p)
        if self.kind == "abs":
            return abs(m - p) <= tol
        if self.kind == "le":
            return m <= p + tol
        return m >= p - tol

    def to_dict(self) -> dict:
        """JSON-ready: the fields, plus ``error`` and ``passed`` (non-finite numbers as text)."""
        d = asdict(self)
        d.update(error=self.error, passed=self.passed)
        return {k: _plain(v) for k, v in d.items()}


def _plain(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if hasattr(v, "item"):
        return _plain(v.item())
    return v


def from_dict(d: dict) -> Claim:
    """A claim back from its :meth:`Claim.to_dict` form (``metrics.json``)."""
    def num(v):
        return {"inf": math.inf, "-inf": -math.inf, None: math.nan}.get(v, v) if not isinstance(v, (int, float)) \
            else float(v)
    return Claim(claim=d["claim"], formula=d["formula"], predicted=num(d["predicted"]), measured=num(d["measured"]),
                 tolerance=float(d["tolerance"]), kind=d.get("kind", "rel"), source=d.get("source", ""),
                 where=d.get("where", ""))


def table(claims) -> list[dict]:
    """The claims as JSON-ready rows (what ``metrics.json`` keeps under ``"theory"``)."""
    return [c.to_dict() for c in claims]


def _num(v) -> str:
    v = float(v)
    if not math.isfinite(v):
        return str(v)
    return f"{v:.6g}"


def _tol(c: Claim) -> str:
    sym = {"rel": "±", "abs": "±", "le": "<= +", "ge": ">= -"}[c.kind]
    return f"{sym}{c.tolerance:.3g}" + ("" if c.kind != "rel" else " rel")


def format_table(claims) -> str:
    """A plain-text table: verdict, case, claim, predicted, measured, tolerance."""
    rows = [("", "case", "claim", "predicted", "measured", "tolerance")]
    for c in claims:
        rows.append(("PASS" if c.passed else "FAIL", c.where, c.claim, _num(c.predicted), _num(c.measured), _tol(c)))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    widths[2] = min(widths[2], 70)
    lines = []
    for r in rows:
        cells = [str(v)[:widths[i]].ljust(widths[i]) for i, v in enumerate(r)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def summary(claims) -> str:
    claims = list(claims)
    bad = sum(not c.passed for c in claims)
    return f"{len(claims) - bad} of {len(claims)} claims hold" + (f", {bad} fail" if bad else "")


def number_text(v) -> str:
    """A predicted or measured value as the tables print it (six significant digits)."""
    return _num(v)


def tolerance_text(c: Claim) -> str:
    """A claim's tolerance as the tables print it: ``±0.02 rel``, ``±1``, ``<= +0.1``, ``>= -0.1``."""
    return _tol(c)
