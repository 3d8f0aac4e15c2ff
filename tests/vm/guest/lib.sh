# Shared by the guest checks: result lines the host-side test parses, one per check.
#   VMTEST <name> PASS|FAIL <detail on one line>
R=/rootfs/busybox
oneline() { tr '\n' ' ' | cut -c1-400; }
pass() { echo "VMTEST $1 PASS $(echo "$2" | oneline)"; }
fail() { echo "VMTEST $1 FAIL $(echo "$2" | oneline)"; }
# run CMD...: output (stdout+stderr) in $OUT, exit code in $RC; never hangs the VM
run() {
  OUT=$(timeout 120 "$@" 2>&1)
  RC=$?
}
# Every run says --network none: the guest has no network, and the checks read exact output.
brun() { run bunker run --network none "$@"; }
bunker_cgroups() { ls -d "$VM_SERVICE"/bunker-* 2>/dev/null; }

# restart_with_limits NAME: a detached container with --memory 40m --pids-limit 15 that prints its
# cgroup and limits (as seen inside) and fails, restarted twice (on-failure:2). Sets $state
# ("Status RestartCount ExitCode" once the policy gave up) and $logs (its three runs' lines on one
# line), to compare with $RESTART_LIMITS_LOGS.
RESTART_LIMITS_LOGS="0::/ 41943040 15 0::/ 41943040 15 0::/ 41943040 15 "
restart_with_limits() {
  run bunker run -d --network none --name "$1" --rootfs $R --restart on-failure:2 --memory 40m --pids-limit 15 \
    sh -c 'echo $(cat /proc/self/cgroup /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max); exit 3'
  i=0; until [ "$(bunker inspect --format '{{.State.Status}} {{.RestartCount}}' "$1" 2>&1)" = "exited 2" ] || [ $i -ge 240 ]; do sleep 0.25; i=$((i+1)); done
  state=$(bunker inspect --format '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}' "$1" 2>&1)
  run bunker logs "$1"
  logs=$(echo "$OUT" | oneline)
}
