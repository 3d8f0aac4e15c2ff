// cgroup v2 resource limits. Knows nothing of the CLI; the runtime and the commands use this API:
//
//   parseResourceFlags({ memory: "512m", cpus: "0.5", ... }) → ResourceLimits (bad value → BunkerError)
//   parseCgroupMode(flag)                                  → "enabled" | "disabled" (--cgroups)
//   hasLimits(limits)
//   checkCgroupLimits(limits, mode)                        → refuses (125) before anything is created
//   createContainerCgroup(id, limits, mode)                → ContainerCgroup | undefined
//       before the clone: pass cg.dirFd to the spawn (clone3 CLONE_INTO_CGROUP, with CLONE_NEWCGROUP
//       the container's /sys/fs/cgroup is its own cgroup); after the clone and before releasing the
//       child: await cg.attach(pid[, monitorPid for run -d]); when the container has ended: cg.oomKilled() then await cg.remove().
//   cgroupPathOf(id)                                       → the live cgroup dir of a container (stats)
//   execCgroupOf(id)                                       → how exec's process joins it (itself, or attach(pid) by systemd)
//   cg.release(monitorPid)                                 → run -d: the monitor owns the cgroup from now on
//   dockerResources(limits)                                → HostConfig's Memory, NanoCpus, PidsLimit... for inspect
//   readStats(path), oomKilled(path)
//   cleanupStaleCgroups()                                  → removes cgroups left by a killed bunker
//   detectCgroupSetup(), cgroupReport()                    → for `doctor`
export { type CgroupHost, type CgroupLayout, type CgroupSetup, detectCgroupSetup, LIMIT_CONTROLLERS } from "./detect";
export {
  blkioWeightToIoWeight,
  type CgroupMode,
  cpuMax,
  cpuSharesToWeight,
  dockerResources,
  hasLimits,
  limitFlagNames,
  limitWrites,
  parseBytes,
  parseCgroupMode,
  parseResourceFlags,
  RESOURCE_FLAG_ALIASES,
  RESOURCE_FLAGS,
  type ResourceFlag,
  type ResourceLimits,
} from "./limits";
export { attachProcessesCommand, cgroupPathOf, checkCgroupLimits, cleanupStaleCgroups, type ContainerCgroup, createContainerCgroup, execCgroupOf, oomKilled, transientScopeCommand } from "./manager";
export { type CgroupReport, type CgroupReportLine, cgroupReport } from "./report";
export { type CgroupStats, readStats } from "./stats";
