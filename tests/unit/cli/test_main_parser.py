"""``openkms serve`` is parsed by a parser of that command alone (a server's start builds no other,
issue 16): it must read every argument, and answer ``--help`` and a mistake, as the whole one."""

from __future__ import annotations

import argparse

import pytest

from openkms.cli import main

SERVE_ARGUMENTS = [
    ["serve"],
    ["serve", "--dev"],
    ["serve", "--dev", "--data-dir", "/tmp/x", "--seed", "seed.toml", "--deterministic", "s1"],
    ["serve", "--config", "openkms.toml", "--host", "::1", "--port", "9000", "--tls-port", "9443", "--workers", "3"],
    ["serve", "--no-http"],
    ["serve", "--no-tls"],
]


def _parsed(parser: argparse.ArgumentParser, argv: list[str]) -> dict[str, object]:
    return vars(parser.parse_args(argv))


@pytest.mark.parametrize("argv", SERVE_ARGUMENTS, ids=" ".join)
def test_the_serve_parser_reads_serve_as_the_whole_command_line(argv: list[str]) -> None:
    assert _parsed(main.build_parser(serve_only=True), argv) == _parsed(main.build_parser(), argv)
    assert vars(main.parse(argv)) == _parsed(main.build_parser(), argv)


@pytest.mark.parametrize("argv", [["serve", "--help"], ["serve", "--port", "x"], ["serve", "--bogus"]])
def test_help_and_mistakes_read_the_same(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    answers = []
    for parser in (main.build_parser(serve_only=True), main.build_parser()):
        with pytest.raises(SystemExit) as exited:
            parser.parse_args(argv)
        answers.append((exited.value.code, capsys.readouterr()))
    assert answers[0] == answers[1]
    assert answers[0][1].out or answers[0][1].err  # something was said


def test_the_other_commands_get_the_whole_parser() -> None:
    assert main.parse(["accesskey", "list"]).func.__name__ == "list_access_keys"
    with pytest.raises(SystemExit):
        main.build_parser(serve_only=True).parse_args(["accesskey", "list"])


def test_the_named_commands_are_the_whole_parsers() -> None:
    commands = next(a for a in main.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert tuple(commands.choices) == main.COMMANDS
