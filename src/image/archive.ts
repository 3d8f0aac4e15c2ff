// load and save: docker-save archives (the legacy layout and Engine v25+'s, which also carries an
// OCI layout) and OCI image layouts, as a tar (optionally compressed) or a directory.
// An archive tar is untrusted like a layer: its members are written under numbered names in a
// private tmp dir and looked up by their cleaned names, so no name in it can point anywhere else.
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Header, Parser, type ReadEntry } from "tar";
import { BunkerError } from "../errors";
import { blobCompression, ensureLayer, removeStaleWork } from "../store/ingest";
import { putBlob, readBlob, readLayer } from "../store/layers";
import { ensureStoreDirs, store, tmpPath } from "../store/layout";
import { commitImage, familiarTag, type ImageRecord, readImageRecord, resolveImageId, tagsOf } from "../store/images";
import { decompressor, detectFileCompression } from "../unpack/compression";
import { cleanEntryName } from "../unpack/layer";
import { type Descriptor, hostPlatform, type ImageIndex, layerMediaType, parseImageConfig, parseManifestDocument, selectManifest } from "./manifest";
import { formatReference, parseReference } from "./reference";

const MAX_JSON = 16 * 1024 * 1024;

/** A read-only view of an archive's files by name. */
interface ArchiveFiles {
  path(name: string): string | undefined;
  cleanup(): void;
}

function dirFiles(dir: string): ArchiveFiles {
  return {
    path(name) {
      const clean = cleanEntryName(name, "archive", "file");
      const p = join(dir, clean);
      return existsSync(p) && statSync(p).isFile() ? p : undefined;
    },
    cleanup() {},
  };
}

async function tarFiles(file: string): Promise<ArchiveFiles> {
  ensureStoreDirs();
  const work = tmpPath("load");
  mkdirSync(work, { recursive: true, mode: 0o700 });
  const files = new Map<string, string>();
  const links = new Map<string, string>();
  let n = 0;
  const parser = new Parser({ strict: true });
  const writes: Promise<void>[] = [];
  let failure: unknown;
  parser.on("entry", (entry: ReadEntry) => {
    try {
      const name = cleanEntryName(entry.path, "archive", "member");
      if (entry.type === "File" || entry.type === "OldFile" || entry.type === "ContiguousFile") {
        const dest = join(work, String(n++));
        files.set(name, dest);
        const out = createWriteStream(dest, { mode: 0o600 });
        writes.push(new Promise((res, rej) => out.on("finish", res).on("error", rej)));
        entry.pipe(out);
        return;
      }
      if (entry.type === "SymbolicLink" || entry.type === "Link") {
        // Old docker archives link identical layer.tar files to each other.
        const base = entry.type === "Link" ? "" : name.includes("/") ? name.slice(0, name.lastIndexOf("/") + 1) : "";
        links.set(name, `${base}${entry.linkpath ?? ""}`);
      }
    } catch (e) {
      failure ??= e;
    }
    entry.resume();
  });
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      if (parser.write(chunk)) done();
      else parser.once("drain", () => done());
    },
    final(done) {
      parser.once("end", () => done());
      parser.end();
    },
  });
  parser.on("error", (e) => sink.destroy(e));
  const cleanup = () => rmSync(work, { recursive: true, force: true });
  try {
    await pipeline(createReadStream(file), decompressor(detectFileCompression(file)), sink);
    await Promise.all(writes);
  } catch (e) {
    cleanup();
    if (e instanceof BunkerError) throw e;
    throw new BunkerError(`${file} is not a readable image archive: ${(e as Error).message}`);
  }
  if (failure) {
    cleanup();
    throw failure;
  }
  return {
    path(name) {
      let clean = cleanEntryName(name, "archive", "file");
      for (let hops = 0; hops < 16; hops++) {
        const f = files.get(clean);
        if (f) return f;
        const l = links.get(clean);
        if (l === undefined) return undefined;
        // Links between members ("../<id>/layer.tar" in old docker archives) resolve inside the archive only.
        const target = posix.normalize(l);
        if (target.startsWith("../") || target === ".." || target.startsWith("/")) return undefined;
        clean = cleanEntryName(target, "archive", "link");
      }
      return undefined;
    },
    cleanup,
  };
}

