#!/usr/bin/env bash
# Makes the release tarball and installs it as docs/OPERATIONS.md tells an operator to, in a temporary
# prefix outside the checkout, then uses it:
#   scripts/check-release.sh            pack (clean build), check the contents, npm install -g --omit=dev
#                                       (native modules built), gridlet --version, gridlet config check on
#                                       the shipped examples, gridlet demo --duration 30
#   scripts/check-release.sh --no-demo  the same without the demo (about 40 s shorter)
# Needs the dev dependencies (npm ci) and the npm registry (or a warm npm cache). Exit 0 when all pass.
# test/release.test.ts runs the quick part (pack, install without install scripts, --version, config
# check) in the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version=$(node -p 'require("./package.json").version')
step() { printf '\n== %s\n' "$*"; }
fail() { echo "check-release: $*" >&2; exit 1; }

step "npm pack (prepare builds dist/ from scratch)"
npm pack --pack-destination "$work" --silent >/dev/null
tgz="$work/gridlet-$version.tgz"
[[ -f "$tgz" ]] || fail "no $tgz"
tar tzf "$tgz" | sed 's#^package/##' | sort >"$work/files"
echo "$(wc -l <"$work/files") files, $(du -k "$tgz" | cut -f1) KB"
if grep -E '(\.test\.js|\.map)$|^test/|/fixtures/|/sim/|/testing/' "$work/files"; then
  fail "test files or source maps in the tarball (above)"
fi
for f in dist/cli/main.js dist/agent/runtime/main.js vendor/zod.js vendor/mqtt.js hardware/profiles/sdm630.json hardware/logs/h1-pv-family.csv \
  hardware/udev/99-gridlet-serial.rules systemd/gridlet-agent.service systemd/gridlet-aggregator.service \
  config/agent.example.yaml config/aggregator.example.yaml docs/OPERATIONS.md aggregator/http/dashboard/index.html \
  tools/verify_ledger.py tools/gridlet_common.py tools/gridlet_evidence.py; do
  grep -qx "$f" "$work/files" || fail "$f missing from the tarball"
done

step "npm install -g --prefix $work/prefix gridlet-$version.tgz --omit=dev"
cd "$work"
npm install -g --prefix "$work/prefix" "$tgz" --omit=dev --no-audit --no-fund --loglevel=error
pkg="$work/prefix/lib/node_modules/gridlet"
export PATH="$work/prefix/bin:$PATH"
[[ "$(command -v gridlet)" == "$work/prefix/bin/gridlet" ]] || fail "gridlet is not the installed one"
# every dev dependency but @types/node, which production dependencies bring too (@types/ws of mqtt)
for dev in $(node -p 'Object.keys(require("'"$checkout"'/package.json").devDependencies).filter((d) => d !== "@types/node").join(" ")'); do
  [[ ! -e "$pkg/node_modules/$dev" ]] || fail "dev dependency $dev was installed"
done
echo "installed: $(du -sh "$pkg" | cut -f1) with its dependencies"

step "gridlet --version"
got=$(gridlet --version)
[[ "$got" == "$version" ]] || fail "gridlet --version printed '$got', expected $version"
echo "$got"

step "gridlet config check on the shipped examples"
gridlet config check "$pkg/config/agent.example.yaml" "$pkg/config/aggregator.example.yaml"

if [[ "${1:-}" != "--no-demo" ]]; then
  step "gridlet demo --duration 30 (in $work, outside the checkout)"
  gridlet demo --duration 30 --dir "$work/demo" >"$work/demo.out" 2>&1 || { tail -40 "$work/demo.out"; fail "demo failed"; }
  grep -E "aggregators agree|conserved" "$work/demo.out" || fail "the demo's report is missing"
  ! grep -q "$checkout" "$work/demo.out" || fail "the demo used files of the checkout"
fi
step "release OK: gridlet-$version.tgz"
