import { expect, test } from "bun:test";
import { exitCodeOf, kernelCheck, usernsSysctlProblem } from "../../src/doctor";

test("kernel: 5.11 and later are ok, older ones warn with a fix", () => {
  expect(kernelCheck("6.1.0-18-amd64").status).toBe("ok");
  expect(kernelCheck("5.11.0").status).toBe("ok");
  const old = kernelCheck("5.10.0-28-amd64");
  expect(old.status).toBe("warn");
  expect(old.fix).toContain("fuse-overlayfs");
});

test("user namespaces switched off by sysctl are a failure that names the setting", () => {
  const off = usernsSysctlProblem((p) => (p.endsWith("unprivileged_userns_clone") ? "0" : undefined));
  expect(off?.status).toBe("fail");
  expect(off?.fix).toContain("kernel.unprivileged_userns_clone=1");
  expect(usernsSysctlProblem((p) => (p.endsWith("max_user_namespaces") ? "0" : "1"))?.message).toContain("max_user_namespaces");
  expect(usernsSysctlProblem(() => "1")).toBeUndefined();
});

test("exit code: 1 only when something failed", () => {
  expect(exitCodeOf([{ name: "a", status: "ok", message: "" }, { name: "b", status: "warn", message: "" }])).toBe(0);
  expect(exitCodeOf([{ name: "a", status: "fail", message: "" }])).toBe(1);
});
