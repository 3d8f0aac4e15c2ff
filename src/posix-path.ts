// node:path's posix join, normalize, resolve, dirname and basename, with node's results (tests/unit/
// posix-path.test.ts checks them against node:path), for the modules `bunker run` loads. With
// node:fs off the run path (src/fs.ts), node:path was the one node builtin a run loaded, and the
// first one loaded pays for the builtins' shared set-up: ~0.7 M instructions of every run.

/** The segments of path with "." and empty ones dropped and ".." applied ("..": kept at the front of a relative path). */
function segments(path: string, absolute: boolean): string[] {
  const out: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
    } else out.push(seg);
  }
  return out;
}

/** node's path.posix.normalize: "/a//b/../c/" → "/a/c/". */
export function normalize(path: string): string {
  if (path === "") return ".";
  const absolute = path.charCodeAt(0) === 47;
  let out = segments(path, absolute).join("/");
  if (absolute) return `/${out}${out !== "" && path.charCodeAt(path.length - 1) === 47 ? "/" : ""}`;
  if (out === "") out = ".";
  return path.charCodeAt(path.length - 1) === 47 ? `${out}/` : out;
}

/** Whether normalize would return path as it is: no empty, "." or ".." segment (the usual case, checked natively). */
function isNormal(path: string): boolean {
  if (path.includes("//") || path.includes("/./") || path.includes("/../")) return false;
  if (path.endsWith("/.") || path.endsWith("/..")) return false;
  return !(path.startsWith("./") || path.startsWith("../")) || path === "./" || path === "../";
}

/** node's path.posix.join: the non-empty parts joined with "/", normalized. */
export function join(...parts: string[]): string {
  let joined = "";
  for (const p of parts) if (p !== "") joined = joined === "" ? p : `${joined}/${p}`;
  if (joined === "") return ".";
  return isNormal(joined) ? joined : normalize(joined);
}

/** node's path.posix.resolve: an absolute path, from the right until one is absolute, else from the cwd. */
export function resolve(...paths: string[]): string {
  let resolved = "";
  let absolute = false;
  for (let i = paths.length - 1; i >= -1 && !absolute; i--) {
    const p = i >= 0 ? paths[i] : process.cwd();
    if (p === "") continue;
    resolved = resolved === "" ? p : `${p}/${resolved}`;
    absolute = p.charCodeAt(0) === 47;
  }
  const out = segments(resolved, absolute).join("/");
  return absolute ? `/${out}` : out === "" ? "." : out;
}

/** node's path.posix.dirname: "/a/b/" → "/a", "a" → ".", "/" → "/". */
export function dirname(path: string): string {
  if (path === "") return ".";
  const rooted = path.charCodeAt(0) === 47;
  let end = -1;
  let matchedSlash = true;
  for (let i = path.length - 1; i >= 1; i--) {
    if (path.charCodeAt(i) === 47) {
      if (!matchedSlash) {
        end = i;
        break;
      }
    } else matchedSlash = false;
  }
  if (end === -1) return rooted ? "/" : ".";
  if (rooted && end === 1) return "//";
  return path.slice(0, end);
}

/** node's path.posix.basename without a suffix: "/a/b/" → "b". */
export function basename(path: string): string {
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 47) end--;
  return path.slice(path.lastIndexOf("/", end - 1) + 1, end);
}
