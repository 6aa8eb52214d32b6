"""The job store's SQLite schema: its tables, its version number and the migrations from older files."""

from __future__ import annotations

SCHEMA_VERSION = 4  # PRAGMA user_version of a store this code writes; older files are migrated on open
SCHEMA = """
CREATE TABLE IF NOT EXISTS workspaces(
    id TEXT PRIMARY KEY, created REAL NOT NULL, seen REAL NOT NULL, name TEXT NOT NULL DEFAULT '',
    client TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS workspaces_client ON workspaces(client);
CREATE TABLE IF NOT EXISTS jobs(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace TEXT NOT NULL, kind TEXT NOT NULL, label TEXT NOT NULL, params TEXT NOT NULL,
    status TEXT NOT NULL, submitted REAL NOT NULL, started REAL, finished REAL, heartbeat REAL,
    worker TEXT, stop INTEGER NOT NULL DEFAULT 0, progress TEXT, curve TEXT, history TEXT, preview BLOB,
    error TEXT NOT NULL DEFAULT '', run_id TEXT, result_key TEXT, cost REAL NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0, name TEXT, lane TEXT NOT NULL DEFAULT 'train',
    work_s REAL NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
CREATE INDEX IF NOT EXISTS jobs_workspace ON jobs(workspace);
CREATE INDEX IF NOT EXISTS jobs_result_key ON jobs(result_key);
CREATE TABLE IF NOT EXISTS runs(
    id TEXT PRIMARY KEY, workspace TEXT NOT NULL, name TEXT NOT NULL, created REAL NOT NULL,
    shared INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL, digest TEXT NOT NULL, bytes INTEGER NOT NULL,
    job INTEGER, summary TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS runs_workspace ON runs(workspace);
CREATE TABLE IF NOT EXISTS workers(
    id TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL, started REAL NOT NULL, heartbeat REAL NOT NULL,
    job INTEGER);
"""


# What each schema version adds to the one before (version 1 is the store's first file, without a version number).
MIGRATIONS = {
    2: ["ALTER TABLE workspaces ADD COLUMN name TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE jobs ADD COLUMN lane TEXT NOT NULL DEFAULT 'train'",
        "UPDATE jobs SET lane='view' WHERE kind IN ('codes', 'projection', 'probe', 'anomaly', 'ae_vs_pca', 'noise_curve')",
        "CREATE INDEX IF NOT EXISTS jobs_result_key ON jobs(result_key)"],
    3: ["ALTER TABLE workspaces ADD COLUMN client TEXT NOT NULL DEFAULT ''",  # who the server issued it to
        "CREATE INDEX IF NOT EXISTS workspaces_client ON workspaces(client)"],
    4: ["ALTER TABLE jobs ADD COLUMN work_s REAL NOT NULL DEFAULT 0",  # reference seconds (aecore.training.speed)
        "UPDATE jobs SET work_s = cost / 3000.0"],  # what the old estimate assumed: 3,000 images per second
}
