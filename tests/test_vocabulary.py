"""One vocabulary (issue 16): the words a page shows are the words a file may use, with one meaning.

一般 was low on the page and medium in a CSV; 较重 and 严重, shown on every
page, were refused in a CSV.  Now every shown word, Chinese or English, of a
severity, category or kind reads back from a file as the code it shows, and
a refusal lists the accepted values with both words.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard.i18n import translate
from governance.catalog import CaseKind, Category, Severity
from governance.db import transaction
from governance.models import Case
from governance.words import CASE_WORDS, FILE_SYNONYMS, TRADE_WORDS, file_words
from tests import test_ingest_field as field_tests
from tests import test_ingest_shops as shop_tests
from tests.test_ingest_field import cases_csv, finding
from tests.test_ingest_shops import database_url

cli, shops_db = shop_tests.cli, field_tests.shops_db  # fixtures


@pytest.mark.parametrize(("prefix", "enum"), [("severity", Severity), ("category", Category), ("kind", CaseKind)])
def test_every_shown_word_reads_back_from_a_file_as_its_code(prefix, enum):
    words = file_words(prefix)
    for member in enum:
        for language in ("zh", "en"):
            assert words[translate(f"{prefix}.{member.value}", language).lower()] == member.value


def test_no_file_synonym_is_a_shown_word_of_another_code():
    shown = {entry[lang]: key for key, entry in {**CASE_WORDS, **TRADE_WORDS}.items() for lang in ("zh", "en")}
    for prefix, synonyms in FILE_SYNONYMS.items():
        for word, code in synonyms.items():
            assert shown.get(word, f"{prefix}.{code}") == f"{prefix}.{code}", word


def test_a_csv_means_by_yiban_what_the_page_means(shops_db, cli, tmp_path):
    rows = [finding(i, severity=word) for i, word in enumerate(["一般", "较重", "严重", "紧急", "Medium"])]
    result = cli(database_url(shops_db), "ingest", "cases", cases_csv(tmp_path, rows))
    assert result.exit_code == 0, result.output
    with transaction(shops_db) as session:
        stored = [str(s) for s in session.scalars(select(Case.severity).order_by(Case.created_at))]
    assert stored == ["low", "medium", "high", "urgent", "medium"]
    assert [translate(f"severity.{code}", "zh") for code in stored[:4]] == ["一般", "较重", "严重", "紧急"]


def test_a_refusal_names_the_accepted_words_in_chinese_and_english(shops_db, cli, tmp_path):
    result = cli(database_url(shops_db), "ingest", "cases",
                 cases_csv(tmp_path, [finding(0, severity="catastrophic", category="littering")]))
    assert result.exit_code == 1
    assert ("unknown value 'catastrophic'; allowed: low (一般, Low), medium (较重, Medium), high (严重, High), "
            "urgent (紧急, Urgent)") in result.stderr
    assert "fire_exit (消防安全, Fire safety)" in result.stderr
