// Extended attributes from a layer's PAX headers (SCHILY.xattr.NAME=VALUE), read from the raw
// tar bytes. node-tar's Parser parses PAX headers but drops these keys, and what it hands out of
// them is text: binary values such as security.capability (file capabilities: ping, newuidmap...)
// would come out mangled. So a small scanner walks the same bytes just before the Parser sees
// them, finds each PAX header, and files its xattrs under the name of the entry it describes.
// Keyed by name (not by position), a scanner that lost its way can only miss xattrs, never give
// them to another file.

const BLOCK = 512;
const PREFIX = "SCHILY.xattr.";

export type Xattrs = [string, Buffer][];

function field(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? raw.length : nul).toString();
}

/** A tar number field: octal text, or base-256 when the top bit is set. */
function number(block: Buffer, start: number, length: number): number {
  const raw = block.subarray(start, start + length);
  if (raw[0] & 0x80) {
    let v = raw[0] & 0x7f;
    for (let i = 1; i < raw.length; i++) v = v * 256 + raw[i];
    return v;
  }
  const text = field(block, start, length).trim();
  return text ? Number.parseInt(text, 8) : 0;
}

/** The records of a PAX body ("LEN key=value\n"), binary-safe. */
export function paxRecords(body: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let i = 0;
  while (i < body.length) {
    const space = body.indexOf(0x20, i);
    const len = space < 0 ? Number.NaN : Number(body.subarray(i, space).toString());
    if (!Number.isInteger(len) || len <= space - i + 1 || i + len > body.length) break;
    const rec = body.subarray(space + 1, i + len - 1); // without the trailing newline
    const eq = rec.indexOf(0x3d);
    if (eq > 0) out.set(rec.subarray(0, eq).toString(), Buffer.from(rec.subarray(eq + 1)));
    i += len;
  }
  return out;
}


export class XattrScanner {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** bytes of the current header's body still to come (and to keep, for PAX and long names) */
  private bodyLeft = 0;
  private padLeft = 0;
  private keep: Buffer[] | undefined;
  private bodyType = "";
  private paxPath: string | undefined;
  private paxXattrs: Xattrs = [];
  private longName: string | undefined;
  private byName = new Map<string, Xattrs[]>();

  /** Feeds the next uncompressed bytes of the layer. */
  write(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, chunk.length - off);
        this.keep?.push(chunk.subarray(off, off + n));
        this.bodyLeft -= n;
        off += n;
        if (this.bodyLeft === 0) this.endBody();
        continue;
      }
      if (this.padLeft > 0) {
        const n = Math.min(this.padLeft, chunk.length - off);
        this.padLeft -= n;
        off += n;
        continue;
      }
      const n = Math.min(BLOCK - this.pendingBytes, chunk.length - off);
      this.pending.push(chunk.subarray(off, off + n));
      this.pendingBytes += n;
      off += n;
      if (this.pendingBytes === BLOCK) {
        const header = Buffer.concat(this.pending, BLOCK);
        this.pending = [];
        this.pendingBytes = 0;
        this.header(header);
      }
    }
  }

  private header(h: Buffer): void {
    if (h.every((b) => b === 0)) return;
    const type = String.fromCharCode(h[156]);
    // As node-tar reads it: every type's size counts data blocks, except a directory's.
    const size = type === "5" ? 0 : number(h, 124, 12);
    this.bodyType = type;
    this.keep = type === "x" || type === "L" ? [] : undefined;
    if (type !== "x" && type !== "g" && type !== "L" && type !== "K") this.entry(h);
    this.bodyLeft = size;
    this.padLeft = (BLOCK - (size % BLOCK)) % BLOCK;
    if (size === 0) this.endBody();
  }

  private endBody(): void {
    const body = this.keep ? Buffer.concat(this.keep) : undefined;
    this.keep = undefined;
    if (!body) return;
    if (this.bodyType === "L") this.longName = field(body, 0, body.length);
    if (this.bodyType === "x") {
      const recs = paxRecords(body);
      this.paxPath = recs.get("path")?.toString();
      this.paxXattrs = [...recs].filter(([k]) => k.startsWith(PREFIX)).map(([k, v]) => [k.slice(PREFIX.length), v] as [string, Buffer]);
    }
  }

  private entry(h: Buffer): void {
    // The name as node-tar builds it (header.js): a ustar prefix of 155 bytes, or 130 when the
    // GNU atime/ctime fields follow it.
    const ustar = h.subarray(257, 265).toString() === "ustar\u000000";
    const prefix = ustar ? field(h, 345, h[475] !== 0 ? 155 : 130) : "";
    const plain = prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100);
    const name = this.paxPath ?? this.longName ?? plain;
    if (this.paxXattrs.length) {
      const list = this.byName.get(name) ?? [];
      list.push(this.paxXattrs);
      this.byName.set(name, list);
    }
    this.paxPath = undefined;
    this.longName = undefined;
    this.paxXattrs = [];
  }

  /** The xattrs of the next entry named name (as node-tar names it), in stream order. */
  take(name: string): Xattrs {
    const list = this.byName.get(name);
    const first = list?.shift();
    if (list && list.length === 0) this.byName.delete(name);
    return first ?? [];
  }
}
