"""The paper's study (PAPER.md): its claims check, the headline and their report sections, layered over the
generic benchmark as an analysis (`analyses = ["claims"]` in a suite). It depends on the library; nothing in
the library imports it (an import-linter contract)."""

from .analysis import ClaimsAnalysis
from .bootstrap import FAILS, HOLDS, INCONCLUSIVE, NOT_APPLICABLE, NOT_TESTED
from .claims import check_claims

__all__ = ["FAILS", "HOLDS", "INCONCLUSIVE", "NOT_APPLICABLE", "NOT_TESTED", "ClaimsAnalysis", "check_claims"]
