// Unpacks one layer, streamed: blob bytes → sha256 → decompress (detected from the bytes) →
// sha256 (the diff_id) → node-tar's Parser (headers only) → records for bunker-helper apply,
// which writes them chrooted into the layer's diff/ inside bunker's user namespace.
// Names are checked here too, so a hostile layer fails with a message that names the entry
// (the chroot is what makes it safe; the checks are what make it clear).
import { once } from "node:events";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Parser, type ReadEntry } from "tar";
import { BunkerError } from "../errors";
import { log, noticeOnce } from "../log";
import { hostIdMapping, maxMappedId } from "../userns/idmap";
import { errnoText, type HelperProcess, REPLY_DONE, REPLY_ERROR, REPLY_WARN_XATTR, startHelper } from "../userns/helper-process";
import { decompressor, detectCompression, MAGIC_LENGTH } from "./compression";
import { encodeRecord, Op, STEP_NAMES } from "./records";
import { type Xattrs, XattrScanner } from "./xattrs";

export interface UnpackExpectation {
  /** sha256:… of the uncompressed tar (the config's diff_id); checked when given */
  diffId?: string;
  /** sha256:… of the bytes as they come (the manifest's layer digest); checked when given */
  blobDigest?: string;
  /** a short name for messages ("layer 1a2b3c4d5e6f") */
  label?: string;
}

export interface UnpackResult {
  diffId: string;
  blobDigest: string;
  blobSize: number;
  /** bytes of the uncompressed tar */
  size: number;
}

const END_OF_ARCHIVE = 1024; // two zero blocks

// Streaming a layer makes a lot of short-lived buffers, and JSC collects them lazily: left alone,
// garbage grows RSS by tens of MB per layer. A collection every 2 MB of tar streamed (across all
// layers; a few ms for a heap this small) keeps bunker's RSS flat whatever the image size: the
// garbage between two collections is part of the peak (4 MB cost ~4 MB more RSS).
const GC_EVERY_BYTES = 2 * 1024 * 1024;
let bytesSinceGc = 0;
function collectNow(n: number): void {
  bytesSinceGc += n;
  if (bytesSinceGc < GC_EVERY_BYTES) return;
  bytesSinceGc = 0;
  Bun.gc(true);
}

/** Counts and hashes the bytes it is shown, and keeps the last ones. */
class Tally {
  private hasher = new Bun.CryptoHasher("sha256");
  bytes = 0;
  // The last END_OF_ARCHIVE bytes, copied: a view would keep the whole last chunk alive.
  private tail = Buffer.alloc(END_OF_ARCHIVE);
  add(chunk: Uint8Array): void {
    this.hasher.update(chunk);
    this.bytes += chunk.length;
    const keep = Math.min(chunk.length, END_OF_ARCHIVE);
    this.tail.copyWithin(0, keep);
    this.tail.set(chunk.subarray(chunk.length - keep), END_OF_ARCHIVE - keep);
  }
  /** Whether the stream ended like a complete tar (a truncated zstd frame just stops, without an error). */
  endsLikeTar(): boolean {
    return this.bytes >= END_OF_ARCHIVE && this.tail.every((b) => b === 0);
  }
  private final: string | undefined;
  /** The sha256 of everything shown (call once the stream has ended). */
  digest(): string {
    this.final ??= `sha256:${this.hasher.digest("hex")}`;
    return this.final;
  }
}

/** Wraps what the source itself threw, so the caller gets it back as it was (a download error, say). */
class SourceFailure extends Error {}

async function nextOf(it: AsyncIterator<Uint8Array>): Promise<IteratorResult<Uint8Array>> {
  try {
    return await it.next();
  } catch (e) {
    throw new SourceFailure("source failed", { cause: e });
  }
}

/**
 * Feeds the source's bytes to a decompressor (chosen from the first bytes) piped into `into`, one
 * chunk at a time: the next chunk is read only once the decompressor has taken in the last one.
 * A chain of streams would queue a chunk (up to 512 KB from fetch) at every stage of every layer.
 */