function readJsonFile<T>(files: ArchiveFiles, name: string): T {
  const p = files.path(name);
  if (!p) throw new BunkerError(`the archive has no ${name}`);
  if (statSync(p).size > MAX_JSON) throw new BunkerError(`the archive's ${name} is too large`);
  try {
    return JSON.parse(readFileSync(p, "utf8")) as T;
  } catch {
    throw new BunkerError(`the archive's ${name} is not JSON`);
  }
}

async function sha256File(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return `sha256:${h.digest("hex")}`;
}

interface LoadItem {
  configName: string;
  layerNames: string[];
  layerMediaTypes?: string[];
  tags: string[];
  manifest?: { digest: string; bytes: Buffer };
}

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

function blobName(digest: string): string {
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new BunkerError(`the archive names an unsupported digest "${digest}"`);
  return `blobs/sha256/${digest.slice(7)}`;
}

/** The image name an OCI layout gives a manifest, when it gives a full reference (not just a tag). */
function layoutName(d: Descriptor): string[] {
  const name = d.annotations?.["io.containerd.image.name"] ?? d.annotations?.["org.opencontainers.image.ref.name"];
  if (!name || !/[/:]/.test(name)) return [];
  try {
    return [formatReference(parseReference(name))];
  } catch {
    return [];
  }
}

function readBlobFile(files: ArchiveFiles, d: Descriptor, what: string): Buffer {
  return readFileSync(files.path(blobName(d.digest)) ?? fail(`the archive lacks the ${what} ${d.digest}`));
}

/**
 * The images of an OCI index: every entry of the layout's own index.json, and from a nested
 * index (one multi-platform image) the host's platform only.
 */
function ociItems(files: ArchiveFiles, index: ImageIndex, inherited: string[], nested: boolean): LoadItem[] {
  const entries = nested && index.manifests.length > 1 ? [selectManifest(index, hostPlatform())] : index.manifests;
  const items: LoadItem[] = [];
  for (const d of entries) {
    const tags = [...inherited, ...layoutName(d)];
    const bytes = readBlobFile(files, d, "manifest");
    const doc = parseManifestDocument(bytes, d.mediaType);
    if (doc.kind === "index") {
      items.push(...ociItems(files, doc, tags, true));
      continue;
    }
    items.push({
      configName: blobName(doc.config.digest),
      layerNames: doc.layers.map((l) => blobName(l.digest)),
      layerMediaTypes: doc.layers.map((l) => l.mediaType),
      tags,
      manifest: { digest: d.digest, bytes },
    });
  }
  return items;
}

function fail(message: string): never {
  throw new BunkerError(message);
}

/** Stores one image from an archive; returns its id. */
async function loadItem(files: ArchiveFiles, item: LoadItem): Promise<string> {
  const configPath = files.path(item.configName) ?? fail(`the archive lacks the image config ${item.configName}`);
  const configBytes = readFileSync(configPath);
  const id = `sha256:${new Bun.CryptoHasher("sha256").update(configBytes).digest("hex")}`;
  const config = parseImageConfig(configBytes);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== item.layerNames.length)
    throw new BunkerError(`the image config ${item.configName} lists ${diffIds.length} layers but the archive has ${item.layerNames.length}`);
  const layers = await Promise.all(
    item.layerNames.map(async (name, i) => {
      const path = files.path(name) ?? fail(`the archive lacks the layer ${name}`);
      const blobDigest = await sha256File(path);
      const rec = await ensureLayer({ diffId: diffIds[i], blobDigest, label: `layer ${diffIds[i].slice(7, 19)}` }, { kind: "file", path });
      // The archive's own media type when it has one and the store kept this very blob; else what
      // the stored blob's bytes say (old archives name none; a layer may come from another blob).
      const named = item.layerMediaTypes?.[i];
      const mediaType = named && rec.blobDigest === blobDigest ? named : layerMediaType(blobCompression(rec.blobDigest), named ?? "application/vnd.docker.image.rootfs.diff.tar");
      return { diffId: diffIds[i], blobDigest: rec.blobDigest, mediaType, size: rec.size };
    }),
  );
  putBlob(id, configBytes);
  if (item.manifest) putBlob(item.manifest.digest, item.manifest.bytes);
  const record: ImageRecord = {
    id,
    manifestDigest: item.manifest?.digest,
    repoDigests: [],
    layers,
    size: layers.reduce((s, l) => s + l.size, 0),
    addedAt: new Date().toISOString(),
  };
  await commitImage(record, item.tags);
  return id;
}

