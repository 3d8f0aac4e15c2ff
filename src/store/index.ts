// The store's public API (for the run and lifecycle commands):
//
//   findImage(nameOrId)  → StoredImage | undefined   by reference ("alpine", "x:5000/a:b",
//                          "name@sha256:…"), by id ("sha256:…") or by a unique id prefix
//   StoredImage          { id, config (OCI image config), layerDirs (bottom → top, absolute
//                          layers/<diffid>/diff dirs, ready as overlay lowerdirs: whiteouts are
//                          0/0 char devices, opaque dirs carry user.overlay.opaque=y, so mount
//                          with "userxattr"), repoTags (full refs), name }
//   removeTree(path)     removes a tree whose files may belong to subordinate ids
//   ensureImage(ref, {pull: "missing"|"always"|"never", platform?, tlsVerify?, quiet?})
//                        lives in src/image/pull.ts (it needs the registry client, above the store).
//
// Containers live in $root/containers/<id>/config.json; rmi refuses images whose id a container's
// "Image" (or "ImageID") field names.
export type { ImageConfig } from "../image/manifest";
export { findImage, type StoredImage } from "./images";
export { removeTree } from "../userns/helper-process";
