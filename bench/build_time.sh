#!/usr/bin/env bash
# Modeling stop -> profile written, for one policy with DISTINCT distinct
# behaviors and EVENTS history rows, with real Kafka and PostgreSQL.
#
#   bench/build_time.sh [EVENTS] [DISTINCT] [ROUNDS]   (default 1000000 10000 5)
#
# The events go through Kafka and armorsmith-merger like a node's would (an
# AppArmorSeccomp run: DISTINCT - 10 files and 10 syscalls), ending with the
# node's Completed report. Then a running armorsmith-builder waits while the
# run's deadline is moved to now: that instant is "modeling stop"; the figure
# is the time until the ArmorProfileModel's last file (YAML) is in the sink.
# It includes the builder's poll interval (200 ms). The run is then put back
# to Modeling and stopped again, ROUNDS times; the builder's own stage times
# are printed from its log. Needs deploy/local/services.sh up and a build.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${ARMORSMITH_BUILD_DIR:-$ROOT/build}/bin
EVENTS=${1:-1000000}
DISTINCT=${2:-10000}
ROUNDS=${3:-5}
eval "$("$ROOT/deploy/local/services.sh" env)"
PG=$ARMORSMITH_PG_DSN
RUN=bt$(date +%s)
KEY=$RUN/p0
WORK=$(mktemp -d)
builder_pid=
cleanup() {
  [[ -n $builder_pid ]] && kill "$builder_pid" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

q() { psql "$PG" -qAtc "$1"; }

"$BIN/armorsmith-merger" --group "$RUN-warmup" --exit-when-idle 1s >/dev/null 2>&1 || true
"$BIN/bench-produce" --offsets "$ARMORSMITH_KAFKA_BROKERS" | while read -r topic part high; do
  q "INSERT INTO consumer_offsets VALUES ('$RUN', '$topic', $part, $high) ON CONFLICT DO NOTHING" >/dev/null
done

echo "== producing and merging $EVENTS events of $KEY ($DISTINCT distinct behaviors) =="
"$BIN/bench-produce" --complete "$ARMORSMITH_KAFKA_BROKERS" "$RUN" 1 "$EVENTS" "$DISTINCT"
"$BIN/armorsmith-merger" --group "$RUN" --batch-size 100000 --exit-when-idle 4s >"$WORK/merger.log" 2>&1
history=$(q "SELECT count(*) FROM behavior_history WHERE policy_key = '$KEY'")
behaviors=$(q "SELECT count(*) FROM behaviors WHERE policy_key = '$KEY'")
echo "history rows: $history, distinct behaviors: $behaviors"
sed -n 's/.*stopping: \([0-9]*\) events merged.*first message at \([0-9]*\), last commit at \([0-9]*\).*/\1 \2 \3/p' \
  "$WORK/merger.log" | while read -r merged first last; do
  echo "merged at $(python3 -c "print(round($merged / (($last - $first) / 1e9)))") events/s"
done
if [[ $history -ne $EVENTS ]]; then
  echo "build_time.sh: expected $EVENTS history rows" >&2
  exit 1
fi

mkdir -p "$WORK/sink"
ARMORSMITH_SINK_DIR=$WORK/sink "$BIN/armorsmith-builder" >"$WORK/builder.log" 2>&1 &
builder_pid=$!
sleep 1

yaml=$WORK/sink/$RUN/p0.yaml
for ((r = 1; r <= ROUNDS; r++)); do
  rm -f "$yaml"
  q "UPDATE modeling_runs SET status = 'Modeling', completed_at = NULL,
                             deadline = now() + interval '1 day' WHERE policy_key = '$KEY'"
  sleep 0.5 # the builder is idle, between two polls
  stop=$(q "UPDATE modeling_runs SET deadline = clock_timestamp() WHERE policy_key = '$KEY'
            RETURNING (extract(epoch FROM deadline) * 1e9)::bigint")
  for ((i = 0; i < 3000; i++)); do
    [[ -s $yaml ]] && break
    sleep 0.01
  done
  # The YAML is the last file the sink writes; let its write finish.
  while [[ $(q "SELECT status FROM modeling_runs WHERE policy_key = '$KEY'") != Completed ]]; do
    sleep 0.01
  done
  written=$(stat -c %.9Y "$yaml" | tr -d .)
  echo "round $r: modeling stop -> profile written $(((written - stop) / 1000000)) ms"
  echo "$(((written - stop) / 1000000))" >>"$WORK/rounds"
done
grep -o 'built .*' "$WORK/builder.log" | sed 's/^/builder: /'
python3 - "$WORK/rounds" "$yaml" <<'PY'
import os, statistics, sys
ms = [int(x) for x in open(sys.argv[1])]
print(f"modeling stop -> profile written: median {statistics.median(ms):.0f} ms, "
      f"max {max(ms)} ms over {len(ms)} rounds (target <= 1000 ms); "
      f"model {os.path.getsize(sys.argv[2])} bytes of YAML")
PY
