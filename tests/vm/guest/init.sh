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

# uid 1002: bunker runs in a session scope that is root's (nothing delegated where it runs), but a
# systemd user manager runs in user@1002.service (delegated) with the user's D-Bus, so bunker asks
# it for a transient scope per container.
SCOPED_SLICE=$CG/user.slice/user-1002.slice
SCOPED_MANAGER=$SCOPED_SLICE/user@1002.service
mkdir -p $SCOPED_SLICE/session-3.scope $SCOPED_MANAGER
echo "$ALL" >$SCOPED_SLICE/cgroup.subtree_control
chown 1002:1002 $SCOPED_MANAGER $SCOPED_MANAGER/cgroup.procs $SCOPED_MANAGER/cgroup.subtree_control $SCOPED_MANAGER/cgroup.threads
# Moving a process from the session scope into the manager's subtree needs write access to the
# cgroup.procs of their common ancestor. On a real host the user manager asks the system manager
# (PID 1) to do it; this guest has no system manager, so uid 1002 gets that one file instead. The
# slice directory stays root's, so bunker still finds the parent of its own cgroup not delegated.
chown 1002 $SCOPED_SLICE/cgroup.procs

for u in 1000 1001 1002; do
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

# The user manager: sd_booted() wants /run/systemd/system; a minimal user unit set whose default
# target starts the user's D-Bus (as Debian's dbus-user-session does through sockets.target).
mkdir -p /run/systemd/system /usr/lib/systemd/user
chmod 0622 /dev/console # the user manager logs there (the serial console)
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >/etc/machine-id
# Socket activation only, as on Debian: dbus.service started by the target itself sometimes got no
# socket from dbus.socket ("No socket received") and the bus never came up.
printf '[Unit]\nDescription=Main User Target\nWants=dbus.socket\n' >/usr/lib/systemd/user/default.target
printf '[Socket]\nListenStream=%%t/bus\n' >/usr/lib/systemd/user/dbus.socket
printf '[Unit]\nDefaultDependencies=no\nRequires=dbus.socket\nAfter=dbus.socket\n[Service]\nType=notify\nNotifyAccess=main\nExecStart=/usr/bin/dbus-daemon --session --address=systemd: --nofork --nopidfile --systemd-activation --nosyslog\nStandardOutput=tty\nTTYPath=/dev/console\n' >/usr/lib/systemd/user/dbus.service
start_user_manager() {
  sh -c "echo \$\$ >$SCOPED_MANAGER/cgroup.procs && exec su -s /bin/sh scoped -c 'exec env -i PATH=$PATH HOME=/home/u1002 \
    XDG_RUNTIME_DIR=/run/user/1002 SYSTEMD_LOG_TARGET=console SYSTEMD_LOG_LEVEL=info /lib/systemd/systemd --user'" &
  manager_pid=$!
}
# Ready once it answers on the user's bus (the first call starts dbus-daemon through its socket).
user_manager_ready() {
  i=0
  while [ $i -lt 240 ]; do
    su -s /bin/sh scoped -c 'XDG_RUNTIME_DIR=/run/user/1002 busctl --user call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.DBus.Peer Ping' >/dev/null 2>&1 && return 0
    sleep 0.5; i=$((i+1))
  done
  return 1
}

echo "VMINFO checks start $(cut -d' ' -f1 /proc/uptime)"
as_user tester 1000 $SERVICE/session.scope /vmtests/delegated.sh
as_user other 1001 $CG/user.slice/user-1001.slice/session-2.scope /vmtests/undelegated.sh
start_user_manager
user_manager_ready || echo "VMINFO systemd --user did not answer in 120 s: $(cat /proc/$manager_pid/wchan) $(ls -R /run/user/1002 | tr '\n' ' ')"
as_user scoped 1002 $SCOPED_SLICE/session-3.scope /vmtests/systemd-scope.sh
echo "VMINFO checks done $(cut -d' ' -f1 /proc/uptime)"
echo "VMTEST-END"
sync
poweroff -f
