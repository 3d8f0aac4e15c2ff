import { defineCommand } from "citty";
import { authfileArg } from "../registry-flags";
import { loginServer, logout } from "../../registry/login";

export default defineCommand({
  meta: { name: "logout", description: "Log out from a registry" },
  args: {
    server: { type: "positional", description: "Registry host (default docker.io)", required: false },
    authfile: authfileArg,
  },
  run({ args }) {
    const server = loginServer(args.server);
    // Like docker: not being logged in is not an error.
    process.stdout.write(logout(server, { authFile: args.authfile }) ? `Removed login credentials for ${server}\n` : `Not logged in to ${server}\n`);
  },
});
