// What a container is made of, as the runtime needs it: everything decided, nothing left to parse.
// `run` (src/runtime/run.ts) and `sandbox` build one of these and hand it to startContainer().
import type { IdMapping } from "../userns/idmap";
import type { CgroupMode, ResourceLimits } from "../cgroup";
import type { NetworkPlan } from "../net";
import type { MountSpec } from "../volume";
import type { DeviceSpec } from "./device";
import type { Ulimit } from "./ulimit";

/** docker's /dev/shm: 64 MiB unless --shm-size */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

export type RootfsSpec =
  /** overlayfs over the image's layers: lowerDirs top → bottom, mounted inside the user namespace */
  | { kind: "overlay"; lowerDirs: string[]; upperDir: string; workDir: string; mountPoint: string }
  /** the same, mounted by fuse-overlayfs in the container's namespaces (overlay not allowed) */
  | { kind: "fuse-overlay"; lowerDirs: string[]; upperDir: string; workDir: string; mountPoint: string }
  /** an exploded directory used in place (--rootfs) */
  | { kind: "bind"; dir: string }
  /** a copy of the layers (lowerDirs top → bottom) in dir, made when neither overlay works */
  | { kind: "copy"; lowerDirs: string[]; dir: string }
  /** an empty tmpfs that the mounts fill (sandbox) */
  | { kind: "tmpfs"; mountPoint: string };

export interface ContainerSpec {
  id: string;
  rootfs: RootfsSpec;
  readOnly: boolean;
  hostname: string;
  /** argv; args[0] is searched in the PATH of env unless it holds a "/" */
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  /** supplementary groups; ignored when the mapping can't allow setgroups (single id) */
  groups: number[];
  idMapping: IdMapping;
  caps: string[];
  noNewPrivs: boolean;
  /** the default seccomp filter (src/runtime/seccomp.ts) unless false: --privileged, seccomp=unconfined */
  seccomp?: boolean;
  /** --privileged: no masked or read-only /proc paths */
  privileged: boolean;
  /** -v/--mount/--tmpfs, parsed by src/volume */
  mounts: MountSpec[];
  /** the content of /etc/hosts, /etc/hostname, /etc/resolv.conf (bind-mounted over the image's) */
  etcFiles: { hosts?: string; hostname?: string; resolvConf?: string };
  /** a new network namespace (none, pasta, slirp4netns) or the host's */
  newNetNs: boolean;
  /** what src/net attaches to the namespace once the child exists */
  network: NetworkPlan;
  tty: boolean;
  /** keep stdin open (-i); otherwise the container reads /dev/null */
  stdin: boolean;
  /** run bunker-helper init as PID 1 */
  init: boolean;
  /** bytes of the /dev/shm tmpfs (--shm-size); docker's 64 MiB when unset */
  shmSize?: number;
  /** cgroup limits (src/cgroup) and whether a cgroup is wanted at all (--cgroups) */
  resources: ResourceLimits;
  cgroupMode: CgroupMode;
  // The three below are optional: records written before they existed are started and exec'd into
  // with the spec they saved.
  /** --ulimit: the rlimits of the container's process and of every exec into it */
  ulimits?: Ulimit[];
  /** --device: host device nodes bound into the container */
  devices?: DeviceSpec[];
  /** --sysctl: name → value, written into the container's /proc/sys */
  sysctls?: Record<string, string>;
}
