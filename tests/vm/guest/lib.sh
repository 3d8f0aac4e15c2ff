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
