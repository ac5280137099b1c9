import pytest

from stitchbench.data import get_scenario
from stitchbench.zoo import build_zoo


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bench-cache")


@pytest.fixture(scope="session")
def digits():
    return get_scenario("digits-shift")


@pytest.fixture(scope="session")
def zoo(digits, cache_dir):
    return build_zoo(digits, cache_dir=cache_dir)
