#!/usr/bin/env bash
# The quickstart must run its whole tree and say what happened.
set -euo pipefail
out=$(timeout 60 examples/quickstart)
echo "$out"
grep -Eq '^tether: actor quickstart listening on 127\.0\.0\.1:[1-9][0-9]*$' <<<"$out"
grep -Eq '^started worker-1 at 127\.0\.0\.1:[0-9]+$' <<<"$out"
grep -qx 'worker-1 squared: 1 4 9 16 25' <<<"$out"
grep -qx 'worker-2 squared: 121 144 169 196 225' <<<"$out"
grep -qx 'relayed error: ValueError: bad input 42 (raised in grandchild, relayed grandchild -> middle)' <<<"$out"
grep -qx 'cancelled a context: ContextCancelled, canceller quickstart' <<<"$out"
grep -qx 'quickstart: ok' <<<"$out"
