#!/usr/bin/env python3
"""Does a SQLite migration waiting for its commit shut the app's readers out (rollback-journal
mode: a writer's PENDING lock refuses new readers)? Measured, not assumed.

A long reader holds a read transaction open for 3 s; `up` applies a migration (an ALTER TABLE
and a 300,000-row table) and must wait for it to commit; meanwhile a new reader, as an app with
a 10 s busy timeout would, queries every 50 ms. Prints how many of its queries were answered,
the longest, and how many failed. The binary is the first argument (default: the static one).
"""

import os
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    ROOT, "target/x86_64-unknown-linux-musl/release/migrate-entrypoint")


def main():
    work = tempfile.mkdtemp(prefix="migrate-readers-")
    db, folder = os.path.join(work, "app.db"), os.path.join(work, "migrations")
    os.makedirs(folder)
    with open(os.path.join(folder, "1_alter.sql"), "w") as f:
        f.write("ALTER TABLE t ADD COLUMN x INTEGER;\n")
    with open(os.path.join(folder, "2_big.sql"), "w") as f:
        f.write("CREATE TABLE big AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                "WHERE x < 300000) SELECT x, printf('%.100c', 'a') AS pad FROM c;\n")
    c = sqlite3.connect(db)
    c.execute("CREATE TABLE t (id INTEGER)")
    c.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(1000)])
    c.commit()
    c.close()
    long = sqlite3.connect(db, isolation_level=None)
    long.execute("BEGIN")
    long.execute("SELECT count(*) FROM t").fetchone()
    started = time.time()
    run = subprocess.Popen([BIN, "up", "-d", f"sqlite:{db}", "-m", folder], stderr=subprocess.PIPE, text=True)
    reader = sqlite3.connect(db, timeout=10, isolation_level=None)
    worst, errors, answered = 0.0, 0, 0
    while time.time() - started < 2.8:
        t = time.time()
        try:
            reader.execute("SELECT count(*) FROM t").fetchone()
            answered += 1
        except sqlite3.Error:
            errors += 1
        worst = max(worst, time.time() - t)
        time.sleep(0.05)
    time.sleep(max(0.0, 3 - (time.time() - started)))
    long.execute("COMMIT")
    log = run.communicate()[1].strip().splitlines()
    mode = reader.execute("PRAGMA journal_mode").fetchone()[0]
    print(f"journal_mode {mode}; while the long reader was open and the migration waited: "
          f"{answered} reader queries answered, longest {worst * 1000:.1f} ms, {errors} failed; "
          f"the migration ended {time.time() - started:.2f} s after it started: {log[-1][-80:]}")


if __name__ == "__main__":
    main()