async function feed(source: AsyncIterable<Uint8Array>, into: Writable, blob: Tally, onProgress?: (bytes: number) => void): Promise<void> {
  const it = source[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let headLength = 0;
  while (headLength < MAGIC_LENGTH) {
    const r = await nextOf(it);
    if (r.done) break;
    head.push(r.value);
    headLength += r.value.length;
  }
  const decompress = decompressor(detectCompression(Buffer.concat(head, Math.min(headLength, MAGIC_LENGTH))));
  const decoded = pipeline(decompress, into);
  decoded.catch(() => {}); // awaited below; a failure meanwhile must not count as unhandled
  const write = async (chunk: Uint8Array): Promise<void> => {
    if (decompress.destroyed) return decoded; // the tar side failed: its error, not a write error
    blob.add(chunk);
    onProgress?.(chunk.length);
    if (!decompress.write(chunk)) await Promise.race([once(decompress, "drain"), decoded]);
  };
  try {
    for (const chunk of head) await write(chunk);
    head.length = 0;
    for (;;) {
      const r = await nextOf(it);
      if (r.done) break;
      await write(r.value);
    }
  } catch (e) {
    decompress.destroy();
    await decoded.catch(() => {});
    throw e;
  }
  decompress.end();
  await decoded;
}

/** "usr/bin/x" from a tar name; rejects absolute names and ".." components. */
export function cleanEntryName(raw: string, label: string, what = "entry"): string {
  if (raw.startsWith("/")) throw new BunkerError(`${label}: ${what} "${raw}" has an absolute name; refusing to unpack it`);
  const parts = raw.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new BunkerError(`${label}: ${what} "${raw}" has a ".." component; refusing to unpack it`);
  if (parts.some((p) => p.includes("\0"))) throw new BunkerError(`${label}: ${what} "${raw}" has a NUL byte in its name`);
  return parts.length ? parts.join("/") : ".";
}

function dirnameOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : path.slice(0, i);
}

function basenameOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

let deviceWarned = false;

const WRITE_BATCH_BYTES = 64 * 1024;
// File data this large goes to the helper as it is: batching it would copy it once more, and
// each copy is garbage that lingers in RSS until the next collection.
const DIRECT_WRITE_BYTES = 16 * 1024;

/** Turns tar entries into helper records, with backpressure from the helper's stdin. */
class RecordSink {
  private dirTimes: Buffer[] = [];
  private readonly mapping = hostIdMapping();
  private readonly maxUid = maxMappedId(this.mapping.uids);
  private readonly maxGid = maxMappedId(this.mapping.gids);
  error: unknown;

  constructor(
    private helper: HelperProcess,
    private label: string,
    private xattrs: XattrScanner,
  ) {
    if (this.mapping.kind === "single")
      noticeOnce("single-idmap", "no subordinate id range for your user (/etc/subuid, /etc/subgid, newuidmap): every unpacked file belongs to you");
  }

  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** Queues bytes for the helper, written in batches: a pipe write per small record costs more than the record. */
  private write(buf: Buffer): boolean {
    if (buf.length >= DIRECT_WRITE_BYTES) {
      const flushed = this.flush();
      return this.helper.stdin.write(buf) && flushed;
    }
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    return this.pendingBytes < WRITE_BATCH_BYTES || this.flush();
  }

  private flush(): boolean {
    if (this.pending.length === 0) return true;
    const batch = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return this.helper.stdin.write(batch);
  }

  private paused = new Set<ReadEntry>();
  private awaitingDrain = false;

  /** Pauses an entry until the helper's stdin drains (one listener for all: small files end while paused). */
  private throttle(entry: ReadEntry): void {
    entry.pause();
    this.paused.add(entry);
    if (this.awaitingDrain) return;
    this.awaitingDrain = true;
    this.helper.stdin.once("drain", () => {
      this.awaitingDrain = false;
      const entries = [...this.paused];
      this.paused.clear();
      for (const e of entries) e.resume();
    });
  }


