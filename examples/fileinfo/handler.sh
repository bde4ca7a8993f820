#!/bin/sh
# One HTTP request on stdin, the answer on stdout (run by `nc -ll -e` per connection).
# The instance contract (SPEC §6): GET /health -> 200; POST /handler?cmd=...[&url=...]
# answers the byte count, SHA-1 and first line of the file (the body, or fetched from url).
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

param() {  # param NAME: the url-decoded value of NAME in the query string
  echo "$query" | tr '&' '\n' | sed -n "s/^$1=//p" | head -n 1 | httpd -d "$(cat)" 2>/dev/null
}

reply() {  # reply STATUS BODY
  printf 'HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
    "$1" "${#2}" "$2"
}

echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $method $path" >&2
case "$method $path" in
  "GET /health")
    reply "200 OK" '{"status":"ok"}' ;;
  "POST /handler"|"GET /handler")
    tmp=$(mktemp)
    url=$(param url)
    if [ -n "$url" ]; then
      if ! wget -q -O "$tmp" "$url"; then
        rm -f "$tmp"; reply "400 Bad Request" '{"error":"cannot fetch url"}'; exit 0
      fi
    elif [ "$length" -gt 0 ]; then
      head -c "$length" > "$tmp"
    fi
    bytes=$(wc -c < "$tmp" | tr -d ' ')
    sha1=$(sha1sum "$tmp" | cut -d ' ' -f 1)
    first=$(head -n 1 "$tmp" | tr -d '\r' | sed 's/\\/\\\\/g; s/"/\\"/g' | tr -d '\000-\037')
    rm -f "$tmp"
    reply "200 OK" "{\"cmd\":\"$(param cmd)\",\"instance\":\"${UFOP_INSTANCE:-}\",\"version\":\"${UFOP_VERSION:-}\",\"bytes\":$bytes,\"sha1\":\"$sha1\",\"firstLine\":\"$first\"}" ;;
  *)
    reply "404 Not Found" '{"error":"not found"}' ;;
esac
