"""Security and fault hardening of the engine and CLI (issue 8): secrets, validation that cannot
write, restores that verify, pruning that keeps others' files, private backups, clear failures."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from urllib.parse import unquote

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from dbmigrator.cli import main
from tests.helpers import query, run_cli, write_set
from tests.strategies import TEMPLATES, leaked, passwords

BASE = {"001_base.sql": "create table public.t (id int primary key);\n"}


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text, text


# --------------------------------------------------------------------------- item 3: passwords


@settings(max_examples=60, deadline=None)
@given(
    template=st.sampled_from(TEMPLATES),
    secret=passwords(),
    output=st.sampled_from(["text", "json"]),
)
def test_no_byte_of_the_password_reaches_any_output(
    template: str, secret: tuple[str, list[str]], output: str
) -> None:
    password, words = secret
    url = template.format(pw=password)
    with tempfile.TemporaryDirectory() as tmp:
        d = write_set(Path(tmp) / "m", dict(BASE))
        log = Path(tmp) / "termination-log"
        result = CliRunner().invoke(
            main, ["status", "--dir", str(d), "-o", output, "--termination-log", str(log)],
            env={"DATABASE_URL": url, "DBMIGRATOR_CHECKS_JSON": None},
        )  # fmt: skip
        assert result.exit_code in (1, 2), (result.exit_code, result.output, result.exception)
        written = log.read_text() if log.exists() else ""
    for text in (result.stdout, result.stderr, written):
        assert not leaked(text, password, words), (url, text)
    assert json.loads(written)["error"]["message"]
    if output == "json":
        assert json.loads(result.stdout)["ok"] is False


def test_issue_examples_in_a_real_process(tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", dict(BASE))
    log = tmp_path / "log"
    for password in ("pa ss-Sekr1t", "p%zzSekr1t", "Sekr1t/pw", "Sek@r1t"):
        url = f"postgresql://postgres:{password}@127.0.0.1:1/postgres"
        for output in ("text", "json"):
            out = run_cli("up", "--dir", str(d), "-o", output, "--termination-log", str(log),
                          dsn=url)  # fmt: skip
            assert out.returncode == 2, out.output
            assert "invalid database URL" in out.output
            for form in (password, unquote(password), "Sekr1t", "r1t"):
                assert form not in out.output and form not in log.read_text()
            _no_traceback(out.output)


def test_hints_are_scrubbed_and_nothing_after_them_is_lost(
    pg_server, dsn: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    password = pg_server.password
    d = write_set(tmp_path / "m", {
        "001_x.sql": "do $$ begin raise exception 'boom' using hint = "
                     f"'try postgresql://postgres:{password}@db/x [redacted] and the rest'; end $$;\n",
    })  # fmt: skip
    for output in ("text", "json"):
        out = run_cli("up", "--dir", str(d), "-o", output, dsn=dsn)
        assert out.returncode == 1, out.output
        assert password not in out.output
        assert "[redacted] and the rest" in " ".join(out.output.split()), out.output


# --------------------------------------------------------------------------- item 4: validation


def test_a_probe_that_commits_and_writes_is_refused_and_writes_nothing(
    dsn: str, tmp_path: Path
) -> None:
    d = write_set(tmp_path / "m", dict(BASE))
    assert run_cli("up", "--dir", str(d), dsn=dsn).returncode == 0
    attack = "select 1; commit; insert into public.t values (42)"
    for key, item in (
        ("roleProbes", f"{{role: postgres, sql: '{attack}', expect: allowed, name: sneaky}}"),
        ("queries", f"{{name: sneaky, sql: '{attack}'}}"),
    ):
        checks = tmp_path / f"{key}.yaml"
        checks.write_text(f"{key}:\n  - {item}\n")
        out = run_cli("validate", "--dir", str(d), "--checks", str(checks), dsn=dsn)
        assert out.returncode == 2, out.output
        text = " ".join(out.output.split())
        assert str(checks) in text and f"{key}.0.sql (sneaky)" in text
        assert "exactly one SQL statement, found 3" in text
        _no_traceback(out.output)
    assert query(dsn, "select count(*) from public.t") == [(0,)]


def test_timed_queries_run_read_only_under_a_statement_timeout(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", {"001_s.sql": "create sequence public.s;\n"})
    assert run_cli("up", "--dir", str(d), dsn=dsn).returncode == 0
    checks = tmp_path / "checks.yaml"
    checks.write_text(
        "queries:\n  - {name: bump, sql: \"select nextval('public.s')\", repeat: 1}\n"
    )
    out = run_cli("validate", "--dir", str(d), "--checks", str(checks), "-o", "json", dsn=dsn)
    assert out.returncode == 1, out.output
    assert "read-only transaction" in out.stdout
    assert query(dsn, "select is_called from public.s") == [(False,)]  # nextval never ran

    checks.write_text(
        "queries:\n  - {name: slow, sql: 'select pg_sleep(30)', repeat: 1, statementTimeout: 200ms}\n"
    )
    out = run_cli("validate", "--dir", str(d), "--checks", str(checks), "-o", "json", dsn=dsn,
                  timeout=25)  # fmt: skip
    assert out.returncode == 1, out.output
    assert "57014" in out.stdout and "statement timeout" in out.stdout
