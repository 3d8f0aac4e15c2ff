# Checks run as uid 1002, in a session scope that is root's, beside a systemd user manager that runs
# in user@1002.service with the user's D-Bus: each container gets a transient scope from it.
. /vmtests/lib.sh
MANAGER=/sys/fs/cgroup/user.slice/user-1002.slice/user@1002.service
manager_call() { busctl --user call org.freedesktop.systemd1 /org/freedesktop/systemd1 "$@"; }
scopes() { find $MANAGER -type d -name 'bunker-*.scope' 2>/dev/null; }

# The manager is up once it answers on the user's bus (it starts in the background at boot).
i=0
until manager_call org.freedesktop.DBus.Peer Ping >/dev/null 2>&1 || [ $i -ge 240 ]; do sleep 0.5; i=$((i+1)); done
run busctl --user call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.DBus.Peer Ping
[ "$RC" = 0 ] && pass scope-user-manager "answered after $((i / 2)) s" || fail scope-user-manager "exit $RC: $OUT; manager: $(for p in $(pgrep -f 'systemd --user'); do echo "$p wchan=$(cat /proc/$p/wchan) syscall=$(cut -d' ' -f1 /proc/$p/syscall 2>&1)"; done | oneline); /run/user/1002: $(ls -R /run/user/1002 | oneline)"

run bunker doctor
line=$(echo "$OUT" | grep -A1 cgroups | oneline)
echo "$line" | grep -q "^ok *cgroups.*transient systemd scopes under $MANAGER; controllers: cpu cpuset io memory pids" && pass scope-doctor "$line" || fail scope-doctor "$OUT"

brun --rm --rootfs $R true
[ "$RC" = 0 ] && pass scope-no-limit-run "exit 0" || fail scope-no-limit-run "exit $RC: $OUT"

# The container is moved into its scope after the clone, still before its command: its cgroup
# namespace is made after the move, so /sys/fs/cgroup inside is the scope with the limits.
brun --rm --rootfs $R --memory 48m --pids-limit 12 sh -c 'cat /proc/self/cgroup /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max'
[ "$RC" = 0 ] && [ "$(echo "$OUT" | oneline)" = "0::/ 50331648 12 " ] && pass scope-namespace "$(echo "$OUT" | oneline)" || fail scope-namespace "exit $RC: $OUT"

# A detached container: its scope is known to the manager and holds the container, with the limits,
# and its monitor, each in a leaf (the scope lasts as long as the monitor: across restarts).
run bunker run -d --network none --name scoped --rootfs $R --memory 40m --pids-limit 15 --cpus 0.5 sleep 60
did=$OUT
dcg=$(scopes | grep "/bunker-$did.scope$")
unit=$(manager_call org.freedesktop.systemd1.Manager GetUnit s "bunker-$did.scope" 2>&1)
monitor_comm=$(for p in $(cat $dcg/monitor/cgroup.procs 2>/dev/null); do cat /proc/$p/comm; done | oneline)
if [ -n "$dcg" ] && [ "$(cat $dcg/container/memory.max)" = 41943040 ] && [ "$(cat $dcg/container/pids.max)" = 15 ] && [ "$(cat $dcg/container/cpu.max)" = "50000 100000" ] \
  && [ -n "$(cat $dcg/container/cgroup.procs)" ] && [ -z "$(cat $dcg/cgroup.procs)" ] && [ "$monitor_comm" = "bunker-monitor " ] \
  && echo "$unit" | grep -q "^o "; then
  pass scope-limits "$dcg: $unit"
else fail scope-limits "exit $RC: $OUT; scopes: $(scopes); unit: $unit; monitor leaf: [$monitor_comm]; leaves: $(ls -d $dcg/*/ 2>&1)"; fi

run bunker exec scoped cat /proc/self/cgroup
# the exec'd process is in the scope: the root of the container's cgroup namespace
[ "$RC" = 0 ] && [ "$OUT" = "0::/" ] && pass scope-exec-joins "$OUT" || fail scope-exec-joins "exit $RC: $OUT"

run bunker stats --no-stream --format json scoped
[ "$RC" = 0 ] && echo "$OUT" | grep -q '"MemUsage":"[^"]* / 40MiB"' && echo "$OUT" | grep -q '"PIDs":"1"' && pass scope-stats "$OUT" || fail scope-stats "exit $RC: $OUT"

