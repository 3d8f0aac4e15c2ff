#!/usr/bin/env bash
# npm test: the whole suite. As root (CI), it first installs the Debian packages the tests use,
# creates an unprivileged user with a subordinate id range, and runs the suite as that user,
# because bunker is rootless and its rootless paths must be tested as a real user.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
TEST_USER=${BUNKER_TEST_USER:-bunkertest}
PACKAGES=(docker-registry skopeo umoci podman uidmap bubblewrap musl-tools busybox-static passt
  slirp4netns fuse-overlayfs runc apache2-utils openssl qemu-system-x86 linux-image-amd64
  debootstrap hyperfine bsdutils iproute2 cpio procps psmisc util-linux python3 strace systemd dbus-daemon time
  dbus dbus-user-session libpam-systemd)

if [ "$(id -u)" = 0 ]; then
  missing=()
  for p in "${PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "test.sh: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # The build may have run before musl-tools was there: rebuild so the tested helper is the musl one.
  npm run --silent build >/dev/null
  if ! id "$TEST_USER" >/dev/null 2>&1; then
    useradd -m -s /bin/bash "$TEST_USER"
  fi
  # useradd gives new users a range where login.defs says so; make sure of it either way.
  for f in /etc/subuid /etc/subgid; do
    grep -q "^$TEST_USER:" "$f" 2>/dev/null || echo "$TEST_USER:200000:65536" >>"$f"
  done
  # Desktop distros ship these 0666; pasta, slirp4netns and fuse-overlayfs need them (see NOTES).
  for d in /dev/net/tun /dev/fuse; do [ -e "$d" ] && chmod 0666 "$d"; done
  # The kernel image under /boot is 0600 on Debian; the VM lane boots it as the test user.
  for k in /boot/vmlinuz-*; do [ -e "$k" ] && chmod 0644 "$k"; done
  # A debootstrap Debian for the distro tests (chown and dpkg under the subuid mapping). Built
  # once, as root, into a cache outside the repo; the test skips loudly when it is missing.
  # Device nodes stay out: a rootless unpack can't create them and the container's /dev is a tmpfs.
  debian_tar=${BUNKER_DEBIAN_TAR:-/var/cache/bunker-tests/debian-minbase.tar}
  if [ ! -s "$debian_tar" ]; then
    echo "test.sh: building $debian_tar with debootstrap (once)" >&2
    mkdir -p "$(dirname "$debian_tar")"
    debian_root=$(mktemp -d /tmp/bunker-debootstrap.XXXXXX)
    chmod 0755 "$debian_root"
    if debootstrap --variant=minbase bookworm "$debian_root" http://deb.debian.org/debian >/dev/null 2>&1; then
      tar -C "$debian_root" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
        --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/lib/apt/lists/*_Packages' -cf "$debian_tar.tmp" . && mv "$debian_tar.tmp" "$debian_tar"
    else
      echo "test.sh: debootstrap failed; the Debian distro test will be skipped" >&2
    fi
    rm -rf "$debian_root"
  fi
  [ -e "$debian_tar" ] && chmod 0755 "$(dirname "$debian_tar")" && chmod 0644 "$debian_tar"
  # The test user must be able to reach the repo and ../shared.
  chmod o+rx "$repo" "$repo/.." 2>/dev/null || true
  run_as=(runuser -u "$TEST_USER" -- env -i PATH="/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
    HOME="/home/$TEST_USER" USER="$TEST_USER" LOGNAME="$TEST_USER" LANG=C.UTF-8
    CI="${CI:-}" BUNKER_TEST_ROOT_SETUP=1 TMPDIR=/tmp)
else
  run_as=()
fi

log=$(mktemp /tmp/bunker-test.XXXXXX)
chmod 0644 "$log"
set +e
"${run_as[@]}" "$repo/node_modules/.bin/bun" test "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
pass=$(grep -Eo '^ *[0-9]+ pass$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
fail=$(grep -Eo '^ *[0-9]+ fail$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
skip=$(grep -Eo '^ *[0-9]+ skip$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
rm -f "$log"
echo "bunker: $pass passed, $fail failed, $skip skipped"
if [ "$status" -ne 0 ] || [ "$fail" -ne 0 ] || [ "$pass" -eq 0 ]; then exit 1; fi
