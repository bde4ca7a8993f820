#!/bin/sh
# The data plane tests' ufop (run by `nc -ll -e` per connection), by the params of its call:
#   <name>/echo          201, X-Probe-Instance, the request body back (Content-Length bytes)
#   <name>/slow/<s>      answers after <s> seconds
#   <name>/hangon/<i>    instance <i> reads the body, touches /tmp/hanging and never answers;
#                        the others answer at once
#   <name>/drip          "first" at once, "second" once /tmp/go exists; the body ends with the
#                        connection (no Content-Length)
#   anything else        200 {"cmd", "instance", "version", "bytes"}
set -u
CR=$(printf '\r')
read -r method target _proto || exit 0
length=0
while IFS= read -r line; do
  line=${line%"$CR"}
  [ -z "$line" ] && break
  case "$line" in
    [Cc]ontent-[Ll]ength:*) length=$(echo "${line#*:}" | tr -d ' ') ;;
  esac
done
path=${target%%\?*}
query=""
case "$target" in *\?*) query=${target#*\?} ;; esac
cmd=$(echo "$query" | tr '&' '\n' | sed -n 's/^cmd=//p' | head -n 1 | httpd -d "$(cat)")
params=${cmd#*/}
[ "$params" = "$cmd" ] && params=""

reply() {  # reply STATUS BODY
  printf 'HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
    "$1" "${#2}" "$2"
}
json() {
  echo "{\"cmd\":\"$cmd\",\"instance\":\"${UFOP_INSTANCE:-}\",\"version\":\"${UFOP_VERSION:-}\",\"bytes\":$1}"
}

echo "$method $path $params" >&2
case "$method $path" in
  "GET /health") reply "200 OK" '{"status":"ok"}'; exit 0 ;;
  "POST /handler") ;;
  *) reply "404 Not Found" '{"error":"not found"}'; exit 0 ;;
esac
case "$params" in
  echo)
    printf 'HTTP/1.1 201 Created\r\nContent-Type: application/x-probe\r\nX-Probe-Instance: %s\r\nContent-Length: %s\r\nConnection: close\r\n\r\n' \
      "${UFOP_INSTANCE:-}" "$length"
    head -c "$length" ;;
  drip)
    printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nfirst\n'
    while [ ! -f /tmp/go ]; do sleep 0.1; done
    printf 'second\n' ;;
  slow/*)
    head -c "$length" > /dev/null
    sleep "${params#slow/}"
    reply "200 OK" "$(json "$length")" ;;
  hangon/*)
    head -c "$length" > /dev/null
    if [ "${params#hangon/}" = "${UFOP_INSTANCE:-}" ]; then
      touch /tmp/hanging
      sleep 600
    fi
    reply "200 OK" "$(json "$length")" ;;
  *)
    bytes=$(head -c "$length" | wc -c | tr -d ' ')
    reply "200 OK" "$(json "$bytes")" ;;
esac
