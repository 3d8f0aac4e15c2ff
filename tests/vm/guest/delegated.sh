# Checks run as uid 1000, in a cgroup subtree delegated to it (like systemd's user@1000.service).
. /vmtests/lib.sh

brun --rm --rootfs $R true
[ "$RC" = 0 ] && pass no-limit-run "exit 0" || fail no-limit-run "exit $RC: $OUT"

brun --rm --rootfs $R --memory 64m --memory-swap 96m --memory-reservation 32m --cpus 0.5 --cpu-shares 512 --pids-limit 50 \
  sh -c 'cd /sys/fs/cgroup && for f in memory.max memory.swap.max memory.low cpu.max cpu.weight pids.max; do echo "$f=$(cat $f)"; done; cat /proc/self/cgroup'
want="memory.max=67108864 memory.swap.max=33554432 memory.low=33554432 cpu.max=50000 100000 cpu.weight=20 pids.max=50"
got=$(echo "$OUT" | grep = | oneline)
if [ "$RC" = 0 ] && [ "${got% }" = "$want" ]; then pass limits-read-back "$got"; else fail limits-read-back "exit $RC, want [$want] got: $OUT"; fi
if [ "$RC" = 0 ] && echo "$OUT" | grep -qx '0::/'; then pass cgroup-namespace "/proc/self/cgroup is 0::/"; else fail cgroup-namespace "exit $RC: $OUT"; fi

brun --rm --rootfs $R --cpuset-cpus 1 --cpuset-mems 0 --blkio-weight 500 --memory-swap -1 -m 64m \
  sh -c 'cd /sys/fs/cgroup && echo "$(cat cpuset.cpus) $(cat cpuset.mems) $(cat io.weight | head -1) $(cat memory.swap.max)"; grep Cpus_allowed_list /proc/self/status'
echo "$OUT" | grep -qx "1 0 default 4950 max" && echo "$OUT" | grep -q "Cpus_allowed_list:.*1$" && pass cpuset-io-swap "$OUT" || fail cpuset-io-swap "exit $RC: $OUT"
brun --rm --rootfs $R --cpuset-cpus 0-5 true
[ "$RC" = 125 ] && echo "$OUT" | grep -q "requested 0-5, available: 0-1" && pass cpuset-unavailable "$OUT" || fail cpuset-unavailable "exit $RC: $OUT"

# A memory hog: tail keeps a line with no newline in memory, forever.
brun --name hog --rootfs $R --memory 32m --memory-swap 32m tail /dev/zero
if [ "$RC" = 137 ] && [ "$(echo "$OUT" | grep -c .)" = 1 ] && echo "$OUT" | grep -q "out of memory (its --memory limit)"; then pass oom-exit-137 "exit 137: $OUT"; else fail oom-exit-137 "exit $RC: $OUT"; fi
run bunker inspect hog
if echo "$OUT" | grep -q '"OOMKilled": *true' && echo "$OUT" | grep -q '"Memory": *33554432'; then pass oom-inspect "State.OOMKilled true, HostConfig.Memory 32MiB"; else fail oom-inspect "exit $RC: $(echo "$OUT" | grep -i -e oom -e error)"; fi
bunker rm -f hog >/dev/null 2>&1

# Forks stop at --pids-limit: the shell is one of the 10, so at most 9 sleeps start.
brun --rm --rootfs $R --pids-limit 10 sh -c 'i=0; while [ $i -lt 30 ]; do sleep 30 & i=$((i+1)); done; echo all-forked'
if [ "$RC" != 0 ] && echo "$OUT" | grep -q "can't fork" && ! echo "$OUT" | grep -q all-forked; then pass pids-limit "exit $RC: $OUT"; else fail pids-limit "exit $RC: $OUT"; fi