  private ids(entry: ReadEntry, path: string): { uid: number; gid: number } {
    if (this.mapping.kind === "single") return { uid: 0, gid: 0 };
    const uid = entry.uid ?? 0;
    const gid = entry.gid ?? 0;
    if (uid > this.maxUid || gid > this.maxGid)
      throw new BunkerError(
        `${this.label}: "${path}" belongs to ${uid}:${gid}, beyond the ${this.maxUid} ids mapped for your user; widen your range in /etc/subuid and /etc/subgid`,
      );
    return { uid, gid };
  }

  onEntry(entry: ReadEntry): void {
    const xattrs = this.xattrs.take(entry.path);
    try {
      this.entry(entry, xattrs);
    } catch (e) {
      this.error ??= e;
      entry.resume();
    }
  }

  private entry(entry: ReadEntry, xattrs: Xattrs): void {
    const path = cleanEntryName(entry.path, this.label);
    const base = basenameOf(path);
    const times = { mtime: entry.mtime, atime: entry.atime };
    if (base.startsWith(".wh.")) {
      entry.resume();
      if (base === ".wh..wh..opq") return void this.write(encodeRecord(Op.Opaque, dirnameOf(path)));
      if (base.startsWith(".wh..wh.")) return; // aufs bookkeeping (.wh..wh.plnk and so on)
      const name = base.slice(4);
      if (name === "" || name === "." || name === "..")
        throw new BunkerError(`${this.label}: whiteout "${entry.path}" names "${name}"; refusing to unpack it`);
      const dir = dirnameOf(path);
      return void this.write(encodeRecord(Op.Whiteout, dir === "." ? name : `${dir}/${name}`));
    }
    const meta = { ...times, ...this.ids(entry, path), mode: entry.mode ?? 0o644, xattrs };
    switch (entry.type) {
      case "Directory":
      case "GNUDumpDir":
        entry.resume();
        this.write(encodeRecord(Op.Dir, path, meta));
        this.dirTimes.push(encodeRecord(Op.Times, path, times));
        return;
      case "File":
      case "OldFile":
      case "ContiguousFile": {
        this.write(encodeRecord(Op.File, path, { ...meta, dataLength: entry.size ?? 0 }));
        entry.on("data", (chunk: Buffer) => {
          if (!this.write(chunk)) this.throttle(entry);
        });
        return;
      }
      case "SymbolicLink":
        entry.resume();
        // The target is stored as written: the chroot resolves it inside the layer, like the container will.
        this.write(encodeRecord(Op.Symlink, path, { ...meta, link: entry.linkpath ?? "" }));
        return;
      case "Link": {
        entry.resume();
        const target = cleanEntryName(entry.linkpath ?? "", this.label, `hard link "${entry.path}" →`);
        this.write(encodeRecord(Op.Hardlink, path, { link: target }));
        return;
      }
      case "FIFO":
        entry.resume();
        this.write(encodeRecord(Op.Fifo, path, meta));
        return;
      case "CharacterDevice":
      case "BlockDevice":
        entry.resume();
        if (!deviceWarned) {
          deviceWarned = true;
          log.warn(`${this.label}: skipping device nodes (like /${path}): they can't be created without privilege`);
        }
        return;
      default:
        entry.resume();
        log.debug(`${this.label}: skipping ${entry.type} entry ${path}`);
    }
  }

  /** Directory times go last: writing entries into a directory changes its mtime. */
  finish(): void {
    for (let i = this.dirTimes.length - 1; i >= 0; i--) this.write(this.dirTimes[i]);
    this.write(encodeRecord(Op.End, "."));
    this.flush();
  }
}

/** Collects the helper's replies: the first error fails the layer, xattr refusals warn once. */
async function collectReplies(helper: HelperProcess, label: string): Promise<{ error?: string; done: boolean }> {
  let error: string | undefined;
  let warnedXattr = false;
  for (;;) {
    const r = await helper.next();
    if (!r) return { error, done: false };
    if (r.kind === REPLY_DONE) return { error, done: true };
    if (r.kind === REPLY_WARN_XATTR) {
      if (!warnedXattr) log.warn(`${label}: some extended attributes could not be set (${errnoText(r.errno)} on /${r.path}); skipping them`);
      warnedXattr = true;
    } else if (r.kind === REPLY_ERROR) {
      error ??= `${label}: cannot ${STEP_NAMES[r.step] ?? "write"} ${r.path ? `/${r.path.replace(/^\.$/, "")}` : "the layer"}: ${errnoText(r.errno)}`;
    }
  }
}

