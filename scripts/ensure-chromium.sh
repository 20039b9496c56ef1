#!/usr/bin/env bash
# Makes sure the browser tests can run: Debian's chromium (installed with
# apt-get when missing, as root; no browser is ever downloaded otherwise)
# and Node.js with npm for playwright-core. The tests' npm packages are
# installed by the tests themselves (npm ci in web/test, from its
# lockfile). Without root, or where apt cannot install, it says so and
# exits 0: the browser tests then skip with a message.
set -uo pipefail

need=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)

if [ ${#need[@]} -eq 0 ]; then
  echo "browser tests: chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), node $(node --version)" >&2
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "browser tests: ${need[*]} missing and cannot be installed here (needs root and apt-get): they will be skipped" >&2
  exit 0
fi
echo "browser tests: installing ${need[*]} (Debian packages)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } >&2; then
  echo "browser tests: apt-get could not install ${need[*]}: they will be skipped" >&2
fi
exit 0
