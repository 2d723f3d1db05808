"""replay_gym.cli.cli: tyro's parsing, with a many-valued flag given twice refused."""

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from replay_gym.cli import cli


def _main(runs: list[Path], out: Path = Path("o"), seeds: tuple[int, ...] = (0,)) -> tuple:
    return runs, out, seeds


@dataclass
class _Args:
    agent: dict[str, str] = field(default_factory=dict)
    days: int = 1


def test_a_function_or_dataclass_parses_as_tyro_does():
    assert cli(_main, args=["--runs", "a", "b", "--seeds", "3", "4"]) == (
        [Path("a"), Path("b")], Path("o"), (3, 4))  # fmt: skip
    assert cli(_Args, args=["--agent", "k", "v", "--days", "1", "--days", "2"]) == _Args(
        {"k": "v"}, 2)  # one-valued flags keep last-wins  # fmt: skip


@pytest.mark.parametrize(
    ("target", "argv", "message"),
    [
        (_main, ["--runs", "a", "--runs", "b"], "--runs is given twice.*--runs a b$"),
        (_main, ["--seeds", "1", "--out", "x", "--seeds=2"], "--seeds is given twice"),
        (_Args, ["--agent", "a", "1", "--agent", "b", "2"], "--agent a 1 b 2$"),
    ],
)
def test_a_many_valued_flag_given_twice_is_refused(target, argv, message):
    with pytest.raises(SystemExit, match=message):
        cli(target, args=argv)


def test_the_benchmark_scripts_refuse_it_too(tmp_path):
    done = subprocess.run(
        [sys.executable, "benchmarks/paper/regression_init.py", "--runs", "a", "--runs", "b",
         "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and "--runs is given twice" in done.stderr
    assert not (tmp_path / "o").exists()


def test_subcommands_parse_and_refuse_a_flag_given_twice_in_the_chosen_one():
    from replay_gym.cli import subcommand_cli

    commands = {"go": _Args, "list": _main}
    assert subcommand_cli(commands, args=["go", "--agent", "k", "v"]) == _Args({"k": "v"}, 1)
    with pytest.raises(SystemExit, match="--agent is given twice.*--agent a 1 b 2$"):
        subcommand_cli(commands, args=["go", "--agent", "a", "1", "--agent", "b", "2"])
    with pytest.raises(SystemExit, match="--runs is given twice"):
        subcommand_cli(commands, args=["list", "--runs", "a", "--runs", "b"])
