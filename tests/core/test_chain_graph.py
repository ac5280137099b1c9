"""A chain's stitch-graph table (torch-free): canonical forms from the bits, a row found by binary search among
the sorted canonical decisions, per-sample val scores as bits (fidelities by popcount)."""

import numpy as np
import pytest

from stitchbench.errors import InputError
from stitchbench.tabular._fidelity import prefix
from stitchbench.tabular._graph import (
    ChainGraphTable,
    GraphTable,
    chain_candidates,
    chain_canonical,
    decision_index,
    pack_bits,
    raw_rows,
    rows_of,
)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6])
def test_the_canonical_decisions_are_those_the_rule_reaches_and_fixed_by_it(k):
    every = chain_canonical(raw_rows(k), k)
    canonical = chain_candidates(k)
    assert len(canonical) == (k + 3) * 2**k  # A or B output: 2^k lineages each; avg: (k + 1) 2^k
    assert np.array_equal(np.unique(every), canonical)
    assert np.array_equal(chain_canonical(rows_of(canonical, k), k), canonical)  # idempotent
    assert np.array_equal(rows_of(np.arange(3 * 4**k), k), raw_rows(k))


def test_the_rule_turns_off_exactly_the_switches_no_output_reads():
    k = 2  # rows: ab.p0, ab.p1, ba.p0, ba.p1, output
    cases = {
        (1, 1, 0, 0, 0): (0, 0, 0, 0, 0),  # output A reads no A->B switch
        (0, 0, 1, 1, 0): (0, 0, 0, 1, 0),  # A takes B's value at p1, so B's before: p0's B->A is not read
        (1, 0, 0, 1, 0): (1, 0, 0, 1, 0),  # ... but B's A->B switch at p0 is
        (1, 1, 1, 1, 2): (1, 1, 1, 1, 2),  # avg reads both members everywhere they swap
        (1, 1, 0, 0, 2): (0, 1, 0, 0, 2),  # B takes A at p1: B's value before p1 is unread
    }
    rows = np.array(list(cases), dtype=float)
    assert np.array_equal(chain_canonical(rows, k), decision_index(np.array(list(cases.values())), k))


def make_table(k=3, n=(40, 29), seed=0):
    rng = np.random.default_rng(seed)
    canonical = chain_candidates(k)
    samples = {p: rng.integers(0, 2, (len(canonical), m)).astype(float) for p, m in zip("ab", n, strict=True)}
    val = np.column_stack([samples["a"].mean(1), samples["b"].mean(1), rng.random(len(canonical))])
    bits = {p: pack_bits(s) for p, s in samples.items()}
    table = ChainGraphTable(canonical, k, {"val": val, "test": val[::-1].copy()}, bits, dict(zip("ab", n, strict=True)))
    return table, samples


def test_lookup_scores_every_raw_decision_as_its_canonical_candidate():
    table, _ = make_table()
    rows, objectives = raw_rows(3), ["a", "b", None]
    assert np.array_equal(table.lookup(table.candidates, objectives, "val"), table.scores["val"])  # row i: its own
    canonical = rows_of(chain_canonical(rows, 3), 3)
    assert np.array_equal(table.lookup(rows, objectives, "test"), table.lookup(canonical, objectives, "test"))
    with pytest.raises(InputError, match="no split 'train'"):
        table.lookup(rows, objectives, "train")


def test_a_table_missing_a_canonical_decision_is_refused_when_made():
    table, _ = make_table()
    for kept in (slice(1, None), slice(None, -1)):  # the first or the last missing
        with pytest.raises(InputError, match="every canonical decision of a 3-point chain"):
            ChainGraphTable(table.canonical[kept], 3, {"val": table.scores["val"][kept]})


def test_fidelities_count_the_bits_of_their_prefix_exactly():
    table, samples = make_table()
    keep = {p: prefix(p, s.shape[1], 0.4) for p, s in samples.items()}
    half = table.restrict(keep, ["a", "b", None])
    for j, p in enumerate("ab"):
        assert np.array_equal(half.scores["val"][:, j], samples[p][:, keep[p]].astype(np.float64).mean(1))
    assert np.array_equal(half.scores["val"][:, 2], table.scores["val"][:, 2])  # cost: never cut
    assert np.array_equal(half.scores["test"], table.scores["test"])
    assert table.val_samples("b") == 29
    with pytest.raises(InputError, match="no per-sample scores of 'c'"):
        table.val_samples("c")


