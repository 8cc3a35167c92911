"""The HTML report: one self-contained page with every section."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from mcengine.cli import cli


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    target = tmp_path_factory.mktemp("report") / "report.html"
    result = CliRunner().invoke(
        cli, ["report", "base", "training_bust", "-n", "4000", "--seed", "1", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    return target


def test_report_has_every_section(page):
    text = page.read_text(encoding="utf-8")
    for anchor in (
        "summary-base",
        "waterfall-base",
        "distributions-base",
        "fan-base",
        "summary-training_bust",
        "comparison",
        "tornado",
    ):
        assert f"id='{anchor}'" in text, anchor
    assert text.count("<svg") == 2 * 3 + 2  # three figures per scenario, comparison, tornado
    assert "P(contagion crash)" in text and "± is one Monte Carlo standard error" in text


def test_report_needs_no_network(page):
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"<(script|link|img|iframe)\b", text)
    # Only references inside the page (fragment links such as SVG clip paths).
    assert not re.search(r"""(src|href)\s*=\s*["'][^#]""", text)


def test_report_errors(tmp_path):
    bad = CliRunner().invoke(cli, ["report", "base", "-o", str(tmp_path / "r.pdf")])
    assert (
        bad.exit_code == 2 and bad.stderr == f"Error: -o {tmp_path / 'r.pdf'}: must end in .html\n"
    )


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
def test_report_renders_in_headless_chromium(page, tmp_path):
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1280,4000",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 50_000
