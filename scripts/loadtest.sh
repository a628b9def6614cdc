#!/usr/bin/env bash
# Loopback load test: the example receiver against a hand-written axum receiver and a bare hyper floor
# (plus two variants of the floor that split the costs apart: decoding the body, and the layer).
#
#   scripts/loadtest.sh            # 3 interleaved rounds of 5 s per server
#   DURATION=10 ROUNDS=1 CONNECTIONS=32 scripts/loadtest.sh
#   SUITE=inbox scripts/loadtest.sh   # the receiver without an inbox, on the embedded one, on Redis
#   SERVERS="example handwritten" EXAMPLES="before=/tmp/server-old" scripts/loadtest.sh
#                                     # some of the servers only, plus other builds of the example
#                                     # receiver (label=binary, run as `example` is), in the same rounds
#
# BIN (default $CARGO_TARGET_DIR/release/examples, else target/release/examples) is where the release
# examples are built; BUILD=0 skips the build (prebuilt binaries in BIN).
#
# Servers (release builds, each on its own loopback port, run the same way):
#   example      examples/server.rs: CallbackLayer in handler mode for all six commands, scoped to
#                /callback, printing each event as one JSON line on stdout (sent to /dev/null),
#                RUST_LOG=warn (no per-request log)
#   handwritten  examples/bench_handwritten.rs: axum Query<HashMap> + Json<MemberLeave>, the same
#                SDKAppID check, the same JSON line on stdout, the same answer
#   floor        examples/bench_floor.rs: bare hyper answering the static acknowledgment, body unread
#   hyper_decode the floor server, BENCH_MODE=decode: reads the body, serde_json::from_slice into
#                MemberLeave, then the same answer (what any receiver must at least do)
#   layer_hyper  the floor server, BENCH_MODE=layer: CallbackLayer in front (handler mode, scoped to
#                /callback, a handler that does nothing), so the only difference from the floor is the
#                layer
#
# SUITE=inbox compares the example receiver in three modes, every request a distinct callback (wrk
# numbers the bodies, so that de-duplication does not skip any):
#   plain        no inbox: each callback printed before its OK (as `example` above)
#   embedded     ROOM_CALLBACK_INBOX: OK once the event is synced to disk; the in-process worker prints
#   redis        ROOM_CALLBACK_REDIS: a redis-server started here (appendonly yes, appendfsync always,
#                on the same disk), OK once Redis has replied; the in-process worker prints
#
# The rounds interleave the servers, so that a change in the machine's load hits all of them.
# Every server gets the documented Room.CallbackAfterMemberLeave sample as a POST with Tencent's query.
# On a machine with at least 2 CPUs the server is pinned to one CPU (one Tokio worker) and wrk to
# another, so that client and server do not fight over a core; PIN=0 turns that off.
#
# Needs wrk (apt-get install wrk). Loopback only, bounded in time; not run by CI. Prints req/s and
# latency percentiles (median of the rounds) and the ratios.
set -euo pipefail

DURATION=${DURATION:-5}       # seconds per measured run
WARMUP=${WARMUP:-1}           # seconds of unmeasured load before each run
ROUNDS=${ROUNDS:-3}           # interleaved rounds (example, handwritten, floor, example, ...)
CONNECTIONS=${CONNECTIONS:-64}
BASE_PORT=${BASE_PORT:-38080}
PIN=${PIN:-1}
# The durable modes measure how fast callbacks are made durable, not the backpressure of a worker that
# shares the server's one core: a pending bound above what a run can store (the default is 100,000).
MAX_PENDING=${MAX_PENDING:-100000000}

cd "$(dirname "$0")/.."
SUITE=${SUITE:-layer}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
[[ $SUITE == layer || $SUITE == inbox ]] || { echo "SUITE is layer or inbox" >&2; exit 1; }
if [[ $SUITE == inbox ]]; then
    command -v redis-server >/dev/null || { echo "redis-server is needed: apt-get install redis-server" >&2; exit 1; }
fi
(( DURATION >= 1 && DURATION <= 60 && ROUNDS >= 1 && ROUNDS <= 10 )) \
    || { echo "DURATION must be 1..60 and ROUNDS 1..10" >&2; exit 1; }

echo "building the release examples..." >&2
# The examples belong to the workspace member dev/ (a default member: no -p needed from the root).
[[ ${BUILD:-1} == 0 ]] \
    || cargo build --release --quiet --example server --example bench_handwritten --example bench_floor

BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/examples}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    [[ -n ${REDIS_PID:-} ]] && kill "$REDIS_PID" 2>/dev/null
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

SERVER_CPU="" CLIENT_CPU=""
if [[ $PIN == 1 ]] && command -v taskset >/dev/null && (( $(nproc) >= 2 )); then
    SERVER_CPU=0 CLIENT_CPU=1
fi
pinned_prefix() { # pinned_prefix CPU: the words that pin a command to CPU, if any
    [[ -n $1 ]] && echo "taskset -c $1"
    return 0
}

