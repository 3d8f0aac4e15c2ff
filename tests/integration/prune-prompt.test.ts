// container, image, volume and system prune ask first, as docker does, unless -f: docker's warning
// and "Are you sure you want to continue? [y/N] ", the answer read from stdin through a pipe. Only
// y/Y goes on; n, "yes", or EOF remove nothing and exit 0.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { imagesSrc } from "../support/bunker";
import { rootfsSandbox } from "../support/rootfs";

const { sb, rootfs } = rootfsSandbox();
const QUESTION = "Are you sure you want to continue? [y/N] ";

const PROMPTS: [string[], string][] = [
  [["container", "prune"], "WARNING! This will remove all stopped containers.\n"],
  [["image", "prune"], "WARNING! This will remove all dangling images.\n"],
  [["image", "prune", "-a"], "WARNING! This will remove all images without at least one container associated to them.\n"],
  [["volume", "prune"], "WARNING! This will remove anonymous local volumes not used by at least one container.\n"],
  [["volume", "prune", "-a"], "WARNING! This will remove all local volumes not used by at least one container.\n"],
  [["system", "prune"], "WARNING! This will remove:\n  - all stopped containers\n  - all dangling images\n\n"],
  [
    ["system", "prune", "-a", "--volumes"],
    "WARNING! This will remove:\n  - all stopped containers\n  - all anonymous volumes not used by at least one container\n  - all images without at least one container associated to them\n\n",
  ],
];

/** What each prune could remove: a stopped container, an unused image, an unused volume. */
async function makePrunable() {
  expect((await sb.run(["run", "--name", "stopped", "--network", "none", "--rootfs", rootfs, "true"])).code).toBe(0);
  expect((await sb.run(["load", "-i", join(imagesSrc, "busybox-1.38.0-musl-amd64-oci")])).code).toBe(0);
  expect((await sb.run(["volume", "create", "unused"])).code).toBe(0);
}

const state = async () => ({
  containers: (await sb.run(["ps", "-a", "--format", "{{.Names}}"])).stdout,
  images: (await sb.run(["images", "-q"])).stdout,
  volumes: (await sb.run(["volume", "ls", "-q"])).stdout,
});

beforeAll(makePrunable);
afterAll(async () => {
  await sb.run(["rm", "-f", "stopped"]);
});

describe("prune asks first", () => {
  for (const [cmd, warning] of PROMPTS)
    test(`${cmd.join(" ")}: docker's warning; n, yes and EOF through a pipe remove nothing`, async () => {
      const before = await state();
      expect(before.containers).toBe("stopped\n");
      expect(before.images).not.toBe("");
      expect(before.volumes).toBe("unused\n");
      for (const answer of ["n\n", "yes\n", ""]) {
        const r = await sb.run(cmd, { stdin: answer });
        expect(r.stderr).toBe(warning + QUESTION);
        expect(r.stdout).toBe("");
        expect(r.code).toBe(0);
        expect(await state()).toEqual(before);
      }
    });

  test("answered y (or Y) through a pipe, each prune removes", async () => {
    const id = (await sb.run(["inspect", "-f", "{{.Id}}", "stopped"])).stdout.trim();
    const containers = await sb.run(["container", "prune"], { stdin: "y\n" });
    expect(containers.stderr).toBe(PROMPTS[0][1] + QUESTION);
    expect(containers.stdout).toBe(`Deleted Containers:\n${id}\n`);
    const images = await sb.run(["image", "prune", "-a"], { stdin: " Y \n" });
    expect(images.stdout).toStartWith("Deleted Images:\nuntagged: busybox:1.38.0-musl\n");
    const volumes = await sb.run(["volume", "prune", "-a"], { stdin: "y\n" });
    expect(volumes.stdout).toContain("Deleted Volumes:\nunused\n");
    expect(await state()).toEqual({ containers: "", images: "", volumes: "" });
    // and system prune, all at once
    await makePrunable();
    const system = await sb.run(["system", "prune", "-a", "--volumes"], { stdin: "y\n" });
    expect(system.stderr).toBe(PROMPTS[6][1] + QUESTION);
    expect(system.stdout).toContain("Deleted Containers:\n");
    // --volumes prunes anonymous volumes only, as docker 23+
    expect(await state()).toEqual({ containers: "", images: "", volumes: "unused\n" });
  }, 30_000);

  test("-f and --force don't ask", async () => {
    await makePrunable();
    const r = await sb.run(["system", "prune", "-a", "--volumes", "--force"], { stdin: "n\n" });
    expect(r.stderr).toBe("");
    expect(await state()).toEqual({ containers: "", images: "", volumes: "unused\n" });
    await makePrunable();
    for (const cmd of [["container", "prune", "-f"], ["image", "prune", "-a", "-f"], ["volume", "prune", "-a", "-f"]]) expect((await sb.run(cmd, { stdin: "n\n" })).stderr).toBe("");
    expect(await state()).toEqual({ containers: "", images: "", volumes: "" });
  }, 30_000);
});
