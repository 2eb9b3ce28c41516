#!/usr/bin/env bash
# A 3-member etcd cluster on localhost for the side-by-side service bench
# (BENCHMARKS.md, "raft-kv-server and etcd"). Needs Debian's etcd-server
# (etcd 3.4). Each member has its own data directory under DIR; etcd's
# defaults are kept (fsync of the WAL on every commit, snapshot-count
# 100000), only the logs are quieter.
#
# Usage: benches/etcd-cluster.sh start [DIR]   # prints the client URLs
#        benches/etcd-cluster.sh stop [DIR]
set -euo pipefail
CMD=${1:-}
DIR=${2:-/tmp/etcd-bench}
case "$CMD" in
    start)
        mkdir -p "$DIR"
        cluster=""
        for i in 1 2 3; do
            cluster+="m$i=http://127.0.0.1:2380$i,"
        done
        cluster=${cluster%,}
        for i in 1 2 3; do
            etcd --name "m$i" --data-dir "$DIR/m$i" \
                --listen-client-urls "http://127.0.0.1:2379$i" --advertise-client-urls "http://127.0.0.1:2379$i" \
                --listen-peer-urls "http://127.0.0.1:2380$i" --initial-advertise-peer-urls "http://127.0.0.1:2380$i" \
                --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token bench \
                --logger zap --log-level warn >"$DIR/m$i.log" 2>&1 &
            echo $! >"$DIR/m$i.pid"
        done
        for _ in $(seq 1 50); do
            if curl -sf http://127.0.0.1:23791/health | grep -q true; then
                echo "http://127.0.0.1:23791,http://127.0.0.1:23792,http://127.0.0.1:23793"
                exit 0
            fi
            sleep 0.2
        done
        echo "etcd did not become healthy; logs in $DIR" >&2
        exit 1
        ;;
    stop)
        for i in 1 2 3; do
            if [ -f "$DIR/m$i.pid" ]; then
                kill "$(cat "$DIR/m$i.pid")" 2>/dev/null || true
                rm -f "$DIR/m$i.pid"
            fi
        done
        ;;
    *)
        sed -n '2,10p' "$0"
        exit 2
        ;;
esac
