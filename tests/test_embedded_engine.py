"""The embedded engine is LadybugDB: the Kuzu storage bug that made Cartograph compact its graph is gone (kept as a
guard), and a graph written by Kuzu converts with scripts/convert_kuzu_to_ladybug.py.

Kuzu and LadybugDB are never loaded in one process: every use of kuzu here runs in a child process.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kg.config import PROJECT_ROOT, Settings
from kg.errors import StoreUnavailableError
from kg.queries import QueryLibrary
from kg.schema import NodeLabel, RelType
from kg.store import open_store
from kg.store.embedded import EmbeddedStore

QUERIES = QueryLibrary(PROJECT_ROOT / "cypher")
CONVERT = PROJECT_ROOT / "scripts" / "convert_kuzu_to_ladybug.py"

# The bug (scripts/repro_append_after_extract.py) needed a node table above ~8k rows (12,101 reproduced it;
# 8,000 did not) whose string property is set in two transactions with relationship inserts between them, and a
# later append of nodes: kuzu 0.11.3 then read 0 of the 12,101 rows back right.
N_PRODUCTS = 12_101


def test_kuzu_is_not_loaded_in_the_test_process() -> None:
    import ladybug  # noqa: F401

    assert "kuzu" not in sys.modules, "kuzu and ladybug must never be imported in one process"


def test_appending_after_extraction_keeps_every_row(tmp_path: Path) -> None:
    """Products, two rounds of (MENTIONS edges, extracted_hash set) as `cartograph extract` writes them, then
    products appended as a rebuild does: every extracted_hash still reads back right, with no compaction."""
    path = tmp_path / "graph.lbug"
    ids = [f"P{i:06d}" for i in range(N_PRODUCTS)]
    with EmbeddedStore(path, QUERIES, batch_size=20_000) as store:
        store.init_schema()
        store.upsert_nodes(NodeLabel.PRODUCT, (
            {"id": i, "title": f"title {i}", "text_hash": hashlib.sha1(i.encode()).hexdigest()} for i in ids))
        store.upsert_nodes(NodeLabel.ENTITY, ({"id": f"E{k}", "name": f"e{k}", "type": "feature"} for k in range(50)))
        half = N_PRODUCTS // 2 + 1
        for chunk in (ids[:half], ids[half:]):
            store.upsert_relationships(RelType.MENTIONS, (
                {"src": i, "dst": f"E{(n * 7 + k) % 50}", "source": "title"}
                for n, i in enumerate(chunk) for k in range(4)))
            store.upsert_nodes(NodeLabel.PRODUCT, (
                {"id": i, "extracted_hash": hashlib.sha1(i.encode()).hexdigest()} for i in chunk))
    with EmbeddedStore(path, QUERIES) as store:
        store.upsert_nodes(NodeLabel.PRODUCT, ({"id": f"X{i}", "title": "new"} for i in range(121)))
    with EmbeddedStore(path, QUERIES, read_only=True) as store:
        [row] = store.query("MATCH (p:Product) WHERE p.extracted_hash = p.text_hash RETURN count(*) AS n")
        assert row["n"] == N_PRODUCTS
        [row] = store.query("MATCH (p:Product) RETURN count(*) AS n")
        assert row["n"] == N_PRODUCTS + 121


# -- converting a Kuzu graph ----------------------------------------------------------------------------------------

TRICKY = 'line one\nline two, "quoted", \'single\', back\\slash; ünïcödé 香水 💄 | tab\there'

# Runs in a child process: a graph as Cartograph wrote it with kuzu (its schema, a few rows of every kind).
BUILD_KUZU = """
import sys
import kuzu
from pathlib import Path
schema = Path(sys.argv[2]).read_text()
db = kuzu.Database(sys.argv[1])
conn = kuzu.Connection(db)
ddl = "\\n".join(l for l in schema.splitlines() if not l.strip().startswith("//"))
for stmt in ddl.split(";"):
    if stmt.strip():
        conn.execute(stmt)
tricky = sys.argv[3]
conn.execute("CREATE (:Product {id: 'p1', title: $t, description: $t, price: 9.5, active: true, text_hash: 'h1'})",
             {"t": tricky})
