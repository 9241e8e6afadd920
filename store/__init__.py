"""The SQL store: models, engine and session, write operations, migrations, demo data."""
