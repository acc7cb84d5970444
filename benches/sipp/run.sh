#!/usr/bin/env bash
# SIPp load benchmarks for Sentral, with Kamailio 5.6 (Debian `kamailio`) as the yardstick
# on the same machine and the same SIPp scenarios. Not part of the test run.
#
#   benches/sipp/run.sh [sentral|kamailio|both] [N]
#
# For each server: N registrations with digest auth (REGISTER, 401, REGISTER, 200), then
# N calls (INVITE challenged with 407, then 180/200, ACK, BYE at once). Reports the
# server's CPU time per operation (user+system, from /proc), which survives a noisy
# machine better than a rate. Everything is bounded: SIPp stops after N calls or its
# timeout, and the script stops only the processes it started, by PID.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
which="${1:-both}"
N="${2:-5000}"
REG_RATE="${REG_RATE:-1000}"
CALL_RATE="${CALL_RATE:-300}"
TICK=$(getconf CLK_TCK)
command -v sipp >/dev/null || { echo "sipp is missing: apt-get install -y sip-tester"; exit 1; }
if [ "$which" != sentral ] && ! command -v kamailio >/dev/null; then
  echo "kamailio is missing: apt-get install -y kamailio (or run: $0 sentral $N)"; exit 1
fi
work="$(mktemp -d)"
pids_to_stop=()
cleanup() {
  for p in "${pids_to_stop[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# CPU ticks (user+system) of a process and its direct children (Kamailio forks workers).
cpu_ticks() {
  local main=$1 total=0 pid
  for pid in $main $(ps -o pid= --ppid "$main" 2>/dev/null); do
    if [ -r "/proc/$pid/stat" ]; then
      # fields 14 and 15 after the command name in parentheses
      read -r u s < <(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12, $13}')
      total=$((total + u + s))
    fi
  done
  echo "$total"
}

successful() { grep -E "Successful call" "$1" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}'; }
failed() { grep -E "Failed call" "$1" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}'; }

report() { # name scenario ok failed ticks
  local us="n/a"
  if [ "$3" -gt 0 ]; then us=$(awk -v t="$5" -v hz="$TICK" -v n="$3" 'BEGIN{printf "%.1f", t*1e6/hz/n}'); fi
  printf '%-9s %-13s ok=%-6s failed=%-5s server_cpu=%6.2fs  cpu_per_op=%s us\n' "$1" "$2" "$3" "$4" \
    "$(awk -v t="$5" -v hz="$TICK" 'BEGIN{print t/hz}')" "$us" | tee -a "$work/summary"
}

bench() { # name server_pid target
  local name=$1 pid=$2 target=$3
  # The callee registers once from port 5090, then answers every call there.
  sipp "$target" -sf "$here/register.xml" -s 3999 -au 3999 -ap secret -p 5090 -m 1 \
    -timeout 10s -timeout_error -nostdin >/dev/null 2>&1 || { echo "$name: callee registration failed"; return 1; }
  local c0 c1
  c0=$(cpu_ticks "$pid")
  sipp "$target" -sf "$here/register.xml" -s 2000 -au 2000 -ap secret -r "$REG_RATE" -l 500 -m "$N" \
    -timeout 120s -nostdin >"$work/$name-reg.out" 2>&1 || true
  c1=$(cpu_ticks "$pid")
  report "$name" register "$(successful "$work/$name-reg.out")" "$(failed "$work/$name-reg.out")" $((c1 - c0))

  sipp "$target" -sf "$here/uas.xml" -p 5090 -m "$N" -timeout 180s -nostdin >"$work/$name-uas.out" 2>&1 &
  local uas=$!
  pids_to_stop+=("$uas")
  sleep 0.5
  c0=$(cpu_ticks "$pid")
  sipp "$target" -sf "$here/uac_call.xml" -s 3999 -au 2000 -ap secret -r "$CALL_RATE" -l 500 -m "$N" \
    -timeout 180s -nostdin >"$work/$name-uac.out" 2>&1 || true
  c1=$(cpu_ticks "$pid")
  kill "$uas" 2>/dev/null || true
  report "$name" call "$(successful "$work/$name-uac.out")" "$(failed "$work/$name-uac.out")" $((c1 - c0))
}

# A server already bound to our port would take part of the load and falsify the figures.
port_free() { ! ss -lun | grep -q ":$1 "; }

wait_port() { for _ in $(seq 1 100); do ss -lun | grep -q ":$1 " && return 0; sleep 0.1; done; return 1; }

if [ "$which" = kamailio ] || [ "$which" = both ]; then
  port_free 5070 || { echo "UDP 5070 is in use: stop that process first"; exit 1; }
  kamailio -f "$here/kamailio.cfg" -DD -E -n 2 >"$work/kamailio.log" 2>&1 &
  kpid=$!
  pids_to_stop+=("$kpid")
  wait_port 5070
  bench kamailio "$kpid" 127.0.0.1:5070
  kill "$kpid"; wait "$kpid" 2>/dev/null || true
fi

if [ "$which" = sentral ] || [ "$which" = both ]; then
  # SENTRAL_BIN runs an already built binary (e.g. while another build holds the target dir).
  bin="${SENTRAL_BIN:-}"
  if [ -z "$bin" ]; then
    cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin sentral
    bin="${CARGO_TARGET_DIR:-$root/target}/release/sentral"
  fi
  data="$work/sentral-data"
  "$bin" site add bench --name Bench --numbers 63870000-63870999 --data-dir "$data" >/dev/null
  for u in 2000 3999; do
    "$bin" extension add "$u" --name "Bench $u" --site bench --password secret --data-dir "$data" >/dev/null
  done
  port_free 5080 || { echo "UDP 5080 is in use: stop that process first"; exit 1; }
  RUST_LOG=warn "$bin" serve --data-dir "$data" --sip-listen 127.0.0.1:5080 --rtp-ports 40000-49999 >"$work/sentral.log" 2>&1 &
  spid=$!
  pids_to_stop+=("$spid")
  wait_port 5080
  bench sentral "$spid" 127.0.0.1:5080
  kill "$spid"; wait "$spid" 2>/dev/null || true
fi

echo "--- summary (load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores) ---"
cat "$work/summary"
