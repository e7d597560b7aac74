# Helpers for tests that drive skiff's REST API the way Firecracker's
# getting-started guide does: curl --unix-socket (sourced after lib.sh).

require_curl() { command -v curl >/dev/null || skip "curl not found"; }

# api METHOD PATH [JSON]: one request on $API_SOCK; the status in
# $api_status, the body in $api_body.
api() {
    local method=$1 path=$2 body=${3:-}
    local args=(-s -S --max-time 60 --unix-socket "$API_SOCK" -X "$method" -o "$TEST_TMP/api-body"
                -w '%{http_code}' -H 'Accept: application/json')
    if [ -n "$body" ]; then
        args+=(-H 'Content-Type: application/json' -d "$body")
    fi
    api_status=$(curl "${args[@]}" "http://localhost$path") || api_status="curl-failed"
    api_body=$(cat "$TEST_TMP/api-body" 2>/dev/null || true)
    echo "  $method $path -> $api_status ${api_body:0:200}"
}

# api_expect STATUS METHOD PATH [JSON]: the request must get STATUS.
api_expect() {
    local want=$1
    shift
    api "$@"
    [ "$api_status" = "$want" ] || fail "$1 $2: expected HTTP $want, got $api_status: $api_body"
}

# api_fault STATUS METHOD PATH JSON REGEX: an error with a fault_message
# matching REGEX.
api_fault() {
    local want=$1 regex=$5
    api_expect "$want" "$2" "$3" "$4"
    echo "$api_body" | grep -q '"fault_message"' || fail "$2 $3: no fault_message in: $api_body"
    echo "$api_body" | grep -E -q -- "$regex" || fail "$2 $3: fault_message does not match /$regex/: $api_body"
}

# wait_socket PATH SECONDS: until skiff's API socket exists.
wait_socket() {
    local deadline=$((SECONDS + $2))
    until [ -S "$1" ]; do
        kill -0 "$skiff_pid" 2>/dev/null || fail "skiff exited before creating $1"
        [ $SECONDS -lt $deadline ] || fail "no API socket $1 within $2 s"
        sleep 0.05
    done
}
