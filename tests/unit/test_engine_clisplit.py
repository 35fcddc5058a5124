"""The Supabase CLI's statement splitting (engine/clisplit.py), case by case.

Each case is a behaviour of the CLI's scanner (github.com/supabase/cli, pkg/parser), written as
the pieces a file is made of: joined, they are the file; split, they must come back trimmed
(trailing `;` and surrounding whitespace removed, empty pieces dropped), as SplitAndTrim does.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbmigrator.engine.clisplit import split_like_cli


def _trim(piece: str) -> str:
    return piece.rstrip(";").strip()


CASES: dict[str, list[str]] = {
    "comment after the last separator is a statement": ["END;", "-- comment"],
    "line comment hides a separator": ["SELECT --; 1"],
    "a single dash is no comment": ["- ;", "END"],
    "a line comment ends at the newline": ["-- /* \n;", " */ END"],
    "block comment hides a separator": ["SELECT /* ; */ 1;"],
    "block comments nest": ["SELECT /*; /*;*/ ;*/ 1"],
    "slash then space is no comment": ["/ * ;", " */ END"],
    "empty statements are dropped": [";", "END;", ";"],
    "spaces around": ["BEGIN   ;", "  END"],
    "backslash escapes a separator": ["\\;;", "\\;"],
    "named dollar quote": ["$tag$ any ; string$tag$"],
    "anonymous dollar quote": ['$$"Dane\'s horse"$$'],
    "a quoted dollar opens nothing": ['SELECT "$";', " $$"],
    "single quote hides a separator": ["SELECT ';' 1"],
    "doubled single quote stays inside": ["SELECT ';'';' 1"],
    "backslash inside a literal is literal": ["SELECT '\\';", " 1'"],
    "double quotes hide a separator": ['CREATE POLICY "cats;dogs" on cats_dogs;', " END"],
    "double quotes keep a single quote": ['CREATE POLICY "cat\'s" on cats;', " END"],
    "doubled double quote stays inside": ['CREATE POLICY "pet""name" on pets;', " END"],
    "parentheses hide a separator": [
        "CREATE RULE r AS ON UPDATE TO t DO (NOTIFY t; SELECT 1);",
        "SELECT 1",
    ],
    "a closing parenthesis in a literal or comment does not count": [
        "CREATE RULE r AS ON UPDATE TO t DO (-- )\nSELECT ')';\n-- )\n)\n"
    ],
    "the first closing parenthesis closes them all": ["SELECT ((1) ;", " 2)"],
    "begin atomic body": [
        "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql\n"
        "BEGIN ATOMIC\n  SELECT 'add';\n  SELECT a + b;\nEND;"
    ],
    "begin atomic in any case": ["begin atomic; select 'end'; end"],
    "atomic body ignores END in comments": [
        "CREATE FUNCTION f() BEGIN\nATOMIC-- END;\n-- END;\nEND\n;"
    ],
    "leading comments belong to the statement": [
        "-- the users table\ncreate table users (id int);",
        "\n\n/* a view */\ncreate view v as select 1;",
    ],
    "a do block": ["do $$ begin perform 1; end $$;", "select 2;"],
    "dollar quote with a tag and an inner anonymous quote": [
        "create function f() returns text as $fn$ select $$;$$ $fn$ language sql;",
        "select 1",
    ],
}


@pytest.mark.parametrize("pieces", CASES.values(), ids=CASES.keys())
def test_split_like_the_cli(pieces: list[str]) -> None:
    expected = tuple(t for t in (_trim(p) for p in pieces) if t)
    assert split_like_cli("".join(pieces)) == expected


def test_comments_kept_and_trailing_whitespace_trimmed() -> None:
    text = "-- 001: users\n\ncreate table a (id int);\n\n-- seed\ninsert into a values (1);\n"
    assert split_like_cli(text) == (
        "-- 001: users\n\ncreate table a (id int)",
        "-- seed\ninsert into a values (1)",
    )


def test_atomic_inside_a_word_still_counts() -> None:
    # The CLI looks only at the last six characters: `nonatomic` opens a body that only an
    # `end` closes (here: the one inside `append`).
    assert split_like_cli("select nonatomic; select 1; select append; select 2") == (
        "select nonatomic; select 1; select append",
        "select 2",
    )


@given(
    st.lists(st.sampled_from(["select 1", "-- c\n", "'a;b'", "x", " ", "\n", "(y)"]), max_size=12)
)
def test_nothing_is_lost_but_separators_and_spaces(parts: list[str]) -> None:
    text = ";".join(parts)
    joined = "".join(split_like_cli(text))
    squeeze = lambda s: "".join(s.split()).replace(";", "")  # noqa: E731
    assert squeeze(joined) == squeeze(text)


@given(st.text(alphabet="$'\"-/*\\;()cCdDaAtTmMoOiIeEnN x\n_1", max_size=80))
def test_skipping_ahead_changes_nothing(text: str) -> None:
    assert split_like_cli(text) == split_like_cli(text, skip=False)


@given(st.lists(st.sampled_from(["begin atomic", "end", "$q$", "$$", "--", "\n", "/*", "*/",
                                 "'", '"', "(", ")", ";", "x", " "]), max_size=30))  # fmt: skip
def test_skipping_ahead_changes_nothing_for_tokens(parts: list[str]) -> None:
    text = "".join(parts)
    assert split_like_cli(text) == split_like_cli(text, skip=False)
