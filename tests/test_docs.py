"""Every command and every query filter is documented in the README (the sqlite-utils rule)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from photocap import cli
from photocap.library.search import query

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _subcommands(parser: argparse.ArgumentParser,
                 prefix: str = "") -> list[tuple[str, argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:                      # argparse has no public walk of subparsers
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((f"{prefix}{name}", sub))
                found += _subcommands(sub, f"{prefix}{name} ")
    return found


COMMANDS = _subcommands(cli.build_parser())


def test_the_parser_has_commands():
    assert {"index", "search", "status", "doctor"} <= {name for name, _ in COMMANDS}


@pytest.mark.parametrize("name", sorted({name.split()[0] for name, _ in COMMANDS}))
def test_every_command_is_in_the_readme(name):
    assert re.search(rf"`(photocap )?{re.escape(name)}\b", README), f"`{name}` is not documented in README.md"


def _help_lines(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, str]:
    """Each subcommand's line in its parent's --help."""
    lines = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                lines[f"{prefix}{choice.dest}"] = choice.help or ""
            for name, sub in action.choices.items():
                lines.update(_help_lines(sub, f"{prefix}{name} "))
    return lines


HELP = _help_lines(cli.build_parser())


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS])
def test_every_command_has_a_help_line(name):
    assert HELP.get(name, "").strip(), f"`photocap {name}` has no help line in its parent's --help"


@pytest.mark.parametrize("key", query.FILTER_KEYS)
def test_every_query_filter_is_in_the_readme(key):
    assert f"`{key}:" in README or f" {key}:" in README, f"the filter {key}: is not documented in README.md"
