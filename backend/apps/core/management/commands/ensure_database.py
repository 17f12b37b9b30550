"""Create the PostgreSQL database named in DATABASE_URL if it does not exist, then migrate."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection


class Command(BaseCommand):
    help = "Create the configured PostgreSQL database when missing, then apply migrations."

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor == "postgresql":
            self._create_postgres_database()
        call_command("migrate", interactive=False, verbosity=1)

    def _create_postgres_database(self) -> None:
        import psycopg
        from psycopg import sql

        params = connection.get_connection_params()
        name = connection.settings_dict["NAME"]
        params.pop("dbname", None)
        params.pop("database", None)
        params.pop("cursor_factory", None)
        params.pop("context", None)
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                self.stdout.write(f"created database {name}")
