// mount(2) option words ("ro", "nosuid", "size=64m"...) → the flags and data string the kernel
// wants. The runtime turns a MountSpec into spawn steps with this; the words themselves are what
// docker users type after --tmpfs or -v, so unknown flag words stay in the data string for the
// filesystem to judge (tmpfs accepts size=, mode=, nr_inodes=, uid=, gid=).

export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  REC: 0x4000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  STRICTATIME: 0x1000000,
} as const;

/** Words that set a flag, and words that clear one (the defaults docker's users can switch off). */
const SET: Record<string, number> = {
  ro: MS.RDONLY,
  nosuid: MS.NOSUID,
  nodev: MS.NODEV,
  noexec: MS.NOEXEC,
  sync: MS.SYNCHRONOUS,
  dirsync: MS.DIRSYNC,
  nosymfollow: MS.NOSYMFOLLOW,
  noatime: MS.NOATIME,
  nodiratime: MS.NODIRATIME,
  bind: MS.BIND,
  rbind: MS.BIND | MS.REC,
  norbind: MS.BIND, // podman's word for a non-recursive bind
  relatime: MS.RELATIME,
  strictatime: MS.STRICTATIME,
};
const CLEAR: Record<string, number> = {
  rw: MS.RDONLY,
  suid: MS.NOSUID,
  dev: MS.NODEV,
  exec: MS.NOEXEC,
  async: MS.SYNCHRONOUS,
  atime: MS.NOATIME,
  diratime: MS.NODIRATIME,
  norelatime: MS.RELATIME,
  nostrictatime: MS.STRICTATIME,
};
/** Propagation is a separate mount(2) call (MS_PRIVATE etc. cannot be combined with others). */
const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};
/** SELinux relabel requests: meaningless without SELinux, accepted as docker accepts them. */
const IGNORED = new Set(["z", "Z", "nocopy", "copy"]);

export interface KernelMountOptions {
  /** MS_* flags for mount(2) */
  flags: number;
  /** the filesystem-specific data string ("size=65536k,mode=1777"), "" when none */
  data: string;
  /** MS_PRIVATE/MS_SLAVE/... (with MS_REC for the r-forms) for a second mount(2) call; 0: leave it */
  propagation: number;
}

/** Splits option words into mount(2) flags, fs data and propagation. Later words win ("ro,rw" = rw). */
export function kernelMountOptions(options: string[]): KernelMountOptions {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  for (const word of options) {
    if (word === "") continue;
    if (word in SET) flags |= SET[word];
    else if (word in CLEAR) flags &= ~CLEAR[word];
    else if (word in PROPAGATION) propagation = PROPAGATION[word];
    else if (!IGNORED.has(word)) data.push(word);
  }
  return { flags, data: data.join(","), propagation };
}
