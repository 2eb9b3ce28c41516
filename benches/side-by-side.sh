#!/usr/bin/env bash
# Side-by-side benchmark: the workloads of WORKLOADS.md on our core
# (benches/, package raft-sansio-benches) and on tikv/raft-rs 0.7
# (benches/raftrs/, its own cargo workspace), in one run, printed as a
# markdown table of (ours, raft-rs, ratio).
#
# Usage: benches/side-by-side.sh [--quick] [--raftrs-only] [--table-only]
#   --quick        shorter criterion runs (warm-up 1 s, measurement 2 s)
#   --raftrs-only  run only the raft-rs side (our column shows "-")
#   --table-only   run nothing; print the table from the criterion results,
#                  stats and RSS figures of the previous run
#
# Both sides: criterion group `workloads`; each figure is the median point
# estimate of target/criterion/workloads/<id>/new/estimates.json (ns per
# iteration). `stats` prints JSON lines with messages per entry and rounds
# (W3), and heartbeat rounds per burst of reads (`read_*` ids); `w3_rss`
# prints `peak_rss_kb=N` (VmHWM) at the end. Read rows: one criterion
# iteration is a burst of k reads (read_index_kK) or one lease read
# (read_lease); the table shows reads/s = 1e9 / (ns per read).
set -euo pipefail

QUICK=0
RAFTRS_ONLY=0
TABLE_ONLY=0
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        --raftrs-only) RAFTRS_ONLY=1 ;;
        --table-only) TABLE_ONLY=1 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OURS_DIR="$ROOT/benches"
OURS_TARGET="$ROOT/target"
RAFTRS_DIR="$ROOT/benches/raftrs"
RAFTRS_TARGET="$RAFTRS_DIR/target"
OUT="$RAFTRS_TARGET/side-by-side"
mkdir -p "$OUT"

CRIT_ARGS=()
if [ "$QUICK" = 1 ]; then
    CRIT_ARGS=(--warm-up-time 1 --measurement-time 2)
fi

log() { echo ">>> $*" >&2; }

# Does our side provide this target? (The other engineers write it.)
ours_has() { [ "$RAFTRS_ONLY" = 0 ] && [ -f "$OURS_DIR/$1" ]; }

peak_rss() { # $1 = output file of one w3_rss run -> kB or empty
    local v
    v="$(grep -o 'peak_rss_kb=[0-9]*' "$1" 2>/dev/null | tail -1 | cut -d= -f2 || true)"
    if [ -z "$v" ]; then
        v="$(grep 'Maximum resident set size' "$1" 2>/dev/null | awk '{print $NF}' | tail -1 || true)"
    fi
    echo "$v"
}

run_rss() { # $1 = binary, $2 = output file, rest = args
    local bin="$1" out="$2"
    shift 2
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -v "$bin" "$@" >"$out" 2>&1 || { log "w3_rss failed: $bin $*"; : >"$out"; }
    else
        "$bin" "$@" >"$out" 2>&1 || { log "w3_rss failed: $bin $*"; : >"$out"; }
    fi
}

