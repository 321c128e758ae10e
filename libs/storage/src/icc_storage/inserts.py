"""Inserts that skip rows already there, on SQLite and PostgreSQL alike."""

import functools

from sqlalchemy import Executable, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


@functools.cache
def insert_if_absent(dialect: str, table: Table) -> Executable:
    """`INSERT ... ON CONFLICT DO NOTHING` into `table`, the values given at execute
    (check `rowcount`). ON CONFLICT keeps a PostgreSQL transaction usable where a
    duplicate key error would abort it. Built once per table: building the statement
    and its cache key on every call cost about as much as running it."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing()
