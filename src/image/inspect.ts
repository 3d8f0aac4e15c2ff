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

/** One row per tag (and one "<none>" row for an untagged image), newest first, as docker lists them. */
export function imageSummaries(filter?: string): ImageSummary[] {
  const repos = readRepositories();
  const rows: ImageSummary[] = [];
  const records = listImageRecords()
    .map((rec) => ({ rec, created: readImageConfig(rec.id).created ?? rec.addedAt }))
    .sort((a, b) => b.created.localeCompare(a.created) || a.rec.id.localeCompare(b.rec.id));
  for (const { rec, created } of records) {
    const tags = tagsOf(rec.id, repos);
    const base = { Id: rec.id, RepoTags: tags.map(familiarTag), RepoDigests: rec.repoDigests.map(familiarDigest), Created: created, Size: rec.size };
    if (tags.length === 0) rows.push({ ...base, Repository: "<none>", Tag: "<none>" });
    for (const t of tags) {
      const ref = parseReference(t);
      rows.push({ ...base, Repository: familiarName(ref), Tag: ref.tag ?? "latest" });
    }
  }
  return rows.filter(rowFilter(filter));
}

/** docker image inspect's object for one image. */
export function inspectImage(nameOrId: string): Record<string, unknown> {
  const id = resolveImageId(nameOrId);
  if (!id) throw new BunkerError(`no such image: ${nameOrId}`);
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
