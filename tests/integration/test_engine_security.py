"""Security and fault hardening of the engine and CLI (issue 8): secrets, validation that cannot
write, restores that verify, pruning that keeps others' files, private backups, clear failures."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from dbmigrator.cli.main import main
from tests.helpers import CLI, query, run_cli, write_set
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


# --------------------------------------------------------------------------- backups


def _rows(dsn: str) -> int:
    return int(query(dsn, "select count(*) from public.t")[0][0])  # type: ignore[call-overload]


def _backup(dsn: str, out: Path, *args: str) -> dict[str, object]:
    done = run_cli("backup", "--out", str(out), *args, "-o", "json", dsn=dsn)
    assert done.returncode == 0, done.output
    info: dict[str, object] = json.loads(done.stdout)["backup"]
    return info


def test_restore_refuses_a_tampered_dump_and_leaves_the_database(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", dict(BASE))
    assert run_cli("up", "--dir", str(d), dsn=dsn).returncode == 0
    query(dsn, "insert into public.t values (1)")
    info = _backup(dsn, tmp_path / "b")
    dump, sha = Path(str(info["file"])), str(info["sha256"])
    query(dsn, "insert into public.t values (2)")
    pristine = dump.read_bytes()
    tampered = bytearray(pristine)
    tampered[len(tampered) // 2] ^= 0xFF
    dump.write_bytes(bytes(tampered))

    def restore(*extra: str) -> str:
        out = run_cli("restore", "--dir", str(d), "--from", str(dump), "--yes", *extra, dsn=dsn)
        assert out.returncode == 1, out.output
        _no_traceback(out.output)
        assert _rows(dsn) == 2  # untouched
        return " ".join(out.output.split())

    assert "does not match its sidecar" in restore()
    assert "does not match the expected sha256" in restore("--expect-sha256", sha)
    Path(str(dump) + ".json").unlink()  # an attacker who rewrites both: the operator's hash holds
    assert "does not match the expected sha256" in restore("--expect-sha256", sha)

    dump.write_bytes(pristine)
    assert "does not match the expected sha256" in restore("--expect-sha256", "0" * 64)
    bad = run_cli("restore", "--dir", str(d), "--from", str(dump), "--yes",
                  "--expect-sha256", "nothex", dsn=dsn)  # fmt: skip
    assert bad.returncode == 2 and "64 hexadecimal digits" in bad.output
    ok = run_cli("restore", "--dir", str(d), "--from", str(dump), "--yes",
                 "--expect-sha256", sha.upper(), dsn=dsn)  # fmt: skip
    assert ok.returncode == 0, ok.output
    assert _rows(dsn) == 1


def test_restore_is_confined_to_the_backup_root(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", dict(BASE))
    assert run_cli("up", "--dir", str(d), dsn=dsn).returncode == 0
    root = tmp_path / "root"
    info = _backup(dsn, tmp_path / "outside")
    outside = Path(str(info["file"]))
    (root / "db").mkdir(parents=True)
    (root / "db" / "link.dump").symlink_to(outside)
    query(dsn, "insert into public.t values (7)")
    env = {"DBMIGRATOR_BACKUP_ROOT": str(root)}
    for source in (f"../outside/{outside.name}", str(outside), "db/link.dump",
                   f"db/../../outside/{outside.name}"):  # fmt: skip
        out = run_cli("restore", "--dir", str(d), "--from", source, "--yes", dsn=dsn, env=env)
        assert out.returncode == 2, (source, out.output)
        assert "outside the backup root" in out.output
        _no_traceback(out.output)
    assert _rows(dsn) == 1
    # inside the root, relative to it, works
    (root / "db" / "link.dump").unlink()
    (root / "db" / outside.name).write_bytes(outside.read_bytes())
    out = run_cli("restore", "--dir", str(d), "--from", f"db/{outside.name}", "--yes", dsn=dsn,
                  env=env)  # fmt: skip
    assert out.returncode == 0, out.output
    assert _rows(dsn) == 0


def test_keep_prunes_only_this_databases_own_backups(dsn: str, tmp_path: Path) -> None:
    db = dsn.rsplit("/", 1)[1].split("?")[0]
    out = tmp_path / "b"
    out.mkdir()

    def dump(name: str, database: str | None) -> Path:
        path = out / name
        path.write_bytes(b"PGDMP")
        if database is not None:
            (out / (name + ".json")).write_text(json.dumps({"database": database}))
        return path

    own_old = dump(f"{db}-20200101T000000Z-001.dump", db)
    others = [
        dump("other-20200101T000000Z-001.dump", "other"),
        dump(f"{db}-20200102T000000Z-002.dump", "someone-else"),  # our name, not our sidecar
        dump(f"{db}-20200103T000000Z-003.dump", None),  # our name, no sidecar
        dump("hand-made.dump", None),
    ]
    stale = out / f"{db}-20200104T000000Z-004.dump.partial"
    stale.write_bytes(b"PGDMP")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    fresh = out / f"{db}-20200105T000000Z-005.dump.partial"
    fresh.write_bytes(b"PGDMP")
    foreign_partial = out / "other-20200104T000000Z-004.dump.partial"
    foreign_partial.write_bytes(b"PGDMP")
    os.utime(foreign_partial, (time.time() - 7200, time.time() - 7200))

    info = _backup(dsn, out, "--keep", "1")
    new = Path(str(info["file"]))
    assert new.is_file()
    assert not own_old.exists() and not (out / (own_old.name + ".json")).exists()
    assert not stale.exists()
    for kept in (*others, fresh, foreign_partial):
        assert kept.exists(), kept


def test_backups_are_private_whatever_the_umask(dsn: str, tmp_path: Path) -> None:
    out = tmp_path / "new" / "sub"
    proc = subprocess.run(
        [str(CLI), "backup", "--out", str(out), "-o", "json"], capture_output=True, text=True,
        env={**os.environ, "DATABASE_URL": dsn}, umask=0, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    dump = Path(json.loads(proc.stdout)["backup"]["file"])
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in (dump, Path(str(dump) + ".json"))}
    assert set(modes.values()) == {0o600}, modes
    for directory in (tmp_path / "new", out):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory


# --------------------------------------------------------------------------- item 13: failures


def test_missing_pg_dump_and_unwritable_out_end_in_one_line(dsn: str, tmp_path: Path) -> None:
    empty = tmp_path / "no-tools"
    empty.mkdir()
    log = tmp_path / "log"
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cases = [
        ({"DBMIGRATOR_PG_BINDIR": str(empty), "PATH": "/nonexistent"}, str(tmp_path / "b"),
         "no pg_dump"),
        ({}, str(blocker / "backups"), "cannot create the backup directory"),
    ]  # fmt: skip
    for env, out_dir, words in cases:
        log.unlink(missing_ok=True)
        out = run_cli("backup", "--out", out_dir, "--termination-log", str(log), dsn=dsn, env=env)
        assert out.returncode == 1, out.output
        assert words in out.output
        _no_traceback(out.output)
        assert json.loads(log.read_text())["error"]["kind"] == "backup"
    assert not list(tmp_path.glob("**/*.partial"))


def test_a_checks_file_that_is_not_utf8_is_bad_input(dsn: str, tmp_path: Path) -> None:
    d = write_set(tmp_path / "m", dict(BASE))
    checks = tmp_path / "checks.yaml"
    checks.write_bytes(b"queries:\n  - {name: caf\xe9, sql: select 1}\n")
    log = tmp_path / "log"
    out = run_cli("validate", "--dir", str(d), "--checks", str(checks),
                  "--termination-log", str(log), dsn=dsn)  # fmt: skip
    assert out.returncode == 2, out.output
    assert f"{checks}: not UTF-8 text" in " ".join(out.output.split())
    _no_traceback(out.output)
    assert json.loads(log.read_text())["error"]["file"] == str(checks)


def test_a_planted_symlink_does_not_redirect_the_backup(dsn: str, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    target = tmp_path / "b" / "x.dump"
    target.parent.mkdir()
    (tmp_path / "b" / "x.dump.partial").symlink_to(victim)
    out = run_cli("backup", "--out", str(target), dsn=dsn)
    assert out.returncode == 1, out.output
    _no_traceback(out.output)
    assert victim.read_text() == "precious"