if [ "$TABLE_ONLY" = 0 ]; then
    START_MARK="$OUT/start"
    touch "$START_MARK"
    rm -f "$OUT"/*.jsonl "$OUT"/rss-*.txt

    # ---- criterion benches: ours, then raft-rs, each in its own target dir
    if ours_has benches/workloads.rs; then
        log "our benches (cargo bench --bench workloads in $OURS_DIR)"
        (cd "$OURS_DIR" && CARGO_TARGET_DIR="$OURS_TARGET" \
            cargo bench --bench workloads -- "${CRIT_ARGS[@]}" >&2) \
            || log "our bench failed; its figures will show as -"
    fi
    log "raft-rs benches (cargo bench --bench workloads in $RAFTRS_DIR)"
    (cd "$RAFTRS_DIR" && CARGO_TARGET_DIR="$RAFTRS_TARGET" \
        cargo bench --bench workloads -- "${CRIT_ARGS[@]}" >&2) \
        || log "raft-rs bench failed; its figures will show as -"

    # ---- stats (messages per entry, rounds)
    if ours_has src/bin/stats.rs; then
        log "our stats"
        (cd "$ROOT" && CARGO_TARGET_DIR="$OURS_TARGET" \
            cargo run --release -q -p raft-sansio-benches --bin stats) >"$OUT/stats-ours.jsonl" \
            || log "our stats failed"
    fi
    log "raft-rs stats"
    (cd "$RAFTRS_DIR" && CARGO_TARGET_DIR="$RAFTRS_TARGET" \
        cargo run --release -q --bin stats) >"$OUT/stats-raftrs.jsonl" \
        || log "raft-rs stats failed"

    # ---- peak RSS of W3 with 1M entries (binaries run directly, not via
    # cargo, each in a fresh process)
    if ours_has src/bin/w3_rss.rs; then
        log "our w3_rss"
        if (cd "$ROOT" && CARGO_TARGET_DIR="$OURS_TARGET" \
            cargo build --release -q -p raft-sansio-benches --bin w3_rss); then
            run_rss "$OURS_TARGET/release/w3_rss" "$OUT/rss-ours.txt"
            run_rss "$OURS_TARGET/release/w3_rss" "$OUT/rss-ours-idle.txt" idle
        else
            log "our w3_rss does not build"
        fi
    fi
    log "raft-rs w3_rss"
    if (cd "$RAFTRS_DIR" && CARGO_TARGET_DIR="$RAFTRS_TARGET" \
        cargo build --release -q --bin w3_rss); then
        run_rss "$RAFTRS_TARGET/release/w3_rss" "$OUT/rss-raftrs.txt"
        run_rss "$RAFTRS_TARGET/release/w3_rss" "$OUT/rss-raftrs-idle.txt" idle
    fi
else
    START_MARK=""
fi

# ---- the report
echo
echo "## Side by side: raft-sansio vs tikv/raft-rs 0.7"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "- rustc: $(rustc --version 2>/dev/null || echo '?')"
echo "- criterion: $([ "$QUICK" = 1 ] && echo 'quick (warm-up 1 s, measurement 2 s)' || echo 'as set in the benches')"
[ "$RAFTRS_ONLY" = 1 ] && echo "- raft-rs side only"
echo

OURS_CRIT="$OURS_TARGET/criterion/workloads" \
RAFTRS_CRIT="$RAFTRS_TARGET/criterion/workloads" \
START_MARK="$START_MARK" \
RAFTRS_ONLY="$RAFTRS_ONLY" \
STATS_OURS="$OUT/stats-ours.jsonl" STATS_RAFTRS="$OUT/stats-raftrs.jsonl" \
RSS_OURS="$(peak_rss "$OUT/rss-ours.txt")" \
RSS_OURS_IDLE="$(peak_rss "$OUT/rss-ours-idle.txt")" \
RSS_RAFTRS="$(peak_rss "$OUT/rss-raftrs.txt")" \
RSS_RAFTRS_IDLE="$(peak_rss "$OUT/rss-raftrs-idle.txt")" \
python3 - <<'PY'
import json, os

START = os.environ["START_MARK"]
start_t = os.path.getmtime(START) if START and os.path.exists(START) else None
N = 100_000


def median_ns(crit_dir, bid, side):
    """Median ns per criterion iteration, or None (missing or stale)."""
    if side == "ours" and os.environ["RAFTRS_ONLY"] == "1":
        return None
    p = os.path.join(crit_dir, bid, "new", "estimates.json")
    if not os.path.exists(p):
        return None
    if start_t is not None and os.path.getmtime(p) < start_t:
        return None  # left over from an earlier run
    with open(p) as f:
        return json.load(f)["median"]["point_estimate"]


def ids_in(crit_dir):
    try:
        return sorted(d for d in os.listdir(crit_dir) if os.path.isdir(os.path.join(crit_dir, d)))
    except OSError:
        return []


OURS = os.environ["OURS_CRIT"]
THEIRS = os.environ["RAFTRS_CRIT"]

# id -> (label, unit, convert ns/iteration -> unit value, higher is better)
per_op = lambda ns: ns
W = [
    ("w1", "W1 follower append, commit advances", "ns/msg", per_op, False),
    ("w1b", "W1b follower append, commit fixed", "ns/msg", per_op, False),
    ("w2", "W2 leader ack, commit broadcast", "ns/msg", per_op, False),
    ("w2b", "W2b leader ack, no commit broadcast", "ns/msg", per_op, False),
    ("w3_b1", "W3 commit throughput B=1", "entries/s", lambda ns: N / (ns * 1e-9), True),
    ("w3_b16", "W3 commit throughput B=16", "entries/s", lambda ns: N / (ns * 1e-9), True),
    ("w3_b256", "W3 commit throughput B=256", "entries/s", lambda ns: N / (ns * 1e-9), True),
    ("w4", "W4 election, 5 nodes", "us/election", lambda ns: ns / 1000.0, False),
    ("w5a", "W5a leader tick, 4 heartbeats", "ns/tick", per_op, False),
    ("w5b", "W5b follower heartbeat -> response", "ns/hb", per_op, False),
    ("read_index_k1", "read index, burst of 1 (3 nodes)", "reads/s", lambda ns: 1e9 / ns, True),
    ("read_index_k16", "read index, burst of 16 (3 nodes)", "reads/s", lambda ns: 16 * 1e9 / ns, True),
    ("read_index_k256", "read index, burst of 256 (3 nodes)", "reads/s", lambda ns: 256 * 1e9 / ns, True),
    ("read_lease", "lease read (3 nodes)", "reads/s", lambda ns: 1e9 / ns, True),
    ("floor_a", "floor A: memcpy 128 B into arena", "ns/entry", lambda ns: ns / N, False),
    ("floor_b", "floor B: malloc + memcpy 128 B", "ns/entry", lambda ns: ns / N, False),
    ("floor_c", "floor C: arena, cold", "ns/entry", lambda ns: ns / N, False),
]
KNOWN = {w[0]: w for w in W}


def fmt(v, unit):
    if v is None:
        return "-"
    if unit in ("entries/s", "reads/s"):
        return f"{v / 1e6:.2f}M" if v >= 1e6 else f"{v / 1e3:.0f}k"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def ratio(ours, theirs, higher_better):
    if ours is None or theirs is None or ours == 0 or theirs == 0:
        return "-"
    r = ours / theirs if higher_better else theirs / ours
    return f"{r:.2f}x"


print("| workload | unit | ours | raft-rs | ratio |")
print("|---|---|---|---|---|")
for bid, label, unit, conv, hb in W:
    o = median_ns(OURS, bid, "ours")
    o = None if o is None else conv(o)
    if bid.startswith("w3_"):
        tb = median_ns(THEIRS, bid + "_batch", "raftrs")
        tn = median_ns(THEIRS, bid, "raftrs")
        tb = None if tb is None else conv(tb)
        tn = None if tn is None else conv(tn)
        cell = f"{fmt(tb, unit)} batch / {fmt(tn, unit)}"
        print(f"| {label} | {unit} | {fmt(o, unit)} | {cell} | {ratio(o, tb, hb)} |")
    else:
        t = median_ns(THEIRS, bid, "raftrs")
        t = None if t is None else conv(t)
        print(f"| {label} | {unit} | {fmt(o, unit)} | {fmt(t, unit)} | {ratio(o, t, hb)} |")

# Extra ids on our side (e.g. w1_events): compared with raft-rs's base id.
if os.environ["RAFTRS_ONLY"] != "1":
    for bid in ids_in(OURS):
        if bid in KNOWN:
            continue
        base = max((k for k in KNOWN if bid.startswith(k + "_")), key=len, default=None)
        if base is None:
            continue
        _, label, unit, conv, hb = KNOWN[base]
        o = median_ns(OURS, bid, "ours")
        if o is None:
            continue
        o = conv(o)
        tid = base + "_batch" if base.startswith("w3_") else base
        t = median_ns(THEIRS, tid, "raftrs")
        t = None if t is None else conv(t)
        print(f"| {label} [{bid}] | {unit} | {fmt(o, unit)} | {fmt(t, unit)} | {ratio(o, t, hb)} |")


def load_stats(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    d = json.loads(line)
                    out[d["id"]] = d
    except (OSError, ValueError):
        pass
    return out


so = {} if os.environ["RAFTRS_ONLY"] == "1" else load_stats(os.environ["STATS_OURS"])
st = load_stats(os.environ["STATS_RAFTRS"])


def num(x):
    if isinstance(x, int) or float(x).is_integer() and abs(x) >= 10:
        return f"{int(x)}"
    return f"{x:.2f}" if abs(x) >= 0.1 else f"{x:.4f}"


def g(d, bid, key, f=num):
    return f(d[bid][key]) if bid in d and key in d[bid] else "-"


print()
print("W3 messages stepped per entry and shuttle rounds to completion (N = 100,000):")
print()
print("| B | ours msgs/entry | raft-rs msgs/entry (batch / no batch) | ours rounds | raft-rs rounds (batch / no batch) |")
print("|---|---|---|---|---|")
for b in (1, 16, 256):
    i = f"w3_b{b}"
    print(f"| {b} | {g(so, i, 'messages_per_entry')} | "
          f"{g(st, i + '_batch', 'messages_per_entry')} / {g(st, i, 'messages_per_entry')} | "
          f"{g(so, i, 'rounds')} | {g(st, i + '_batch', 'rounds')} / {g(st, i, 'rounds')} |")
print()
print(f"W4 messages stepped per election: ours {g(so, 'w4', 'messages')}, raft-rs {g(st, 'w4', 'messages')}")
print()
print("Reads: heartbeat rounds (broadcasts) per burst of k reads, and heartbeat responses stepped:")
print()
print("| reads | ours rounds | raft-rs rounds | ours responses | raft-rs responses |")
print("|---|---|---|---|---|")
for i, label in [("read_index_k1", "read index, k = 1"), ("read_index_k16", "read index, k = 16"),
                 ("read_index_k256", "read index, k = 256"), ("read_lease", "lease, 1 read")]:
    print(f"| {label} | {g(so, i, 'rounds')} | {g(st, i, 'rounds')} | "
          f"{g(so, i, 'responses')} | {g(st, i, 'responses')} |")


def mb(kb):
    return f"{int(kb) / 1000:.0f}" if kb else "-"


ro, roi = os.environ["RSS_OURS"], os.environ["RSS_OURS_IDLE"]
rt, rti = os.environ["RSS_RAFTRS"], os.environ["RSS_RAFTRS_IDLE"]
if os.environ["RAFTRS_ONLY"] == "1":
    ro = roi = ""
print()
print("| W3 peak RSS, 1M entries, B=256 | unit | ours | raft-rs (batch_append) | ratio |")
print("|---|---|---|---|---|")
print(f"| W3 1M run | MB | {mb(ro)} | {mb(rt)} | {ratio(int(ro) if ro else None, int(rt) if rt else None, False)} |")
print(f"| idle baseline (elected cluster) | MB | {mb(roi)} | {mb(rti)} | |")
print()
print("Ratios: ours faster / smaller when > 1x (time and RSS: raft-rs / ours; "
      "entries/s and reads/s: ours / raft-rs). W3 ratios are against raft-rs with batch_append = true. "
      "MB = 1000 kB of VmHWM.")
PY
