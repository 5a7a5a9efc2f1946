#!/usr/bin/env bash
# The whole test suite. On a fresh Debian machine, run as root: it installs the system
# packages the tests need first: Mesa's software Vulkan driver (so the GPU code path runs on
# machines with no GPU), Mosquitto and its clients (the box's local broker), and systemd's
# systemd-analyze (the unit file is verified), procps for kill (signals to the daemons),
# faketime (libfaketime: a fleet or box whose clock is wrong), and
# the pinned onnx, numpy and onnxruntime Python packages (the conformance suite's data and the
# vision models' references, below). The
# full-disk test mounts a tmpfs, so run as root. Tests that need a system component fail,
# never skip, without it.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(mesa-vulkan-drivers libvulkan1 mosquitto mosquitto-clients systemd procps openssl faketime python3 python3-pip)
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

# The conformance suite (fleet-server/tests/onnx_conformance.rs) is the ONNX backend node
# tests, which ship with the onnx Python package: pinned here (1.19.1: opset 24, the newest
# onnx-ir 0.22 parses). Its test data is 60 MB, so it is installed, not committed. The
# full-size vision models (fleet-server/tests/vision) are generated at test time by
# fixtures/make_vision.py, with ONNX Runtime's outputs as the reference: numpy and
# onnxruntime are pinned with it.
python_packages=(onnx==1.19.1 numpy==2.4.6 onnxruntime==1.32.0)
if ! python3 - "${python_packages[@]}" <<'PY' 2>/dev/null
import importlib.metadata as m, sys
sys.exit(any(m.version(p.split("==")[0]) != p.split("==")[1] for p in sys.argv[1:]))
PY
then
  echo "installing: ${python_packages[*]} (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check "${python_packages[@]}" \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "${python_packages[@]}"
fi

# The end-to-end tests (tests/) start the real edged and fleet binaries: build them first.
cargo build --workspace --locked --bins
cargo test --workspace --locked "$@"
