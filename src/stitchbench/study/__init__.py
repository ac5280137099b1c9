"""The paper's study (PAPER.md): its claims check, the headline and their report sections, layered over the
generic benchmark as an analysis (`analyses = ["claims"]` in a suite). It depends on the library; nothing in
the library imports it (an import-linter contract)."""

from ._analysis import ClaimsAnalysis
from ._bootstrap import FAILS, HOLDS, INCONCLUSIVE, NOT_APPLICABLE, NOT_TESTED
from ._claims import check_claims
from ._records import ClaimsRecord

__all__ = [
    "FAILS",
    "HOLDS",
    "INCONCLUSIVE",
    "NOT_APPLICABLE",
    "NOT_TESTED",
    "ClaimsAnalysis",
    "ClaimsRecord",
    "check_claims",
]
