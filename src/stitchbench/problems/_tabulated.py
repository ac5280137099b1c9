"""The tabular form of a live family's problem: identity, references, members and cost from the live problem
it tabulates, every objective vector from its table."""

from stitchbench.tabular._problem import TableBackedProblem

from ._baselines import ZooBaselines


class TabulatedLive(ZooBaselines, TableBackedProblem):
    """`live`: the problem this one tabulates; `table_artifact`, `table`: its stored table."""

    def __init__(self, live, table_artifact, table):
        super().__init__()
        self.live, self.zoo, self.host, self.name = live, live.zoo, live.host, live.name
        self.variables, self.objectives = live.variables, live.objectives
        self.table_artifact, self.table = table_artifact, table

    def reference_spec(self):
        return self.live.reference_spec()

    def train_parties(self) -> list[str]:
        return self.live.train_parties()

    def member_kinds(self):
        return self.live.member_kinds()

    def max_cost(self) -> float:
        return self.live.max_cost()
