import { defineCommand } from "citty";
import { getContainer, hostAddressText, isRunning, publishedPorts, readState } from "../../container";
import { BunkerError } from "../../errors";

export default defineCommand({
  meta: { name: "port", description: "List port mappings of a container" },
  args: {
    container: { type: "positional", description: "CONTAINER", required: true },
    port: { type: "positional", description: "PRIVATE_PORT[/PROTO]", required: false },
  },
  async run({ args }) {
    const rec = await getContainer(args.container);
    const bindings = Object.entries(publishedPorts(rec, isRunning(await readState(rec.Id))));
    if (args.port) {
      const key = args.port.includes("/") ? args.port : `${args.port}/tcp`;
      const found = bindings.find(([k]) => k === key);
      if (!found) throw new BunkerError(`no public port '${key}' published for ${rec.Name}`);
      for (const b of found[1]) process.stdout.write(`${hostAddressText(b)}\n`);
      return;
    }
    for (const [k, list] of bindings) for (const b of list) process.stdout.write(`${k} -> ${hostAddressText(b)}\n`);
  },
});
