"""The README's reference tables are generated from the registries (`python -m quinto.docs`)."""

from __future__ import annotations

from quinto import docs


def test_generated_tables_match_the_registries() -> None:
    text = docs.README.read_text(encoding="utf-8")
    assert set(m.group("name") for m in docs.SECTION.finditer(text)) == set(docs.GENERATORS)
    assert docs.render(text) == text, "README.md's generated tables drifted: run `python -m quinto.docs`"


def test_a_drifted_table_is_caught() -> None:
    text = docs.README.read_text(encoding="utf-8")
    drifted = text.replace("| `row_count` |", "| `row_counts` |", 1)
    assert drifted != text and docs.render(drifted) == text


def test_every_engine_documents_itself() -> None:
    from quinto.engines import CONNECTORS

    for scheme, connector in CONNECTORS.items():
        assert connector.TITLE and connector.URL_EXAMPLE and connector.CLIENT, scheme
        assert connector.PARTITION_LISTING in docs.LISTINGS, scheme