/**
 * Unpacks a layer stream into diffDir (which must exist and be empty) and verifies its digests.
 * On any failure it throws, and diffDir holds a partial tree the caller must remove.
 */
export async function unpackLayer(
  source: AsyncIterable<Uint8Array>,
  diffDir: string,
  expect: UnpackExpectation = {},
  onProgress?: (bytes: number) => void,
): Promise<UnpackResult> {
  const label = expect.label ?? "layer";
  const helper = await startHelper("apply", diffDir);
  const replies = collectReplies(helper, label);
  const xattrs = new XattrScanner();
  const sink = new RecordSink(helper, label, xattrs);
  const blob = new Tally();
  const tar = new Tally();
  // Not strict: an all-zero tar (an empty layer, as some builders write) is "unrecognized" to
  // node-tar. Damage it reports is an error once the stream is known to hold more than zeros.
  const parser = new Parser();
  let damage: string | undefined;
  let onlyZeros = true;
  parser.on("warn", (code: string, message: string | Error) => {
    if (/^TAR_(BAD_ARCHIVE|ENTRY_INVALID|ABORT)$/.test(code)) damage ??= `${code}: ${message instanceof Error ? message.message : message}`;
  });
  parser.on("entry", (entry: ReadEntry) => sink.onEntry(entry));
  const parserDone = new Promise<void>((resolve, reject) => {
    parser.on("end", resolve);
    parser.on("error", reject);
  });
  const tarSink = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (sink.error) return done(sink.error as Error);
      tar.add(chunk);
      collectNow(chunk.length);
      if (onlyZeros && chunk.some((b) => b !== 0)) onlyZeros = false;
      xattrs.write(chunk); // before the parser: its entries look their xattrs up here
      if (parser.write(chunk)) done();
      else parser.once("drain", () => done());
    },
    final(done) {
      parser.end();
      parserDone.then(() => done(), done);
    },
  });
  try {
    await feed(source, tarSink, blob, onProgress);
    if (sink.error) throw sink.error;
    // Bytes that aren't what the manifest promised explain any other trouble: say so first.
    checkDigests();
    if (damage && !onlyZeros) throw new BunkerError(`${label}: the layer is not a valid tar stream (${damage})`);
    sink.finish();
    helper.stdin.end();
  } catch (e) {
    helper.kill();
    await helper.exited;
    if (e instanceof SourceFailure) throw e.cause;
    if (e instanceof BunkerError) throw e;
    throw new BunkerError(`${label}: the layer is not a readable tar stream: ${describe(e)}`);
  }
  const { error, done } = await replies;
  const code = await helper.exited;
  if (error) throw new BunkerError(error);
  if (!done || code !== 0) throw new BunkerError(`${label}: unpacking failed (helper exit ${code}${helper.stderr ? `: ${helper.stderr}` : ""})`);
  return { diffId: tar.digest(), blobDigest: blob.digest(), blobSize: blob.bytes, size: tar.bytes };

  function checkDigests(): void {
    const blobDigest = blob.digest();
    if (expect.blobDigest && expect.blobDigest !== blobDigest) throw new BunkerError(`${label}: digest mismatch: expected ${expect.blobDigest}, got ${blobDigest}`);
    const diffId = tar.digest();
    if (expect.diffId && expect.diffId !== diffId) {
      const why = tar.endsLikeTar() ? "" : " (the stream is truncated: it stops before the tar's end)";
      throw new BunkerError(`${label}: uncompressed digest mismatch${why}: the config says ${expect.diffId}, the layer is ${diffId}`);
    }
  }
}

function describe(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (/unexpected end|premature|truncat/i.test(msg)) return `truncated stream (${msg})`;
  return msg;
}