QUERY="SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json&ClientIP=1.2.3.4&OptPlatform=iOS"
BODY='{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"user1","RoomId":"rid-123","MemberCount":20,"Type":"Leave","MemberList_Account":["user1"],"Reason":"xxxx","EventTime":1670574414123}'
OK='{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}'

cat >"$WORK/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
    local bad = summary.errors.status + summary.errors.connect + summary.errors.read
        + summary.errors.write + summary.errors.timeout
    io.write(string.format("RESULT %.1f %.1f %.1f %d %d\n",
        summary.requests / (summary.duration / 1e6),
        latency:percentile(50), latency:percentile(99), summary.requests, bad))
end
EOF

# Distinct callbacks: each wrk thread numbers its bodies from its own base (thread, start time).
cat >"$WORK/distinct.lua" <<'LUA'
local threads = 0
setup = function(thread)
    threads = threads + 1
    thread:set("tid", threads)
end
local n = 0
request = function()
    n = n + 1
    local id = tid * 1e13 + (os.time() % 100000) * 1e7 + n
    local body = string.format(
        '{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"user1","RoomId":"rid-%d","MemberCount":20,"Type":"Leave","MemberList_Account":["user1"],"Reason":"xxxx","EventTime":%d}',
        n % 100, id)
    return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end
LUA
sed -n '/^done = function/,$p' "$WORK/post.lua" >>"$WORK/distinct.lua"
SCRIPT=$WORK/post.lua

if [[ $SUITE == inbox ]]; then
    NAMES=(plain embedded redis)
    SCRIPT=$WORK/distinct.lua
    REDIS_PORT=$((BASE_PORT + 9))
    mkdir -p "$WORK/redis"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly yes --appendfsync always \
        --dir "$WORK/redis" >"$WORK/redis.log" 2>&1 &
    REDIS_PID=$!
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$REDIS_PORT) 2>/dev/null && break; sleep 0.05; done
else
    read -ra NAMES <<<"${SERVERS:-example handwritten floor hyper_decode layer_hyper}"
fi
declare -A PORT=([example]=$BASE_PORT [handwritten]=$((BASE_PORT + 1)) [floor]=$((BASE_PORT + 2))
    [hyper_decode]=$((BASE_PORT + 3)) [layer_hyper]=$((BASE_PORT + 4))
    [plain]=$((BASE_PORT + 5)) [embedded]=$((BASE_PORT + 6)) [redis]=$((BASE_PORT + 7)))
# Other builds of the example receiver: label=binary, each on a port of its own after Redis's.
declare -A EXTRA_BIN=()
EXTRA_NAMES=()
for extra in ${EXAMPLES:-}; do
    label=${extra%%=*}
    [[ $extra == *=* && -x ${extra#*=} && -z ${PORT[$label]:-} ]] \
        || { echo "EXAMPLES: '$extra' is not label=executable with a new label" >&2; exit 1; }
    EXTRA_BIN[$label]=${extra#*=}
    EXTRA_NAMES+=("$label")
    PORT[$label]=$((BASE_PORT + 10 + ${#EXTRA_NAMES[@]}))
done
[[ $SUITE == layer ]] && NAMES+=("${EXTRA_NAMES[@]}")
RUN=0

start() { # start NAME: sets SERVER_PID
    local name=$1 port=${PORT[$1]}
    local env=(RUST_LOG=warn)
    [[ -n $SERVER_CPU ]] && env+=(TOKIO_WORKER_THREADS=1)
    local bin
    case $name in
    example | plain) env+=(ROOM_CALLBACK_ADDR=127.0.0.1:$port) bin=$BIN/server ;;
    embedded)
        RUN=$((RUN + 1))
        env+=(ROOM_CALLBACK_ADDR=127.0.0.1:$port ROOM_CALLBACK_INBOX=$WORK/inbox-$RUN ROOM_CALLBACK_MAX_PENDING=$MAX_PENDING) bin=$BIN/server ;;
    redis)
        # A fresh Redis keyspace for each run (the same server, its AOF on the same disk).
        redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null
        env+=(ROOM_CALLBACK_ADDR=127.0.0.1:$port ROOM_CALLBACK_REDIS=redis://127.0.0.1:$REDIS_PORT/ ROOM_CALLBACK_MAX_PENDING=$MAX_PENDING) bin=$BIN/server ;;
    handwritten) env+=(BENCH_ADDR=127.0.0.1:$port) bin=$BIN/bench_handwritten ;;
    floor) env+=(BENCH_ADDR=127.0.0.1:$port) bin=$BIN/bench_floor ;;
    hyper_decode) env+=(BENCH_ADDR=127.0.0.1:$port BENCH_MODE=decode) bin=$BIN/bench_floor ;;
    layer_hyper) env+=(BENCH_ADDR=127.0.0.1:$port BENCH_MODE=layer) bin=$BIN/bench_floor ;;
    *) env+=(ROOM_CALLBACK_ADDR=127.0.0.1:$port) bin=${EXTRA_BIN[$name]} ;;
    esac
    env "${env[@]}" $(pinned_prefix "$SERVER_CPU") "$bin" >/dev/null 2>"$WORK/$name.log" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for _ in $(seq 100); do
        if curl -s -o /dev/null "http://127.0.0.1:$port/"; then break; fi
        sleep 0.05
    done
    # The same answer from all of them, before any load.
    local got
    got=$(curl -s -X POST -H 'Content-Type: application/json' --data "$BODY" "http://127.0.0.1:$port/callback?$QUERY")
    [[ $got == "$OK" ]] || { echo "$name answered '$got'" >&2; cat "$WORK/$name.log" >&2; exit 1; }
}

