#!/usr/bin/env bash
# raft-kv-server and etcd 3.4 side by side (BENCHMARKS.md): each as a
# 3-node cluster on localhost, alone on the machine, data on the same disk
# with fsync on, loaded by `raft-kv-server bench` with the same load: puts
# of 128-byte values with 1, 16 and 256 concurrent clients, gets with 1
# and 256. Prints one line per run.
#
# Usage: benches/service-vs-etcd.sh [SECONDS] [DIR]   (default 10, /work/bench-data)
set -euo pipefail
SECS=${1:-10}
DIR=${2:-/work/bench-data}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cargo build --release -p raft-kv-server --manifest-path "$ROOT/Cargo.toml" >&2
BIN="$ROOT/target/release/raft-kv-server"
rm -rf "$DIR" && mkdir -p "$DIR"

load() { # target endpoints
    for c in 1 16 256; do
        echo "put clients=$c: $("$BIN" bench --quiet --target "$1" --endpoints "$2" --clients "$c" --duration "$SECS" --warmup 2 --put-percent 100 --value-size 128 | tail -1)"
    done
    # Keys were written above; reads find values.
    for c in 1 256; do
        echo "get clients=$c: $("$BIN" bench --quiet --target "$1" --endpoints "$2" --clients "$c" --duration "$SECS" --warmup 2 --put-percent 0 --value-size 128 | tail -1)"
    done
}

echo "== raft-kv-server (3 serve processes, tick 10 ms, read index)"
PEERS=()
for i in 1 2 3; do
    PEERS+=(--peer "$i=127.0.0.1:$((7000 + 10 * i)),http://127.0.0.1:$((7001 + 10 * i))")
done
PIDS=()
for i in 1 2 3; do
    "$BIN" serve --id "$i" "${PEERS[@]}" --data-dir "$DIR/ours$i" --bootstrap \
        --frontend "127.0.0.1:$((7002 + 10 * i))" >"$DIR/ours$i.log" 2>&1 &
    PIDS+=($!)
done
trap 'kill "${PIDS[@]}" 2>/dev/null || true; bash "$ROOT/benches/etcd-cluster.sh" stop "$DIR/etcd" || true' EXIT
sleep 2
load ours "http://127.0.0.1:7012,http://127.0.0.1:7022,http://127.0.0.1:7032"
kill "${PIDS[@]}" 2>/dev/null || true
wait 2>/dev/null || true

echo "== etcd $(etcd --version | head -1 | awk '{print $3}') (3 members, default flags: fsync on, snapshot-count 100000)"
EP=$(bash "$ROOT/benches/etcd-cluster.sh" start "$DIR/etcd")
load etcd "$EP"
bash "$ROOT/benches/etcd-cluster.sh" stop "$DIR/etcd"
