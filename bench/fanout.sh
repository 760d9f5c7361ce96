#!/usr/bin/env bash
# Fan-out benchmark: migrates 100 SQLite files x 50 migrations with --jobs 1 and with --jobs =
# number of CPUs, and times `status` on 100 databases x 200 applied migrations. Each figure is
# the median of 5 runs on fresh files. Prints a table; exits 1 when a target is missed.
#
#   bash bench/fanout.sh            (builds the release binary first)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/migrate-entrypoint
cpus=$(nproc)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# $1 migrations of a small app each: a table, an index, a row.
make_migrations() {
  local dir=$1 n=$2
  mkdir -p "$dir"
  for i in $(seq 1 "$n"); do
    printf 'CREATE TABLE t%d (id INTEGER PRIMARY KEY, name TEXT NOT NULL, created_at TEXT);\nCREATE INDEX t%d_name ON t%d (name);\nINSERT INTO t%d (name, created_at) VALUES (%s, CURRENT_TIMESTAMP);\n' \
      "$i" "$i" "$i" "$i" "'row $i'" >"$dir/$(printf '%03d' "$i")_table_$i.sql"
  done
}

# Seconds taken by a command (wall clock, 3 decimals).
seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l | xargs printf '%.3f'
}

median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }

make_migrations "$work/m50" 50
up_run() { # jobs
  rm -rf "$work/dbs" && mkdir -p "$work/dbs"
  for i in $(seq 1 100); do : >"$work/dbs/app$i.db"; done
  seconds "$bin" up --jobs "$1" -d "sqlite://$work/dbs/*.db" -m "$work/m50"
}
one=(); many=()
for _ in 1 2 3 4 5; do
  one+=("$(up_run 1)")
  many+=("$(up_run "$cpus")")
done
t1=$(median "${one[@]}")
tn=$(median "${many[@]}")
speedup=$(echo "$t1 / $tn" | bc -l | xargs printf '%.2f')

make_migrations "$work/m200" 200
rm -rf "$work/st" && mkdir -p "$work/st"
for i in $(seq 1 100); do : >"$work/st/app$i.db"; done
"$bin" up -d "sqlite://$work/st/*.db" -m "$work/m200" >/dev/null 2>&1
st=()
for _ in 1 2 3 4 5; do
  st+=("$(seconds "$bin" status -d "sqlite://$work/st/*.db" -m "$work/m200")")
done
ts=$(median "${st[@]}")

ok_speed=$(echo "$speedup >= 1.6" | bc -l)
ok_status=$(echo "$ts < 1" | bc -l)
verdict() { [[ $1 == 1 ]] && echo "met" || echo "MISSED"; }
echo "fan-out: 100 SQLite files x 50 migrations ($cpus CPUs, median of 5)"
printf '  %-28s %8s s\n' "up --jobs 1" "$t1"
printf '  %-28s %8s s   speed-up %sx (target >= 1.6: %s)\n' "up --jobs $cpus" "$tn" "$speedup" "$(verdict "$ok_speed")"
echo "status: 100 databases x 200 applied migrations (median of 5)"
printf '  %-28s %8s s   (target < 1 s: %s)\n' "status" "$ts" "$(verdict "$ok_status")"
[[ $ok_speed == 1 && $ok_status == 1 ]]
