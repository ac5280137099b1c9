"""Shared fixtures: one artifact cache for the whole session (and all xdist workers), real zoos."""

import os

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    try:
        import torch

        torch.set_num_threads(1)  # one core per worker
    except ImportError:  # the torch-free core's own virtualenv runs tests/core only
        pass


def pytest_collection_modifyitems(config, items):
    """Tests marked `gpu` need a CUDA device: skipped where torch sees none (or is not installed)."""
    marked = [item for item in items if item.get_closest_marker("gpu")]
    if not marked:
        return
    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    if not cuda:
        for item in marked:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA device (benchmarks/gpu_check.sh runs it on one)"))


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    """A cache shared by all workers of this session: each artifact is trained once (file-locked)."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "artifact-cache"
    root.mkdir(exist_ok=True)
    os.environ["STITCHBENCH_CACHE"] = str(root)
    return root


@pytest.fixture(scope="session")
def digits():
    from stitchbench.data import get_scenario

    return get_scenario("digits-shift")


@pytest.fixture(scope="session")
def zoo(digits, cache_dir):
    """The default zoo of digits-shift: locals, merged, FedAvg, FedProx; cnn; seed 0. Trained in 2 processes: the
    other test worker waits on the same models (the cache's lock) meanwhile."""
    from stitchbench.zoo import build_zoo

    return build_zoo(digits, cache_dir=cache_dir, workers=2)


@pytest.fixture(scope="session")
def hetero_zoo(digits, cache_dir):
    """Local models of both architecture families (for heterogeneous stitching)."""
    from stitchbench.zoo import build_zoo

    return build_zoo(digits, archs=["resnet"], kinds=["local"], cache_dir=cache_dir)


@pytest.fixture(scope="session")
def setup_db(zoo, cache_dir):
    """Host uci-digits, members (uci-digits, mnist) cnn, stitches trained double-batched (the default)."""
    from stitchbench.stitching import stitch_setup

    return stitch_setup(zoo, "uci-digits", "double-batched", cache_dir=cache_dir)


@pytest.fixture(scope="session")
def weights_problem(zoo):
    from stitchbench.problems import create_problem

    return create_problem("ensemble-weights", zoo)


@pytest.fixture(scope="session")
def se_problem(zoo, setup_db, cache_dir):
    from stitchbench.problems import create_problem

    return create_problem("stitch-ensemble", zoo, host="uci-digits", cache_dir=cache_dir)


@pytest.fixture(scope="session")
def se_table(zoo, setup_db, cache_dir):
    """The stitch-ensemble of `se_problem` with cost and alpha on a 5-value grid: tabular."""
    from stitchbench.problems import create_problem

    return create_problem("stitch-ensemble", zoo, host="uci-digits", alpha_grid=5, cost=True, cache_dir=cache_dir)


@pytest.fixture(scope="session")
def graph_problem(zoo, cache_dir):
    from stitchbench.problems import create_problem

    return create_problem("stitch-graph", zoo, host="uci-digits", cache_dir=cache_dir)


@pytest.fixture(scope="session")
def brain():
    """brain-mri at 32x32 (the default is 64x64): the same code path, a quarter of the compute."""
    from stitchbench.data import get_scenario

    return get_scenario("brain-mri", size=32)


@pytest.fixture(scope="session")
def brain_zoo(brain, cache_dir):
    """Trained in 2 processes: the other test worker waits on the same models (the cache's lock) meanwhile."""
    from stitchbench.zoo import build_zoo

    return build_zoo(brain, cache_dir=cache_dir, workers=2)


BRAIN_STITCHES = {"method": "feature-match", "recipe": {"match_epochs": 1}}


@pytest.fixture(scope="session")
def brain_setup(brain_zoo, cache_dir):
    """Feature-matched stitches, one epoch (the brain problems share them: BRAIN_STITCHES)."""
    from stitchbench.stitching import stitch_setup

    return stitch_setup(brain_zoo, "site-a", cache_dir=cache_dir, **BRAIN_STITCHES)
