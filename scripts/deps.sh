#!/usr/bin/env bash
# Installs the system packages Podium needs when they are missing.
# Usage: scripts/deps.sh build|test   (sourced or run)
set -euo pipefail

need_pkgs=()
want() { # want <command> <debian package>
  command -v "$1" >/dev/null 2>&1 || need_pkgs+=("$2")
}

want cmake cmake          # builds the bundled libopus
want meson meson          # builds the vendored libdav1d
want ninja ninja-build
want nasm nasm            # libdav1d's x86 assembly
want cc gcc
want npm npm              # installs the embedded browser packages (web/vendor)
if [ "${1:-build}" = test ]; then
  want chromium chromium              # real browser for end-to-end tests
  want chromedriver chromium-driver   # drives it over WebDriver
  want firefox-esr firefox-esr        # the second browser (publishes without MediaStreamTrackProcessor)
  want file file                      # checks the binary is static
  want python3 python3                # runs the SMTP sink used by the mail tests
  want node nodejs                    # runs the browser media client's unit tests
  python3 -c 'import ensurepip, venv' 2>/dev/null || need_pkgs+=(python3-venv)
fi

if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "==> Installing system packages: ${need_pkgs[*]}"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi

if [ "${1:-build}" = test ] && ! target/test-venv/bin/python3 -c 'import aiosmtpd, icalendar' 2>/dev/null; then
  echo "==> Installing the Python SMTP sink (aiosmtpd, icalendar) into target/test-venv"
  python3 -m venv target/test-venv
  target/test-venv/bin/pip install --quiet --disable-pip-version-check aiosmtpd icalendar
fi

# Third-party browser files the binary embeds (web/vendor/package.json, pinned
# by its package-lock.json): installed from the npm registry into the
# gitignored web/vendor/node_modules, which rust-embed embeds (build.rs fails
# with a clear message while it is missing). The person-segmentation package
# ships no licence file of its own; its package.json says Apache-2.0, so the
# Apache-2.0 text from Debian's base-files is put beside it and served with it.
vendor=web/vendor
seg=$vendor/node_modules/@mediapipe/selfie_segmentation
if [ ! -f "$seg/selfie_segmentation.js" ] || [ ! -f "$seg/LICENSE" ] || [ "$vendor/package-lock.json" -nt "$seg/LICENSE" ]; then
  echo "==> Installing the embedded browser packages (npm ci in $vendor)"
  (cd "$vendor" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  grep -q '"license": "Apache-2.0"' "$seg/package.json" || { echo "error: $seg is no longer Apache-2.0; check its licence" >&2; exit 1; }
  cp /usr/share/common-licenses/Apache-2.0 "$seg/LICENSE"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo (Rust) is not installed; install it from https://rustup.rs" >&2
  exit 1
fi

# geckodriver drives Firefox; Debian does not package it, so it is built from
# crates.io once into target/geckodriver (the tests look there) and reused.
if [ "${1:-build}" = test ] && [ ! -x target/geckodriver/bin/geckodriver ] && ! command -v geckodriver >/dev/null 2>&1; then
  echo "==> Building geckodriver from crates.io into target/geckodriver (once)"
  cargo install --locked --quiet geckodriver --root target/geckodriver
fi
