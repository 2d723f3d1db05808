"""``tyro.cli`` for every command line of the project, with one check tyro does not make.

tyro (like argparse) keeps only the last of a flag given twice, so ``--runs A --runs B`` or
``--agent a 1 --agent b 2`` would silently drop the first values. :func:`cli` refuses a
many-valued flag given twice before parsing; everything else is tyro's.
:func:`subcommand_cli` does the same for a command line of sub-commands.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import tyro

from replay_gym.validation import accumulating_flags, refuse_repeated_flags

__all__ = ["cli", "subcommand_cli"]


def cli(target: Callable[..., Any], *, args: Sequence[str] | None = None, **kwargs: Any) -> Any:
    """``tyro.cli(target, args=args, **kwargs)`` after refusing a many-valued flag given twice.

    Args:
        target: A dataclass or a function, as ``tyro.cli`` takes it.
        args: The arguments (default: ``sys.argv[1:]``).
        **kwargs: Passed to ``tyro.cli`` (``default``, ``prog``, ...).

    Raises:
        SystemExit: A list, set, tuple-of-any-length or dict flag given twice; the message
            names it and shows the one flag that keeps every value.
    """
    argv = list(sys.argv[1:] if args is None else args)
    refuse_repeated_flags(argv, accumulating_flags(target))
    return tyro.cli(target, args=argv, **kwargs)


def subcommand_cli(
    commands: dict[str, Callable[..., Any]], *, args: Sequence[str] | None = None, **kwargs: Any
) -> Any:
    """``tyro.extras.subcommand_cli_from_dict`` with :func:`cli`'s check on the chosen command.

    Args:
        commands: Sub-command name -> dataclass or function, as tyro takes them.
        args: The arguments (default: ``sys.argv[1:]``); the first names the sub-command.
        **kwargs: Passed to tyro (``prog``, ``description``, ...).

    Raises:
        SystemExit: A many-valued flag of the chosen sub-command given twice.
    """
    argv = list(sys.argv[1:] if args is None else args)
    if argv and argv[0] in commands:
        refuse_repeated_flags(argv[1:], accumulating_flags(commands[argv[0]]))
    return tyro.extras.subcommand_cli_from_dict(commands, args=argv, **kwargs)
