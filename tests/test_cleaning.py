"""Text cleaning on real marketplace junk (snippets copied from ../shared/data/amazon-office, items 0, 2005,
2701 and titles of others), and the content hash."""

from __future__ import annotations

import hashlib

from kg.ingest.cleaning import clean_product_text, clean_text, text_hash

# Item 2701: a Python list literal with an empty <sup></sup> tag inside.
MARKER = (
    "['Achieve big results with a very big marker. This Marks-A-Lot<sup></sup> Jumbo Chisel Tip Permanent Marker "
    "features an extra-large barrel that houses a generous, long-lasting ink supply.', 'Marks-A-Lot Jumbo Permanent "
    "Markers deliver a bold, low-odor ink that provides high visibility from a distance on most surfaces including "
    "cardboard, metal and plastic.']"
)
# Item 0 (shortened): a JSON-ish list whose second item is a CSS block inside an HTML comment.
HP_INK = (
    '["HP 74 Black & 75 Tri-color Original Ink Cartridges, 2 Cartridges (CB335WN, CB337WN). Colors: Black, '
    "tri-color.\", ' <!-- .headerM {color:#000000;font-family:Arial,Verdana,Helvetica,sans-serif;font-size:24px;"
    "font-weight:bold;margin:0;padding:0 0 10px;top: 30px;text-transform:uppercase;text-align:left;} .APlusHeader "
    "{font-size: 15px; font-weight: bold; font-family: Arial, Helvetica, sans-serif; } ul {padding-left:1.1em; "
    "margin-left: 0px; list-style-position:outside; /*remove indents from list*/} li {margin: .6em 0; /* space btwn "
    "lists */} --> ', '']"
)
# Item 2005: a cut-off "<br><br>" at the end.
AVERY = (
    "['Capture attention with customized labels designed for laser printers. Avery offers many easy-to-use "
    "templates for Microsoft Word and other popular software programs. Br><br']"
)
TITLES = {  # real titles with HTML entities
    "Astrobrights Color Paper, 8.5&rdquo; x 11&rdquo;, 24 lb/89 gsm, Lunar Blue, 500 Sheets (21528)":
        "Astrobrights Color Paper, 8.5\u201d x 11\u201d, 24 lb/89 gsm, Lunar Blue, 500 Sheets (21528)",
    "Glue Dots Removable Dot N&#39; Go Dispenser with 200 (.375 Inch) Removable Adhesive Dots (03670A)":
        "Glue Dots Removable Dot N' Go Dispenser with 200 (.375 Inch) Removable Adhesive Dots (03670A)",
    "Rustic Town Leather Pencil Case - Zippered Pen Pouch for School, Work & Office&nbsp;(Brown)":
        "Rustic Town Leather Pencil Case - Zippered Pen Pouch for School, Work & Office (Brown)",
}


def test_list_literal_becomes_paragraphs_and_tags_go() -> None:
    cleaned = clean_text(MARKER)
    assert cleaned.changed and not cleaned.truncated
    assert cleaned.text is not None
    paragraphs = cleaned.text.split("\n\n")
    assert len(paragraphs) == 2
    assert paragraphs[0].startswith("Achieve big results") and "Marks-A-Lot Jumbo Chisel" in paragraphs[0]
    assert paragraphs[1].startswith("Marks-A-Lot Jumbo Permanent") and paragraphs[1].endswith("plastic.")
    assert not any(ch in cleaned.text for ch in "[]<>'")


def test_css_comment_block_is_removed_and_text_kept() -> None:
    cleaned = clean_text(HP_INK).text
    assert cleaned == ("HP 74 Black & 75 Tri-color Original Ink Cartridges, 2 Cartridges (CB335WN, CB337WN). "
                       "Colors: Black, tri-color.")


def test_cut_off_line_break_is_removed() -> None:
    assert clean_text(AVERY).text == (
        "Capture attention with customized labels designed for laser printers. Avery offers many easy-to-use "
        "templates for Microsoft Word and other popular software programs."
    )


def test_entities_in_titles_are_decoded_on_one_line() -> None:
    for raw, expected in TITLES.items():
        assert clean_text(raw, single_line=True).text == expected


def test_style_script_double_encoded_entities_and_whitespace() -> None:
    raw = ("<style>p {color: red}</style><p>Fits&amp;nbsp;A4 &amp;amp; Letter</p>\n\n\n<ul><li>one</li>"
           "<li>two\u00a0 \t items</li></ul><script>alert(1)</script>\x07")
    assert clean_text(raw).text == "Fits A4 & Letter\n\none\n\ntwo items"  # block tags end paragraphs
    assert clean_text("a   b\n\n c", single_line=True).text == "a b c"


def test_clean_text_is_unchanged_and_empty_is_none() -> None:
    plain = clean_text("A plain title with < and > signs")
    assert (plain.text, plain.changed) == ("A plain title with < and > signs", False)
    assert clean_text("['']").text is None
    assert clean_text("   ").text is None and clean_text(None).text is None
    assert clean_text("[not, a, literal").text == "[not, a, literal"


def test_long_text_is_capped_at_a_word_boundary() -> None:
    cleaned = clean_text("word " * 300_000, max_chars=20_000)
    assert cleaned.truncated and cleaned.text is not None
    assert len(cleaned.text) <= 20_000 and cleaned.text.endswith("word…")


def test_product_text_keeps_raw_only_when_changed_and_hash_is_stable() -> None:
    changed = clean_product_text("N&#39; Go", AVERY)
    assert changed.title == "N' Go" and changed.title_raw == "N&#39; Go" and changed.description_raw == AVERY
    same = clean_product_text("Plain title", "Plain description.")
    assert (same.title_raw, same.description_raw) == (None, None)
    assert same.text_hash == text_hash("Plain title", "Plain description.")
    assert same.text_hash == hashlib.sha256(b"Plain title\x00Plain description.").hexdigest()  # the documented rule
    assert text_hash("ab", "c") != text_hash("a", "bc")
    assert text_hash(None, None) == text_hash("", "")
