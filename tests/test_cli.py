import subprocess
import sys

import pandas as pd
import pytest

from stitchbench.cli import main


def test_list_scenarios_and_architectures(capsys):
    assert main(["list", "scenarios"]) == 0
    out = capsys.readouterr().out
    assert "digits-shift" in out and "digits-shift-4" in out and "1078" in out
    assert main(["list", "architectures"]) == 0
    out = capsys.readouterr().out
    assert "cnn" in out and "resnet" in out
    assert main(["list", "architectures", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("name,task,parameters,about\n")
    assert main(["list", "scenarios", "--format", "md"]) == 0
    assert capsys.readouterr().out.startswith("| name | task | K |")


def test_stitch_points_in_every_format(capsys):
    assert main(["stitch", "points", "digits-shift", "--arch", "cnn", "--arch-b", "resnet"]) == 0
    assert "stitch points A (cnn) <-> B (resnet)" in capsys.readouterr().out
    assert main(["stitch", "points", "digits-shift", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("#,A (cnn),A shape,B (cnn),B shape\n0,")
    assert main(["stitch", "points", "digits-shift", "--format", "md"]) == 0
    assert capsys.readouterr().out.startswith("| # | A (cnn) | A shape |")


def test_zoo_build_and_show(zoo, cache_dir, tmp_path, capsys):
    out = tmp_path / "zoo"
    argv = ["--quiet", "--cache", str(cache_dir), "zoo", "build", "digits-shift", "--out", str(out)]
    assert main(argv) == 0
    matrix = pd.read_parquet(out / "zoo.parquet")
    expected = zoo.evaluation_matrix()
    assert matrix.sort_values(list(matrix.columns[:5])).value.tolist() == pytest.approx(
        expected.sort_values(list(expected.columns[:5])).value.tolist()
    )
    capsys.readouterr()
    assert main(["zoo", "show", str(out), "--format", "csv"]) == 0
    csv = capsys.readouterr().out.splitlines()
    assert csv[0] == "kind,arch,seed,party,split,metric,value"
    assert len(csv) == 1 + 20
    assert main(["zoo", "show", str(out), "--format", "md"]) == 0
    assert capsys.readouterr().out.startswith("| kind | arch |")


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["zoo", "build", "cifar"], "unknown scenario 'cifar'"),
        (["zoo", "build", "digits-shift", "-p", "k=5"], "k=5"),
        (["zoo", "build", "digits-shift", "--arch", "vit"], "unknown architecture 'vit'; valid architectures: cnn"),
        (["zoo", "build", "digits-shift", "--kinds", "fedsgd"], "unknown model kind 'fedsgd'"),
        (["zoo", "build", "digits-shift", "--recipe", "lr=-1"], "lr"),
        (["zoo", "show", "/nonexistent"], "holds no zoo"),
        (["list", "widgets"], "invalid choice: 'widgets'"),
    ],
)
def test_bad_input_exits_2_with_a_message(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_console_script_exit_code():
    r = subprocess.run(
        [sys.executable, "-m", "stitchbench.cli", "zoo", "build", "nope"], capture_output=True, text=True
    )
    assert r.returncode == 2
    assert "unknown scenario 'nope'" in r.stderr and "Traceback" not in r.stderr
