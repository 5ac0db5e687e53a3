#!/usr/bin/env bash
# System packages the test suite needs beyond Python: Debian's Chromium for the dashboard's browser test.
# Idempotent and quiet: does nothing when /usr/bin/chromium is already there; prints apt's log only on failure.
set -euo pipefail

if [ ! -x /usr/bin/chromium ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    log="$(mktemp)"
    trap 'rm -f "$log"' EXIT
    if ! { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
            && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
         } >"$log" 2>&1; then
        cat "$log" >&2
        echo "setup-system: could not install chromium" >&2
        exit 1
    fi
    echo "setup-system: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
fi
