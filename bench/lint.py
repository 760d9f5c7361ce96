#!/usr/bin/env python3
"""What the lint costs: `validate` over 200 PostgreSQL migrations (each with statements the
rules look at, half of them findings) with `--lint warn` against `--lint off`; medians of 30
runs. Usage: bench/lint.py [BINARY] (default: the static musl release binary)."""
import os
import statistics
import subprocess
import sys
import tempfile
import time

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/x86_64-unknown-linux-musl/release/migrate-entrypoint"
N = 200
RUNS = 30


def corpus(d):
    os.mkdir(os.path.join(d, "migrations"))
    for i in range(1, N + 1):
        with open(os.path.join(d, "migrations", f"{i:03}_m.sql"), "w") as f:
            f.write(
                f"CREATE TABLE t{i} (id bigint PRIMARY KEY, name text NOT NULL, created_at timestamptz DEFAULT now());\n"
                f"ALTER TABLE users ADD COLUMN c{i} text;\n"
                f"CREATE INDEX i{i} ON users (c{i});\n"
                f"ALTER TABLE orders ADD CONSTRAINT fk{i} FOREIGN KEY (user_id) REFERENCES users (id);\n"
                f"UPDATE users SET c{i} = 'x' WHERE id < 100;\n"
                f"INSERT INTO t{i} (id, name) VALUES (1, 'a'), (2, 'b');\n"
            )


def median_ms(args, cwd):
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        subprocess.run(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


with tempfile.TemporaryDirectory() as d:
    corpus(d)
    b = os.path.abspath(BIN)
    out = subprocess.run([b, "validate", "--format", "json"], cwd=d, capture_output=True, text=True).stdout
    findings = out.count('"rule":')
    off = median_ms([b, "validate", "--lint", "off"], d)
    warn = median_ms([b, "validate", "--lint", "warn"], d)
    print(f"{N} files, {findings} findings: validate --lint off {off:.1f} ms, --lint warn {warn:.1f} ms, "
          f"the lint {warn - off:.1f} ms ({(warn - off) / N * 1000:.0f} us a file)")
