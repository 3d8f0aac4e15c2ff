// Hidden: `bunker rootfs-copy DEST LAYER...` (layers top first), run as root of a container's user
// namespace by the copy fallback of its root filesystem (src/runtime/rootfs.ts), so that the
// merged tree keeps the image's owners.
import { defineCommand } from "citty";
import { copyLayers } from "../../runtime/rootfs-copy";

export default defineCommand({
  meta: { name: "rootfs-copy", description: "internal: copy an image's layers into a container's root (run in its user namespace)" },
  args: {
    dest: { type: "positional", required: true },
  },
  async run({ args }) {
    await copyLayers(args.dest, args._.slice(1));
  },
});
