import { defineCommand } from "citty";
import { loginServer, logout } from "../../registry/login";

export default defineCommand({
  meta: { name: "logout", description: "Log out from a registry" },
  args: {
    server: { type: "positional", description: "Registry host (default docker.io)", required: false },
    authfile: { type: "string", description: "Credentials file (default $REGISTRY_AUTH_FILE, then docker's config.json)" },
  },
  run({ args }) {
    const server = loginServer(args.server);
    // Like docker: not being logged in is not an error.
    process.stdout.write(logout(server, { authFile: args.authfile }) ? `Removed login credentials for ${server}\n` : `Not logged in to ${server}\n`);
  },
});