# --cpus 0.2: a busy loop for 3 s gets about 0.6 s of CPU and is throttled.
brun --rm --rootfs $R --cpus 0.2 sh -c 'a=$(cut -d" " -f1 /proc/uptime); timeout 3 sh -c "while :; do :; done"; b=$(cut -d" " -f1 /proc/uptime); echo "wall $a $b"; cat /sys/fs/cgroup/cpu.stat'
usage=$(echo "$OUT" | awk '$1=="usage_usec"{print $2}')
throttled=$(echo "$OUT" | awk '$1=="nr_throttled"{print $2}')
share=$(echo "$OUT" | awk -v u="$usage" '$1=="wall"{ if ($3 > $2) printf "%d", u / (($3 - $2) * 10000) }')
if [ "$RC" = 0 ] && [ "${throttled:-0}" -gt 0 ] && [ "${share:-0}" -ge 10 ] && [ "${share:-0}" -le 30 ]; then
  pass cpus-throttle "nr_throttled=$throttled usage=${share}% of one CPU"
else fail cpus-throttle "exit $RC throttled=$throttled share=$share: $OUT"; fi

# stats reads the live cgroup of a running container: one that read 4 MiB from a RAM disk and
# then spins at --cpus 0.5.
bunker run --network none --name busy --rootfs $R --memory 48m --pids-limit 20 --cpus 0.5 -v /dev/ram0:/dev/ram0 \
  sh -c 'dd if=/dev/ram0 of=/dev/null bs=64k count=64 iflag=direct 2>/dev/null; while :; do :; done' >/dev/null 2>&1 &
runner=$!
# until the container runs (its state says so and its cgroup holds its process)
i=0; while [ $i -lt 30 ]; do
  run bunker stats --no-stream --format json busy
  echo "$OUT" | grep -q '"PIDs":"1"' && break
  sleep 0.5; i=$((i+1))
done
cpu=$(echo "$OUT" | sed -n 's/.*"CPUPerc":"\([0-9]*\)\.[0-9]*%".*/\1/p')
if [ "$RC" = 0 ] && echo "$OUT" | grep -q '"MemUsage":"[^"]* / 48MiB"' && echo "$OUT" | grep -q '"PIDs":"1"' && echo "$OUT" | grep -q '"Name":"busy"' \
  && echo "$OUT" | grep -q '"BlockIO":"4.19MB / 0B"' && [ "${cpu:-0}" -ge 25 ] && [ "${cpu:-0}" -le 60 ]; then
  pass stats "$OUT"
else fail stats "exit $RC: $OUT"; fi
run bunker stats --no-stream busy
if [ "$RC" = 0 ] && echo "$OUT" | head -1 | grep -q "CONTAINER ID *NAME *CPU % *MEM USAGE / LIMIT *MEM % *NET I/O *BLOCK I/O *PIDS" && echo "$OUT" | grep -q "/ 48MiB"; then
  pass stats-table "$OUT"
else fail stats-table "exit $RC: $OUT"; fi

# kill -9 of bunker: the container dies with it (PDEATHSIG), the next bunker command removes its cgroup.
kill -9 $runner
wait $runner 2>/dev/null
i=0; while [ $i -lt 40 ] && [ "$(cat "$(bunker_cgroups | head -1)/cgroup.events" 2>/dev/null | grep populated)" = "populated 1" ]; do sleep 0.25; i=$((i+1)); done
left=$(bunker_cgroups)
brun --rm --rootfs $R true
after=$(bunker_cgroups)
if [ -n "$left" ] && [ -z "$after" ]; then pass cleanup-after-kill9 "removed $left"; else fail cleanup-after-kill9 "before: [$left] after: [$after] ($OUT)"; fi

# An image loaded from an archive, with a limit.
run bunker load -i /images/busybox
if [ "$RC" = 0 ]; then
  brun --rm --memory 40m busybox:1.38.0-musl cat /sys/fs/cgroup/memory.max
  [ "$RC" = 0 ] && [ "$OUT" = 41943040 ] && pass image-run-limit "memory.max=$OUT" || fail image-run-limit "exit $RC: $OUT"
