import { arch, release } from "node:os";
import { defineCommand } from "citty";
import pkg from "../../../package.json" with { type: "json" };
import { storeRoot } from "../../paths";
import { printJson } from "../output";

const GOARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };

export default defineCommand({
  meta: { name: "version", description: "Show bunker's version, Bun's, the kernel and the store path" },
  args: { format: { type: "string", alias: "f", description: "Output format: json" } },
  run({ args }) {
    const info = {
      Version: pkg.version,
      BunVersion: Bun.version,
      Kernel: release(),
      OsArch: `linux/${GOARCH[arch()] ?? arch()}`,
      Store: storeRoot(),
    };
    if (args.format === "json") return printJson(info);
    process.stdout.write(
      `bunker version ${info.Version}\nBun version:    ${info.BunVersion}\nKernel:         ${info.Kernel}\nOS/Arch:        ${info.OsArch}\nStore:          ${info.Store}\n`,
    );
  },
});
