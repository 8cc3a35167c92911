"""The documentation is self-contained: docs/model.md carries MODEL.md in full."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The model contract, pinned in the repository so that no test needs a file outside it.
CONTRACT = ROOT / "tests" / "data" / "MODEL.md"
#: The steering copy, present beside a checkout in CI and in development.
STEERING = ROOT.parent / "shared" / "MODEL.md"


def test_the_pinned_contract_is_the_steering_one():
    if STEERING.is_file():  # elsewhere (an sdist, a user's clone) the pinned copy stands alone
        assert CONTRACT.read_bytes() == STEERING.read_bytes(), (
            "../shared/MODEL.md changed: copy it to tests/data/MODEL.md and update docs/model.md"
        )


def test_model_page_carries_the_contract_in_full():
    page = (ROOT / "docs" / "model.md").read_text(encoding="utf-8")
    appendix = page.split("## The model contract (MODEL.md v1, in full)", 1)[1]
    for line in CONTRACT.read_text(encoding="utf-8").splitlines():
        text = line.lstrip("#").strip() if line.startswith("#") else line
        assert text in appendix, line


def test_readme_and_docs_cite_no_file_outside_the_repository():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text and "`shared/`" not in text, path.name


def test_one_version_story():
    # The package, the CHANGELOG's newest release, README and the results' numerics agree.
    import re
    from importlib.metadata import version as installed

    from mcengine._version import __version__ as version
    from mcengine.numerics import NUMERICS

    assert installed("mcengine") == version, "the installed package (reinstall it)"
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    newest = re.search(r"^## (\S+) \((.+)\)$", changelog, re.M)
    assert newest is not None and newest[1] == version, "the CHANGELOG's newest entry"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", newest[2]), f"{version} is not dated: {newest[2]}"
    section = changelog.split(newest[0], 1)[1].split("\n## ", 1)[0]
    assert f"numerics {NUMERICS}" in section or f"numerics` {NUMERICS}" in section
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    short = ".".join(version.split(".")[:2])
    assert f"`numerics` version ({NUMERICS} in mcengine {short};" in readme


def test_readme_lists_every_builtin():
    from mcengine.model.scenario import builtin_scenarios

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = readme.split("Built-ins (", 1)[1].split("\n\n", 1)[0]
    assert [n for n in builtin_scenarios() if f"`{n}`" not in listed] == []


class _Started(Exception):
    """The command got past every check and started simulating."""


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in readme.split("```bash")[1:]:
        for line in block.split("```", 1)[0].splitlines():
            for part in line.split("#", 1)[0].split("&&"):
                if part.strip().startswith("mcengine "):
                    commands.append(part.strip())
    return commands


#: What a README command needs that a test cannot give it here: a user's files, a cluster.
_NEEDS = ("my.toml", "other.toml", "base.nc", "run.nc", "b.nc", "--workers", "--scheduler")


def test_readme_has_commands_to_check():
    assert len(_readme_commands()) >= 25


@pytest.mark.parametrize(
    "command", [c for c in _readme_commands() if not any(need in c for need in _NEEDS)]
)
def test_every_readme_command_passes_its_checks(command, monkeypatch, tmp_path):
    # Each documented command is valid as written: it gets past every check (no exit 2, no
    # option refused as having no effect) to the simulation, or finishes without one.
    import shlex

    from click.testing import CliRunner

    from mcengine.cli import cli
    from mcengine.engine.inputs import KernelInputs

    def started(*args, **kwargs):
        raise _Started

    monkeypatch.setattr(KernelInputs, "run", started)
    monkeypatch.chdir(tmp_path)
    outcome = CliRunner().invoke(cli, shlex.split(command)[1:])
    assert isinstance(outcome.exception, _Started) or outcome.exit_code == 0, outcome.output
