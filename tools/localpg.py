"""A throwaway PostgreSQL server for the tests and the demo (Debian's `postgresql` package).

PostgreSQL refuses to run as root, so when we are root the data directory belongs to an
unprivileged system user (`postgres` from the Debian package, created if missing) and the server
runs as that user. The server listens on 127.0.0.1 on a free port with password (SCRAM) auth, so
the tests exercise the same authentication path as production; the superuser password is random
per server and only ever passed through the DSN given to the code under test.

For pods of the local cluster, `host=` adds the host's address on the node network (where pods
reach the host) and `clients=` the networks allowed to connect from there; `dsn()` then names
that address, which works from the host and from every pod alike.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

PG_USER = "postgres"


REPO = Path(__file__).resolve().parent.parent


def fetched_bindirs() -> tuple[Path, Path]:
    """(PostgreSQL 17 server bindir, client tools bindir) of hack/fetch-pg.sh, fetched if missing."""
    proc = subprocess.run(
        ["bash", str(REPO / "hack" / "fetch-pg.sh")], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"hack/fetch-pg.sh failed: {proc.stderr.strip()}")
    server, client = proc.stdout.split()[-2:]
    return Path(server), Path(client)


def server_bindir(major: int) -> Path:
    """The server binaries of one major: Debian's package, else (17) hack/fetch-pg.sh's download."""
    debian = Path(f"/usr/lib/postgresql/{major}/bin")
    if (debian / "postgres").exists():
        return debian
    if major == 17:
        return fetched_bindirs()[0]
    raise RuntimeError(f"no PostgreSQL {major} server: install postgresql-{major}")


def bindir_major(bindir: Path) -> int:
    """The major version of the server in `bindir` (`postgres --version`)."""
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    return int(out.split()[-1].split(".")[0])


MIRROR_ROOT = Path("/usr/local/lib/dbmigrator-pg")


def _readable_by(path: Path, uid: int) -> bool:
    """Whether every directory up to `path` lets others (the server's user) through."""
    for part in [path, *path.parents]:
        st = part.stat()
        if st.st_uid != uid and not st.st_mode & 0o001:
            return False
    return True


def runnable_bindir(bindir: Path, ids: tuple[int, int] | None) -> Path:
    """`bindir`, or a copy of its installation the server's user can reach (a download in
    root's home is not: /root is 0700). The copy is made once per installation, under a
    directory only root may write (we are root whenever `ids` is set)."""
    if ids is None or _readable_by(bindir, ids[0]):
        return bindir
    install = bindir.parent
    mirror = MIRROR_ROOT / f"{install.parent.name}-{install.name}"
    if not (mirror / ".complete").exists():
        shutil.rmtree(mirror, ignore_errors=True)
        mirror.parent.mkdir(parents=True, exist_ok=True)
        mirror.parent.chmod(0o755)
        shutil.copytree(install, mirror, symlinks=True)
        (mirror / ".complete").touch()
    return mirror / bindir.name


def find_bindir() -> Path:
    """The newest installed PostgreSQL server bindir (override with PG_BINDIR)."""
    override = os.environ.get("PG_BINDIR")
    if override:
        return Path(override)
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if not candidates:
        raise RuntimeError(
            "no PostgreSQL server found under /usr/lib/postgresql; install it with "
            "`apt-get install -y postgresql` (or set PG_BINDIR)"
        )
    return Path(candidates[-1]).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _run_as() -> tuple[int, int] | None:
    """(uid, gid) to run the server as, or None when we are not root."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
            check=True,
        )
        entry = pwd.getpwnam(PG_USER)
    return entry.pw_uid, entry.pw_gid


@dataclass
class LocalPostgres:
    """One PostgreSQL cluster in a temporary directory. Use as a context manager."""

    base: Path | None = None
    port: int = 0
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    superuser: str = PG_USER
    log_statements: bool = False
    host: str = "127.0.0.1"
    clients: tuple[str, ...] = ()  # CIDRs allowed in pg_hba.conf besides loopback (SCRAM)
    bindir: Path = field(default_factory=find_bindir)
    _owned_base: bool = False

    @property
    def datadir(self) -> Path:
        assert self.base is not None
        return self.base / "data"

    @functools.cached_property
    def major(self) -> int:
        return bindir_major(self.bindir)

    def dsn(
        self, dbname: str = "postgres", user: str | None = None, password: str | None = None
    ) -> str:
        user = user or self.superuser
        pw = self.password if password is None else password
        return f"postgresql://{quote(user)}:{quote(pw, safe='')}@{self.host}:{self.port}/{dbname}"

    def start(self) -> LocalPostgres:
        if self.base is None:
            self.base = Path(tempfile.mkdtemp(prefix="dbmigrator-pg-"))
            self._owned_base = True
        self.base.mkdir(parents=True, exist_ok=True)
        ids = _run_as()
        self.bindir = runnable_bindir(self.bindir, ids)
        self.port = self.port or free_port()
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.password + "\n")
        if ids:
            for path in (self.base, pwfile):
                os.chown(path, *ids)
        pwfile.chmod(0o600)
        if not (self.datadir / "PG_VERSION").exists():
            self._run(
                [
                    str(self.bindir / "initdb"),
                    "-D", str(self.datadir),
                    "-U", self.superuser,
                    "--pwfile", str(pwfile),
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ],
                ids,
            )  # fmt: skip
        pwfile.unlink()
        if self.clients:
            hba = self.datadir / "pg_hba.conf"
            lines = [f"host all all {cidr} scram-sha-256" for cidr in self.clients]
            current = hba.read_text()
            missing = [line for line in lines if line not in current.splitlines()]
            if missing:
                hba.write_text(current.rstrip("\n") + "\n" + "\n".join(missing) + "\n")
        listen = ",".join(dict.fromkeys(("127.0.0.1", self.host)))
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.base}",
                f"-c listen_addresses={listen}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
                "-c shared_buffers=128MB",
            ]
            + (["-c log_statement=all"] if self.log_statements else [])
        )
        self._run(
            [
                str(self.bindir / "pg_ctl"),
                "-D", str(self.datadir),
                "-o", options,
                "-l", str(self.base / "postgres.log"),
                "-w", "-t", "60",
                "start",
            ],
            ids,
        )  # fmt: skip
        self._wait_ready()
        return self

    def stop(self) -> None:
        if self.base is None or not (self.datadir / "postmaster.pid").exists():
            return
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                _run_as(),
            )
        if self._owned_base:
            shutil.rmtree(self.base, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        if self.base is None:
            return ""
        path = self.base / "postgres.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"PostgreSQL did not accept connections:\n{self.log_tail()}")

    @staticmethod
    def _run(cmd: list[str], ids: tuple[int, int] | None) -> None:
        kwargs: dict[str, object] = {}
        if ids:
            kwargs = {"user": ids[0], "group": ids[1], "extra_groups": []}
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            cwd="/",
            **kwargs,  # type: ignore[call-overload]
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name} failed: {proc.stderr.strip() or proc.stdout}")
