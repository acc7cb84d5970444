#!/usr/bin/env bash
# Concurrent calls held with RTP through Sentral's relay. Not part of the test run.
#
#   benches/sipp/hold.sh [N] [HOLD_SECONDS]          # default: 5000 calls held 120 s
#
# A release `sentral serve` on its own data directory; a SIPp callee (extension 3999,
# registered with digest) that echoes every RTP packet back (-rtp_echo); two SIPp callers
# (extension 2000, INVITE with digest) that place N calls in all at CALL_RATE calls/s and
# hold each HOLD_SECONDS with SIPp's rtp_stream sending G.711 PCMU (20 ms packets) from a
# port of the call's own:
#   - FULL_CALLS calls carry a continuous stream: 50 packets/s each way, a real call;
#   - the other calls carry bursts: SPARSE_ON_MS ms of the stream every SPARSE_PERIOD_S s,
#     so every call's relay session forwards media both ways for its whole life while the
#     machine (2 cores, SIPp and the server together) can drive the total.
# Each packet a caller sends crosses the relay twice (to the callee, and its echo back).
#
# Reports the server's CPU time (user+system from /proc/PID/stat) per call-second and per
# relayed packet, over the whole run and over the plateau (all calls up, no signalling),
# the peak of concurrent relay sessions (from the server's open descriptors: four UDP
# sockets per call), the peak RSS (VmHWM), and the relay's counters (packets, loss) from
# the call records (`sentral calls list --json`). Bounded: SIPp -m and -timeout, and the
# script stops only the processes it started, by PID.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
N="${1:-5000}"
HOLD_SECONDS="${2:-120}"
CALL_RATE="${CALL_RATE:-100}"
FULL_CALLS="${FULL_CALLS:-200}"
SPARSE_ON_MS="${SPARSE_ON_MS:-200}"
SPARSE_PERIOD_S="${SPARSE_PERIOD_S:-10}"
# Our own ports, apart from run.sh (5060-5090, RTP 40000-49999) and the tests (RTP 30000-39999).
SIP_PORT=5160
CALLEE_PORT=5162
FULL_CALLER_PORT=5164
SPARSE_CALLER_PORT=5166
ECHO_PORT=5170 # SIPp's echo also binds ECHO_PORT + 2
HTTP_PORT=8160
RELAY_PORTS="${RELAY_PORTS:-8000-29999}"
FULL_MEDIA_PORT=50000   # rtp_stream binds two ports per call upwards from here
SPARSE_MEDIA_PORT=52000
TICK=$(getconf CLK_TCK)

die() { echo "hold.sh: $*" >&2; exit 1; }
is_count() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ]; }
is_count "$N" || die "N must be a positive number of calls"
is_count "$HOLD_SECONDS" || die "HOLD_SECONDS must be a positive number of seconds"
is_count "$CALL_RATE" || die "CALL_RATE must be positive"
[ "$SPARSE_PERIOD_S" -gt 0 ] && [ "$SPARSE_ON_MS" -gt 0 ] && [ "$SPARSE_ON_MS" -lt $((SPARSE_PERIOD_S * 1000)) ] ||
  die "need 0 < SPARSE_ON_MS < SPARSE_PERIOD_S * 1000"
[ "$FULL_CALLS" -le "$N" ] || FULL_CALLS=$N
[ "$FULL_CALLS" -le 1000 ] || die "FULL_CALLS above 1000 would overlap the sparse callers' media ports"
SPARSE_CALLS=$((N - FULL_CALLS))
command -v sipp >/dev/null || die "needs sipp (apt-get install -y sip-tester)"
command -v jq >/dev/null || die "needs jq"

# Four relay sockets per call, plus the server's own (store, SIP, epoll, UI): raise the
# soft limit as far as the hard one goes and say how many calls that leaves room for.
ulimit -n "$(ulimit -Hn)"
fd_limit=$(ulimit -n)
fd_room=$(((fd_limit - 100) / 4))
if [ "$N" -gt "$fd_room" ]; then
  echo "hold.sh: warning: the open-file limit ($fd_limit, hard) leaves room for about $fd_room" \
    "concurrent calls (4 relay sockets each); calls beyond that will be refused with 503" >&2
