"""The documentation is self-contained: docs/model.md carries MODEL.md in full."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT.parent / "shared" / "MODEL.md"


@pytest.mark.skipif(not CONTRACT.is_file(), reason="needs ../shared/MODEL.md")
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
