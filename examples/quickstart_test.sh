#!/usr/bin/env bash
# The quickstart must print its listening line, both round trips and "ok".
set -euo pipefail
out=$(timeout 30 examples/quickstart)
echo "$out"
grep -Eq '^tether: actor quickstart listening on 127\.0\.0\.1:[1-9][0-9]*$' <<<"$out"
grep -Eq '^round trip: Info answered by quickstart\[[0-9a-f-]{36}\] pid [0-9]+' <<<"$out"
grep -Eq '^round trip: Cancel accepted by quickstart\[' <<<"$out"
grep -Eq '^actor quickstart stopped: cancelled by client\[' <<<"$out"
grep -qx 'quickstart: ok' <<<"$out"
