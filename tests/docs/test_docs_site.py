"""The docs site stays whole: every page is in the nav, every command of the click app is documented
(in the guide, docs/cli.md, and in the reference generated from the app), every top-level name of
``txsync`` is listed in the API reference. The strict build itself (broken links, anchors, docstring
references) runs in CI: ``make docs``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import click
import markdown
import yaml

import txsync
from txsync.cli._app import cli
from txsync.cli._commands import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return config


def nav_pages(nav: Any) -> Iterator[str]:
    """Every page a mkdocs nav names (``- Title: page.md``, ``- page.md``, nested sections)."""
    if isinstance(nav, str):
        if not re.match(r"^[a-z]+://", nav):
            yield nav
    elif isinstance(nav, list):
        for item in nav:
            yield from nav_pages(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from nav_pages(value)


def nav_problems(nav: Any, pages: Iterable[str]) -> list[str]:
    """What is wrong between a nav and the pages on disk: orphans, missing pages, duplicates."""
    listed = list(nav_pages(nav))
    on_disk = set(pages)
    problems = [f"not in the nav: {page}" for page in sorted(on_disk - set(listed))]
    problems += [f"in the nav but missing: {page}" for page in sorted(set(listed) - on_disk)]
    problems += [f"twice in the nav: {page}" for page in sorted({p for p in listed if listed.count(p) > 1})]
    return problems


def command_paths() -> list[tuple[str, ...]]:
    """Every built-in command and subcommand of ``txsync`` (plugins' commands are theirs to document)."""
    found: list[tuple[str, ...]] = []

    def walk(command: click.Command, ctx: click.Context, path: tuple[str, ...]) -> None:
        if not isinstance(command, click.Group):
            return
        names = command.list_commands(ctx) if path else sorted(COMMANDS)
        for name in names:
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            if sub.hidden:
                continue
            found.append((*path, name))
            walk(sub, click.Context(sub, info_name=name, parent=ctx), (*path, name))

    walk(cli, click.Context(cli, info_name="txsync"), ())
    return found


def undocumented(paths: Iterable[tuple[str, ...]], guide: str) -> list[str]:
    """The commands no heading of ``guide`` names (``### `txsync vault status|rotate ...` ``)."""
    headings = [line for line in guide.splitlines() if line.startswith("#")]
    missing = []
    for path in paths:
        prefix = "`txsync " + "".join(f"{part} " for part in path[:-1])
        # the word after the prefix names the command; "status|rotate|retire" names three
        named = {
            word
            for heading in headings
            for rest in heading.split(prefix)[1:]
            for word in re.split(r"[\s`\[,]", rest, maxsplit=1)[0].split("|")
        }
        if path[-1] not in named:
            missing.append("txsync " + " ".join(path))
    return missing


def test_the_nav_lists_every_page_and_only_pages_that_exist() -> None:
    pages = [path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")]
    assert nav_problems(_config()["nav"], pages) == []


def test_nav_problems_are_found() -> None:
    nav = [{"Home": "index.md"}, {"Guides": ["a.md", {"B": "b.md"}, "a.md"]}, {"Site": "https://x.test/"}]
    assert nav_problems(nav, ["index.md", "a.md", "orphan.md"]) == [
        "not in the nav: orphan.md", "in the nav but missing: b.md", "twice in the nav: a.md",
    ]


def test_the_cli_guide_covers_every_command() -> None:
    paths = command_paths()
    assert ("transfers", "link") in paths and ("vault", "rotate") in paths and ("sync",) in paths
    assert undocumented(paths, (DOCS / "cli.md").read_text(encoding="utf-8")) == []


def test_an_undocumented_command_is_found() -> None:
    guide = "# t\n### `txsync sync [--due]`\n### `txsync vault status|rotate VERSION`\nsee `txsync ledger`\n"
    paths = [("sync",), ("ledger",), ("vault",), ("vault", "status"), ("vault", "retire"), ("syn",)]
    assert undocumented(paths, guide) == ["txsync ledger", "txsync vault retire", "txsync syn"]


def test_the_cli_reference_is_generated_from_the_app_with_every_command() -> None:
    source = (DOCS / "cli-reference.md").read_text(encoding="utf-8")
    assert ":module: txsync.cli._app" in source and ":command: cli" in source
    # the extensions of mkdocs.yml: with attr_list, each heading is the full command path
    html = markdown.Markdown(extensions=["attr_list", "mkdocs-click"]).convert(source)
    headings = {re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<h\d[^>]*>(.*?)</h\d>", html)}
    missing = ["txsync " + " ".join(path) for path in command_paths()
               if "txsync " + " ".join(path) not in headings]
    assert missing == []
    assert "Sentinel" not in html  # click's "no default" marker never shows as a default


def test_the_api_reference_lists_every_top_level_name() -> None:
    page = (DOCS / "api" / "txsync.md").read_text(encoding="utf-8")
    exports = txsync._EXPORTS
    missing = [name for name in txsync.__all__ if name != "__version__"
               and f"[`{name}`][{exports[name]}.{name}]" not in page]
    assert missing == []


def test_the_build_is_strict() -> None:
    config = _config()
    assert config["strict"] is True
    assert set(config["validation"].values()) == {"warn"}  # and strict turns each warning into a failure
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "mkdocs build --strict" in makefile
    assert "site/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
