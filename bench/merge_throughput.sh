#!/usr/bin/env bash
# Merge throughput with real Kafka and PostgreSQL on this machine.
#
#   bench/merge_throughput.sh [EVENTS] [ROUNDS]     (default 1000000 5)
#
# Prints, as medians over ROUNDS rounds: events/s of one merger worker (first
# message to last commit), the rows/s of a raw binary COPY of the same
# history rows into a bare table and the ratio of the two; then the aggregate
# events/s of two workers in one group on twice the events. Needs deploy/local/services.sh up and a build.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${ARMORSMITH_BUILD_DIR:-$ROOT/build}/bin
EVENTS=${1:-1000000}
ROUNDS=${2:-5}
DISTINCT=${ARMORSMITH_BENCH_DISTINCT:-10000}
eval "$("$ROOT/deploy/local/services.sh" env)"
PG=$ARMORSMITH_PG_DSN
RUN=b$(date +%s)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# A fresh group that starts at the current end of the topics: earlier runs'
# messages are not part of the measurement.
start_group_at_end() {
  local group=$1 topic part high
  "$BIN/bench-produce" --offsets "$ARMORSMITH_KAFKA_BROKERS" | while read -r topic part high; do
    psql "$PG" -qAtc "INSERT INTO consumer_offsets VALUES ('$group', '$topic', $part, $high)
                      ON CONFLICT DO NOTHING" >/dev/null
  done
}

# Runs one merger; prints "MERGED FIRST_NS LAST_NS".
run_merger() {
  "$BIN/armorsmith-merger" --group "$1" --batch-size "${ARMORSMITH_BENCH_BATCH:-100000}" --exit-when-idle 4s 2>&1 \
    | sed -n 's/.*stopping: \([0-9]*\) events merged.*first message at \([0-9]*\), last commit at \([0-9]*\).*/\1 \2 \3/p'
}

# Make sure the schema exists before the first measurement.
"$BIN/armorsmith-merger" --group "$RUN-warmup" --exit-when-idle 1s >/dev/null 2>&1 || true

# The machine is shared and noisy: each round merges fresh events with one
# worker and then COPYs the same rows raw, so the ratio of a round compares
# two figures taken seconds apart; the medians over rounds are reported.
raw_copy() {
  psql "$PG" -qc "DROP TABLE IF EXISTS bench_copy" 2>/dev/null
  psql "$PG" -qc "CREATE $1 TABLE bench_copy (LIKE event_history)"
  local t0 t1
  psql "$PG" -qc "CHECKPOINT"
  t0=$(date +%s%N)
  psql "$PG" -qc "\\copy bench_copy FROM '$WORK/rows.copy' (FORMAT binary)"
  t1=$(date +%s%N)
  psql "$PG" -qc "DROP TABLE bench_copy"
  echo $((t1 - t0))
}
for ((r = 1; r <= ROUNDS; r++)); do
  echo "== round $r: one worker, $EVENTS events ($DISTINCT distinct behaviors, 4 policies) =="
  start_group_at_end "$RUN-one$r"
  "$BIN/bench-produce" "$ARMORSMITH_KAFKA_BROKERS" "$RUN-one$r" 4 "$EVENTS" "$DISTINCT"
  # Each measured phase starts right after a checkpoint: one that a phase
  # triggers (max_wal_size) then lands in it alone, not at random.
  psql "$PG" -qc "CHECKPOINT"
  read -r merged first last < <(run_merger "$RUN-one$r")
  # The rows exactly as the merge wrote them (event_history), into a bare
  # table of the same columns: no partitions, no index, no merge. Logged, as
  # the merge's tables are; an unlogged one is shown too.
  psql "$PG" -qc "\\copy (SELECT h.* FROM event_history h JOIN run_keys k USING (run_id) WHERE k.policy_key LIKE '$RUN-one$r/%') TO '$WORK/rows.copy' (FORMAT binary)"
  # The faster of two logged COPYs: the baseline is not flattered by a
  # checkpoint that happened to land in it.
  copy_ns=$(raw_copy "")
  copy2_ns=$(raw_copy "")
  ((copy2_ns < copy_ns)) && copy_ns=$copy2_ns
  unlogged_ns=$(raw_copy UNLOGGED)
  echo "$merged $((last - first)) $copy_ns $unlogged_ns" | tee -a "$WORK/rounds"
done
one_rate=$(python3 - "$WORK/rounds" <<'PY'
import statistics, sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1])]
merge = [m / (t / 1e9) for m, t, _, _ in rows]
copy = [m / (c / 1e9) for m, _, c, _ in rows]
unlogged = [m / (u / 1e9) for m, _, _, u in rows]
ratio = [a / b for a, b in zip(merge, copy)]
ratio_u = [a / b for a, b in zip(merge, unlogged)]
med = statistics.median
print(f"one worker: median {med(merge):.0f} events/s (rounds: {', '.join(f'{x:.0f}' for x in merge)})",
      file=sys.stderr)
print(f"raw COPY: median {med(copy):.0f} rows/s (unlogged table: {med(unlogged):.0f} rows/s)",
      file=sys.stderr)
print(f"ratio merge/COPY: median {med(ratio):.3f} (rounds: {', '.join(f'{x:.3f}' for x in ratio)};"
      f" unlogged: {med(ratio_u):.3f})", file=sys.stderr)
print(round(med(merge)))
PY
)

echo "== two workers in one group, $((2 * EVENTS)) events (8 policies) =="
start_group_at_end "$RUN-two"
"$BIN/bench-produce" "$ARMORSMITH_KAFKA_BROKERS" "$RUN-two" 8 "$((2 * EVENTS))" "$DISTINCT"
run_merger "$RUN-two" >"$WORK/w1" &
run_merger "$RUN-two" >"$WORK/w2" &
wait
python3 - "$WORK/w1" "$WORK/w2" "$one_rate" <<'PY'
import sys
rows = [list(map(int, open(f).read().split())) for f in sys.argv[1:3]]
rows = [r for r in rows if r and r[0] > 0]
total = sum(r[0] for r in rows)
span = (max(r[2] for r in rows) - min(r[1] for r in rows)) / 1e9
rate = total / span
print(f"workers that merged: {len(rows)}; merged {total} events in {span:.2f}s: {rate:.0f} events/s")
print(f"scaling vs one worker: {rate / float(sys.argv[3]):.2f}x")
PY
