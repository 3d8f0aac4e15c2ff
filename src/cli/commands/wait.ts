import { defineCommand } from "citty";
import { getContainer, waitContainer } from "../../container";

export default defineCommand({
  meta: { name: "wait", description: "Block until one or more containers stop, then print their exit codes" },
  args: { container: { type: "positional", description: "CONTAINER [CONTAINER...]", required: true } },
  async run({ args }) {
    for (const name of args._ as string[]) process.stdout.write(`${await waitContainer(await getContainer(name))}\n`);
  },
});
