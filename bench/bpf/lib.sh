# Sourced by overhead.sh and build.sh: interleaved rounds of `bpf-bench MODE
# -- CMD` and their summary. The machine is shared and noisy, so every round
# runs each mode once (in a rotating order), and a mode's overhead is the
# median over rounds of its time divided by the `none` time of the same
# round. Both CPU time (of the command and its descendants: where the BPF
# programs' cost lands, and little disturbed by other load) and wall time
# are kept.

# bench_rounds BENCH ROUNDS TSV MODE... -- CMD...
# Appends one line per measurement to TSV: round mode wall_s cpu_s events
# dedup_hits seen_file_hits ringbuf_drops behaviors behaviors_per_s vmhwm_kib.
bench_rounds() {
	local bench=$1 rounds=$2 tsv=$3
	shift 3
	local modes=()
	while [[ $1 != -- ]]; do
		modes+=("$1")
		shift
	done
	shift
	local n=${#modes[@]} r i mode
	for ((r = 0; r < rounds; r++)); do
		for ((i = 0; i < n; i++)); do
			mode=${modes[$(((r + i) % n))]}
			"$bench" "$mode" -- "$@" >/dev/null 2>"$tsv.err" || {
				cat "$tsv.err" >&2
				return 1
			}
			grep '^bpf-bench ' "$tsv.err" | tail -1 | awk -v r="$r" -v m="$mode" '{
				for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
				print r, m, f["wall_s"], f["cpu_s"], f["events"], f["dedup_hits"], \
				      f["seen_file_hits"], f["ringbuf_drops"], f["behaviors"], \
				      f["behaviors_per_s"], f["vmhwm_kib"]
			}' >>"$tsv"
		done
	done
}

# bench_summary TSV SCALE UNIT: per mode the median CPU and wall time (times
# SCALE, in UNIT) and the medians of the per-round ratios to `none`; for
# capturing modes the medians of the counters and the largest VmHWM.
bench_summary() {
	awk -v scale="$2" -v unit="$3" '
	function sort(list, a,   n, i, j, t) {
		n = split(list, a, " ")
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
				t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
			}
		return n
	}
	function median(list,   a, n) {
		n = sort(list, a)
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function ratios(m, col,   r, out) {
		out = ""
		for (r in rounds)
			if ((r, m) in t && (r, "none") in t && t[r, "none", col] > 0)
				out = out " " t[r, m, col] / t[r, "none", col]
		return out
	}
	function show(m, col, name,   rs, a, n) {
		printf "%s %8.4g %s", name, median(v[m, col]) * scale, unit
		if (m != "none") {
			rs = ratios(m, col); n = sort(rs, a)
			printf " (%.3f, %.3f-%.3f)", median(rs), a[1], a[n]
		}
	}
	{
		if (!($2 in seen)) { seen[$2] = 1; order[++nm] = $2 }
		rounds[$1] = 1; t[$1, $2] = 1
		t[$1, $2, "wall"] = $3; t[$1, $2, "cpu"] = $4
		v[$2, "wall"] = v[$2, "wall"] " " $3; v[$2, "cpu"] = v[$2, "cpu"] " " $4
		ev[$2] = ev[$2] " " $5; dd[$2] = dd[$2] " " $6; sf[$2] = sf[$2] " " $7
		dr[$2] = dr[$2] " " $8; bps[$2] = bps[$2] " " $10
		if ($11 + 0 > hwm[$2]) hwm[$2] = $11 + 0
	}
	END {
		print "  mode     median CPU (ratio to none: median, range)   median wall (ratio ...)"
		for (k = 1; k <= nm; k++) {
			m = order[k]
			printf "  %-8s", m; show(m, "cpu", ""); show(m, "wall", "  "); printf "\n"
			if (m == "run" || m == "outside")
				printf "           events %d, dedup hits %d (walk-free %d), drops %d, " \
				       "behaviors/s %.1f, loader VmHWM %d kiB\n", median(ev[m]), \
				       median(dd[m]), median(sf[m]), median(dr[m]), median(bps[m]), hwm[m]
		}
	}' "$1"
}

# bench_prog_stats BENCH MODE -- CMD...: one more pass with the kernel timing
# every program run (BPF_ENABLE_STATS: node-wide, so other tasks' syscalls
# count too, and the timing itself adds two clock reads per run, so this is
# an upper bound); prints per program runs, ns/run and total, and the total
# against the command's CPU time.
bench_prog_stats() {
	local bench=$1 mode=$2
	shift 3
	"$bench" --prog-stats "$mode" -- "$@" 2>&1 >/dev/null | awk '
	/^bpf-bench mode=/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
	/^bpf-bench prog=/ {
		for (i = 2; i <= NF; i++) { split($i, kv, "="); p[kv[1]] = kv[2] }
		if (p["runs"] > 0) {
			n++; name[n] = p["prog"]; runs[n] = p["runs"]; ns[n] = p["run_ns"]
			total += p["run_ns"]
		}
	}
	END {
		printf "  program time, one more %s pass with BPF_ENABLE_STATS (node-wide, upper bound):\n", \
			f["mode"]
		for (i = 1; i <= n; i++)
			printf "    %-18s %10d runs %8.1f ns/run %9.2f ms\n", name[i], runs[i], \
				ns[i] / runs[i], ns[i] / 1e6
		if (f["cpu_s"] > 0)
			printf "    all programs %.2f ms = %.2f%% of the command'"'"'s CPU time (%.3f s)\n", \
				total / 1e6, 100 * total / 1e9 / f["cpu_s"], f["cpu_s"]
	}'
}
