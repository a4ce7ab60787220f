#!/usr/bin/env bash
# Fetches swagger-ui-dist VERSION from the npm registry and installs the three files /docs
# serves into DEST. The tarball's sha512 must match scripts/swagger-ui.integrity.
# If the registry cannot be reached the build goes on: /docs then serves its self-contained page.
set -euo pipefail
version=$1
dest=$2
here=$(cd "$(dirname "$0")" && pwd)
want=$(grep "^swagger-ui-dist@$version " "$here/swagger-ui.integrity" | cut -d' ' -f2)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && npm pack --silent "swagger-ui-dist@$version" >/dev/null 2>npm.log); then
  echo "fetch-swagger-ui: npm pack failed; /docs will use its self-contained page" >&2
  cat "$tmp/npm.log" >&2 || true
  exit 0
fi
tarball=$(ls "$tmp"/swagger-ui-dist-*.tgz)
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$got" != "$want" ]; then
  echo "fetch-swagger-ui: integrity mismatch for swagger-ui-dist@$version: $got" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$tmp"
mkdir -p "$dest"
for f in swagger-ui.css swagger-ui-bundle.js swagger-ui-standalone-preset.js; do
  cp "$tmp/package/$f" "$dest/$f"
done
echo "fetch-swagger-ui: swagger-ui-dist@$version installed in $dest" >&2
