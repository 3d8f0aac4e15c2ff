// Docker-shaped views of stored images: the rows of `bunker images` and `bunker image inspect`.
import { BunkerError } from "../errors";
import { familiarTag, type ImageRecord, listImageRecords, readImageConfig, readImageRecord, readRepositories, resolveImageId, tagsOf } from "../store/images";
import type { ImageConfig } from "./manifest";
import { familiarName, parseReference } from "./reference";

export interface ImageSummary {
  Id: string;
  Repository: string;
  Tag: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: string;
  Size: number;
}

function familiarDigest(d: string): string {
  try {
    const ref = parseReference(d);
    return `${familiarName(ref)}@${ref.digest}`;
  } catch {
    return d;
  }
}

/** The repository (and tag, when given) `images REPOSITORY[:TAG]` keeps. */
function rowFilter(filter: string | undefined): (row: ImageSummary) => boolean {
  if (!filter) return () => true;
  const ref = parseReference(filter);
  const repo = familiarName(ref);
  const tagGiven = /:[^/]+$/.test(filter.split("@")[0]);
  return (row) => row.Repository === repo && (!tagGiven || row.Tag === ref.tag);
}

/** docker's reference glob: `*` and `?` stop at "/", `[...]` is a class; the whole name must match. */
function globRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) throw new BunkerError(`invalid filter 'reference=${pattern}': unclosed [`);
      const body = pattern.slice(i + 1, end).replace(/\\/g, "\\\\");
      re += `[${body}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

const FILTER_KEYS = ["dangling", "reference", "before", "since", "label"];

/**
 * docker images --filter: dangling=true|false, reference=GLOB (on NAME or NAME:TAG), before= and
 * since=IMAGE (created earlier / later), label=KEY[=VALUE]. Values of one key OR, keys AND.
 */
function summaryFilters(filters: string[]): (row: ImageSummary, labels: Record<string, string>) => boolean {
  const byKey = new Map<string, ((row: ImageSummary, labels: Record<string, string>) => boolean)[]>();
  for (const f of filters) {
    const eq = f.indexOf("=");
    const [key, value] = eq < 0 ? [f, ""] : [f.slice(0, eq), f.slice(eq + 1)];
    if (!FILTER_KEYS.includes(key)) throw new BunkerError(`invalid filter '${f}': use ${FILTER_KEYS.map((k) => `${k}=`).join(", ")}`);
    let test: (row: ImageSummary, labels: Record<string, string>) => boolean;
    switch (key) {
      case "dangling": {
        if (!["true", "false", "1", "0"].includes(value)) throw new BunkerError(`invalid filter '${f}': dangling is true or false`);
        const want = value === "true" || value === "1";
        test = (row) => (row.RepoTags.length === 0) === want;
        break;
      }
      case "reference": {
        const re = globRegExp(value);
        const tagGiven = /:[^/]*$/.test(value);
        test = (row) => row.Tag !== "<none>" && re.test(tagGiven ? `${row.Repository}:${row.Tag}` : row.Repository);
        break;
      }
      case "before":
      case "since": {
        const id = resolveImageId(value);
        if (!id) throw new BunkerError(`invalid filter '${f}': no such image: ${value}`);
        const rec = readImageRecord(id) as ImageRecord;
        const pivot = readImageConfig(id).created ?? rec.addedAt;
        test = key === "before" ? (row) => row.Created < pivot : (row) => row.Created > pivot;
        break;
      }
      default: {
        const leq = value.indexOf("=");
        const [lk, lv] = leq < 0 ? [value, undefined] : [value.slice(0, leq), value.slice(leq + 1)];
        test = (_row, labels) => lk in labels && (lv === undefined || labels[lk] === lv);
      }
    }
    byKey.set(key, [...(byKey.get(key) ?? []), test]);
  }
  return (row, labels) => [...byKey.values()].every((tests) => tests.some((t) => t(row, labels)));
}

/**
 * One row per tag (and one "<none>" row for an untagged image), newest first, as docker lists
 * them; `repository` is `images REPOSITORY[:TAG]`, `filters` are --filter's values.
 */
export function imageSummaries(repository?: string, filters: string[] = []): ImageSummary[] {
  const keep = summaryFilters(filters);
  const repos = readRepositories();
  const rows: ImageSummary[] = [];
  const records = listImageRecords()
    .map((rec) => {
      const config = readImageConfig(rec.id);
      return { rec, config, created: config.created ?? rec.addedAt };
    })
    .sort((a, b) => b.created.localeCompare(a.created) || a.rec.id.localeCompare(b.rec.id));
  for (const { rec, config, created } of records) {
    const tags = tagsOf(rec.id, repos);
    const base = { Id: rec.id, RepoTags: tags.map(familiarTag), RepoDigests: rec.repoDigests.map(familiarDigest), Created: created, Size: rec.size };
    const labels = config.config?.Labels ?? {};
    const own: ImageSummary[] = [];
    if (tags.length === 0) own.push({ ...base, Repository: "<none>", Tag: "<none>" });
    for (const t of tags) {
      const ref = parseReference(t);
      own.push({ ...base, Repository: familiarName(ref), Tag: ref.tag ?? "latest" });
    }
    rows.push(...own.filter((row) => keep(row, labels)));
  }
  return rows.filter(rowFilter(repository));
}

/** docker image inspect's object for one image, or undefined when the store has no such image. */
export function inspectImage(nameOrId: string): Record<string, unknown> | undefined {
  const id = resolveImageId(nameOrId);
  if (!id) return undefined;
  const rec = readImageRecord(id) as ImageRecord;
  const config: ImageConfig = readImageConfig(id);
  return {
    Id: id,
    RepoTags: tagsOf(id).map(familiarTag),
    RepoDigests: rec.repoDigests.map(familiarDigest),
    Created: config.created ?? "",
    Author: config.author ?? "",
    Architecture: config.architecture,
    Variant: config.variant,
    Os: config.os,
    Config: config.config ?? {},
    RootFS: { Type: config.rootfs.type, Layers: config.rootfs.diff_ids },
    Size: rec.size,
    Metadata: { LastTagTime: rec.addedAt },
  };
}
