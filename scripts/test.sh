#!/usr/bin/env bash
# The whole test suite. On a fresh Debian machine, run as root: it installs the system
# packages the tests need first: Mesa's software Vulkan driver (so the GPU code path runs on
# machines with no GPU), Mosquitto and its clients (the box's local broker), and systemd's
# systemd-analyze (the unit file is verified), procps for kill (signals to the daemons). The
# full-disk test mounts a tmpfs, so run as root. Tests that need a system component fail,
# never skip, without it.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(mesa-vulkan-drivers libvulkan1 mosquitto mosquitto-clients systemd procps openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing system packages: ${missing[*]} (run this script as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

# The end-to-end tests (tests/) start the real edged and fleet binaries: build them first.
cargo build --workspace --locked --bins
cargo test --workspace --locked "$@"
