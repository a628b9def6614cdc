#!/usr/bin/env bash
# Instructions per request (valgrind's callgrind: counts, not seconds, so repeatable on a busy machine)
# for the contenders of examples/bench_instructions.rs, and their ratios.
#
#   scripts/instructions.sh              # N1=200, N2=2200 calls per contender
#   SUITE=servers scripts/instructions.sh   # the servers of scripts/loadtest.sh, over loopback
#
# Needs valgrind (apt-get install valgrind). Each contender runs twice (N1 and N2 calls); the difference
# divided by N2-N1 is the cost of one request, set-up and start-up cancelled out.
#
# SUITE=servers runs each server of scripts/loadtest.sh (release builds, one Tokio worker, RUST_LOG=warn,
# stdout to /dev/null) under callgrind, and a client outside it (python3, no valgrind) sends it N1, then
# N2, times the leave sample of the load test over CONNECTIONS (64) keep-alive connections, each answer
# checked, before the server is stopped (SIGTERM). The counts are the server process's own instructions
# in user space (every thread): not the kernel's, so a system call counts only its few instructions of
# libc (run `perf stat -e raw_syscalls:sys_enter -p PID` under load for those). Under callgrind the
# server is the slow side, so every connection has a request waiting, as in a saturating load test.
# N1=500 N2=2500 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install valgrind" >&2; exit 1; }
SUITE=${SUITE:-layer}
[[ $SUITE == layer || $SUITE == servers ]] || { echo "SUITE is layer or servers" >&2; exit 1; }
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

if [[ $SUITE == servers ]]; then
    command -v python3 >/dev/null || { echo "python3 is needed (the client)" >&2; exit 1; }
    N1=${N1:-500}
    N2=${N2:-2500}
    CONNECTIONS=${CONNECTIONS:-64}
    PORT=${PORT:-38180}
    [[ ${BUILD:-1} == 0 ]] \
        || cargo build --release --quiet --example server --example bench_handwritten --example bench_floor
    BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/examples}
    QUERY="SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json&ClientIP=1.2.3.4&OptPlatform=iOS"
    BODY='{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"user1","RoomId":"rid-123","MemberCount":20,"Type":"Leave","MemberList_Account":["user1"],"Reason":"xxxx","EventTime":1670574414123}'
    # The client: N requests over C connections, each answer read whole and checked.
    cat >"$WORK/client.py" <<'PY'
import asyncio, sys
port, total, conns, query, body = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5].encode()
request = (f"POST /callback?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(body)}\r\n\r\n").encode() + body
ok = b'{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}'
left = total
async def connection():
    global left
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while left > 0:
        left -= 1
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), head
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        answer = await reader.readexactly(length)
        assert answer == ok, answer
    writer.close()
async def main():
    await asyncio.gather(*(connection() for _ in range(conns)))
