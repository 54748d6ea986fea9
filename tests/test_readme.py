"""The README is the user's manual: its configuration table must match the settings."""

from __future__ import annotations

import re
from pathlib import Path

from facevoice.config import ENV_PREFIX, documented_settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_configuration_table_lists_every_setting_and_nothing_else() -> None:
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(rf"^\| `({ENV_PREFIX}[A-Z_]+)` \|", section, re.MULTILINE))
    assert documented == {name for name, _, _ in documented_settings()}


def test_readme_names_the_two_commands() -> None:
    text = README.read_text()
    assert "make run" in text and "make test" in text


def test_readme_cites_no_spec_its_readers_do_not_have() -> None:
    # Its own HTTP API section is the contract: it must stand alone.
    assert not re.search(r"\bSPEC\b", README.read_text())


def test_readme_says_make_run_is_for_development_and_facevoice_serve_for_production() -> None:
    text = " ".join(README.read_text().split())  # sentences wrap across lines
    assert "`make run` is Flask's development server" in text
    assert "run the production server `facevoice serve`" in text
