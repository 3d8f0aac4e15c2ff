#!/bin/sh
# First PID 1 of the VM lane's systemd guest (a busybox script in the initramfs): builds a root
# from the HOST's root filesystem, shared read-only by qemu over virtio-9p, with a tmpfs overlay on
# top for what the boot writes, configures a minimal boot there, and switch_roots into the real
# /lib/systemd/systemd. Everything below systemd is then the host's own Debian systemd, logind,
# D-Bus and PAM: nothing of the user session is emulated.
#   /vmfiles (from the initramfs): the checks, the busybox rootfs and image, bunker's host path,
#   the test user's uid.
export PATH=/bin
busybox mount -t proc proc /proc
busybox mount -t devtmpfs devtmpfs /dev
busybox --install -s /bin
say() { echo "VMINFO $*" >/dev/console; }
die() { say "init failed: $*"; echo "VMTEST-END" >/dev/console; sync; poweroff -f; }

for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p overlay; do
  [ -e /lib/modules/$m.ko ] && { insmod /lib/modules/$m.ko || die "insmod $m"; }
done
mkdir -p /lower /upper /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /lower || die "mount the host root (9p)"
mount -t tmpfs -o mode=0755 upper /upper
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work overlay /newroot || die "mount the overlay root"
R=/newroot
UID_=$(cat /vmfiles/uid)
USER_=vmscoped

# Not a container: the host's /.dockerenv would make systemd believe it is one (no kernel command
# line, container-only defaults).
rm -f $R/.dockerenv $R/run/.containerenv
# The host's /etc is the guest's, minus what is the host's alone or unreadable to qemu's user.
echo "# the VM lane's guest: no file systems to mount" >$R/etc/fstab
cat /proc/sys/kernel/random/uuid | tr -d '-' >$R/etc/machine-id
echo bunkervm >$R/etc/hostname
# The test user, with a subordinate id range as useradd gives (the guest has no shadow file: the
# host's is not readable by the user qemu runs as, and no password is ever checked).
echo "$USER_:x:$UID_:$UID_:VM lane:/home/$USER_:/bin/sh" >>$R/etc/passwd
echo "$USER_:x:$UID_:" >>$R/etc/group
echo "$USER_:300000:65536" >>$R/etc/subuid
echo "$USER_:300000:65536" >>$R/etc/subgid
rm -f $R/etc/shadow $R/etc/gshadow
# PAM: user@.service's stack, and the checks' own login session (pam_systemd registers it with
# logind, which puts it in a session-N.scope of its own, owned by root, as for any login). Account
# checks are pam_permit: pam_unix would need the shadow file. pam_systemd is the real one.
printf 'account required pam_permit.so\nsession optional pam_systemd.so\n' >$R/etc/pam.d/systemd-user
printf 'account required pam_permit.so\nsession required pam_systemd.so\n' >$R/etc/pam.d/bunker-vmtest
# linger: logind starts user@UID.service (Delegate=yes) with the user's D-Bus at boot.
mkdir -p $R/var/lib/systemd/linger
touch $R/var/lib/systemd/linger/$USER_

# The boot: only what the checks need (logind, the system bus, the user manager) and the checks.
S=$R/etc/systemd/system
rm -rf $S/*.wants $R/etc/systemd/user/*.wants
for u in systemd-timesyncd.service systemd-pstore.service apt-daily.timer apt-daily-upgrade.timer \
  e2scrub_all.timer e2scrub_reap.service fstrim.timer man-db.timer dpkg-db-backup.timer \
  systemd-tmpfiles-clean.timer podman-auto-update.timer podman.socket postgresql.service \
  docker-registry.service getty.target systemd-udev-trigger.service systemd-udevd.service \
  systemd-networkd.service systemd-resolved.service networking.service systemd-journal-flush.service \
  systemd-update-utmp.service systemd-random-seed.service systemd-binfmt.service \
  systemd-firstboot.service systemd-ask-password-console.path systemd-ask-password-wall.path \
  cron.service ssh.service rsyslog.service systemd-tmpfiles-setup.service; do
  ln -sf /dev/null $S/$u
done
ln -sf bunker-vmtest.target $S/default.target
cat >$S/bunker-vmtest.target <<EOF
[Unit]
Description=bunker VM lane checks
Requires=bunker-vmtest.service
AllowIsolate=yes
EOF
cat >$S/bunker-vmtest.service <<EOF
[Unit]
Description=bunker checks in a login session of $USER_
Wants=systemd-logind.service user@$UID_.service
After=systemd-logind.service systemd-user-sessions.service user@$UID_.service
SuccessAction=poweroff-force
FailureAction=poweroff-force
[Service]
Type=oneshot
User=$USER_
PAMName=bunker-vmtest
WorkingDirectory=/home/$USER_
Environment=PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin NO_COLOR=1 HOME=/home/$USER_
ExecStart=/bin/sh /vmtests/systemd-scope.sh
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
TimeoutStartSec=infinity
# When something failed: what systemd says about it, on the console.
ExecStopPost=+/bin/sh -c '[ "\$\$SERVICE_RESULT" = success ] || { systemctl --no-pager --failed; journalctl -b --no-pager -n 60 -o cat; }'
EOF

# The checks, the containers' rootfs and image, and the binary under test (the host's file, bound
# read-only over 9p: the same bytes as BUNKER_BIN, not a copy).
mkdir -p $R/vmtests $R/rootfs $R/images $R/home/$USER_ $R/usr/local/bin
cp -a /vmfiles/vmtests/. $R/vmtests/
cp -a /vmfiles/rootfs/. $R/rootfs/
cp -a /vmfiles/images/. $R/images/
chown $UID_:$UID_ $R/home/$USER_
# tmpfiles' boot clean-up of /tmp over 9p takes minutes under TCG: fresh, empty ones instead.
mount -t tmpfs -o mode=1777 tmp $R/tmp
touch $R/usr/local/bin/bunker
mount --bind "/lower$(cat /vmfiles/bunker-path)" $R/usr/local/bin/bunker || die "bind the bunker binary"

say "switch_root into systemd at $(cut -d' ' -f1 /proc/uptime) s"
umount /proc
umount /dev
exec switch_root $R /lib/systemd/systemd
