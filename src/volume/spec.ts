// -v / --mount / --tmpfs, parsed into MountSpecs the runtime carries out. The grammar and the
// error messages are docker's (moby volume/mounts/linux_parser.go, cli/opts/mount.go) so that
// scripts written for docker behave the same. One difference, on purpose: `-v /missing:/x` is an
// error, as in podman, instead of docker's daemon creating /missing as root. A rootless tool that
// silently makes host directories hides typos.
import { realpathSync, statSync } from "../fs";
import { normalize } from "../posix-path";
import type { MountPoint } from "../container/records";
import { BunkerError, errnoCode } from "../errors";
import { anonymousVolumeName, checkVolumeName, VOLUME_NAME_RE, volumeDataDir } from "./store";

export interface MountSpec {
  kind: "bind" | "tmpfs";
  /** absolute host path, symlinks resolved (for a volume: its _data dir) */
  source?: string;
  /** absolute container path, normalized: no "..", no trailing "/" */
  target: string;
  readonly: boolean;
  /**
   * mount option words, for kernelMountOptions(): ["rbind"|"norbind", "rprivate"] for binds;
   * ["noexec","nosuid","nodev", ...user words, "size=65536k"] for tmpfs (flag words AND fs data)
   */
  options: string[];
  /** a named or anonymous volume: create it (prepareVolumes) before mounting */
  volumeName?: string;
  /** made up for `-v /ctr`: removed together with its container by `run --rm` */
  anonymous?: boolean;
}

export interface MountFlags {
  volumes?: string[];
  mounts?: string[];
  tmpfs?: string[];
}

/** docker's default for every tmpfs; the user's words come after and win ("exec" undoes noexec). */
const TMPFS_DEFAULTS = ["noexec", "nosuid", "nodev"];
const TMPFS_FLAG_WORDS = new Set([
  "ro", "rw", "exec", "noexec", "suid", "nosuid", "dev", "nodev", "sync", "async", "dirsync",
  "atime", "noatime", "diratime", "nodiratime", "relatime", "norelatime", "strictatime", "nostrictatime",
]);
const TMPFS_DATA_KEYS = new Set(["size", "mode", "nr_inodes", "nr_blocks", "uid", "gid", "huge", "mpol"]);
const PROPAGATIONS = new Set(["private", "rprivate", "shared", "rshared", "slave", "rslave"]);
/** -v modes docker accepts that mean nothing here (SELinux labels, macOS consistency) */
const NO_OP_MODES = new Set(["z", "Z", "nocopy", "consistent", "cached", "delegated"]);

/** Every -v, --mount and --tmpfs of one run, in that order; duplicate targets are an error. */
export function parseMountFlags(f: MountFlags): MountSpec[] {
  const specs = [
    ...(f.volumes ?? []).map(parseVolumeFlag),
    ...(f.mounts ?? []).map(parseMountFlag),
    ...(f.tmpfs ?? []).map(parseTmpfsFlag),
  ];
  const seen = new Set<string>();
  for (const s of specs) {
    if (seen.has(s.target)) throw new BunkerError(`Duplicate mount point: ${s.target}`);
    seen.add(s.target);
  }
  return specs;
}

/**
 * docker's --volumes-from CONTAINER[:ro|:rw]: that container's volumes and binds (not its tmpfs)
 * at the same places, in its mode unless ro or rw says otherwise. `own` (this run's -v, --mount and
 * --tmpfs) win where they mount at the same place. A volume mounted this way is the other
 * container's: it is never this one's anonymous volume to remove.
 */
export function withVolumesFrom(own: MountSpec[], from: { container: string; mode?: "ro" | "rw"; mounts: MountPoint[] }[]): MountSpec[] {
  const taken = new Set(own.map((m) => m.target));
  const inherited: MountSpec[] = [];
  for (const { container, mode, mounts } of from)
    for (const m of mounts) {
      if (m.Type === "tmpfs" || taken.has(m.Destination)) continue;
      taken.add(m.Destination);
      const readonly = mode === undefined ? !m.RW : mode === "ro";
      if (m.Type === "volume" && m.Name) inherited.push(volumeSpec(m.Name, m.Destination, readonly));
      else {
        try {
          statSync(m.Source);
        } catch {
          throw new BunkerError(`--volumes-from ${container}: its bind source ${m.Source} is gone`);
        }
        inherited.push({ kind: "bind", source: m.Source, target: m.Destination, readonly, options: ["rbind", "rprivate"] });
      }
    }
  return [...own, ...inherited];
}

/** --volumes-from's value: the container and an optional :ro or :rw. */
export function parseVolumesFrom(spec: string): { container: string; mode?: "ro" | "rw" } {
  const colon = spec.lastIndexOf(":");
  const suffix = colon > 0 ? spec.slice(colon + 1) : undefined;
  if (suffix === undefined) return { container: spec };
  if (suffix !== "ro" && suffix !== "rw") throw new BunkerError(`invalid --volumes-from "${spec}": use CONTAINER, CONTAINER:ro or CONTAINER:rw`);
  return { container: spec.slice(0, colon), mode: suffix };
}