run() { # run NAME SECONDS -> "RESULT rps p50_us p99_us requests errors"
    local threads=1
    [[ -z $CLIENT_CPU ]] && threads=2
    $(pinned_prefix "$CLIENT_CPU") wrk -t"$threads" -c"$CONNECTIONS" -d"${2}s" --timeout 2s \
        -s "$SCRIPT" "http://127.0.0.1:${PORT[$1]}/callback?$QUERY" | grep '^RESULT'
}

echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min); ${DURATION}s x $ROUNDS rounds, $CONNECTIONS connections, \
pinning: ${SERVER_CPU:+server on CPU $SERVER_CPU (1 worker), wrk on CPU $CLIENT_CPU}" >&2
for round in $(seq "$ROUNDS"); do
    for name in "${NAMES[@]}"; do
        start "$name"
        (( WARMUP > 0 )) && run "$name" "$WARMUP" >/dev/null
        result=$(run "$name" "$DURATION")
        echo "$name $result" >>"$WORK/results"
        echo "round $round $name: $result" >&2
        kill "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null || true
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Medians over the rounds, then the table and the ratios.
awk -v rounds="$ROUNDS" -v suite="$SUITE" -v names_run="${NAMES[*]}" '
function median(list, n,   a, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
    return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
{ rps[$1] = rps[$1] " " $3; p50[$1] = p50[$1] " " $4; p99[$1] = p99[$1] " " $5; bad[$1] += $7 }
END {
    if (suite != "inbox" && names_run != "example handwritten floor hyper_decode layer_hyper") {
        # Some servers only, or other builds of the example: each against the hand-written one.
        printf "\n%-12s %12s %10s %10s %8s %14s\n", "server", "req/s", "p50 (ms)", "p99 (ms)", "errors", "/ handwritten"
        count = split(names_run, names, " ")
        for (k = 1; k <= count; k++) r[names[k]] = median(rps[names[k]])
        for (k = 1; k <= count; k++) {
            n = names[k]
            printf "%-12s %12.0f %10.3f %10.3f %8d %14s\n", n, r[n], median(p50[n]) / 1000, median(p99[n]) / 1000, bad[n],
                (r["handwritten"] > 0 ? sprintf("%.3f", r[n] / r["handwritten"]) : "-")
        }
        printf "(medians of %d rounds; every round: %s)\n", rounds, names_run
        for (k = 1; k <= count; k++) printf "  %-12s%s\n", names[k], rps[names[k]]
        exit
    }
    printf "\n%-12s %12s %10s %10s %8s\n", "server", "req/s", "p50 (ms)", "p99 (ms)", "errors"
    if (suite == "inbox") {
        split("plain embedded redis", names, " ")
        for (k = 1; k <= 3; k++) {
            n = names[k]; r[n] = median(rps[n])
            printf "%-12s %12.0f %10.3f %10.3f %8d\n", n, r[n], median(p50[n]) / 1000, median(p99[n]) / 1000, bad[n]
        }
        printf "\nembedded / plain  %.3f  (target: >= 10,000/s, p99 <= 50 ms)\n", r["embedded"] / r["plain"]
        printf "redis / plain     %.3f  (target: >= 15,000/s)\n", r["redis"] / r["plain"]
        printf "(medians of %d rounds; acknowledged callbacks per second, each a distinct event)\n", rounds
        exit
    }
    split("example handwritten floor hyper_decode layer_hyper", names, " ")
    for (k = 1; k <= 5; k++) {
        n = names[k]; r[n] = median(rps[n])
        printf "%-12s %12.0f %10.3f %10.3f %8d\n", n, r[n], median(p50[n]) / 1000, median(p99[n]) / 1000, bad[n]
    }
    printf "\nexample / floor       %.3f  (target >= 0.9)\n", r["example"] / r["floor"]
    printf "example / handwritten %.3f  (target > 1)\n", r["example"] / r["handwritten"]
    printf "handwritten / floor   %.3f\n", r["handwritten"] / r["floor"]
    printf "hyper_decode / floor  %.3f  (reading and decoding the body, over bare hyper)\n", r["hyper_decode"] / r["floor"]
    printf "layer_hyper / floor   %.3f  (the layer, over bare hyper)\n", r["layer_hyper"] / r["floor"]
    printf "layer_hyper / hyper_decode %.3f  (the layer next to reading and decoding by hand)\n", r["layer_hyper"] / r["hyper_decode"]
    printf "(medians of %d rounds)\n", rounds
}' "$WORK/results"
