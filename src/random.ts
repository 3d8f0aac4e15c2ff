// Random ids from the Web Crypto global. node:crypto's randomBytes would do the same, but loading
// node:crypto costs ~1.5 ms, which every `bunker run` paid for one container id.
export function randomHex(bytes: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");
}
