#!/bin/sh
# Runs every Fuzz* target of the module for $1 each (go test fuzzes one
# target at a time). Go's fuzzing engine now and then ends a run with
# "context deadline exceeded" without an input that fails (no new file in
# testdata/fuzz): that run is tried once more. A failing input fails at once.
set -e
go=${GO:-go}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for pkg in $($go list ./...); do
  for target in $($go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "fuzz $pkg $target"
    corpus="$($go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$target"
    before=$(ls "$corpus" 2>/dev/null | wc -l)
    if $go test -run='^$' -fuzz="^$target\$" -fuzztime="$1" "$pkg" >"$out" 2>&1; then
      tail -n 1 "$out"
      continue
    fi
    cat "$out"
    after=$(ls "$corpus" 2>/dev/null | wc -l)
    if [ "$after" != "$before" ] || ! grep -q 'context deadline exceeded' "$out"; then
      exit 1
    fi
    echo "fuzz $pkg $target: the engine stopped without a failing input; once more"
    $go test -run='^$' -fuzz="^$target\$" -fuzztime="$1" "$pkg"
  done
done
