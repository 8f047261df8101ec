"""Where the gradebook lives: nbgrader's database URL (``CourseDirectory.db_url``).

SQLite (``gradebook.db`` in the course root) is the default, set in nbgrader_config.py.
PostgreSQL serves a gradebook shared by several graders or holding a large course:
any SQLAlchemy URL works, e.g. ``postgresql://grader:secret@db.example.edu/return_to_dust``
(driver: psycopg 3). The URL is chosen, first match wins, by

1. the ``--db URL`` option of the ``dustcourse grade`` commands (:func:`using`);
2. the ``DUSTCOURSE_DB_URL`` environment variable (also read by the course's
   nbgrader_config.py, so that ``nbgrader`` itself and formgrader follow it);
3. ``c.CourseDirectory.db_url`` in nbgrader_config.py.

Every gradebook access goes through nbgrader's :class:`~nbgrader.api.Gradebook` (its
SQLAlchemy models) with this URL: no code of the course speaks SQL or opens a file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

ENV = "DUSTCOURSE_DB_URL"

_chosen: list[str] = []  # the --db option of the running command (innermost last)


@contextlib.contextmanager
def using(db_url: str) -> Iterator[None]:
    """The gradebook at ``db_url`` for every configuration loaded inside the block."""
    _chosen.append(db_url)
    try:
        yield
    finally:
        _chosen.pop()


def chosen_url() -> str | None:
    """The URL chosen by ``--db`` or ``DUSTCOURSE_DB_URL`` (None: nbgrader_config.py's)."""
    return (_chosen[-1] if _chosen else None) or os.environ.get(ENV) or None


def apply(config) -> None:
    """Point a loaded nbgrader configuration at the chosen gradebook, if one was chosen."""
    url = chosen_url()
    if url:
        config.CourseDirectory.db_url = url


def shown(db_url: str) -> str:
    """The URL for messages and logs: any password masked."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can read: say so without echoing it
        return "<unreadable database URL>"


def sqlite_file(db_url: str) -> Path | None:
    """The file of an SQLite gradebook (None: not SQLite, or in memory)."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def unreachable(db_url: str) -> str | None:
    """Why the gradebook cannot be opened (None: it can, or it is an SQLite file not
    created yet, which nbgrader creates on first use)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    try:
        engine = create_engine(db_url)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        return f"not a database URL SQLAlchemy can use ({type(exc).__name__}: {exc})"
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return f"cannot connect ({first[0] if first else type(exc).__name__})"
    finally:
        engine.dispose()
    return None
