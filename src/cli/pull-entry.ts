// The puller's bundle (src/cli/bundles.ts): what `bunker run` loads when its image is not stored.
export { ensureImage } from "../image/pull";
