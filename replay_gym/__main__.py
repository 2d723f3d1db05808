"""Command line: ``python -m replay_gym {run,sweep,train-sb3,pretrain,compare,plot} [--help]``.

``--preset NAME`` picks the base environment configuration; every other flag (``--env.days 3``,
``--env.learner.lr 1e-3``) changes a single setting on top of it, and ``--help`` shows the
preset's values as defaults.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from replay_gym.cli import cli
from replay_gym.config import PRESETS, preset

USAGE = """usage: python -m replay_gym COMMAND [--help]

commands:
  run        run a condition or selector for several seeds (writes a run directory)
  train-sb3  train a Stable-Baselines3 agent on ReplaySelect-v0 and save it
  pretrain   pretrain a shipped scaled VGG-16 base (--base embedded or embedded-fashion-mnist)
  sweep      run a grid of conditions x seeds x settings (local pool, Slurm or Ray)
  compare    table (mean ± s.e.m. per condition and day) and learning curves of run directories
  plot       the paper's figure types from run directories: curves, final, scatter, gain
"""


INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT), as shells report it."""


def _preset_name(argv: Sequence[str]) -> str:
    """The value of ``--preset`` in ``argv`` (default ``default``), checked early."""
    name = "default"
    for i, arg in enumerate(argv):
        if arg == "--preset" and i + 1 < len(argv):
            name = argv[i + 1]
        elif arg.startswith("--preset="):
            name = arg.split("=", 1)[1]
    if name not in PRESETS:
        raise SystemExit(f"error: unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return name


def _with_preset(cls: type, argv: Sequence[str]) -> Any:
    """Defaults of ``cls`` with its ``env`` taken from the preset named in ``argv``."""
    name = _preset_name(argv)
    return cls(preset=name, env=preset(name))


def _flag_value(argv: Sequence[str], flag: str) -> str | None:
    """The value of ``flag`` in ``argv`` (``--flag V`` or ``--flag=V``), or None."""
    value = None
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith(flag + "="):
            value = arg.split("=", 1)[1]
    return value


def _stoppable(command: Callable[[Any], Any], args: Any) -> Any:
    """Run ``command(args)``; a stop by SIGINT or SIGTERM exits non-zero without a traceback.

    A :class:`~replay_gym.rundir.RunInterrupted` (the command wrote a checkpoint) prints its one
    line, which says how to resume, and exits with ``128 + signal``. A ``KeyboardInterrupt`` (a
    second Ctrl-C, which stops at once; the last checkpoint is kept) exits with 130.
    """
    from replay_gym.rundir import RunInterrupted

    try:
        return command(args)
    except RunInterrupted as stopped:
        print(stopped, file=sys.stderr)
        raise SystemExit(stopped.exit_code) from None
    except KeyboardInterrupt:
        raise SystemExit(INTERRUPTED) from None


def _commands() -> dict[str, tuple[Callable[[Sequence[str]], Any], Callable[[Any], Any]]]:
    """COMMAND -> (parse argv into args, run args). Imports stay lazy for a quick ``--help``."""

    def parse_run(argv: Sequence[str]) -> Any:
        from replay_gym.runner import RunArgs

        resume = _flag_value(argv, "--resume")
        if resume is not None and "-h" not in argv and "--help" not in argv:
            # The interrupted run's own settings are the defaults; a flag that changes one is
            # refused when the run starts.
            try:
                default = RunArgs.resuming(resume)
            except (ValueError, FileNotFoundError) as error:
                raise SystemExit(f"error: {error}") from error
        else:
            default = _with_preset(RunArgs, argv)
        return cli(RunArgs, default=default, args=argv, prog="python -m replay_gym run")

    def do_run(args: Any) -> Any:
        from replay_gym.rundir import RunFailed
        from replay_gym.runner import run

        try:
            return _stoppable(run, args)
        except RunFailed as failed:
            raise SystemExit(f"error: {failed}") from None

    def parse_sb3(argv: Sequence[str]) -> Any:
        from replay_gym.agents.sb3 import TrainSB3Args

        return cli(TrainSB3Args, default=_with_preset(TrainSB3Args, argv), args=argv,
                        prog="python -m replay_gym train-sb3")

    def do_sb3(args: Any) -> Any:
        from replay_gym.agents.sb3 import train_sb3

        return _stoppable(train_sb3, args)

    def parse_pretrain(argv: Sequence[str]) -> Any:
        from replay_gym.learner.pretrain import PretrainArgs, recipe

        try:  # the named base's recipe gives the defaults, as --preset does for run
            default = recipe(_flag_value(argv, "--base") or "embedded")
        except ValueError as error:
            raise SystemExit(f"error: {error}") from error
        return cli(PretrainArgs, default=default, args=argv,
                        prog="python -m replay_gym pretrain")

    def do_pretrain(args: Any) -> Any:
        from replay_gym.learner.pretrain import pretrain

        return pretrain(args)

    def parse_sweep(argv: Sequence[str]) -> Any:
        from replay_gym.sweep import SweepArgs

        return cli(SweepArgs, args=argv, prog="python -m replay_gym sweep")

    def do_sweep(args: Any) -> Any:
        from replay_gym.sweep import sweep

        return _stoppable(sweep, args)

    def parse_compare(argv: Sequence[str]) -> Any:
        from replay_gym.plots import CompareArgs

        return cli(CompareArgs, args=argv, prog="python -m replay_gym compare")

    def parse_plot(argv: Sequence[str]) -> Any:
        from replay_gym.plots import PlotArgs

        return cli(PlotArgs, args=argv, prog="python -m replay_gym plot")

    def do_plots(args: Any) -> Any:
        from replay_gym.plots import CompareArgs, compare, plot

        return compare(args) if isinstance(args, CompareArgs) else plot(args)

    return {
        "run": (parse_run, do_run),
        "sweep": (parse_sweep, do_sweep),
        "train-sb3": (parse_sb3, do_sb3),
        "pretrain": (parse_pretrain, do_pretrain),
        "compare": (parse_compare, do_plots),
        "plot": (parse_plot, do_plots),
    }


def main(argv: Sequence[str] | None = None) -> Any:
    """Entry point of ``python -m replay_gym`` and the ``replay-gym`` script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = _commands()
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return None
    command, rest = argv[0], argv[1:]
    if command not in commands:
        raise SystemExit(f"error: unknown command {command!r}\n\n{USAGE}")
    parse, execute = commands[command]
    args = parse(rest)
    try:
        return execute(args)
    except (ValueError, FileExistsError, FileNotFoundError) as error:
        raise SystemExit(f"error: {error}") from error


if __name__ == "__main__":
    main()
