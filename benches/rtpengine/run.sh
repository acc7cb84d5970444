#!/usr/bin/env bash
# Compares CPU per forwarded G.711 packet: Sentral's RTP relay, rtpengine 10.5 in userspace
# mode with one worker thread, and a bare recvmmsg/sendmmsg forwarder, under the same load
# generator (benches/rtp_relay.rs, compare mode). Loopback only; every run is bounded.
#
#   CALLS=1000 SECONDS_PER_RUN=10 ROUNDS=2 benches/rtpengine/run.sh
#
# BENCH_CMD replaces the default `cargo bench --bench rtp_relay` (e.g. to add --offline).
#
# rtpengine runs without its kernel module (--table=-1 keeps it in userspace; --no-fallback
# is NOT given, since it would make rtpengine refuse to start without the kernel module),
# with --num-threads=1 and no media-playback threads. Its CPU is read from
# /proc/<pid>/task/*/schedstat, all threads summed; Sentral's from its "rtp-relay-*" worker
# threads, the bare forwarder's from its "rtp-bare" thread.
set -euo pipefail
cd "$(dirname "$0")/../.."

CALLS=${CALLS:-1000}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
ROUNDS=${ROUNDS:-2}
NG=${NG:-127.0.0.1:22222}

if ! command -v rtpengine >/dev/null; then
    # Debian bookworm ships rtpengine 10.5 as rtpengine-daemon.
    DEBIAN_FRONTEND=noninteractive apt-get install -y rtpengine-daemon
fi

# Upper bound on the whole comparison: 3 forwarders x rounds x (run + warm-up + setup).
LIMIT=$(( ROUNDS * 3 * (SECONDS_PER_RUN + 30) + 600 ))
LOG=$(mktemp /tmp/rtpengine-bench.XXXXXX.log)
timeout "$LIMIT" rtpengine --config-file=none --table=-1 \
    --interface=127.0.0.1 --listen-ng="$NG" --port-min=50000 --port-max=59999 \
    --num-threads=1 --media-num-threads=0 --delete-delay=0 --foreground --log-stderr --log-level=4 \
    >"$LOG" 2>&1 &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true' EXIT

for _ in $(seq 50); do
    python3 benches/rtpengine/ng.py ping --ng "$NG" >/dev/null 2>&1 && break
    sleep 0.2
done
python3 benches/rtpengine/ng.py ping --ng "$NG"
# `timeout` execs rtpengine in a child; find the daemon's own pid.
RPID=$(pgrep -P "$PID" rtpengine || echo "$PID")

RTPENGINE_PID=$RPID RTPENGINE_NG=$NG \
SENTRAL_RTP_COMPARE="calls=$CALLS,seconds=$SECONDS_PER_RUN,rounds=$ROUNDS,workers=${WORKERS:-1}" \
    ${BENCH_CMD:-cargo bench --bench rtp_relay}
