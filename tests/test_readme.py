"""The README and docs/ say only what works: links, make targets, flags, environment variables.

Every relative link names a file that exists and, with a ``#anchor``, a heading of that file
(GitHub's slugs); every ``make X`` in the README is a Makefile target; every flag in a
``python <program>.py`` command of the README and docs/ is one the program's own parser knows;
every environment variable of a configuration table is read by the code. No subprocess: the
parsers are built in-process, and the whole module runs in well under a second.
"""

from __future__ import annotations

import argparse
import importlib
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^```.*?^```[ \t]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)
ENV_NAME = re.compile(r"\b((?:MQTT|NEMLIVE|OPENELECTRICITY)_[A-Z0-9_]+)\b")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _prose(text: str) -> str:
    """The text outside fenced code blocks and inline code spans."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def _code_blocks(text: str) -> list[str]:
    return [m.group(0).split("\n", 1)[1].rsplit("```", 1)[0] for m in FENCE.finditer(text)]


def _code(text: str) -> list[str]:
    """Fenced blocks and inline code spans: where the commands are."""
    spans = [m.group(0).strip("`") for m in INLINE_CODE.finditer(FENCE.sub("", text))]
    return _code_blocks(text) + spans


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup out, lower-case, punctuation dropped, spaces -> '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"[`*_~]|<[^>]+>", "", text)  # code, emphasis, inline HTML
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor in a Markdown file, repeats numbered as GitHub does (x, x-1...)."""
    seen: dict[str, int] = {}
    found = set()
    for match in HEADING.finditer(FENCE.sub("", path.read_text())):
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def relative_links(path: Path) -> Iterator[str]:
    for target in LINK.findall(_prose(path.read_text())):
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            yield target


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
            broken.append(f"{target}: no heading #{anchor}")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_relative_link_and_anchor_exists(page: Path) -> None:
    assert broken_links(page) == []


def test_the_slugs_follow_githubs_rules() -> None:
    assert github_slug("Working offline: the OE simulator") == "working-offline-the-oe-simulator"
    assert (
        github_slug("§1 Transport, auth, plans and limits") == "1-transport-auth-plans-and-limits"
    )
    assert github_slug("`recorder.py`") == "recorderpy"
    assert (
        github_slug("Nothing is lost, nothing is doubled") == "nothing-is-lost-nothing-is-doubled"
    )


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other\n\n## A part\n")
    page.write_text(
        "[ok](other.md#a-part) [file](missing.md) [anchor](other.md#no-such-part) [self](#nope)\n"
        "```sh\n[in code](ignored.md)\n```\n`[inline](ignored.md)` [web](https://example.org)\n"
    )
    assert broken_links(page) == [
        "missing.md: no such file",
        "other.md#no-such-part: no heading #no-such-part",
        "#nope: no heading #nope",
    ]


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, re.M))


def make_goals(code: str) -> Iterator[str]:
    """The goals of every ``make ...`` command in a piece of code (variables and flags skipped)."""
    for line in code.splitlines():
        line = line.split(" #", 1)[0]
        for match in re.finditer(r"(?:^|[\s;&|(])make((?:\s+[^\s;&|#)]+)*)", line):
            for word in match.group(1).split():
                if "=" in word or word.startswith("-") or word.startswith('"'):
                    break
                yield word


def test_every_make_target_in_the_readme_exists() -> None:
    goals = {g for code in _code(README.read_text()) for g in make_goals(code)}
    assert {"run", "live", "test"} <= goals, "the quickstart's commands are found"
    assert sorted(goals - makefile_targets()) == []


# program -> the module that builds its parser, and how
PARSERS = {
    "extractor": lambda: importlib.import_module("extractor").build_parser(),
    "publisher": lambda: importlib.import_module("publisher").build_parser(),
    "recorder": lambda: importlib.import_module("recorder").build_parser(),
    "alerts": lambda: importlib.import_module("alerts").build_parser(),
    "oesim": lambda: importlib.import_module("oesim.__main__").build_parser(),
}


def known_flags(program: str) -> set[str]:
    parser: argparse.ArgumentParser = PARSERS[program]()
    return set(parser._option_string_actions)


