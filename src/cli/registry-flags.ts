// Flags that every command talking to a registry shares (login, push, pull…), spelled as podman's.

export const tlsVerifyArg = {
  type: "string",
  description: "Verify the registry's TLS certificate and require HTTPS (default true; loopback registries may use HTTP)",
} as const;

export const authfileArg = {
  type: "string",
  description: "Credentials file (default $REGISTRY_AUTH_FILE, then docker's config.json)",
} as const;

/** --tls-verify=false|0|no turns verification off; absent means the default (verify). */
export function tlsVerifyOf(value: string | undefined): boolean | undefined {
  return value === undefined ? undefined : !/^(false|0|no)$/i.test(value);
}
