// src/fs.ts against node:fs: the same results and the same errors (code, syscall, path), so that
// the modules that moved from one to the other behave as before.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as node from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as fs from "../../src/fs";

let dir: string;
beforeAll(() => {
  dir = node.mkdtempSync(join(tmpdir(), "bunker-fs-"));
});
afterAll(() => node.rmSync(dir, { recursive: true, force: true }));

/** What a call threw, as the fields callers look at. */
function thrown(fn: () => unknown): { code?: string; syscall?: string; path?: string; message: string } | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { code: err.code, syscall: err.syscall, path: err.path, message: err.message };
  }
}

describe("files", () => {
  test("writeFileSync and readFileSync round-trip text and bytes, larger than one read", () => {
    const p = join(dir, "big");
    const text = "héllo\n".repeat(20000);
    fs.writeFileSync(p, text);
    expect(node.readFileSync(p, "utf8")).toBe(text);
    expect(fs.readFileSync(p, "utf8")).toBe(text);
    expect(Buffer.compare(fs.readFileSync(p), node.readFileSync(p))).toBe(0);
    fs.writeFileSync(p, new Uint8Array([1, 2, 3]), { mode: 0o600 });
    expect([...fs.readFileSync(p)]).toEqual([1, 2, 3]);
  });

  test("a new file gets the mode asked for (less the umask), and flag a appends", () => {
    const p = join(dir, "modes");
    fs.writeFileSync(p, "a", { mode: 0o600 });
    expect(node.statSync(p).mode & 0o777).toBe(0o600);
    fs.writeFileSync(p, "b", { flag: "a" });
    expect(node.readFileSync(p, "utf8")).toBe("ab");
  });

  test("a missing file fails as node's does", () => {
    const p = join(dir, "missing");
    const ours = thrown(() => fs.readFileSync(p, "utf8"));
    const theirs = thrown(() => node.readFileSync(p, "utf8"));
    expect(ours).toEqual(theirs!);
    expect(ours!.message).toBe(`ENOENT: no such file or directory, open '${p}'`);
  });

  test("openSync, writeSync, readSync and closeSync on a descriptor", () => {
    const p = join(dir, "fd");
    const fd = fs.openSync(p, "w", 0o644);
    expect(fs.writeSync(fd, "abc")).toBe(3);
    expect(fs.writeSync(fd, new Uint8Array([100, 101, 102]), 1, 2)).toBe(2);
    fs.closeSync(fd);
    const r = fs.openSync(p, "r");
    const buf = new Uint8Array(10);
    expect(() => fs.readSync(r, buf, 4, 8, null)).toThrow(RangeError); // would overrun buf
    expect(fs.readSync(r, buf, 2, 8, null)).toBe(5);
    expect(Buffer.from(buf.subarray(2, 7)).toString()).toBe("abcef");
    fs.closeSync(r);
    expect(thrown(() => fs.closeSync(r))?.code).toBe("EBADF");
  });

  test("descriptors are close-on-exec, as node's are", () => {
    const fd = fs.openSync(join(dir, "fd"), "r");
    const flags = node.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8").match(/flags:\s+(\d+)/)![1];
    expect(Number.parseInt(flags, 8) & 0o2000000).toBe(0o2000000);
    fs.closeSync(fd);
  });

  test("readFileSync of a pipe reads to its end", () => {
    const fifo = join(dir, "fifo");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const writer = Bun.spawn(["sh", "-c", `printf 'one\\ntwo\\n' > ${fifo}`]);
    const fd = fs.openSync(fifo, "r");
    expect(fs.readFileSync(fd, "utf8")).toBe("one\ntwo\n");
    fs.closeSync(fd);
    return writer.exited;
  });

  test("a path with a NUL byte is refused, not cut short", () => {
    expect(thrown(() => fs.readFileSync(`${dir}/x\0/etc/passwd`))?.code).toBe("ERR_INVALID_ARG_VALUE");
    expect(fs.existsSync(`/etc/passwd\0x`)).toBe(false);
  });
});

