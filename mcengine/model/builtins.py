"""Where the built-in scenarios are, and what their files say before any key is parsed:
names, stories and opening comments.

A module of its own, apart from :mod:`mcengine.model.scenario`, so that listing the
built-ins (``mcengine scenarios``) loads neither the kernel's maths nor scipy.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from mcengine.checks import did_you_mean, plain
from mcengine.errors import ScenarioError

__all__ = ["builtin_dir", "builtin_scenarios", "builtin_story", "file_comments", "locate"]


def builtin_dir() -> Path:
    """Folder of the built-in scenarios: inside the installed wheel, or the checkout's."""
    packaged = importlib.resources.files("mcengine") / "scenarios"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "scenarios"


def builtin_scenarios() -> list[str]:
    """Names of the built-in scenarios, ``base`` first."""
    names = sorted(p.stem for p in builtin_dir().glob("*.toml"))
    return sorted(names, key=lambda n: n != "base")


def file_comments(name_or_path: str | Path) -> str:
    """The comment block that opens a scenario file (a built-in's story and the public
    facts behind its numbers), as written: what ``mcengine show`` keeps of the file."""
    path, _ = locate(name_or_path)
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "".join(f"{line}\n" for line in lines)


def builtin_story(name: str) -> str:
    """The one-line story of a built-in scenario (the first line of its opening comments)."""
    first = file_comments(name).partition("\n")[0]
    return first.lstrip("#").strip()


def locate(name_or_path: str | Path) -> tuple[Path, str]:
    """The file of a built-in name or a path, and the scenario's name."""
    if not isinstance(name_or_path, str | Path):
        raise ScenarioError(
            f"scenario = {name_or_path!r}, must be a built-in name or a path to a .toml file"
        )
    text = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or text.endswith(".toml") or "/" in text
    if looks_like_path:
        path = Path(text)
        if not path.is_file():
            raise ScenarioError(f"{plain(text, 200)}: no such scenario file")
        return path, path.stem
    path = builtin_dir() / f"{text}.toml"
    if not path.is_file():
        names = builtin_scenarios()
        raise ScenarioError(
            f'scenario = "{plain(text)}", must be a built-in ({", ".join(names)}) or a path to a '
            f".toml file{did_you_mean(text, names)}"
        )
    return path, text
