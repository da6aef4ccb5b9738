#!/usr/bin/env bash
# Spec lint and live contract test: `make spec` runs this with the natterd
# to test. Installs its Node tools locally (tests/contract/node_modules,
# from the committed package-lock.json), lints api-spec/openapi.yaml with
# Redocly's CLI, then validates real responses of live nodes against the
# spec (validate.mjs, cases in cases/*.json).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
natterd=${1:?usage: run.sh /path/to/natterd}
[ -x "$natterd" ] || { echo "contract: $natterd is not executable" >&2; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null || { echo "contract: node and npm are needed (make deps)" >&2; exit 1; }

cd "$here"
# Reinstall when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "  NPM    ci (tests/contract)"
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

echo "  LINT   api-spec/openapi.yaml"
if ! out=$(node_modules/.bin/redocly lint --config "$here/redocly.yaml" "$root/api-spec/openapi.yaml" 2>&1); then
    printf '%s\n' "$out"
    exit 1
fi
printf '%s\n' "$out" | grep -E '^(warning|error) ' || true

echo "  CONTRACT $natterd"
node "$here/validate.mjs" "$natterd" "$root/api-spec/openapi.yaml"