describe("metadata", () => {
  test("statSync and lstatSync give node's fields and types", () => {
    const f = join(dir, "stat-file");
    node.writeFileSync(f, "12345");
    const link = join(dir, "stat-link");
    node.symlinkSync(f, link);
    for (const p of [f, link, dir, "/dev/null"]) {
      const ours = fs.lstatSync(p);
      const theirs = node.lstatSync(p);
      for (const k of ["dev", "ino", "mode", "nlink", "uid", "gid", "rdev", "size"] as const) expect(ours[k]).toBe(theirs[k]);
      expect(Math.abs(ours.mtimeMs - theirs.mtimeMs)).toBeLessThan(1);
      expect(ours.mtime.getTime()).toBe(Math.floor(ours.mtimeMs));
      for (const is of ["isFile", "isDirectory", "isSymbolicLink", "isCharacterDevice", "isFIFO", "isSocket", "isBlockDevice"] as const)
        expect(ours[is]()).toBe(theirs[is]());
    }
    expect(fs.statSync(link).isFile()).toBe(true);
    expect(fs.lstatSync(join(dir, "none"), { throwIfNoEntry: false })).toBeUndefined();
    expect(thrown(() => fs.statSync(join(dir, "none")))).toEqual(thrown(() => node.statSync(join(dir, "none")))!);
  });

  test("existsSync, accessSync, chmodSync and utimesSync", () => {
    const f = join(dir, "meta");
    node.writeFileSync(f, "");
    expect(fs.existsSync(f)).toBe(true);
    expect(fs.existsSync(join(dir, "none"))).toBe(false);
    fs.chmodSync(f, 0o640);
    expect(node.statSync(f).mode & 0o777).toBe(0o640);
    // no execute bit for anyone: EACCES even for root
    expect(thrown(() => fs.accessSync(f, fs.constants.X_OK))?.code).toBe("EACCES");
    fs.accessSync(f, fs.constants.R_OK);
    fs.utimesSync(f, new Date(1_000_000_000_000), 1_500_000_000.25);
    const st = node.statSync(f);
    expect(st.atimeMs).toBe(1_000_000_000_000);
    expect(st.mtimeMs).toBe(1_500_000_000_250);
  });

  test("a flag read before any call is already the kernel's (a fresh process)", () => {
    const src = join(import.meta.dir, "../../src/fs.ts");
    const r = Bun.spawnSync([process.execPath, "-e", `const { constants } = require(${JSON.stringify(src)}); console.log(constants.X_OK, constants.O_DIRECTORY)`], {
      env: { ...process.env },
      stderr: "pipe",
    });
    expect(r.stderr.toString()).toBe("");
    expect(r.stdout.toString().trim()).toBe(`${node.constants.X_OK} ${node.constants.O_DIRECTORY}`);
  });

  test("the constants are the kernel's, as node's", () => {
    for (const k of ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_CREAT", "O_EXCL", "O_TRUNC", "O_APPEND", "O_DIRECTORY", "O_NOFOLLOW", "O_NONBLOCK", "F_OK", "R_OK", "W_OK", "X_OK"] as const)
      expect(fs.constants[k]).toBe(node.constants[k]);
  });
});

describe("names", () => {
  test("renameSync, symlinkSync, readlinkSync, unlinkSync, realpathSync", () => {
    const a = join(dir, "n-a");
    const b = join(dir, "n-b");
    node.writeFileSync(a, "x");
    fs.renameSync(a, b);
    expect(node.existsSync(a)).toBe(false);
    const l = join(dir, "n-link");
    fs.symlinkSync("n-b", l);
    expect(fs.readlinkSync(l)).toBe("n-b");
    expect(fs.realpathSync(l)).toBe(node.realpathSync(b));
    fs.unlinkSync(l);
    expect(node.existsSync(l)).toBe(false);
    const err = thrown(() => fs.renameSync(join(dir, "none"), b));
    expect(err).toEqual(thrown(() => node.renameSync(join(dir, "none"), b))!);
    expect(err!.message).toBe(`ENOENT: no such file or directory, rename '${join(dir, "none")}' -> '${b}'`);
  });

  test("mkdirSync: plain, recursive with a mode, over an existing directory, over a file", () => {
    const deep = join(dir, "m1/m2/m3");
    expect(fs.mkdirSync(deep, { recursive: true, mode: 0o700 })).toBe(join(dir, "m1"));
    expect(node.statSync(join(dir, "m1/m2")).mode & 0o777).toBe(0o700);
    expect(fs.mkdirSync(deep, { recursive: true })).toBeUndefined();
    expect(thrown(() => fs.mkdirSync(deep))?.code).toBe("EEXIST");
    node.writeFileSync(join(dir, "m-file"), "");
    expect(thrown(() => fs.mkdirSync(join(dir, "m-file"), { recursive: true }))?.code).toBe("EEXIST");
    expect(thrown(() => fs.mkdirSync(join(dir, "m-file/sub"), { recursive: true }))?.code).toBe("ENOTDIR");
    fs.mkdirSync(join(dir, "m4/"), 0o755);
    expect(node.statSync(join(dir, "m4")).isDirectory()).toBe(true);
    fs.rmdirSync(join(dir, "m4"));
    expect(node.existsSync(join(dir, "m4"))).toBe(false);
  });
});

describe("directories", () => {
  test("readdirSync: names, and types (symlinks not followed)", () => {
    const d = join(dir, "list");
    node.mkdirSync(d);
    const names = Array.from({ length: 600 }, (_, i) => `entry-${i}-${"x".repeat(i % 50)}`);
    for (const n of names) node.writeFileSync(join(d, n), "");
    node.mkdirSync(join(d, "sub"));
    node.symlinkSync("sub", join(d, "to-sub"));
    node.writeFileSync(join(d, "ünïcode"), "");
    expect(fs.readdirSync(d).sort()).toEqual(node.readdirSync(d).sort());
    const typed = fs.readdirSync(d, { withFileTypes: true });
    const theirs = new Map(node.readdirSync(d, { withFileTypes: true }).map((e) => [e.name, e]));
    expect(typed.length).toBe(theirs.size);
    for (const e of typed) {
      const t = theirs.get(e.name)!;
      expect([e.isDirectory(), e.isFile(), e.isSymbolicLink()]).toEqual([t.isDirectory(), t.isFile(), t.isSymbolicLink()]);
    }
    expect(thrown(() => fs.readdirSync(join(dir, "none")))).toEqual(thrown(() => node.readdirSync(join(dir, "none")))!);
  });

  test("rmSync removes a tree, and a symlink in it without following it", () => {
    const outside = join(dir, "outside");
    node.mkdirSync(outside);
    node.writeFileSync(join(outside, "keep"), "precious");
    const t = join(dir, "tree");
    node.mkdirSync(join(t, "a/b/c"), { recursive: true });
    for (let i = 0; i < 300; i++) node.writeFileSync(join(t, "a", `f${i}`), "");
    node.writeFileSync(join(t, "a/b/c/f"), "");
    node.symlinkSync(outside, join(t, "a/b/escape"));
    fs.rmSync(t, { recursive: true, force: true });
    expect(node.existsSync(t)).toBe(false);
    expect(node.readFileSync(join(outside, "keep"), "utf8")).toBe("precious");
  });

  test("rmSync of a tree deeper than a path can name fails cleanly (ENAMETOOLONG) instead of exhausting the stack", () => {
    const top = join(dir, "deep");
    node.mkdirSync(top);
    // 3,000 levels, each made from the one above (the full path is longer than PATH_MAX, which
    // Bun's process.chdir and dash's cd both trip over; perl's chdir is the bare system call)
    const made = Bun.spawnSync(["perl", "-e", 'chdir $ARGV[0] or die; for (1..3000) { mkdir "d" or die "mkdir: $!"; chdir "d" or die "chdir: $!" }', top]);
    expect(made.stderr.toString()).toBe("");
    expect(thrown(() => fs.rmSync(top, { recursive: true, force: true }))?.code).toBe("ENAMETOOLONG");
    // what is left goes level by level from the bottom (the directories above are already empty)
    expect(Bun.spawnSync(["rm", "-rf", top]).exitCode).toBe(0);
  });

  test("rmSync: a missing path is an error unless forced; a directory needs recursive", () => {
    fs.rmSync(join(dir, "none"), { force: true });
    expect(thrown(() => fs.rmSync(join(dir, "none")))?.code).toBe("ENOENT");
    node.mkdirSync(join(dir, "rm-dir"));
    expect(thrown(() => fs.rmSync(join(dir, "rm-dir")))?.code).toBe("ERR_FS_EISDIR");
    node.writeFileSync(join(dir, "rm-file"), "");
    fs.rmSync(join(dir, "rm-file"));
    expect(node.existsSync(join(dir, "rm-file"))).toBe(false);
  });

  // the suite runs as an unprivileged user (scripts/test.sh); root may remove anything
  test.skipIf(process.getuid!() === 0)("rmSync names the entry it could not remove", () => {
    const t = join(dir, "stuck");
    node.mkdirSync(join(t, "locked"), { recursive: true });
    node.writeFileSync(join(t, "locked/f"), "");
    node.chmodSync(join(t, "locked"), 0o500);
    try {
      const err = thrown(() => fs.rmSync(t, { recursive: true, force: true }));
      expect(err?.code).toBe("EACCES");
      expect(err?.path).toBe(join(t, "locked/f"));
    } finally {
      node.chmodSync(join(t, "locked"), 0o700);
    }
  });
});
