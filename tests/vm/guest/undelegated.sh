# Checks run as uid 1001, whose cgroup is root's: nothing is delegated to it.
. /vmtests/lib.sh

brun --rm --rootfs $R --memory 64m true
if [ "$RC" = 125 ] && echo "$OUT" | grep -q "not delegated" && [ "$(echo "$OUT" | grep -c .)" = 1 ]; then
  pass undelegated-limit-refused "$OUT"
else fail undelegated-limit-refused "exit $RC: $OUT"; fi
brun --rm --rootfs $R true
[ "$RC" = 0 ] && pass undelegated-no-limit-runs "exit 0" || fail undelegated-no-limit-runs "exit $RC: $OUT"
brun --rm --rootfs $R --cgroups=disabled --memory 64m true
[ "$RC" = 0 ] && pass undelegated-cgroups-disabled "exit 0: $OUT" || fail undelegated-cgroups-disabled "exit $RC: $OUT"
run bunker doctor
line=$(echo "$OUT" | grep -A1 cgroups | oneline)
echo "$line" | grep -q "^warn *cgroups.*not delegated to uid 1001.*fix:" && pass doctor-undelegated "$line" || fail doctor-undelegated "$OUT"
