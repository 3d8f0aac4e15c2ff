// Containers as records: ids, docker-style names, durable config, runtime state, locks and logs.
// Consumers (src/runtime, the commands) import from here.
export * from "./records";
export * from "./state";
export { withLock } from "./lock";
export * from "./monitor";
export * from "./policy";
export * from "./lifecycle";
export * from "./logs";
export * from "./view";
export * from "./cp";
export * from "./prune";
export * from "./ports";
