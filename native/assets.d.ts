// The native build's outputs, imported with { type: "file" } so that `bun build --compile`
// embeds them; the import yields the path of the embedded copy.
declare module "*/bunker-helper" {
  const path: string;
  export default path;
}
declare module "*.so" {
  const path: string;
  export default path;
}
declare module "*.sha256" {
  const digest: string;
  export default digest;
}