# restart (stop, then start): the old scope ends with its monitor, the new start gets one with the same limits.
run bunker restart -t 0 scoped
rcg=$(scopes | grep "/bunker-$did.scope$")
running=$(bunker inspect --format '{{.State.Running}}' scoped 2>&1)
if [ "$RC" = 0 ] && [ "$running" = true ] && [ -n "$rcg" ] && [ "$(cat $rcg/container/memory.max 2>&1)" = 41943040 ] && [ -n "$(cat $rcg/container/cgroup.procs 2>&1)" ]; then
  pass scope-restart-command "running in $rcg"
else fail scope-restart-command "exit $RC: $OUT; running: $running; scopes: $(scopes)"; fi

run bunker rm -f scoped
i=0; while [ $i -lt 40 ] && [ -n "$(scopes)" ]; do sleep 0.25; i=$((i+1)); done
[ "$RC" = 0 ] && [ -z "$(scopes)" ] && pass scope-removed "no bunker-*.scope left" || fail scope-removed "exit $RC: $OUT; left: $(scopes)"

# OOM in a scope: the manager removes an empty scope's cgroup at once, so the kill must be seen anyway.
brun --name hog --rootfs $R --memory 32m --memory-swap 32m tail /dev/zero
if [ "$RC" = 137 ] && [ "$(echo "$OUT" | grep -c .)" = 1 ] && echo "$OUT" | grep -q "out of memory"; then pass scope-oom "exit 137: $OUT"; else fail scope-oom "exit $RC: $OUT"; fi
run bunker inspect hog
echo "$OUT" | grep -q '"OOMKilled": *true' && pass scope-oom-inspect "State.OOMKilled true" || fail scope-oom-inspect "exit $RC: $(echo "$OUT" | grep -i -e oom -e error)"
bunker rm -f hog >/dev/null 2>&1

# A detached container's OOM in a scope: the handshake tells the monitor the container's cgroup,
# which the scope keeps (the monitor is in it) until the monitor has read memory.events.
run bunker run -d --network none --name dhog --rootfs $R --memory 32m --memory-swap 32m tail /dev/zero
run bunker wait dhog
code=$OUT
run bunker inspect dhog
if [ "$code" = 137 ] && echo "$OUT" | grep -q '"OOMKilled": *true'; then pass scope-detached-oom "wait: 137, OOMKilled true"; else fail scope-detached-oom "wait: $code; $(echo "$OUT" | grep -i -e oom -e error)"; fi
bunker rm -f dhog >/dev/null 2>&1

# --restart in a scope: the monitor moves each new process into the container's cgroup before it
# runs, so every run (the first and two restarts) sees the limits in its own cgroup namespace.
restart_with_limits phoenix
i=0; while [ $i -lt 40 ] && [ -n "$(scopes)" ]; do sleep 0.25; i=$((i+1)); done
if [ "$state" = "exited 2 3" ] && [ "$logs" = "$RESTART_LIMITS_LOGS" ] && [ -z "$(scopes)" ]; then
  pass scope-restart-limits "$state; $logs"
else fail scope-restart-limits "state: $state; logs: $logs; scopes left: $(scopes)"; fi
bunker rm -f phoenix >/dev/null 2>&1

# run -d --rm: the monitor becomes `bunker rm -f` inside the scope's monitor leaf; the container and
# its scope both go.
run bunker run -d --network none --rm --name ephemeral --rootfs $R --memory 40m true
i=0; while [ $i -lt 40 ] && { bunker inspect ephemeral >/dev/null 2>&1 || [ -n "$(scopes)" ]; }; do sleep 0.25; i=$((i+1)); done
if [ "$RC" = 0 ] && ! bunker inspect ephemeral >/dev/null 2>&1 && [ -z "$(scopes)" ]; then pass scope-rm-gone "record and scope removed"
else fail scope-rm-gone "exit $RC: $OUT; inspect: $(bunker inspect ephemeral 2>&1 | grep -e Status -e Error | oneline); scopes: $(scopes)"; fi

left=$(scopes)
[ -z "$left" ] && pass scope-cgroups-gone "no bunker-*.scope under $MANAGER" || fail scope-cgroups-gone "left: $left"