fi
relay_low=${RELAY_PORTS%-*}
relay_high=${RELAY_PORTS#*-}
[ $(((relay_high - relay_low + 1) / 4)) -ge "$N" ] || die "RELAY_PORTS $RELAY_PORTS is too narrow for $N calls (4 ports each)"

# A process already bound to one of our ports would take part of the traffic.
udp_bound() { ss -Hlun "sport = :$1" | grep -q .; }
tcp_bound() { ss -Hltn "sport = :$1" | grep -q .; }
for p in $SIP_PORT $CALLEE_PORT $FULL_CALLER_PORT $SPARSE_CALLER_PORT $ECHO_PORT $((ECHO_PORT + 2)); do
  udp_bound "$p" && die "UDP port $p is in use: stop that process first"
done
for p in $SIP_PORT $HTTP_PORT; do
  tcp_bound "$p" && die "TCP port $p is in use: stop that process first"
done

work="$(mktemp -d)"
pids_to_stop=()
cleanup() {
  for p in "${pids_to_stop[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stat_ticks() { # user+system ticks of one process (fields 14 and 15 of /proc/PID/stat)
  if [ -r "/proc/$1/stat" ]; then sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; else echo 0; fi
}
# Datagrams the kernel dropped because a socket's receive buffer was full (the last
# column of /proc/net/udp), over the sockets one process holds or one local port.
udp_drops_of_pid() {
  find "/proc/$1/fd" -mindepth 1 -maxdepth 1 -lname "socket:*" -printf "%l\n" 2>/dev/null |
    tr -dc "0-9\n" | awk 'NR == FNR { mine[$1] = 1; next } FNR > 1 && ($10 in mine) { d += $NF } END { print d + 0 }' - /proc/net/udp
}
udp_drops_of_port() {
  awk -v p="$(printf ":%04X" "$1")" 'FNR > 1 && substr($2, length($2) - 4) == p { d += $NF } END { print d + 0 }' /proc/net/udp
}
open_fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
wait_udp() { for _ in $(seq 1 100); do udp_bound "$1" && return 0; sleep 0.1; done; return 1; }
sipp_count() { # "Successful call" / "Failed call" total from a SIPp final screen
  grep -E "$2" "$1" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print ($3 == "" ? 0 : $3)}'
}

if [ -z "${SENTRAL_BIN:-}" ]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin sentral
  SENTRAL_BIN="${CARGO_TARGET_DIR:-$root/target}/release/sentral"
fi
data="$work/sentral-data"
"$SENTRAL_BIN" site add bench --name Bench --numbers 63870000-63870999 --data-dir "$data" >/dev/null
for u in 2000 3999; do
  "$SENTRAL_BIN" extension add "$u" --name "Bench $u" --site bench --password secret --data-dir "$data" >/dev/null
done
RUST_LOG="${RUST_LOG:-warn}" "$SENTRAL_BIN" serve --data-dir "$data" --sip-listen "127.0.0.1:$SIP_PORT" \
  --rtp-ports "$RELAY_PORTS" --http-listen "127.0.0.1:$HTTP_PORT" >"$work/sentral.log" 2>&1 &
server=$!
pids_to_stop+=("$server")
wait_udp "$SIP_PORT" || die "the server did not start: $(tail -5 "$work/sentral.log")"
target="127.0.0.1:$SIP_PORT"

# The callee registers from the port its SIPp then answers on.
sipp "$target" -sf "$here/register.xml" -s 3999 -au 3999 -ap secret -i 127.0.0.1 -p "$CALLEE_PORT" -m 1 \
  -timeout 10s -timeout_error -nostdin >"$work/register.out" 2>&1 || die "callee registration failed"

ramp_s=$(((N + CALL_RATE - 1) / CALL_RATE))
sipp_timeout=$((ramp_s + HOLD_SECONDS + 120))
sipp "$target" -sf "$here/hold_uas.xml" -i 127.0.0.1 -p "$CALLEE_PORT" -mi 127.0.0.1 -mp "$ECHO_PORT" -rtp_echo \
  -m "$N" -l $((N + 100)) -timeout "${sipp_timeout}s" -nostdin >"$work/callee.out" 2>&1 &
callee=$!
pids_to_stop+=("$callee")
wait_udp "$ECHO_PORT" || die "the SIPp callee did not start: $(tail -5 "$work/callee.out")"

# 1 s of PCMU silence, looped by rtp_stream; the content does not matter to the relay.
head -c 8000 /dev/zero | tr '\000' '\377' >"$work/audio.pcmu"
scenario() { # name on_ms off_ms cycles
  sed -e "s|@AUDIO@|$work/audio.pcmu|" -e "s|@ON_MS@|$2|" -e "s|@OFF_MS@|$3|" -e "s|@CYCLES@|$4|" \
    "$here/hold_uac.xml" >"$work/$1.xml"
}
scenario full $((HOLD_SECONDS * 1000)) 1 1
# A burst at 0, P, 2P, ... up to HOLD_SECONDS: the call lasts HOLD_SECONDS plus one burst at most.
sparse_cycles=$((HOLD_SECONDS / SPARSE_PERIOD_S + 1))
scenario sparse "$SPARSE_ON_MS" $((SPARSE_PERIOD_S * 1000 - SPARSE_ON_MS)) "$sparse_cycles"

