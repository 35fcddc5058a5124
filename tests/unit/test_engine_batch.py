"""A transactional file as a few multi-statement messages (engine/batch.py): how the text is
composed, how it is cut, and how an error in a message is traced back to its statement."""

from __future__ import annotations

from dbmigrator.engine.batch import SEPARATOR, chunks, compose, label


def test_a_message_holds_the_engines_statements_around_the_files() -> None:
    message = compose(["BEGIN"], [(1, "create table a ()"), (2, "select 1 -- done")], ["COMMIT"])
    assert message.text == SEPARATOR.join(
        ["BEGIN", "create table a ()", "select 1 -- done", "COMMIT"]
    )
    # A trailing comment cannot swallow the next statement: the semicolon is on its own line.
    assert "-- done\n;\nCOMMIT" in message.text
    assert message.indexes == (0, 1, 2, 0)
    assert [message.text[start:].split("\n")[0] for start in message.starts] == [
        "BEGIN", "create table a ()", "select 1 -- done", "COMMIT",
    ]  # fmt: skip


def test_an_error_is_traced_to_its_statement_by_completed_results() -> None:
    message = compose(["BEGIN", "RESET ALL"], [(4, "select 1"), (5, "select 1/0")], ["COMMIT"])
    assert message.locate(completed=3, position=None) == (5, None)
    assert message.locate(completed=2, position=None) == (4, None)
    assert message.locate(completed=1, position=None) == (0, None)  # RESET ALL: the engine's
    assert message.locate(completed=4, position=None) == (0, None)  # COMMIT
    assert message.locate(completed=None, position=None) == (0, None)  # nothing to go by
    assert message.locate(completed=9, position=None) == (0, None)


def test_a_position_in_the_message_becomes_one_in_the_statement() -> None:
    bad = "select\n  nope\nfrom pg_class"
    message = compose(["BEGIN"], [(1, "select 1"), (2, bad)], ["COMMIT"])
    at = message.text.index("nope") + 1  # the server's positions count characters from 1
    # Position wins over the count: a parse error fails the message before anything completed.
    assert message.locate(completed=0, position=at) == (2, bad.index("nope") + 1)
    assert message.locate(completed=None, position=message.text.index("COMMIT") + 1) == (0, None)


def test_positions_count_characters_not_bytes() -> None:
    first = "insert into t values ('Größe ✓ naïve')"
    message = compose([], [(1, first), (2, "select nope")], [])
    at = message.text.index("nope") + 1
    assert message.locate(completed=None, position=at) == (2, len("select ") + 1)


def test_statements_are_cut_into_runs_of_bounded_size() -> None:
    texts = ["a" * 40, "b" * 40, "c" * 40, "d" * 200, "e" * 10]
    runs = chunks(texts, max_chars=100)
    assert [list(r) for r in runs] == [[0, 1], [2], [3], [4]]
    assert [list(r) for r in chunks(texts)] == [[0, 1, 2, 3, 4]]
    assert [list(r) for r in chunks(texts, max_chars=0)] == [[0], [1], [2], [3], [4]]
    assert [list(r) for r in chunks([])] == [[]]  # an empty file still sends its tracking rows


def test_a_label_comes_first_and_shifts_nothing_it_names() -> None:
    name = label("up", "002_x.sql", 4, range(0, 2), 2)
    assert name == "dbmigrator up 002_x.sql:4, statements 1-2 of 2"
    message = compose(["BEGIN"], [(1, "select 1"), (2, "select nope")], ["COMMIT"], name)
    assert message.text.startswith(f"/* {name} */\nBEGIN")
    at = message.text.index("nope") + 1
    assert message.locate(completed=None, position=at) == (2, len("select ") + 1)
    assert message.locate(completed=2, position=None) == (2, None)


def test_a_label_cannot_end_its_comment() -> None:
    name = label("down", "003_a*/b/*c.sql", None, range(0), 0)
    assert "*/" not in name and "/*" not in name and name.endswith("tracking")
