"""Every string the dashboard shows comes from the one catalogue, in Chinese and English."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from dashboard.i18n import CATALOGUE, LANGUAGES
from governance.catalog import Badge, CaseState, Category, MemberRole, Role, Severity
from governance.workflow import ACTIONS

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "streamlit_app.py", *sorted((ROOT / "dashboard").rglob("*.py"))]
# t("key"), translate("key", …), and keys handed to helpers as a literal first argument.
LITERAL_KEY = re.compile(r"\b(?:t|translate)\(\s*\"([a-z_]+\.[a-z0-9_.]+)\"")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_entry_has_both_languages_with_the_same_placeholders():
    for key, entry in CATALOGUE.items():
        assert set(entry) == set(LANGUAGES), key
        assert all(entry[lang].strip() for lang in LANGUAGES), key
        assert _fields(entry["zh"]) == _fields(entry["en"]), key


def test_every_key_the_pages_ask_for_is_in_the_catalogue():
    used = {(path.name, key) for path in SOURCES for key in LITERAL_KEY.findall(path.read_text("utf-8"))}
    assert len(used) > 100  # the pattern finds the pages' keys at all
    missing = sorted((name, key) for name, key in used if key not in CATALOGUE)
    assert not missing, missing


@pytest.mark.parametrize(("prefix", "values"), [
    ("category", Category), ("state", CaseState), ("severity", Severity), ("role", Role),
    ("member", MemberRole), ("badge", Badge), ("action", ACTIONS),
    ("gi", ["hot_99", "hot_95", "hot_90", "cold_99", "cold_95", "cold_90", "not_significant"]),
])
def test_every_value_shown_by_name_has_a_label(prefix, values):
    missing = [f"{prefix}.{v}" for v in values if f"{prefix}.{v}" not in CATALOGUE]
    assert not missing, missing