/** bunker load: returns docker's lines ("Loaded image: busybox:latest" / "Loaded image ID: sha256:…"). */
export async function loadArchive(input: string): Promise<string[]> {
  await removeStaleWork();
  if (input === "-") {
    if (process.stdin.isTTY) throw new BunkerError("load needs an archive: use -i FILE or pipe one on stdin");
    const spooled = await spoolStdin();
    try {
      return await loadArchive(spooled.path);
    } finally {
      spooled.cleanup();
    }
  }
  if (!existsSync(input)) throw new BunkerError(`${input}: no such file or directory`);
  const files = statSync(input).isDirectory() ? dirFiles(input) : await tarFiles(input);
  try {
    let items: LoadItem[];
    if (files.path("manifest.json")) {
      const entries = readJsonFile<DockerManifestEntry[]>(files, "manifest.json");
      if (!Array.isArray(entries)) throw new BunkerError("the archive's manifest.json is not a list of images");
      items = entries.map((e) => ({
        configName: e.Config,
        layerNames: e.Layers,
        tags: (e.RepoTags ?? []).map((t) => formatReference(parseReference(t))),
      }));
    } else if (files.path("index.json")) {
      const index = parseManifestDocument(readFileSync(files.path("index.json")!), "application/vnd.oci.image.index.v1+json");
      if (index.kind !== "index") throw new BunkerError(`${input}: index.json is not an OCI index`);
      items = ociItems(files, index, [], false);
    } else {
      throw new BunkerError(`${input} is neither a docker-save archive (manifest.json) nor an OCI layout (index.json)`);
    }
    if (items.length === 0) throw new BunkerError(`${input} holds no image`);
    const lines: string[] = [];
    for (const item of items) {
      const id = await loadItem(files, item);
      if (item.tags.length) for (const t of item.tags) lines.push(`Loaded image: ${familiarTag(t)}`);
      else lines.push(`Loaded image ID: ${id}`);
    }
    return lines;
  } finally {
    files.cleanup();
  }
}

// ---- save ----

function tarHeader(path: string, size: number, type: "File" | "Directory" = "File"): Buffer {
  const h = new Header({ path, mode: type === "File" ? 0o644 : 0o755, size, mtime: new Date(0), type, uid: 0, gid: 0 });
  const buf = Buffer.alloc(512);
  h.encode(buf, 0);
  return buf;
}

function padding(size: number): Buffer {
  return Buffer.alloc((512 - (size % 512)) % 512);
}

/**
 * Writes a docker-save archive (the legacy layout, which docker, podman and skopeo all read):
 * <config-hex>.json, <diffid-hex>/layer.tar (uncompressed) and manifest.json.
 */