/** An absolute, normalized container path; "/" itself can't be a mount target. */
function containerPath(path: string, what: () => string): string {
  if (!path.startsWith("/")) throw new BunkerError(`${what()}invalid mount path: '${path}' mount path must be absolute`);
  const normal = normalize(path).replace(/\/+$/, "");
  if (normal === "") throw new BunkerError(`${what()}invalid specification: destination can't be '/'`);
  return normal;
}

/** The real path of a bind source, which must exist. */
function hostPath(path: string, what: () => string): string {
  if (!path.startsWith("/")) throw new BunkerError(`${what()}invalid mount path: '${path}' mount path must be absolute`);
  try {
    statSync(path);
    return realpathSync(path);
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR")
      throw new BunkerError(`${what()}bind source path does not exist: ${path}`);
    throw new BunkerError(`${what()}cannot use bind source ${path}: ${(e as Error).message}`);
  }
}

function volumeSpec(name: string | undefined, target: string, readonly: boolean): MountSpec {
  const volumeName = name ?? anonymousVolumeName();
  checkVolumeName(volumeName);
  return {
    kind: "bind",
    source: volumeDataDir(volumeName),
    target,
    readonly,
    options: ["rbind", "rprivate"],
    volumeName,
    ...(name === undefined ? { anonymous: true } : {}),
  };
}

/** The words of `-v [SOURCE:]TARGET[:MODE]`, unchecked (inspect reads a run's -v back with it). */
export function splitVolumeFlag(spec: string): { source?: string; target: string; mode: string } {
  const parts = spec.split(":");
  if (parts.length === 1) return { target: parts[0], mode: "" };
  if (parts.length === 2 && !parts[1].startsWith("/") && parts[0].startsWith("/") && isModeList(parts[1]))
    return { target: parts[0], mode: parts[1] }; // "-v /ctr:ro": an anonymous volume with a mode
  if (parts.length === 2) return { source: parts[0], target: parts[1], mode: "" };
  if (parts.length === 3) return { source: parts[0], target: parts[1], mode: parts[2] };
  throw new BunkerError(`invalid volume specification: '${spec}'`);
}

/** The propagation a -v MODE asks for (docker's default: rprivate). */
export function volumeFlagPropagation(mode: string): string {
  return mode.split(",").findLast((m) => PROPAGATIONS.has(m)) ?? "rprivate";
}

/** `-v [SOURCE:]TARGET[:MODE]`: SOURCE absolute = bind, a name = named volume, none = anonymous. */
export function parseVolumeFlag(spec: string): MountSpec {
  const what = () => `invalid volume specification: '${spec}': `;
  const { source, target, mode } = splitVolumeFlag(spec);
  if (source === "" || target === "") throw new BunkerError(`invalid volume specification: '${spec}'`);
  const { readonly, propagation } = parseMode(mode, spec);
  const tgt = containerPath(target, what);
  if (source === undefined) return volumeSpec(undefined, tgt, readonly);
  if (source.startsWith("/"))
    return { kind: "bind", source: hostPath(source, what), target: tgt, readonly, options: ["rbind", propagation] };
  if (!VOLUME_NAME_RE.test(source)) checkVolumeName(source); // "./dir" → docker's "use absolute path" message
  return volumeSpec(source, tgt, readonly);
}

function isModeList(mode: string): boolean {
  return mode.split(",").every((m) => m === "ro" || m === "rw" || PROPAGATIONS.has(m) || NO_OP_MODES.has(m));
}

function parseMode(mode: string, spec: string): { readonly: boolean; propagation: string } {
  let readonly = false;
  let rwGiven = 0;
  if (mode === "") return { readonly, propagation: "rprivate" };
  for (const m of mode.split(",")) {
    if (m === "ro" || m === "rw") {
      readonly = m === "ro";
      rwGiven++;
    } else if (!PROPAGATIONS.has(m) && !NO_OP_MODES.has(m)) throw new BunkerError(`invalid mode: ${m} (in '${spec}'); use ro, rw, z, Z or a propagation`);
  }
  if (rwGiven > 1) throw new BunkerError(`invalid mode: ${mode} (in '${spec}'): give ro or rw once`);
  return { readonly, propagation: volumeFlagPropagation(mode) };
}

function boolValue(key: string, value: string | undefined, what: () => string): boolean {
  if (value === undefined) return true;
  const v = value.toLowerCase();
  if (["1", "true"].includes(v)) return true;
  if (["0", "false"].includes(v)) return false;
  throw new BunkerError(`${what()}invalid value for ${key}: ${value}`);
}