def test_arrays_round_trip_and_bad_arrays_are_refused():
    table, _ = make_table()
    back = GraphTable.from_arrays(table.to_arrays())
    assert isinstance(back, ChainGraphTable) and back.k == 3
    for name, value in table.to_arrays().items():
        assert np.array_equal(back.to_arrays()[name], value)
    arrays = table.to_arrays()
    for bad, match in [
        ({"canonical": arrays["canonical"][::-1].copy()}, "every canonical decision"),
        ({"k": np.array([4])}, "of a 4-point chain"),
        ({"k": np.array([0])}, r"k in 1\.\.20"),
        ({"bits.a": arrays["bits.a"][:, :2]}, "a's bits"),
        ({"sample_count.c": np.array([3])}, r"bits of \['a', 'b'\] but sample counts of \['a', 'b', 'c'\]"),
        ({"scores.val": arrays["scores.val"][:5]}, "val scores have shape"),
    ]:
        with pytest.raises(InputError, match=match):
            GraphTable.from_arrays({**arrays, **bad})
    with pytest.raises(InputError, match="dtype float64"):
        ChainGraphTable(table.canonical.astype(float), 3, table.scores)
    with pytest.raises(InputError, match="missing array 'k'"):
        GraphTable.from_arrays({n: v for n, v in arrays.items() if n != "k"})
    with pytest.raises(InputError, match="other than 0 and 1"):
        pack_bits(np.array([[0.0, 0.5]]))


def test_a_loaded_chain_reads_its_bits_only_for_a_fidelity_and_verifies_them_again(tmp_path, monkeypatch):
    """A shipped deep graph loads without its per-sample bits (most of its bytes): a lookup at fidelity 1 never
    reads them; a fidelity reads each party's once, its file's sha256 checked again then, so a file changed
    after the load is refused, naming it; the scores are those of the bits read at once."""
    import json
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    from stitchbench._hashing import file_sha256
    from stitchbench.moo._api import sample_uniform
    from stitchbench.tabular import TableIntegrityError, _graph, load
    from stitchbench.tabular._catalog import resolve
    from stitchbench.tabular._fidelity import val_sizes
    from stitchbench.tabular._files import read, read_manifest
    from stitchbench.tabular._load import check_scores

    directory, _ = resolve("deep.graph-11@uci-digits+cost")
    read_files = []
    monkeypatch.setattr(_graph, "read_again", lambda *a: read_files.append(a[2]) or read(*a))
    problem = load(directory)
    objectives = problem.objective_parties()
    parties = [p for p in objectives if p is not None]
    rows = np.asarray(sample_uniform(problem, 200, np.random.default_rng(0)), dtype=float)
    problem.evaluate(rows, "val")
    assert val_sizes(problem) == {p: problem.table.sample_counts[p] for p in parties} and read_files == []
    half = np.asarray(problem.with_fidelity(0.5).evaluate(rows, "val"))
    assert sorted(read_files) == sorted(f"graph.bits.{p}.parquet" for p in parties)
    problem.with_fidelity(0.25).evaluate(rows, "val")
    assert len(read_files) == len(parties)  # read once, kept

    manifest = read_manifest(directory)
    eager = GraphTable.from_arrays(
        {n: _graph.stacked(read(directory, manifest, f"graph.{n}.parquet")) for n in manifest["graph_arrays"]}
    )
    keep = {p: prefix(p, eager.sample_counts[p], 0.5) for p in parties}
    assert np.array_equal(half, eager.restrict(keep, objectives).lookup(rows, objectives, "val"))

    monkeypatch.undo()  # the real reader from here: the same scores
    assert np.array_equal(np.asarray(load(directory).with_fidelity(0.5).evaluate(rows, "val")), half)

    copy = tmp_path / "copy"
    shutil.copytree(directory, copy)
    moved = load(copy)
    bits = copy / f"graph.bits.{parties[0]}.parquet"
    data = bits.read_bytes()
    bits.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])  # changed after the load
    with pytest.raises(TableIntegrityError, match=f"{bits.name}: sha256 .* expected"):
        moved.with_fidelity(0.5)
    # bits of the wrong shape, their hash in the manifest: the load passes, `table check` refuses them
    pq.write_table(pa.table({"value": np.zeros(3, np.uint8)}), bits)
    listed = json.loads((copy / "manifest.json").read_text())
    listed["files"][bits.name] = file_sha256(bits)
    (copy / "manifest.json").write_text(json.dumps(listed))
    with pytest.raises(InputError, match=f"{parties[0]}'s bits \\(3,\\) uint8"):
        check_scores(load(copy))
