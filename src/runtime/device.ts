// --device HOST[:CONTAINER][:PERMS], docker's grammar, done rootless as podman does: a process
// that can't mknod binds the host's device node onto a file in the container's /dev instead
// (mountSteps). No device cgroup is involved: the node's own mode decides who may open it.
import { BunkerError } from "../errors";
import { statSync } from "../fs";
import { normalize } from "../posix-path";

export interface DeviceSpec {
  /** the host's node, as given */
  source: string;
  /** where it appears in the container (default: the same path) */
  target: string;
  /** docker's cgroup permissions, kept for inspect: always both r and w (see parseDevice) */
  permissions: string;
}

/** docker's validDeviceMode: one to three of r, w, m, none twice. */
function isPermissions(s: string): boolean {
  return /^[rwm]{1,3}$/.test(s) && new Set(s).size === s.length;
}

/**
 * docker's parseDevice: HOST, HOST:CONTAINER, HOST:PERMS or HOST:CONTAINER:PERMS. The host path
 * must be a character or block device: a directory of them is refused rather than walked.
 */
export function parseDevice(flag: string): DeviceSpec {
  const bad = (why: string) => new BunkerError(`invalid --device "${flag}": ${why}`);
  const parts = flag.split(":");
  if (parts.length > 3 || parts[0] === "") throw bad("use HOST[:CONTAINER][:PERMS], e.g. /dev/fuse or /dev/sdb:/dev/xvdb:rw");
  const [source] = parts;
  let target = source;
  let permissions = "rwm";
  if (parts.length === 3) [target, permissions] = [parts[1], parts[2]];
  else if (parts.length === 2) {
    if (isPermissions(parts[1])) permissions = parts[1];
    else target = parts[1];
  }
  if (!isPermissions(permissions)) throw bad(`bad permissions "${permissions}": use a combination of r, w and m`);
  // A read-only bind of a device node still opens for writing (the kernel checks only the node's
  // mode for devices), and rootless there is no device cgroup to refuse it: a promise bunker can't
  // keep is refused. m (mknod) is moot: nothing can mknod a device in a user namespace.
  if (!permissions.includes("r") || !permissions.includes("w"))
    throw bad(`rootless bunker can't keep a container from ${permissions.includes("r") ? "writing to" : "reading"} a device: give rw (or rwm), or leave the device out`);
  if (!source.startsWith("/")) throw bad(`the host path ${source} must be absolute`);
  if (!target.startsWith("/")) throw bad(`the container path ${target} must be absolute`);
  // no trailing "/": the node is bound onto a file of that name
  target = normalize(target).replace(/(.)\/+$/, "$1");
  if (target === "/") throw bad("the container path can't be /");
  let st;
  try {
    st = statSync(source, { throwIfNoEntry: false });
  } catch (e) {
    throw bad(`cannot look at ${source}: ${(e as Error).message}`);
  }
  if (!st) throw bad(`${source} does not exist on this host`);
  if (st.isDirectory()) throw bad(`${source} is a directory: give each device in it with its own --device`);
  if (!st.isCharacterDevice() && !st.isBlockDevice()) throw bad(`${source} is not a character or block device`);
  return { source, target, permissions };
}

export function parseDevices(flags: string[]): DeviceSpec[] {
  return flags.map(parseDevice);
}

/** HostConfig.Devices as docker's inspect shows them. */
export function dockerDevices(devices: DeviceSpec[]): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string }[] {
  return devices.map((d) => ({ PathOnHost: d.source, PathInContainer: d.target, CgroupPermissions: d.permissions }));
}
