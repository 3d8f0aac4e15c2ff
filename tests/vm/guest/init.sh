#!/bin/sh
# PID 1 of the VM lane's guest: mounts the basics and cgroup2, delegates a subtree to uid 1000 the
# way systemd's user@.service with Delegate=yes does, runs the checks as uid 1000 (and the
# "nothing delegated" ones as uid 1001), then powers off. Results are VMTEST lines on the console.
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
if [ "$1" != stage2 ]; then
  # pivot_root can't move the initramfs' rootfs away (EINVAL), and containers pivot_root: so the
  # guest first moves everything onto a tmpfs and makes that the root, like a real boot does.
  /bin/busybox mkdir -p /mnt
  /bin/busybox mount -t tmpfs -o mode=0755 root /mnt
  for d in /*; do
    case "$d" in /proc|/sys|/dev|/mnt) /bin/busybox mkdir -p "/mnt$d" ;; *) /bin/busybox cp -a "$d" /mnt/ ;; esac
  done
  exec /bin/busybox switch_root /mnt /init stage2
fi
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
hostname bunkervm
ip link set lo up 2>/dev/null
for m in /lib/modules/*.ko; do [ -e "$m" ] && insmod "$m"; done
# A RAM disk the containers may read (stats' block I/O)
[ -b /dev/ram0 ] && chmod 0666 /dev/ram0

mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
CG=/sys/fs/cgroup
ALL="+cpuset +cpu +io +memory +pids"
echo "VMINFO controllers $(cat $CG/cgroup.controllers)"
echo "$ALL" >$CG/cgroup.subtree_control
SERVICE=$CG/user.slice/user-1000.slice/user@1000.service
mkdir -p $SERVICE/session.scope $CG/user.slice/user-1001.slice/session-2.scope
echo "$ALL" >$CG/user.slice/cgroup.subtree_control
echo "$ALL" >$CG/user.slice/user-1000.slice/cgroup.subtree_control
echo "$ALL" >$CG/user.slice/user-1001.slice/cgroup.subtree_control
# systemd's delegation: the directory and the files that move processes and enable controllers.
chown 1000:1000 $SERVICE $SERVICE/cgroup.procs $SERVICE/cgroup.subtree_control $SERVICE/cgroup.threads
chown -R 1000:1000 $SERVICE/session.scope

for u in 1000 1001; do
  mkdir -p /home/u$u /run/user/$u
  chown $u:$u /home/u$u /run/user/$u
  chmod 700 /run/user/$u
done

as_user() { # user uid cgroup-dir script
  # Moved as root (the common ancestor's cgroup.procs is root's), then privileges dropped.
  sh -c "echo \$\$ >$3/cgroup.procs && exec su -s /bin/sh $1 -c 'exec env -i \
    PATH=$PATH HOME=/home/u$2 XDG_RUNTIME_DIR=/run/user/$2 NO_COLOR=1 VM_SERVICE=$SERVICE \
    BUNKER_ROOT=/home/u$2/store BUNKER_RUNTIME_DIR=/run/user/$2/bunker sh $4'"
}

echo "VMINFO checks start $(cut -d' ' -f1 /proc/uptime)"
as_user tester 1000 $SERVICE/session.scope /vmtests/delegated.sh
as_user other 1001 $CG/user.slice/user-1001.slice/session-2.scope /vmtests/undelegated.sh
echo "VMINFO checks done $(cut -d' ' -f1 /proc/uptime)"
echo "VMTEST-END"
sync
poweroff -f