else fail image-run-limit "load: exit $RC: $OUT"; fi

# Detached containers: the same limits, in a cgroup of their own, joined by exec.
run bunker run -d --network none --rootfs $R --memory 40m --pids-limit 15 sleep 60
did=$OUT
dcg=$VM_SERVICE/bunker-$did
if [ "$RC" = 0 ] && [ "$(cat $dcg/memory.max 2>&1)" = 41943040 ] && [ "$(cat $dcg/pids.max 2>&1)" = 15 ] && [ -n "$(cat $dcg/cgroup.procs 2>/dev/null)" ]; then
  pass detached-limits "$dcg"
else fail detached-limits "exit $RC: $OUT; cgroups: $(bunker_cgroups)"; fi
run bunker exec $did cat /proc/self/cgroup
[ "$RC" = 0 ] && [ "$OUT" = "0::/" ] && pass exec-joins-cgroup "$OUT" || fail exec-joins-cgroup "exit $RC: $OUT"
bunker rm -f $did >/dev/null 2>&1
run bunker run -d --network none --rootfs $R --memory 32m --memory-swap 32m tail /dev/zero
hid=$OUT
run bunker wait $hid
code=$OUT
run bunker inspect $hid
if [ "$code" = 137 ] && echo "$OUT" | grep -q '"OOMKilled": *true'; then pass detached-oom "wait: 137, OOMKilled true"; else fail detached-oom "wait: $code; $(echo "$OUT" | grep -i -e oom -e error)"; fi
bunker rm -f $hid >/dev/null 2>&1
# --restart: the cgroup stays between restarts (the monitor owns it) and each new process is cloned
# into it, so every run (the first and two restarts) sees the limits in its own cgroup namespace.
restart_with_limits phoenix
if [ "$state" = "exited 2 3" ] && [ "$logs" = "$RESTART_LIMITS_LOGS" ] && [ -z "$(bunker_cgroups)" ]; then
  pass detached-restart-limits "$state; $logs"
else fail detached-restart-limits "state: $state; logs: $logs; cgroups left: $(bunker_cgroups)"; fi
bunker rm -f phoenix >/dev/null 2>&1

# Concurrency with limits: 10 run -d at once, each in a cgroup of its own with its limit, then
# 10 rm -f at once leave no cgroup, monitor, container or state behind.
for i in 0 1 2 3 4 5 6 7 8 9; do
  bunker run -d --network none --name many$i --rootfs $R --memory 40m sleep 60 >/tmp/many$i.out 2>&1 &
done
wait
ids=$(cat /tmp/many*.out); limited=0
for id in $ids; do [ "$(cat $VM_SERVICE/bunker-$id/memory.max 2>&1)" = 41943040 ] && limited=$((limited+1)); done
for i in 0 1 2 3 4 5 6 7 8 9; do bunker rm -f many$i >/tmp/rm$i.out 2>&1 & done
wait
left=$(bunker_cgroups); ctrs=$(bunker ps -aq --filter name=many 2>&1); monitors=$(pidof bunker-monitor)
if [ "$limited" = 10 ] && [ -z "$left" ] && [ -z "$ctrs" ] && [ -z "$monitors" ]; then
  pass concurrent-limits "10 limited, then none left"
else fail concurrent-limits "monitors: $monitors; containers: $ctrs; rm: $(grep -v many /tmp/rm*.out); cgroups left: $left; limited: $limited of 10"; fi

# doctor names the case and the usable controllers
run bunker doctor
line=$(echo "$OUT" | grep -A1 cgroups | oneline)
echo "$line" | grep -q "^ok *cgroups.*delegated cgroup $VM_SERVICE; controllers: cpu cpuset io memory pids" && pass doctor-delegated "$line" || fail doctor-delegated "$OUT"

left=$(bunker_cgroups)
[ -z "$left" ] && pass cgroups-gone "no bunker-* under $VM_SERVICE" || fail cgroups-gone "left: $left"