# Split the call rate so both callers finish their ramp together.
full_rate=$(awk -v r="$CALL_RATE" -v f="$FULL_CALLS" -v n="$N" 'BEGIN{x=r*f/n; printf "%.2f", (x < 0.1 ? 0.1 : x)}')
sparse_rate=$(awk -v r="$CALL_RATE" -v f="$full_rate" 'BEGIN{x=r-f; printf "%.2f", (x < 0.1 ? 0.1 : x)}')

base_fds=$(open_fds "$server")
cpu_start=$(stat_ticks "$server")
t_start=$(date +%s.%N)
callers=()
if [ "$FULL_CALLS" -gt 0 ]; then
  sipp "$target" -sf "$work/full.xml" -s 3999 -au 2000 -ap secret -i 127.0.0.1 -p "$FULL_CALLER_PORT" \
    -mi 127.0.0.1 -mp "$FULL_MEDIA_PORT" -rtp_threadtasks 50 -r "$full_rate" -m "$FULL_CALLS" -l "$FULL_CALLS" \
    -timeout "${sipp_timeout}s" -nostdin >"$work/full.out" 2>&1 &
  callers+=($!)
  pids_to_stop+=($!)
fi
if [ "$SPARSE_CALLS" -gt 0 ]; then
  sipp "$target" -sf "$work/sparse.xml" -s 3999 -au 2000 -ap secret -i 127.0.0.1 -p "$SPARSE_CALLER_PORT" \
    -mi 127.0.0.1 -mp "$SPARSE_MEDIA_PORT" -rtp_threadtasks 200 -r "$sparse_rate" -m "$SPARSE_CALLS" -l "$SPARSE_CALLS" \
    -timeout "${sipp_timeout}s" -nostdin >"$work/sparse.out" 2>&1 &
  callers+=($!)
  pids_to_stop+=($!)
fi

