#!/usr/bin/env bash
# Installs every Debian package Mamori needs to build, test and run. Idempotent: it installs only
# what is missing, so make targets may call it whenever a tool or header is absent.
set -euo pipefail

PKGS=(
  # build
  build-essential cmake pkg-config clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
  clang-format clang-tidy libclang-rt-14-dev
  # libraries
  libssl-dev libcurl4-openssl-dev libevent-dev libsqlite3-dev libpq-dev libyaml-dev
  libjansson-dev libjsmn-dev libpcre2-dev libyara-dev libzstd-dev libnftables-dev
  # tests and benchmarks
  libcmocka-dev auditd iproute2 procps python3 coreutils jq curl nftables
  # a real SMTP server for the notification test (tests/e2e/notify.sh)
  python3-aiosmtpd
  # tools the Atomic Red Team tests and the everyday workload use (tests/e2e/detect_*.sh)
  cron at iptables rsyslog sudo rsync
  # the PostgreSQL store (make up STORE=postgres, tests)
  postgresql
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# auditd starts its daemon on install; benchmarks start and stop it themselves.
if command -v systemctl >/dev/null && systemctl is-active -q auditd 2>/dev/null; then
  $SUDO systemctl stop auditd || true
fi
