#!/usr/bin/env bash
# Installs what the web tests need, only what is missing: the Debian packages (install_deps.sh web),
# then the npm packages of package.json / package-lock.json (devDependencies included: eslint,
# playwright-core, webgpu) into ./node_modules.
#   scripts/install_web_deps.sh        for the web tests
#   scripts/install_web_deps.sh node   only Node, npm and the npm packages, no browser (`make lint`)
# Never downloads a browser through Playwright. Needs root (or sudo) for apt.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install_deps.sh "${1:-web}"

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi
