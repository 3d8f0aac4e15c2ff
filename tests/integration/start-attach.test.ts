// start -ai (docker start -ai): a container made with -i gets bunker's stdin through a pipe, and
// bunker's EOF is the container's; its output and exit code come back as with start -a.
import { expect, test } from "bun:test";
import { rootfsSandbox } from "../support/rootfs";

const { sb, rootfs } = rootfsSandbox();

test("start -ai and start -i feed stdin to a container made with -i; EOF ends its read", async () => {
  const script = 'while read l; do echo "got $l"; done; echo done; exit 3';
  const first = await sb.run(["run", "-i", "--name", "ia", "--network", "none", "--rootfs", rootfs, "sh", "-c", script], { stdin: "first\n" });
  expect(first.stdout).toBe("got first\ndone\n");
  expect(first.code).toBe(3);
  const ai = await sb.run(["start", "-ai", "ia"], { stdin: "a\nb\n" });
  expect(ai.stdout).toBe("got a\ngot b\ndone\n");
  expect(ai.code).toBe(3);
  const i = await sb.run(["start", "-i", "ia"], { stdin: "c\n" });
  expect(i.stdout).toBe("got c\ndone\n");
  expect(i.code).toBe(3);
  expect((await sb.run(["rm", "ia"])).code).toBe(0);
}, 30_000);
