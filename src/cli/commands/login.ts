import { defineCommand } from "citty";
import { authfileArg, tlsVerifyArg, tlsVerifyOf } from "../registry-flags";
import { BunkerError } from "../../errors";
import { login, loginServer } from "../../registry/login";

/** Reads a line from the terminal; with echo off for passwords. */
async function prompt(question: string, secret: boolean): Promise<string> {
  if (!process.stdin.isTTY) throw new BunkerError(`cannot ask for ${secret ? "a password" : "a username"}: stdin is not a terminal (use -u, -p or --password-stdin)`);
  // Echo goes off before the question shows, so that nothing typed after it is echoed.
  if (secret) process.stdin.setRawMode(true);
  process.stderr.write(question);
  try {
    // Listeners rather than for-await: leaving a for-await destroys stdin for the next question.
    return await new Promise<string>((resolve, reject) => {
      let line = "";
      const finish = (settle: () => void) => {
        process.stdin.off("data", onData);
        process.stdin.off("end", onEnd);
        process.stdin.pause();
        settle();
      };
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString("utf8")) {
          if (ch === "\r" || ch === "\n") return finish(() => resolve(line));
          if (ch === "\u0003") return finish(() => reject(new BunkerError("login cancelled")));
          line = ch === "\u007f" ? line.slice(0, -1) : line + ch;
        }
      };
      const onEnd = () => finish(() => resolve(line));
      process.stdin.on("data", onData);
      process.stdin.on("end", onEnd);
      process.stdin.resume();
    });
  } finally {
    if (secret) {
      process.stdin.setRawMode(false);
      process.stderr.write("\n");
    }
  }
}

export default defineCommand({
  meta: { name: "login", description: "Log in to a registry" },
  args: {
    server: { type: "positional", description: "Registry host (default docker.io)", required: false },
    username: { type: "string", alias: "u", description: "Username" },
    password: { type: "string", alias: "p", description: "Password (visible in the process list: prefer --password-stdin)" },
    "password-stdin": { type: "boolean", description: "Read the password from stdin" },
    authfile: authfileArg,
    "tls-verify": tlsVerifyArg,
  },
  async run({ args }) {
    const server = loginServer(args.server);
    if (args["password-stdin"] && args.password !== undefined) throw new BunkerError("--password and --password-stdin are mutually exclusive");
    const username = args.username ?? (await prompt("Username: ", false));
    let password = args.password;
    if (args["password-stdin"]) password = (await new Response(Bun.stdin.stream()).text()).replace(/\r?\n$/, "");
    password ??= await prompt("Password: ", true);
    await login(server, { username: username.trim(), password, authFile: args.authfile, tlsVerify: tlsVerifyOf(args["tls-verify"]) });
    process.stdout.write("Login Succeeded\n");
  },
});
