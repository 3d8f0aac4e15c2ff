import { defineCommand } from "citty";
import { getContainer } from "../../container";
import { systemdUnit } from "../../container/systemd";

const systemd = defineCommand({
  meta: { name: "systemd", description: "Print a systemd user unit that starts the container at login/boot" },
  args: {
    container: { type: "positional", description: "CONTAINER", required: true },
    name: { type: "boolean", description: "Use the container's name in the unit (default: its name anyway)" },
    "restart-policy": { type: "string", description: "systemd Restart= (default on-failure)" },
    time: { type: "string", alias: "t", description: "Stop timeout in seconds (default 10)" },
  },
  async run({ args }) {
    const rec = await getContainer(args.container);
    process.stdout.write(systemdUnit(rec, { restart: args["restart-policy"], stopTimeout: args.time ? Number(args.time) : 10 }));
  },
});

export default defineCommand({
  meta: { name: "generate", description: "Generate files for running containers outside bunker (systemd units)" },
  subCommands: { systemd },
});