/** docker's RAMInBytes: "64m", "1.5g", "65536" (bytes), 1024-based. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(text.trim());
  if (!m) return undefined;
  const power = " kmgtp".indexOf(m[2].toLowerCase() || " ");
  return Math.floor(Number(m[1]) * 1024 ** power);
}

/** `--mount type=bind|volume|tmpfs,source=,target=,readonly,...` (docker's CSV fields). */
export function parseMountFlag(spec: string): MountSpec {
  const what = () => `invalid argument "${spec}" for "--mount" flag: `;
  let type = "volume"; // docker's default type
  let source: string | undefined;
  let target: string | undefined;
  let readonly = false;
  let propagation = "rprivate";
  let recursive = true;
  const tmpfsData: string[] = [];
  for (const field of spec.split(",")) {
    if (field === "") continue;
    const eq = field.indexOf("=");
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? undefined : field.slice(eq + 1);
    const need = (): string => {
      if (value === undefined || value === "") throw new BunkerError(`${what()}invalid field '${field}' must be a key=value pair`);
      return value;
    };
    switch (key) {
      case "type":
        type = need();
        break;
      case "source":
      case "src":
        source = need();
        break;
      case "target":
      case "destination":
      case "dst":
        target = need();
        break;
      case "readonly":
      case "ro":
        readonly = boolValue(key, value, what);
        break;
      case "bind-propagation":
        if (!PROPAGATIONS.has(need())) throw new BunkerError(`${what()}invalid bind-propagation: ${value}`);
        propagation = need();
        break;
      case "bind-nonrecursive":
        recursive = !boolValue(key, value, what);
        break;
      case "volume-nocopy":
      case "consistency":
        boolValue("volume-nocopy", key === "volume-nocopy" ? value : undefined, what);
        break;
      case "volume-driver":
        if (need() !== "local") throw new BunkerError(`${what()}volume driver "${value}" is not supported: bunker has the "local" driver only`);
        break;
      case "tmpfs-size": {
        const bytes = parseSize(need());
        if (bytes === undefined || bytes <= 0) throw new BunkerError(`${what()}invalid tmpfs-size: ${value}`);
        tmpfsData.push(`size=${bytes % 1024 === 0 ? `${bytes / 1024}k` : bytes}`);
        break;
      }
      case "tmpfs-mode":
        if (!/^[0-7]{1,4}$/.test(need())) throw new BunkerError(`${what()}invalid tmpfs-mode: ${value} (octal, like 1777)`);
        tmpfsData.push(`mode=${value}`);
        break;
      default:
        throw new BunkerError(`${what()}unexpected key '${key}' in '${field}'`);
    }
  }
  if (!["bind", "volume", "tmpfs"].includes(type))
    throw new BunkerError(`${what()}invalid value for 'type': unknown mount type "${type}" (bind, volume or tmpfs)`);
  const typed = () => `${what()}invalid mount config for type "${type}": `;
  if (target === undefined) throw new BunkerError(`${typed()}field Target must not be empty`);
  const tgt = containerPath(target, typed);
  if (tmpfsData.length > 0 && type !== "tmpfs") throw new BunkerError(`${typed()}tmpfs options are for type=tmpfs`);
  switch (type) {
    case "bind":
      if (source === undefined) throw new BunkerError(`${typed()}field Source must not be empty`);
      return { kind: "bind", source: hostPath(source, typed), target: tgt, readonly, options: [recursive ? "rbind" : "norbind", propagation] };
    case "volume":
      if (source !== undefined && source.startsWith("/"))
        throw new BunkerError(`${typed()}'${source}' is a path: use type=bind for host directories`);
      return volumeSpec(source, tgt, readonly);
    default:
      if (source !== undefined) throw new BunkerError(`${typed()}field Source must not be specified`);
      return { kind: "tmpfs", target: tgt, readonly, options: [...TMPFS_DEFAULTS, ...(readonly ? ["ro"] : []), ...tmpfsData] };
  }
}

/** `--tmpfs /path[:opt,opt...]` with mount(8) words and tmpfs's size=/mode=/... */
export function parseTmpfsFlag(spec: string): MountSpec {
  const colon = spec.indexOf(":");
  const path = colon < 0 ? spec : spec.slice(0, colon);
  const opts = colon < 0 ? [] : spec.slice(colon + 1).split(",").filter((o) => o !== "");
  const what = () => `invalid tmpfs specification: '${spec}': `;
  const target = containerPath(path, what);
  let readonly = false;
  for (const o of opts) {
    const eq = o.indexOf("=");
    if (eq < 0 ? !TMPFS_FLAG_WORDS.has(o) : !TMPFS_DATA_KEYS.has(o.slice(0, eq)))
      throw new BunkerError(`${what()}unknown option "${o}"`);
    if (o === "ro" || o === "rw") readonly = o === "ro";
  }
  return { kind: "tmpfs", target, readonly, options: [...TMPFS_DEFAULTS, ...opts] };
}
