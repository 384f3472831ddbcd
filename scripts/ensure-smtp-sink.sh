#!/usr/bin/env bash
# Prints the path of Postfix's smtp-sink, fetching it into a cache first when it is missing.
#
# smtp-sink is a fast SMTP peer used by `npm run bench`. It ships in Debian's `postfix` package;
# the package is downloaded (not installed: no mail server is configured or started) and
# unpacked into $HERALD_CACHE/postfix. Run it with LD_LIBRARY_PATH=<root>/usr/lib/postfix.
#
# Output (stdout, one line): the root directory of the unpacked package.
set -euo pipefail

cache="${HERALD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/herald}/postfix"
sink="$cache/usr/sbin/smtp-sink"

# Without arguments smtp-sink prints its usage and exits 1: that proves binary and libraries load.
works() { local out; out="$(LD_LIBRARY_PATH="$cache/usr/lib/postfix" "$sink" 2>&1 || true)"; [[ "$out" == *usage* ]]; }

if [[ -x "$sink" ]] && works; then
  echo "$cache"
  exit 0
fi

command -v apt-get >/dev/null || { echo "ensure-smtp-sink: apt-get not found (Debian/Ubuntu needed)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
# `apt-get download` needs the package lists; fetch them once when they are missing or stale.
if ! apt-get download postfix >&2 2>/dev/null; then
  echo "ensure-smtp-sink: refreshing package lists (apt-get update)" >&2
  apt-get update -qq >&2
  apt-get download postfix >&2
fi
rm -rf "$cache"
mkdir -p "$cache"
dpkg-deb -x postfix_*.deb "$cache"
chmod 755 "$cache" "$cache/usr" "$cache/usr/sbin" "$cache/usr/lib" "$cache/usr/lib/postfix"
works || { echo "ensure-smtp-sink: $sink does not run" >&2; exit 1; }
echo "ensure-smtp-sink: smtp-sink unpacked into $cache" >&2
echo "$cache"
