#!/usr/bin/env bash
# Install the Debian packages Watchkeeper's tests and lab need, when root and missing.
# Usage: system-deps.sh [lab] [browser] [backup]
set -u
want=()
for part in "$@"; do
  case "$part" in
    lab) command -v dockerd >/dev/null || want+=(docker.io)
         [ -x /bin/busybox ] || command -v busybox >/dev/null || want+=(busybox-static)
         command -v ip >/dev/null || want+=(iproute2)
         command -v nsenter >/dev/null || want+=(util-linux)
         command -v openssl >/dev/null || want+=(openssl)
         [ -x /usr/sbin/sshd ] || want+=(openssh-server) ;;
    browser) [ -x /usr/bin/chromium ] || want+=(chromium) ;;
    backup) command -v restic >/dev/null || want+=(restic) ;;  # restore-evidence tests
  esac
done
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "note: missing system packages (${want[*]}); install them as root to run every test." >&2
  exit 0
fi
echo "Installing system packages: ${want[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${want[@]}" >/dev/null 2>&1 || {
  apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${want[@]}"
}
