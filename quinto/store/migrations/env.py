"""Alembic environment: the connection is handed in by quinto.store.migrate()."""

from alembic import context

from quinto.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
