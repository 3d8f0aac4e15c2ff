# Runs in the systemd guest (tests/vm/systemd/init.sh): PID 1 is the host's real systemd, and this
# script is a oneshot service of the test user with PAMName=, so logind has put it in a login
# session scope (user-UID.slice/session-N.scope), which is root's: nothing is delegated where
# bunker runs. logind started user@UID.service (Delegate=yes) with the user's D-Bus: each container
# gets a transient scope from that manager, which asks PID 1 to move the processes.
. /vmtests/lib.sh
export BUNKER_ROOT=$HOME/store BUNKER_RUNTIME_DIR=$XDG_RUNTIME_DIR/bunker
uid=$(id -u)
MANAGER=/sys/fs/cgroup/user.slice/user-$uid.slice/user@$uid.service
manager_call() { busctl --user call org.freedesktop.systemd1 /org/freedesktop/systemd1 "$@"; }
scopes() { find $MANAGER -type d -name 'bunker-*.scope' 2>/dev/null; }
echo "VMINFO checks start $(cut -d' ' -f1 /proc/uptime) s"

# Where this runs, as the checks need it: a real systemd, a root-owned session scope, the user's bus.
own=$(sed -n 's/^0:://p' /proc/self/cgroup)
owner=$(stat -c %u "/sys/fs/cgroup$own" 2>&1)
parent_owner=$(stat -c %u "$(dirname "/sys/fs/cgroup$own")" 2>&1)
if [ "$(cat /proc/1/comm)" = systemd ] && echo "$own" | grep -q "^/user.slice/user-$uid.slice/session-[^/]*.scope$" && [ "$owner" = 0 ] && [ "$parent_owner" = 0 ]; then
  pass scope-real-session "PID 1 systemd, bunker in $own (owner $owner), XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR"
else fail scope-real-session "PID 1: $(cat /proc/1/comm); cgroup $own owner $owner, parent owner $parent_owner"; fi
# logind started the user manager at boot (linger); its D-Bus comes up through its socket.
i=0
until manager_call org.freedesktop.DBus.Peer Ping >/dev/null 2>&1 || [ $i -ge 240 ]; do sleep 0.5; i=$((i+1)); done
echo "VMINFO user manager answered after $((i / 2)) s: $(systemctl --user is-system-running 2>&1)"

run bunker doctor
line=$(echo "$OUT" | grep -A1 cgroups | oneline)
# the controllers are those user@.service delegates (Debian: Delegate=pids memory cpu)
controllers=$(tr ' ' '\n' <$MANAGER/cgroup.controllers | grep -x -e cpu -e cpuset -e io -e memory -e pids | sort | tr '\n' ' ' | sed 's/ $//')
echo "$line" | grep -q "^ok *cgroups.*transient systemd scopes under $MANAGER; controllers: $controllers" && pass scope-doctor "$line" || fail scope-doctor "$OUT"

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

# exec's process starts in this session scope, and a move into the user manager's subtree needs
# write access to their common ancestor (user-UID.slice, root's): bunker asks the manager to attach
# it while it is held. Inside, it is then at the root of the container's cgroup namespace.
exec_joins() { # check container
  run bunker exec "$2" cat /proc/self/cgroup
  [ "$RC" = 0 ] && [ "$OUT" = "0::/" ] && pass "$1" "$OUT" || fail "$1" "exit $RC: $OUT"
}
exec_joins scope-exec-joins scoped
# exec -d: the held process is a session leader of its own, nobody waits for it
run bunker exec -d scoped sh -c 'cat /proc/self/cgroup >/tmp/exec-d.cgroup'
i=0; until bunker exec scoped test -s /tmp/exec-d.cgroup 2>/dev/null || [ $i -ge 40 ]; do sleep 0.25; i=$((i+1)); done
seen=$(bunker exec scoped cat /tmp/exec-d.cgroup 2>&1)
[ "$RC" = 0 ] && [ "$seen" = "0::/" ] && pass scope-exec-detached-joins "$seen" || fail scope-exec-detached-joins "exit $RC: $OUT; saw: $seen"

i=0; until [ "$(cat $dcg/container/pids.current 2>&1)" = 1 ] || [ $i -ge 40 ]; do sleep 0.25; i=$((i+1)); done
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

# A foreground container: its bunker holds the scope (SCOPE/monitor, moved there by the manager)
# so that the container's exit doesn't take memory.events with it; exec joins SCOPE/container.
bunker run --network none --name fg --rootfs $R --memory 40m sleep 60 >/dev/null 2>&1 &
fg_run=$!
i=0; until [ "$(bunker inspect --format '{{.State.Running}}' fg 2>&1)" = true ] || [ $i -ge 80 ]; do sleep 0.25; i=$((i+1)); done
fcg=$(scopes)
fg_leaves=$(find $fcg -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>&1 | sort | oneline)
fg_holder=$(cat $fcg/monitor/cgroup.procs 2>&1 | oneline)
if [ "$fg_leaves" = "container monitor " ] && [ "$fg_holder" = "$fg_run " ] && [ "$(cat $fcg/container/memory.max)" = 41943040 ] && [ -n "$(cat $fcg/container/cgroup.procs)" ]; then
  pass scope-foreground-held "bunker $fg_holder in $fcg/monitor"
else fail scope-foreground-held "scopes: $fcg; leaves: $fg_leaves; monitor leaf: $fg_holder (bunker is $fg_run)"; fi
exec_joins scope-exec-foreground-joins fg
# kill -9 of that bunker: the container dies with it (PDEATHSIG), systemd removes the emptied scope,
# and the next bunker command drops the container's cgroup record.
kill -9 $fg_run
wait $fg_run 2>/dev/null
i=0; while [ $i -lt 40 ] && [ -n "$(scopes)" ]; do sleep 0.25; i=$((i+1)); done
left=$(scopes)
brun --rm --rootfs $R true
records=$(ls $BUNKER_RUNTIME_DIR/cgroups/ 2>/dev/null | oneline)
if [ -n "$fcg" ] && [ -z "$left" ] && [ "$RC" = 0 ] && [ -z "$records" ]; then pass scope-kill9-gone "$fcg removed, no record left"
else fail scope-kill9-gone "scopes left: $left; records: $records; run: exit $RC $OUT"; fi
bunker rm -f fg >/dev/null 2>&1

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
echo "VMINFO checks done $(cut -d' ' -f1 /proc/uptime) s"
echo "VMTEST-END"
