import { describe, expect, test } from "bun:test";
import { kernelMountOptions, MS } from "../../src/volume/mountflags";

describe("kernelMountOptions", () => {
  test("docker's tmpfs defaults become flags, size/mode stay fs data", () => {
    const k = kernelMountOptions(["noexec", "nosuid", "nodev", "size=65536k", "mode=1777"]);
    expect(k.flags).toBe(MS.NOEXEC | MS.NOSUID | MS.NODEV);
    expect(k.data).toBe("size=65536k,mode=1777");
    expect(k.propagation).toBe(0);
  });
  test("a later word undoes an earlier default (exec after noexec, rw after ro)", () => {
    const k = kernelMountOptions(["noexec", "nosuid", "ro", "exec", "rw"]);
    expect(k.flags).toBe(MS.NOSUID);
  });
  test("rbind is recursive, norbind is not, propagation is kept apart", () => {
    expect(kernelMountOptions(["rbind", "rprivate"])).toEqual({ flags: MS.BIND | MS.REC, data: "", propagation: MS.PRIVATE | MS.REC });
    expect(kernelMountOptions(["norbind", "slave"])).toEqual({ flags: MS.BIND, data: "", propagation: MS.SLAVE });
  });
  test("SELinux labels are accepted and ignored", () => {
    expect(kernelMountOptions(["z", "Z", "ro"])).toEqual({ flags: MS.RDONLY, data: "", propagation: 0 });
  });
});
