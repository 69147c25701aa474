#!/usr/bin/env bash
# The collector's layering (issue 20): SQL and the database drivers live under collector/src/store
# only; the collector stands on the shared library (common/), never on the SDK's private sources; and the
# collector binary holds none of the SDK's client code.
# Usage: layering_test.sh <source dir> <waymark-collector binary>
set -uo pipefail
src=$1
bin=$2
fail=0
outside_store() { grep -rlE "$1" "$src/collector/src" | grep -v '^'"$src"'/collector/src/store/' || true; }

hits=$(grep -rliE 'sqlite|libpq|postgres' "$src/collector/src" | grep -v '/collector/src/store/' || true)
if [ -n "$hits" ]; then echo "mentions a database outside store/: $hits"; fail=1; fi
hits=$(outside_store '\b(SELECT|INSERT INTO|UPDATE [a-z_]+ SET|DELETE FROM|CREATE (TABLE|INDEX|VIEW))\b')
if [ -n "$hits" ]; then echo "SQL outside store/: $hits"; fail=1; fi
# Every include in the collector resolves to its own root, the shared library, generated wire headers
# or the public C headers: nothing from sdk/src.
while IFS= read -r inc; do
  path=${inc#*\"}; path=${path%\"}
  [ -e "$src/collector/src/$path" ] || [ -e "$src/collector/app/$path" ] || [ -e "$src/common/src/$path" ] ||
    [ -e "$src/sdk/include/$path" ] ||
    [ -e "$src/platform/include/$path" ] || [[ $path == waymark/wire/v1/* ]] ||
    { echo "include outside the collector's roots: $inc"; fail=1; }
done < <(grep -rhoE '#include "[^"]+"' "$src/collector/src" "$src/collector/app")
# The binary links the shared library, not the SDK: no client, uploader or outbox symbols.
if nm -C "$bin" | grep -qE 'waymark_client_open|waymark::detail::(Client|Uploader|Outbox)::'; then
  echo "the collector binary holds SDK client code"; fail=1
fi
[ $fail = 0 ] && echo "layering holds"
exit $fail
