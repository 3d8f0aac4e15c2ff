// dist/bunker carries four bundles (scripts/build.ts): main.ts's small one, which loads run's
// (run-entry.ts) or everyone else's (app.ts), and the puller's (pull-entry.ts), which run's loads
// only when an image must be pulled. Bun's start-up grows with the bundle it loads (each of its
// functions is set up whether it runs or not), so each command loads only code it may run.

export interface Bundles {
  "run-entry": typeof import("./run-entry");
  app: typeof import("./app");
  "pull-entry": typeof import("./pull-entry");
}

/**
 * Loads another bundle by its entry file's name (beside this file in src/ and in dist/bunker),
 * through a require the bundler can't follow: a static one would copy that bundle into this one.
 */
export function loadBundle<K extends keyof Bundles>(name: K): Bundles[K] {
  const entry = `./${name}.ts`;
  return require(entry) as Bundles[K];
}