asyncio.run(main())
PY
    count() { # count NAME N: the server's instructions, N requests served
        local name=$1 n=$2 env=(RUST_LOG=warn TOKIO_WORKER_THREADS=1) bin
        case $name in
        example) env+=(ROOM_CALLBACK_ADDR=127.0.0.1:$PORT) bin=$BIN/server ;;
        handwritten) env+=(BENCH_ADDR=127.0.0.1:$PORT) bin=$BIN/bench_handwritten ;;
        floor) env+=(BENCH_ADDR=127.0.0.1:$PORT) bin=$BIN/bench_floor ;;
        hyper_decode) env+=(BENCH_ADDR=127.0.0.1:$PORT BENCH_MODE=decode) bin=$BIN/bench_floor ;;
        layer_hyper) env+=(BENCH_ADDR=127.0.0.1:$PORT BENCH_MODE=layer) bin=$BIN/bench_floor ;;
        *) env+=(ROOM_CALLBACK_ADDR=127.0.0.1:$PORT) bin=${EXTRA_BIN[$name]} ;;
        esac
        env "${env[@]}" valgrind --tool=callgrind --callgrind-out-file="$WORK/out" "$bin" \
            >/dev/null 2>"$WORK/err" &
        SERVER_PID=$!
        local _
        for _ in $(seq 600); do
            (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
            sleep 0.05
        done
        python3 "$WORK/client.py" "$PORT" "$n" "$CONNECTIONS" "$QUERY" "$BODY" \
            || { echo "$name: the client failed" >&2; cat "$WORK/err" >&2; exit 1; }
        kill -TERM "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
        grep -E '^summary:|^totals:' "$WORK/out" | head -1 | awk '{print $2}'
    }
    # Other builds of the example receiver (EXAMPLES="label=binary ..."), counted as `example` is.
    declare -A EXTRA_BIN=()
    EXTRA_NAMES=()
    for extra in ${EXAMPLES:-}; do
        [[ $extra == *=* && -x ${extra#*=} ]] || { echo "EXAMPLES: '$extra' is not label=executable" >&2; exit 1; }
        EXTRA_BIN[${extra%%=*}]=${extra#*=}
        EXTRA_NAMES+=("${extra%%=*}")
    done
    read -ra NAMES <<<"${SERVERS:-example handwritten floor hyper_decode layer_hyper}"
    NAMES+=("${EXTRA_NAMES[@]}")
    declare -A PER
    for c in "${NAMES[@]}"; do
        a=$(count "$c" "$N1"); b=$(count "$c" "$N2")
        PER[$c]=$(( (b - a) / (N2 - N1) ))
        printf '%-14s %8d instructions per request\n' "$c" "${PER[$c]}"
    done
    echo
    if [[ -n ${PER[handwritten]:-} ]]; then
        for c in "${NAMES[@]}"; do
            [[ $c == handwritten ]] || echo "$c / handwritten: $(ratio "${PER[$c]}" "${PER[handwritten]}")"
        done
    fi
    if [[ "${NAMES[*]}" != "example handwritten floor hyper_decode layer_hyper" ]]; then
        echo "(requests over $CONNECTIONS connections; N1=$N1, N2=$N2)"
        exit 0
    fi
    echo "example / handwritten:     $(ratio "${PER[example]}" "${PER[handwritten]}")"
    echo "example / layer_hyper:     $(ratio "${PER[example]}" "${PER[layer_hyper]}")"
    echo "layer_hyper / floor:       $(ratio "${PER[layer_hyper]}" "${PER[floor]}")"
    echo "(requests over $CONNECTIONS connections; N1=$N1, N2=$N2)"
    exit 0
fi

N1=${N1:-200}
N2=${N2:-2200}
cargo build --release --quiet --example bench_instructions
BIN=${CARGO_TARGET_DIR:-target}/release/examples/bench_instructions
count() { # count CONTENDER N: total instructions
    valgrind --tool=callgrind --callgrind-out-file="$WORK/out" "$BIN" "$1" "$2" >/dev/null 2>"$WORK/err"
    grep -E '^summary:|^totals:' "$WORK/out" | head -1 | awk '{print $2}'
}
declare -A PER
for c in no_layer layer layer_16k layer_extension leave_layer leave_signed trtc_layer leave_floor; do
    a=$(count "$c" "$N1"); b=$(count "$c" "$N2")
    PER[$c]=$(( (b - a) / (N2 - N1) ))
    printf '%-16s %8d instructions per request\n' "$c" "${PER[$c]}"
done
echo
echo "pass-through, layer / no layer:            $(ratio "${PER[layer]}" "${PER[no_layer]}")"
echo "pass-through, 16 KiB handler / no layer:   $(ratio "${PER[layer_16k]}" "${PER[no_layer]}")"
echo "pass-through, extension route / no layer:  $(ratio "${PER[layer_extension]}" "${PER[no_layer]}")"
echo "leave sample, layer / floor:               $(ratio "${PER[leave_layer]}" "${PER[leave_floor]}")"
echo "TRTC exit / leave sample, both signed:      $(ratio "${PER[trtc_layer]}" "${PER[leave_signed]}")"
echo "TRTC exit / leave sample, unsigned:         $(ratio "${PER[trtc_layer]}" "${PER[leave_layer]}")"
