"""The job engine: a SQLite job store, worker processes that run every heavy computation, and their executors."""
