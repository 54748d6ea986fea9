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
