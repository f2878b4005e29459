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
