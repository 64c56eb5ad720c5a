"""Imports every module that defines SQLModel tables, so that Alembic and the tests see the whole schema."""
