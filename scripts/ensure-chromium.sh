#!/usr/bin/env bash
# Makes Debian's Chromium available for the browser test of /docs (test/integration/openapi.test.ts),
# installing the `chromium` package when it is missing. The test itself installs nothing: it fails,
# saying to run this script, when the browser is absent.
#
# Output (stdout, one line): the path of the browser.
set -euo pipefail

browser="${HERALD_CHROMIUM:-/usr/bin/chromium}"

# --version starts nothing (no display, no profile): it proves the binary and its libraries load.
works() { "$browser" --version >/dev/null 2>&1; }

if [[ -x "$browser" ]] && works; then
  echo "$browser"
  exit 0
fi

command -v apt-get >/dev/null || { echo "ensure-chromium: $browser missing and apt-get not found (Debian/Ubuntu needed)" >&2; exit 1; }
sudo=""
if [[ "$(id -u)" != 0 ]]; then
  command -v sudo >/dev/null || { echo "ensure-chromium: installing chromium needs root" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# `apt-get install` needs the package lists; fetch them once when they are missing or stale.
if ! $sudo apt-get install -y -qq --no-install-recommends chromium >&2 2>/dev/null; then
  echo "ensure-chromium: refreshing package lists (apt-get update)" >&2
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq --no-install-recommends chromium >&2
fi
works || { echo "ensure-chromium: $browser does not run" >&2; exit 1; }
echo "ensure-chromium: $("$browser" --version 2>/dev/null)" >&2
echo "$browser"
