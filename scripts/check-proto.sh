#!/usr/bin/env bash
# buf lint, buf breaking against the previous commit, and gen/ freshness (issue 2).
set -euo pipefail
cd "$(dirname "$0")/.."
buf=node_modules/.bin/buf
"$buf" lint
# Breaking check: the working tree against HEAD when proto/ has uncommitted edits,
# else HEAD against its parent. Skipped only when there is no earlier proto/ to compare with.
if ! git cat-file -e HEAD:proto 2>/dev/null; then
  against=''
elif ! git diff --quiet HEAD -- proto; then
  against='.git#ref=HEAD'
elif git rev-parse -q --verify HEAD~1 >/dev/null 2>&1 && git cat-file -e HEAD~1:proto 2>/dev/null; then
  against='.git#ref=HEAD~1'
else
  against=''
fi
if [ -n "$against" ]; then "$buf" breaking --against "$against"; else echo "buf breaking: no earlier proto/ to compare with"; fi
# gen/ must be exactly what buf generate makes now.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#out: gen#out: $tmp/gen#" buf.gen.yaml > "$tmp/buf.gen.yaml"
"$buf" generate --template "$tmp/buf.gen.yaml"
if ! diff -r "$tmp/gen" gen >/dev/null; then
  echo "gen/ is stale: run 'npm run generate' and commit the result" >&2
  diff -r "$tmp/gen" gen | head -20 >&2
  exit 1
fi
echo "proto: lint ok, breaking ok, gen/ fresh"
