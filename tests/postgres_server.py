"""A real PostgreSQL server for the tests (Debian's binaries, scripts/setup.sh installs
them): a throw-away cluster in a temporary folder, on a free loopback port, run by an
unprivileged account (PostgreSQL refuses to run as root; the tests run as root in CI,
so the server then runs as Debian's ``postgres`` account)."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SUPERUSER = "dustcourse_tests"


def binaries() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl."""
    found = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "pg_ctl").is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not found:
        raise RuntimeError("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/pg_ctl): "
                           "run `make setup` (scripts/setup.sh installs Debian's postgresql)")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """``with PostgresServer() as server:`` a running cluster; ``server.create_database``
    makes a database owned by a new unprivileged role and returns its URL."""

    def __init__(self):
        self.bin = binaries()
        try:
            self.account = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        except KeyError:
            raise RuntimeError(
                "no `postgres` account to run PostgreSQL as (root may not): run `make setup` "
                "(Debian's postgresql package creates it)") from None
        self.password = secrets.token_hex(12)
        self.port = 0
        self.folder: Path | None = None

    def _run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        user = {"user": self.account.pw_uid, "group": self.account.pw_gid,
                "extra_groups": []} if self.account else {}
        result = subprocess.run(args, capture_output=True, text=True, timeout=120,
                                cwd=self.folder, **user, **kwargs)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({result.returncode}):\n"
                               f"{result.stdout[-2000:]}{result.stderr[-2000:]}")
        return result

    def __enter__(self) -> PostgresServer:
        # not under pytest's tmp folders: those are private to root, out of the account's reach
        self.folder = Path(tempfile.mkdtemp(prefix="dustcourse-pg-"))
        if self.account:
            os.chown(self.folder, self.account.pw_uid, self.account.pw_gid)
        data = self.folder / "data"
        secret = self.folder / "pwfile"
        secret.write_text(self.password + "\n")
        if self.account:
            os.chown(secret, self.account.pw_uid, self.account.pw_gid)
        secret.chmod(0o600)
        self._run(str(self.bin / "initdb"), "-D", str(data), "-U", SUPERUSER,
                  f"--pwfile={secret}", "--auth=scram-sha-256", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        secret.unlink()
        for attempt in range(5):  # the free port may be taken between asking and binding
            self.port = _free_port()
            options = (f"-h 127.0.0.1 -p {self.port} -k {self.folder} "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
            try:
                self._run(str(self.bin / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(data),
                          "-l", str(self.folder / "server.log"), "-o", options)
                break
            except RuntimeError:
                if attempt == 4:
                    log = self.folder / "server.log"
                    raise RuntimeError("PostgreSQL did not start:\n" + (
                        log.read_text()[-3000:] if log.is_file() else "")) from None
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "stop", "-m", "immediate", "-w",
                      "-D", str(self.folder / "data"))
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres", user: str = SUPERUSER,
            password: str | None = None) -> str:
        return (f"postgresql://{user}:{password or self.password}@127.0.0.1:{self.port}"
                f"/{database}")

    def create_database(self, name: str) -> str:
        """A database ``name`` owned by a new role of the same name (no superuser, no
        right to create databases or roles), as docs/grading.md tells an instructor to
        make; returns the URL that role connects with."""
        import psycopg

        password = secrets.token_hex(12)
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE ROLE "{name}" LOGIN PASSWORD \'{password}\'')
            connection.execute(f'CREATE DATABASE "{name}" OWNER "{name}"')
        return self.url(name, user=name, password=password)
