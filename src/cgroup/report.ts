// What `bunker doctor` says about cgroups: which case the host is in and which controllers work.
import { type CgroupHost, type CgroupSetup, detectCgroupSetup, LIMIT_CONTROLLERS, realHost } from "./detect";

export interface CgroupReportLine {
  status: "ok" | "warn" | "fail";
  message: string;
  fix?: string;
}

export interface CgroupReport {
  /** resource limits can be enforced for this user */
  ok: boolean;
  setup: CgroupSetup;
  /** limit controllers usable by this user (empty when none) */
  controllers: string[];
  lines: CgroupReportLine[];
}

export function cgroupReport(host: CgroupHost = realHost()): CgroupReport {
  const setup = detectCgroupSetup(host);
  if (setup.kind === "none")
    // Not a failure: containers run; only runs that ask for limits are refused.
    return {
      ok: false,
      setup,
      controllers: [],
      lines: [{ status: "warn", message: `cgroups: resource limits can't be enforced (${setup.layout}): ${setup.reason}`, fix: setup.fix }],
    };
  const controllers = LIMIT_CONTROLLERS.filter((c) => setup.controllers.includes(c));
  const missing = LIMIT_CONTROLLERS.filter((c) => !controllers.includes(c));
  const where = setup.kind === "delegated" ? `delegated cgroup ${setup.parent}` : `transient systemd scopes under ${setup.manager}`;
  const lines: CgroupReportLine[] = [{ status: "ok", message: `cgroups: v2, containers get ${where}; controllers: ${controllers.join(" ") || "none"}` }];
  if (missing.length > 0)
    lines.push({
      status: "warn",
      message: `cgroups: ${missing.join(", ")} not delegated: limits needing ${missing.length > 1 ? "them" : "it"} are refused`,
      fix: `delegate them (systemd: a user@.service drop-in with Delegate=${LIMIT_CONTROLLERS.join(" ")})`,
    });
  return { ok: true, setup, controllers, lines };
}