conn.execute("CREATE (:Product {id: 'p2', title: 'plain', active: false})")
conn.execute("CREATE (:User {id: 'u1', name: $t})", {"t": tricky})
conn.execute("CREATE (:Brand {id: 'b1', name: 'Acme'})")
conn.execute("CREATE (:Entity {id: 'colour:red', name: 'red', type: 'colour'})")
conn.execute("MATCH (u:User {id: 'u1'}), (p:Product {id: 'p1'}) CREATE (u)-[:PURCHASED {ts: 1700000000, seq: 1, "
             "rating: 4.5, count: 2}]->(p)")
conn.execute("MATCH (p:Product {id: 'p1'}), (b:Brand {id: 'b1'}) CREATE (p)-[:MADE_BY]->(b)")
conn.execute("MATCH (p:Product {id: 'p1'}), (q:Product {id: 'p2'}) CREATE (p)-[:ALSO_BOUGHT]->(q)")
conn.execute("MATCH (p:Product {id: 'p1'}), (e:Entity {id: 'colour:red'}) CREATE (p)-[:MENTIONS {source: 'title', "
             "extractor: 'lexicon@1', confidence: 0.9, surface: $t}]->(e)", {"t": tricky})
conn.close()
db.close()
"""


def kuzu_available() -> bool:
    return subprocess.run([sys.executable, "-c", "import kuzu"], capture_output=True, check=False).returncode == 0


@pytest.fixture
def kuzu_graph(tmp_path: Path) -> Path:
    if not kuzu_available():
        pytest.skip("kuzu is not installed (the project's kuzu or dev extra)")
    path = tmp_path / "old" / "graph.kuzu"
    path.parent.mkdir()
    done = subprocess.run([sys.executable, "-c", BUILD_KUZU, str(path), str(PROJECT_ROOT / "cypher" / "schema" /
                                                                              "kuzu.cypher"), TRICKY],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return path


def test_a_kuzu_graph_is_refused_with_the_conversion_command(kuzu_graph: Path) -> None:
    with pytest.raises(StoreUnavailableError, match=r"convert_kuzu_to_ladybug\.py"):
        EmbeddedStore(kuzu_graph, QUERIES).count_nodes()
    # The default file name, graph.lbug, missing beside an old graph.kuzu: the same advice.
    settings = Settings(store_backend="embedded", home=kuzu_graph.parent, neo4j_uri=None)
    assert settings.embedded_path == kuzu_graph.with_name("graph.lbug")
    with pytest.raises(StoreUnavailableError, match=r"graph\.kuzu is a Kuzu database"), open_store(settings) as store:
        store.count_nodes()
    assert not settings.embedded_path.exists()


def test_a_kuzu_graph_converts_with_every_row_and_value(kuzu_graph: Path) -> None:
    target = kuzu_graph.with_name("graph.lbug")
    done = subprocess.run([sys.executable, str(CONVERT), str(kuzu_graph), str(target)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "the same counts in both" in done.stdout
    settings = Settings(store_backend="embedded", home=kuzu_graph.parent, neo4j_uri=None)
    with open_store(settings) as store:
        nodes, rels = store.count_nodes(), store.count_relationships()
        assert (nodes["Product"], nodes["User"], nodes["Brand"], nodes["Entity"]) == (2, 1, 1, 1)
        assert (rels["PURCHASED"], rels["MADE_BY"], rels["ALSO_BOUGHT"], rels["MENTIONS"]) == (1, 1, 1, 1)
        [p1] = store.query("MATCH (p:Product {id: 'p1'}) RETURN p.title AS t, p.description AS d, p.price AS price, "
                           "p.active AS active, p.text_hash AS h")
        assert p1 == {"t": TRICKY, "d": TRICKY, "price": 9.5, "active": True, "h": "h1"}
        [u] = store.query("MATCH (u:User)-[r:PURCHASED]->(p:Product) RETURN u.name AS name, r.ts AS ts, r.seq AS seq, "
                          "r.rating AS rating, r.count AS count")
        assert u == {"name": TRICKY, "ts": 1700000000, "seq": 1, "rating": 4.5, "count": 2}
        [m] = store.query("MATCH ()-[m:MENTIONS]->() RETURN m.surface AS s, m.confidence AS c, m.extractor AS x")
        assert m == {"s": TRICKY, "c": 0.9, "x": "lexicon@1"}
        # The converted graph takes the project's writes: the schema and an upsert.
        store.init_schema()
        store.upsert_nodes(NodeLabel.PRODUCT, [{"id": "p3", "title": "after conversion"}])
        assert store.count_nodes()["Product"] == 3
    again = subprocess.run([sys.executable, str(CONVERT), str(kuzu_graph), str(target)], capture_output=True,
                           text=True, check=False)
    assert again.returncode != 0 and "exists" in again.stderr  # never overwrites


# -- sharing the file: the API keeps it open between statements, a job asks for it ---------------------------
JOB = r"""
import sys
from pathlib import Path
from kg.config import PROJECT_ROOT
from kg.queries import QueryLibrary
from kg.store.embedded import EmbeddedStore
store = EmbeddedStore(Path(sys.argv[1]), QueryLibrary(PROJECT_ROOT / "cypher"))  # a job: waits for the file
store.upsert_nodes("User", [{"id": "written-by-the-job"}])
print("holding", flush=True)
sys.stdin.read()
store.close()
"""
RAW_OPEN = "import sys, ladybug; ladybug.Connection(ladybug.Database(sys.argv[1]))"


def _raw_open_fails(path: Path) -> bool:
    """Whether a process that does not ask for the file (no marker) finds it locked."""
    done = subprocess.run([sys.executable, "-c", RAW_OPEN, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 or "Could not set lock" in done.stderr, done.stderr
    return done.returncode != 0


def test_a_sharing_store_keeps_its_file_until_a_job_asks_then_gets_it_back(tmp_path: Path) -> None:
    path = tmp_path / "graph.lbug"
    shared = EmbeddedStore(path, QUERIES, release_between_calls=True)
    shared.init_schema()
    shared.upsert_nodes(NodeLabel.USER, [{"id": "u1"}])
    assert _raw_open_fails(path)  # held between statements: no reopening (the GIL) per statement
    job = subprocess.Popen([sys.executable, "-c", JOB, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           text=True, cwd=PROJECT_ROOT)
    try:
        assert job.stdout is not None and job.stdout.readline().strip() == "holding"  # it asked and got in
        assert not path.with_name("graph.lbug.wanted").exists()  # the job withdrew its ask once in
        with pytest.raises(StoreUnavailableError):
            shared.query("MATCH (u:User) RETURN count(u) AS n")
    finally:
        job.communicate(timeout=60)
    rows = shared.query("MATCH (u:User) RETURN u.id AS id ORDER BY id")  # back, with the job's write
    assert [r["id"] for r in rows] == ["u1", "written-by-the-job"]
    shared.close()


def test_a_sharing_store_lets_go_of_its_file_when_idle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(EmbeddedStore, "idle_release_s", 0.3)
    path = tmp_path / "graph.lbug"
    shared = EmbeddedStore(path, QUERIES, release_between_calls=True)
    shared.init_schema()
    with shared.holding():  # a held block is never released under it
        shared.upsert_nodes(NodeLabel.USER, [{"id": "u1"}])
        time.sleep(0.6)
        assert shared.query("MATCH (u:User) RETURN count(u) AS n") == [{"n": 1}]
    time.sleep(0.6)
    assert not _raw_open_fails(path)  # idle past idle_release_s: the file is free
    assert shared.query("MATCH (u:User) RETURN count(u) AS n") == [{"n": 1}]  # and opens again on use
    shared.close()


def test_the_api_caps_the_engine_page_cache_and_jobs_keep_the_default(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, store_backend="embedded", neo4j_uri=None, serving_buffer_pool_mb=64)
    api_store = open_store(settings, shared=True)
    assert isinstance(api_store, EmbeddedStore) and api_store.buffer_pool_mb == 64
    job_store = open_store(settings)
    assert isinstance(job_store, EmbeddedStore) and job_store.buffer_pool_mb == 0
    api_store.init_schema()  # the engine opens and writes with the cap
    api_store.upsert_nodes(NodeLabel.USER, [{"id": "u1"}])
    assert api_store.query("MATCH (u:User) RETURN count(u) AS n") == [{"n": 1}]
    api_store.close()
