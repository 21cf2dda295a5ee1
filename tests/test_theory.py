"""optlab.theory: the verdict of a claim for each kind of tolerance, and its JSON round trip."""
import json
import math

import pytest

from optlab.theory import Claim, format_table, from_dict, summary, table


def claim(predicted, measured, tolerance, kind):
    return Claim(claim="c", formula="f", predicted=predicted, measured=measured, tolerance=tolerance, kind=kind)


@pytest.mark.parametrize("predicted, measured, tolerance, kind, passed", [
    (2.0, 2.03, 0.02, "rel", True), (2.0, 2.05, 0.02, "rel", False), (2.0, 1.95, 0.02, "rel", False),
    (2.0, 2.9, 1.0, "abs", True), (2.0, 0.9, 1.0, "abs", False),
    (2.0, 2.5, 1.0, "le", True), (2.0, -100.0, 1.0, "le", True), (2.0, 3.5, 1.0, "le", False),
    (2.0, 1.5, 1.0, "ge", True), (2.0, 100.0, 1.0, "ge", True), (2.0, 0.5, 1.0, "ge", False),
    (2.0, math.nan, 1.0, "abs", False), (2.0, math.inf, 1.0, "ge", False), (math.inf, math.inf, 0.0, "abs", True),
])
def test_verdicts(predicted, measured, tolerance, kind, passed):
    assert claim(predicted, measured, tolerance, kind).passed is passed


def test_bad_kind_and_tolerance_are_refused():
    with pytest.raises(ValueError, match="kind"):
        claim(1.0, 1.0, 0.1, "approx")
    with pytest.raises(ValueError, match="tolerance"):
        claim(1.0, 1.0, -0.1, "abs")


def test_json_round_trip_keeps_non_finite_values():
    claims = [claim(1.0, math.inf, 0.1, "le"), claim(1.0, math.nan, 0.1, "abs"), claim(0.5, 0.5, 0.0, "abs")]
    rows = json.loads(json.dumps(table(claims), allow_nan=False))   # strict JSON, as metrics.json is written
    assert [r["passed"] for r in rows] == [False, False, True] and rows[0]["measured"] == "inf"
    back = [from_dict(r) for r in rows]
    assert back[0].measured == math.inf and math.isnan(back[1].measured) and back[2] == claims[2]
    assert summary(back) == "1 of 3 claims hold, 2 fail"
    assert [line.split()[0] for line in format_table(back).splitlines()[1:]] == ["FAIL", "FAIL", "PASS"]
