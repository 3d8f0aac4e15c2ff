// A writer for the kernel's initramfs format (cpio "newc"). Written here rather than calling
// cpio(1) so that every entry is owned by root with exactly the mode we choose, whoever builds it
// (the suite runs as an unprivileged user), and big files are streamed, never held in memory.
import { closeSync, fstatSync, openSync, readSync, writeSync } from "node:fs";

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

export class CpioWriter {
  private readonly fd: number;
  private ino = 1;
  private offset = 0;

  constructor(path: string) {
    this.fd = openSync(path, "w", 0o644);
  }

  dir(name: string, mode = 0o755, uid = 0, gid = 0): void {
    this.entry(name, S_IFDIR | mode, 0, uid, gid);
  }

  symlink(name: string, target: string): void {
    const data = Buffer.from(target);
    this.entry(name, S_IFLNK | 0o777, data.length, 0, 0);
    this.write(data);
    this.pad();
  }

  file(name: string, content: string | Uint8Array, mode = 0o644, uid = 0, gid = 0): void {
    const data = typeof content === "string" ? Buffer.from(content) : content;
    this.entry(name, S_IFREG | mode, data.length, uid, gid);
    this.write(data);
    this.pad();
  }

  /** Copies a host file in, streaming it. */
  copy(name: string, hostPath: string, mode?: number, uid = 0, gid = 0): void {
    const src = openSync(hostPath, "r");
    try {
      const st = fstatSync(src);
      this.entry(name, S_IFREG | (mode ?? st.mode & 0o7777), st.size, uid, gid);
      const buf = Buffer.allocUnsafe(1 << 20);
      let left = st.size;
      while (left > 0) {
        const n = readSync(src, buf, 0, Math.min(buf.length, left), null);
        if (n <= 0) throw new Error(`short read from ${hostPath}`);
        this.write(buf.subarray(0, n));
        left -= n;
      }
      this.pad();
    } finally {
      closeSync(src);
    }
  }

  /** Writes the trailer and closes the archive. */
  close(): void {
    this.entry("TRAILER!!!", 0, 0, 0, 0, 0);
    closeSync(this.fd);
  }

  private entry(name: string, mode: number, size: number, uid: number, gid: number, nlink = mode & S_IFDIR ? 2 : 1): void {
    const nameBytes = Buffer.from(`${name.replace(/^\/+/, "")}\0`);
    const hex = (n: number) => n.toString(16).padStart(8, "0");
    const fields = [this.ino++, mode, uid, gid, nlink, 0, size, 0, 0, 0, 0, nameBytes.length, 0];
    this.write(Buffer.from(`070701${fields.map(hex).join("")}`));
    this.write(nameBytes);
    this.pad();
  }

  private write(data: Uint8Array): void {
    let off = 0;
    while (off < data.length) off += writeSync(this.fd, data, off, data.length - off);
    this.offset += data.length;
  }

  private pad(): void {
    const rem = this.offset % 4;
    if (rem) this.write(Buffer.alloc(4 - rem));
  }
}
