"""Database URLs: malformed ones are refused without repeating any of the password."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbmigrator.engine.database import (
    Dsn,
    check_uri,
    describe_parse_error,
    parse_conninfo,
    redact,
    scrub,
    secret_candidates,
)
from dbmigrator.engine.errors import InputError
from tests.strategies import TEMPLATES, leaked, passwords


@settings(max_examples=400, deadline=None)
@given(template=st.sampled_from(TEMPLATES), secret=passwords())
def test_parse_errors_never_repeat_the_password(
    template: str, secret: tuple[str, list[str]]
) -> None:
    password, words = secret
    url = template.format(pw=password)
    try:
        parse_conninfo(url)
    except InputError as exc:
        message = str(exc)
    else:
        return  # it parsed: connecting is covered by the CLI test
    assert not leaked(message, password, words), message
    assert message.startswith("invalid database URL: ")


@settings(max_examples=200, deadline=None)
@given(secret=passwords())
def test_the_password_is_always_a_scrub_candidate(secret: tuple[str, list[str]]) -> None:
    password, words = secret
    for url in (
        f"postgresql://u:{password}@h/db",
        f"postgresql://u:{quote(password, safe='')}@h/db",
    ):
        candidates = secret_candidates(url)
        assert password.strip() in candidates, (url, candidates)
        assert password.strip() not in scrub(f"said {password.strip()}.", None, candidates)
    # key=value strings are ambiguous (`password=a b=c` may be two settings): every fragment
    # is scrubbed
    candidates = secret_candidates(f"host=h password={password}")
    assert not leaked(scrub(f"said {password}.", None, candidates), "", words)


def test_well_formed_passwords_with_special_characters_parse() -> None:
    password = "p@ss w/rd?#%:[]"
    dsn = Dsn(f"postgresql://u:{quote(password, safe='')}@h:5432/db")
    assert dsn.params["password"] == password
    assert password not in str(dsn) and password not in repr(dsn)
    assert scrub(f"x {password} y", dsn) == "x *** y"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgresql://u:pa ss@h/db", "the password contains a space"),
        ("postgresql://u:p%zzword@h/db", "the password contains a '%'"),
        ("postgresql://u:pa/ssword@h/db", "'/' must be percent-encoded"),
        ("postgresql://u:pa@ssword@h/db", "more than one '@'"),
        ("postgresql://us er:pw@h/db", "the user name contains a space"),
        ("postgresql://u:pw@h/d b", "the host, database or options part contains a space"),
        ("postgresql://u:secret/h/db", "the port is not a number"),
        ("postgresql://u:pw@h:70000/db", "the port is not a number"),
    ],
)
def test_uri_problems_name_the_part_at_fault(url: str, words: str) -> None:
    with pytest.raises(InputError) as err:
        parse_conninfo(url)
    assert words in str(err.value)


def test_libpq_messages_are_reduced_to_their_kind() -> None:
    assert check_uri("postgresql://u:pw@h/db") is None and check_uri("host=h") is None
    said = 'invalid percent-encoded token: "p%zzword"'
    assert "p%zzword" not in describe_parse_error(said)
    assert "not shown" in describe_parse_error('something new: "secret"')


@pytest.mark.parametrize(
    ("text", "engine", "status"),
    [
        (
            "x (hint: postgresql://u:p@h/db) and more",
            "x (hint: postgresql://u:***@h/db) and more",
            "x (hint: postgresql://[redacted]) and more",
        ),
        (
            "x (hint: postgresql://u:pa ss@h/db [y]) and more",
            "x (hint: postgresql://u:***@h/db [y]) and more",
            "x (hint: postgresql://[redacted] [y]) and more",
        ),
        (
            "connect postgresql://h:5432/db failed",
            "connect postgresql://h:5432/db failed",
            "connect postgresql://[redacted] failed",
        ),
    ],
)
def test_redaction_keeps_the_text_after_a_uri(text: str, engine: str, status: str) -> None:
    from dbmigrator.controller.messages import redact as redact_status

    assert redact(text) == engine
    assert redact_status(text) == status
