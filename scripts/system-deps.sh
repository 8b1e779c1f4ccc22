#!/usr/bin/env bash
# The Debian packages the tests need beyond npm, installed once on a fresh machine (Debian bookworm; root, or
# sudo without a password). Idempotent: run it again and it changes nothing.
# - The webgpu tests run for real on Mesa's software Vulkan device (lavapipe): the Vulkan loader, and Mesa
#   from bookworm-backports (bookworm's own Mesa 22.3 is refused by Dawn). A failure here is an error: the
#   webgpu tests are never skipped.
# - The browser tests drive Debian's chromium through playwright-core, which never downloads a browser.
set -euo pipefail
if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo -n); fi
export DEBIAN_FRONTEND=noninteractive
if [ ! -e /usr/share/vulkan/icd.d/lvp_icd.json ] || [ ! -x /usr/bin/chromium ]; then
  mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" \
    | "${sudo[@]}" tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq libvulkan1 >/dev/null
  "${sudo[@]}" apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
test -e /usr/share/vulkan/icd.d/lvp_icd.json || { echo 'system-deps: lavapipe (lvp_icd.json) is not installed; the webgpu tests cannot run' >&2; exit 1; }
test -x /usr/bin/chromium || { echo 'system-deps: /usr/bin/chromium is not installed; the browser tests cannot run' >&2; exit 1; }
