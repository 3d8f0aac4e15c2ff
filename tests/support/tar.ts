// Builds tar streams entry by entry, including the hostile ones no well-behaved tool writes
// ("../x", "/abs", symlinks out, links out), for crafted layers and archives in tests.
import { Header } from "tar";

export interface TarEntry {
  path: string;
  type?: "File" | "Directory" | "SymbolicLink" | "Link" | "CharacterDevice" | "FIFO";
  data?: string | Uint8Array;
  linkpath?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  /** SCHILY.xattr.* PAX records (binary values allowed, like security.capability's) */
  xattrs?: Record<string, string | Uint8Array>;
}

function block(h: Record<string, unknown>): Buffer {
  const buf = Buffer.alloc(512);
  new Header(h as ConstructorParameters<typeof Header>[0]).encode(buf, 0);
  return buf;
}

function pad(n: number): Buffer {
  return Buffer.alloc((512 - (n % 512)) % 512);
}

function paxBody(records: Record<string, string | Uint8Array>): Buffer {
  const out: Buffer[] = [];
  for (const [k, v] of Object.entries(records)) {
    const rest = Buffer.concat([Buffer.from(` ${k}=`), Buffer.from(v), Buffer.from("\n")]);
    let len = rest.length + 1;
    while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
    out.push(Buffer.from(String(len)), rest);
  }
  return Buffer.concat(out);
}

export function makeTar(entries: TarEntry[]): Uint8Array<ArrayBuffer> {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    const type = e.type ?? "File";
    const pax: Record<string, string | Uint8Array> = {};
    for (const [k, v] of Object.entries(e.xattrs ?? {})) pax[`SCHILY.xattr.${k}`] = v;
    if (Buffer.byteLength(e.path) > 99) pax.path = e.path;
    if (Object.keys(pax).length) {
      const body = paxBody(pax);
      parts.push(block({ path: "PaxHeader", type: "ExtendedHeader", size: body.length, mode: 0o644, mtime: new Date(0) }), body, pad(body.length));
    }
    parts.push(
      block({
        path: Buffer.byteLength(e.path) > 99 ? e.path.slice(-99) : e.path,
        type,
        size: type === "File" ? data.length : 0,
        mode: e.mode ?? (type === "Directory" ? 0o755 : 0o644),
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
        mtime: e.mtime ?? new Date("2024-01-01T00:00:00Z"),
        linkpath: e.linkpath,
        devmaj: 0,
        devmin: 0,
      }),
    );
    if (type === "File") parts.push(data, pad(data.length));
  }
  parts.push(Buffer.alloc(1024));
  return new Uint8Array(Buffer.concat(parts));
}