export async function saveArchive(names: string[], out: Writable): Promise<void> {
  const images = names.map((n) => {
    const id = resolveImageId(n);
    if (!id) throw new BunkerError(`no such image: ${n}`);
    let tags = tagsOf(id).map(familiarTag);
    try {
      const ref = parseReference(n);
      const asked = familiarTag(formatReference(ref));
      if (!ref.digest && tags.includes(asked)) tags = [asked];
    } catch {
      // saved by id: all of its tags go along
    }
    return { id, rec: readImageRecord(id)!, tags };
  });
  async function* archive(): AsyncGenerator<Buffer> {
    const manifest: DockerManifestEntry[] = [];
    const written = new Set<string>();
    for (const { id, rec, tags } of images) {
      const config = readBlob(id) ?? fail(`image ${id.slice(7, 19)} is damaged: its config is missing`);
      const configName = `${id.slice(7)}.json`;
      if (!written.has(configName)) {
        written.add(configName);
        yield tarHeader(configName, config.length);
        yield config;
        yield padding(config.length);
      }
      const layerNames: string[] = [];
      for (const l of rec.layers) {
        const name = `${l.diffId.slice(7)}/layer.tar`;
        layerNames.push(name);
        if (written.has(name)) continue;
        written.add(name);
        const layer = readLayer(l.diffId) ?? fail(`image ${id.slice(7, 19)} is damaged: layer ${l.diffId.slice(7, 19)} is missing`);
        const blob = store.blob(layer.blobDigest);
        yield tarHeader(`${l.diffId.slice(7)}/`, 0, "Directory");
        yield tarHeader(name, layer.size);
        // The layer is in the store already, so a pull would reuse it: only removing it helps.
        const damaged = (why: string) =>
          new BunkerError(`layer ${l.diffId.slice(7, 19)} in the store is damaged (${why}); remove the image with bunker rmi, then pull or load it again`);
        let sent = 0;
        const hasher = new Bun.CryptoHasher("sha256");
        const plain = createReadStream(blob).pipe(decompressor(detectFileCompression(blob)));
        const chunks = (plain as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
        for (;;) {
          let next: IteratorResult<Buffer>;
          try {
            next = await chunks.next();
          } catch (e) {
            throw damaged((e as Error).message); // a cut or garbled blob: zlib's error, not the output's
          }
          if (next.done) break;
          sent += next.value.length;
          hasher.update(next.value);
          yield next.value;
        }
        if (sent !== layer.size || `sha256:${hasher.digest("hex")}` !== l.diffId) throw damaged("its blob no longer matches");
        yield padding(layer.size);
      }
      manifest.push({ Config: configName, RepoTags: tags, Layers: layerNames });
    }
    const m = Buffer.from(JSON.stringify(manifest));
    yield tarHeader("manifest.json", m.length);
    yield m;
    yield padding(m.length);
    yield Buffer.alloc(1024);
  }
  await pipeline(Readable.from(archive()), out);
}

/** bunker save: to a file through a temp name (a failed save never leaves a truncated archive), or to stdout. */
export async function saveImages(names: string[], output?: string): Promise<void> {
  if (names.length === 0) throw new BunkerError("save needs at least one image");
  if (!output) {
    if (process.stdout.isTTY) throw new BunkerError("refusing to write an archive to a terminal: use -o FILE or redirect stdout");
    return saveArchive(names, process.stdout);
  }
  const tmp = `${output}.tmp-${process.pid}`;
  try {
    await saveArchive(names, createWriteStream(tmp, { mode: 0o644 }));
    renameSync(tmp, output);
  } catch (e) {
    rmSync(tmp, { force: true });
    if (e instanceof BunkerError) throw e;
    throw new BunkerError(`cannot write ${output}: ${(e as Error).message}`);
  }
}

/** `load` without -i reads the archive from stdin: it is spooled to tmp/ since members are read out of order. */
export async function spoolStdin(): Promise<{ path: string; cleanup: () => void }> {
  ensureStoreDirs();
  const path = tmpPath("stdin.tar");
  await pipeline(process.stdin, createWriteStream(path, { mode: 0o600 }));
  return { path, cleanup: () => rmSync(path, { force: true }) };
}
