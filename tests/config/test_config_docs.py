"""docs/configuration.md documents every setting exactly as the code defines it."""

from pathlib import Path

import pytest

from seshat_trio.config import Setting, all_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def reference_rows() -> dict[str, str]:
    """`section.key` -> its row in the reference tables."""
    rows: dict[str, str] = {}
    section = ""
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            section = line[5:-1] if line.startswith("### [") else ""
        elif section and line.startswith("| `"):
            key = line.split("`")[1]
            rows[f"{section}.{key}"] = line
    return rows


def test_every_setting_has_a_row() -> None:
    assert set(reference_rows()) == {s.dotted for s in all_settings()}


@pytest.mark.parametrize("setting", all_settings(), ids=lambda s: s.dotted)
def test_row_matches_code(setting: Setting) -> None:
    cells = [cell.strip() for cell in reference_rows()[setting.dotted].strip("|").split("|")]
    _, type_text, default, env, flag, meaning = cells
    assert type_text == setting.type_text
    assert default.strip("`") == setting.default_text.strip("()")
    assert env == f"`{setting.env}`"
    assert flag.startswith(f"`{setting.flag}`")
    assert meaning