def commands(code: str) -> Iterator[tuple[str, list[str]]]:
    """(program, words) for each ``[python] X.py ...`` or ``python -m oesim ...`` in code."""
    joined = re.sub(r"\\\n\s*", " ", code)  # shell line continuations
    for line in joined.splitlines():
        line = re.split(r"\s#|\s&&|\s\||;", line, maxsplit=1)[0]
        for match in re.finditer(r"(?:^|\s)(?:python3?\s+)?(?:(\w+)\.py|-m\s+(oesim))\b(.*)", line):
            program = match.group(1) or match.group(2)
            try:
                words = shlex.split(match.group(3))
            except ValueError:
                words = match.group(3).split()
            yield program, words


def unknown_flags(text: str) -> list[str]:
    unknown = []
    for block in _code(text):
        for program, words in commands(block):
            if program not in PARSERS:
                continue
            flags = {w.strip("[]").split("=", 1)[0] for w in words if w.lstrip("[").startswith("-")}
            unknown += [f"{program} {f}" for f in sorted(flags - known_flags(program))]
    return unknown


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_flag_in_a_command_is_known_to_its_program(page: Path) -> None:
    assert unknown_flags(page.read_text()) == []


def test_the_flag_check_sees_the_readme_commands() -> None:
    seen = {p for block in _code(README.read_text()) for p, _ in commands(block)}
    assert {"extractor", "publisher", "recorder"} <= seen
    made_up = "```sh\npython publisher.py --delay 0 [--no-such-flag]\n```\n"
    assert unknown_flags(made_up) == ["publisher --no-such-flag"]


def launcher_args(text: str) -> Iterator[list[str]]:
    """The argument lists that ``make run RUN_ARGS=...`` and ``make live LIVE_ARGS=...`` pass."""
    for code in _code(text):
        for goal, args in re.findall(
            r"make (run|live)\b[^\n#]*?\b(?:RUN|LIVE)_ARGS=\"([^\"]*)\"", code
        ):
            if args.strip(". "):  # RUN_ARGS="..." is a placeholder
                yield (["--live"] if goal == "live" else []) + shlex.split(args)


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_make_run_option_is_accepted_by_the_launcher(page: Path) -> None:
    from nemlive.devtools import run

    refused = []
    for args in launcher_args(page.read_text()):
        try:
            run.parse_args(args)
        except SystemExit:
            refused.append(" ".join(args))
    assert refused == []


def test_the_launcher_check_sees_the_readme_options() -> None:
    found = list(launcher_args(README.read_text()))
    assert ["--pace", "2", "--dashboard-port", "8502"] in found
    assert ["--live", "--keep", "2"] in found


def _config_table(text: str) -> str:
    """The table rows of the README's configuration section."""
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


def env_names(table: str) -> set[str]:
    return set(ENV_NAME.findall(" ".join(INLINE_CODE.findall(table))))


def read_by_the_code() -> set[str]:
    """Environment variables the code reads: env.get("X"), env["X"], getenv("X"), f(env, "X")."""
    code = " ".join(
        p.read_text()
        for p in [
            *ROOT.glob("*.py"),
            *(ROOT / "nemlive").rglob("*.py"),
            *(ROOT / "oesim").rglob("*.py"),
        ]
    )
    reads = re.findall(r"\b(?:environ|env|getenv)\b[^\n]{0,40}?[\"']([A-Z][A-Z0-9_]+)[\"']", code)
    return set(reads)


def test_every_environment_variable_in_the_configuration_tables_is_read() -> None:
    readme = env_names(_config_table(README.read_text()))
    assert {"OPENELECTRICITY_API_KEY", "MQTT_HOST", "NEMLIVE_STORE"} <= readme
    full = env_names((ROOT / "docs" / "configuration.md").read_text())
    assert sorted((readme | full) - read_by_the_code()) == []


def test_the_readme_keeps_the_data_credits() -> None:
    text = README.read_text()
    assert "Data sourced from Open Electricity" in text and "Superpower Institute" in text
    assert "CC BY-NC 4.0" in text
    assert "Source: AEMO" in text