# Sample once a second: relay sessions (open descriptors beyond the idle server's, four
# per call), and the server's CPU at the edges of the plateau: from the end of the ramp
# plus a margin until shortly before the first calls end.
plateau_from=$((ramp_s + 5))
plateau_to=$((HOLD_SECONDS - 5))
peak_sessions=0
cpu_plateau_from="" cpu_plateau_to="" sessions_plateau_from="" sessions_plateau_to=""
running() { for p in "${callers[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
while running; do
  sleep 1
  elapsed=$(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN{printf "%d", b-a}')
  sessions=$((($(open_fds "$server") - base_fds) / 4))
  [ "$sessions" -gt "$peak_sessions" ] && peak_sessions=$sessions
  if [ -z "$cpu_plateau_from" ] && [ "$elapsed" -ge "$plateau_from" ] && [ "$plateau_to" -gt "$plateau_from" ]; then
    cpu_plateau_from=$(stat_ticks "$server") t_plateau_from=$(date +%s.%N) sessions_plateau_from=$sessions
  fi
  if [ -n "$cpu_plateau_from" ] && [ -z "$cpu_plateau_to" ] && [ "$elapsed" -ge "$plateau_to" ]; then
    cpu_plateau_to=$(stat_ticks "$server") t_plateau_to=$(date +%s.%N) sessions_plateau_to=$sessions
    load_at_plateau=$(cut -d' ' -f1-3 /proc/loadavg)
    relay_drops=$(udp_drops_of_pid "$server")
  fi
  [ $((elapsed % 10)) -eq 0 ] && echo "t=${elapsed}s relay sessions=$sessions"
done
for p in "${callers[@]}"; do wait "$p" 2>/dev/null || true; done
sleep 2 # the last BYEs' records
cpu_end=$(stat_ticks "$server")
t_end=$(date +%s.%N)
rss_peak_kb=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
echo_drops=$(udp_drops_of_port "$ECHO_PORT")
kill "$callee" 2>/dev/null || true
kill "$server"
wait "$server" 2>/dev/null || true

"$SENTRAL_BIN" calls list --json --data-dir "$data" >"$work/calls.json"

ok_full=0 failed_full=0 ok_sparse=0 failed_sparse=0
if [ "$FULL_CALLS" -gt 0 ]; then
  ok_full=$(sipp_count "$work/full.out" "Successful call") failed_full=$(sipp_count "$work/full.out" "Failed call")
fi
if [ "$SPARSE_CALLS" -gt 0 ]; then
  ok_sparse=$(sipp_count "$work/sparse.out" "Successful call") failed_sparse=$(sipp_count "$work/sparse.out" "Failed call")
fi

# Per record: packets the relay received from each side (each is forwarded to the other
# side) and the losses it counted. A call whose media ran at more than 20 packets/s from
# the caller was a full-rate one.
read -r records answered call_seconds packets lost full_records full_packets full_lost full_seconds < <(jq -r '
  def pk(l): (l // {packets: 0, lost: 0});
  [ .[] | select(.answered_at != null) ] as $a
  | ($a | map(select(.talk_seconds > 0 and (pk(.caller_leg).packets / .talk_seconds) > 20))) as $f
  | [ length, ($a | length), ($a | map(.talk_seconds) | add // 0),
      ($a | map(pk(.caller_leg).packets + pk(.callee_leg).packets) | add // 0),
      ($a | map(pk(.caller_leg).lost + pk(.callee_leg).lost) | add // 0),
      ($f | length), ($f | map(pk(.caller_leg).packets + pk(.callee_leg).packets) | add // 0),
      ($f | map(pk(.caller_leg).lost + pk(.callee_leg).lost) | add // 0),
      ($f | map(.talk_seconds) | add // 0) ] | @tsv' "$work/calls.json")
read -r caller_lost callee_lost < <(jq -r '[ (map(.caller_leg.lost // 0) | add // 0), (map(.callee_leg.lost // 0) | add // 0) ] | @tsv' "$work/calls.json")
# The mean rate at which the relay received packets while every call was up: each
# answered call's packets over its talk time, summed.
packet_rate=$(jq -r '[ .[] | select(.answered_at != null and .talk_seconds > 0)
  | (((.caller_leg // {packets: 0}).packets + (.callee_leg // {packets: 0}).packets) / .talk_seconds) ] | add // 0' "$work/calls.json")

us() { awk -v t="$1" -v hz="$TICK" -v n="$2" 'BEGIN{ if (n > 0) printf "%.2f", t * 1e6 / hz / n; else print "n/a" }'; }
secs() { awk -v t="$1" -v hz="$TICK" 'BEGIN{printf "%.2f", t / hz}'; }
wall=$(awk -v a="$t_start" -v b="$t_end" 'BEGIN{printf "%.1f", b - a}')
total_ticks=$((cpu_end - cpu_start))
{
  echo "--- hold.sh: $N calls ($FULL_CALLS full-rate G.711, $SPARSE_CALLS with ${SPARSE_ON_MS} ms every ${SPARSE_PERIOD_S} s), held ${HOLD_SECONDS} s, ${CALL_RATE} calls/s ---"
  echo "machine: $(nproc) cores; load at plateau end: ${load_at_plateau:-n/a}; at end: $load_end; fd limit $fd_limit"
  echo "SIPp callers: ok=$((ok_full + ok_sparse)) failed=$((failed_full + failed_sparse)) (full ok=$ok_full failed=$failed_full, sparse ok=$ok_sparse failed=$failed_sparse)"
  echo "call records: $records, answered $answered, talk ${call_seconds} call-s; full-rate by measured rate: $full_records"
  echo "peak concurrent relay sessions: $peak_sessions; server peak RSS: $((rss_peak_kb / 1024)) MiB"
  echo "relay received (and forwarded): $packets packets, lost $lost (full-rate calls: $full_packets packets, lost $full_lost, ${full_seconds} call-s)"
  echo "loss by side: from callers $caller_lost, from the callee's echo $callee_lost; receive-buffer drops: server sockets ${relay_drops:-n/a} (at plateau end), SIPp echo socket $echo_drops"
  echo "whole run (${wall} s): server CPU $(secs "$total_ticks") s = $(us "$total_ticks" "$call_seconds") us per call-second," \
    "$(us "$total_ticks" "$packets") us per relayed packet (signalling included)"
  if [ -n "$cpu_plateau_to" ]; then
    window=$(awk -v a="$t_plateau_from" -v b="$t_plateau_to" 'BEGIN{printf "%.1f", b - a}')
    plateau_ticks=$((cpu_plateau_to - cpu_plateau_from))
    held=$(awk -v s="$sessions_plateau_from" -v w="$window" 'BEGIN{printf "%.0f", s * w}')
    plateau_packets=$(awk -v r="$packet_rate" -v w="$window" 'BEGIN{printf "%.0f", r * w}')
    echo "plateau (${window} s, relay sessions $sessions_plateau_from -> $sessions_plateau_to, ~$(awk -v r="$packet_rate" 'BEGIN{printf "%.0f", r}') packets/s in):" \
      "server CPU $(secs "$plateau_ticks") s = $(us "$plateau_ticks" "$held") us per held call-second," \
      "$(us "$plateau_ticks" "$plateau_packets") us per relayed packet"
  else
    echo "plateau: none (HOLD_SECONDS must exceed the ramp, N / CALL_RATE = ${ramp_s} s, by more than 10 s)"
  fi
} | tee "$work/summary"
if [ -n "${HOLD_KEEP:-}" ]; then
  mkdir -p "$HOLD_KEEP" && cp "$work"/*.out "$work/calls.json" "$work/sentral.log" "$work/summary" "$HOLD_KEEP"/
fi
