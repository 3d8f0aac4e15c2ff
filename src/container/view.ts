// What `ps` and `inspect` show of a container, in docker's shapes.
import { posix } from "node:path";
import { humanAgo } from "../cli/output";
import { BunkerError } from "../errors";
import { isRunning, statusText } from "./lifecycle";
import { hostAddressText, publishedPorts } from "./ports";
import { type ContainerRecord, containerLogPath } from "./records";
import { type ContainerState, readState } from "./state";
import { splitVolumeFlag, volumeFlagPropagation } from "../volume";

export interface ContainerView {
  rec: ContainerRecord;
  state: ContainerState;
}

export async function viewOf(rec: ContainerRecord): Promise<ContainerView> {
  return { rec, state: await readState(rec.Id) };
}

/** docker's PORTS column: "0.0.0.0:8080->80/tcp, 127.0.0.1:53->53/udp", empty when not running */
export function portsText(v: ContainerView): string {
  const out: string[] = [];
  for (const [ctr, bindings] of Object.entries(publishedPorts(v.rec, isRunning(v.state))))
    for (const b of bindings) out.push(`${hostAddressText(b)}->${ctr}`);
  return out.join(", ");
}

/** docker's --no-trunc=false COMMAND: quoted, cut at 20 characters with an ellipsis. */
export function commandText(rec: ContainerRecord, truncate: boolean): string {
  const cmd = [rec.Path, ...rec.Args].join(" ");
  return `"${truncate && cmd.length > 20 ? `${cmd.slice(0, 19)}…` : cmd}"`;
}

export function imageText(rec: ContainerRecord): string {
  return rec.ImageName;
}

/** One line of `ps --format json` (docker's field names). */
export function psJson(v: ContainerView, now = new Date()) {
  const { rec, state } = v;
  return {
    Command: commandText(rec, false),
    CreatedAt: rec.Created,
    ID: rec.Id.slice(0, 12),
    Image: imageText(rec),
    Labels: Object.entries(rec.Config.Labels ?? {})
      .map(([k, val]) => `${k}=${val}`)
      .join(","),
    Mounts: rec.Mounts.map((m) => m.Name ?? m.Source).join(","),
    Names: rec.Name,
    Networks: rec.HostConfig.NetworkMode,
    Ports: portsText(v),
    RunningFor: humanAgo(new Date(rec.Created), now),
    State: state.Status,
    Status: statusText(state, now),
  };
}

export function psRow(v: ContainerView, noTrunc: boolean, now = new Date()): string[] {
  const { rec, state } = v;
  return [
    noTrunc ? rec.Id : rec.Id.slice(0, 12),
    imageText(rec),
    commandText(rec, !noTrunc),
    humanAgo(new Date(rec.Created), now),
    statusText(state, now),
    portsText(v),
    rec.Name,
  ];
}

export const PS_HEADERS = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"];

/** docker's container statuses, the values of --filter status= */
const STATUSES = ["created", "restarting", "running", "removing", "paused", "exited", "dead"];

/** docker ps --filter: name= (substring), id= (prefix), status=, label=KEY[=VALUE]; repeated keys OR, different keys AND. */
export function filterViews(views: ContainerView[], filters: string[]): ContainerView[] {
  const byKey = new Map<string, string[]>();
  for (const f of filters) {
    const eq = f.indexOf("=");
    const key = eq > 0 ? f.slice(0, eq) : "";
    if (!["name", "id", "status", "label", "exited"].includes(key)) {
      throw new BunkerError(`invalid filter "${f}": bunker knows name=, id=, status=, label= and exited=`);
    }
    if (key === "status" && !STATUSES.includes(f.slice(eq + 1)))
      throw new BunkerError(`invalid filter "${f}": a status is one of ${STATUSES.join(", ")}`);
    byKey.set(key, [...(byKey.get(key) ?? []), f.slice(eq + 1)]);
  }
  const match: Record<string, (v: ContainerView, value: string) => boolean> = {
    name: (v, x) => v.rec.Name.includes(x),
    id: (v, x) => v.rec.Id.startsWith(x),
    status: (v, x) => v.state.Status === x,
    exited: (v, x) => v.state.Status === "exited" && String(v.state.ExitCode) === x,
    label: (v, x) => {
      const [k, ...rest] = x.split("=");
      const labels = v.rec.Config.Labels ?? {};
      return k in labels && (rest.length === 0 || labels[k] === rest.join("="));
    },
  };
  return views.filter((v) => [...byKey].every(([key, values]) => values.some((x) => match[key](v, x))));
}

/** The container path of a -v target as the record keeps it: normalized, no trailing "/". */
const normalTarget = (target: string) => posix.normalize(target).replace(/(.)\/+$/, "$1");

/**
 * inspect's Mounts in docker's shape (api/types MountPoint): Name and Driver ("local") for volumes;
 * Mode as given to -v (a local volume's empty mode is "z", as dockerd sets it), "" for --mount;
 * Propagation for binds (rprivate unless -v asked for another), "" otherwise.
 */
export function dockerMounts(rec: ContainerRecord) {
  const fromV = new Map<string, string>();
  for (const spec of rec.HostConfig.Binds ?? []) {
    const { target, mode } = splitVolumeFlag(spec);
    fromV.set(normalTarget(target), mode);
  }
  return rec.Mounts.map((m) => {
    const vMode = fromV.get(m.Destination);
    return {
      Type: m.Type,
      ...(m.Type === "volume" ? { Name: m.Name } : {}),
      Source: m.Source,
      Destination: m.Destination,
      ...(m.Type === "volume" ? { Driver: "local" } : {}),
      Mode: vMode === undefined ? "" : m.Type === "volume" && vMode === "" ? "z" : vMode,
      RW: m.RW,
      Propagation: m.Type === "bind" ? volumeFlagPropagation(vMode ?? "") : "",
    };
  });
}

/** docker's container inspect object. */
export function inspectJson(v: ContainerView) {
  const { rec, state } = v;
  return {
    Id: rec.Id,
    Created: rec.Created,
    Path: rec.Path,
    Args: rec.Args,
    State: {
      Status: state.Status,
      Running: state.Status === "running",
      Paused: state.Status === "paused",
      Restarting: state.Status === "restarting",
      OOMKilled: state.OOMKilled,
      Dead: state.Status === "dead",
      Pid: isRunning(state) ? state.Pid : 0,
      ExitCode: state.ExitCode,
      Error: state.Error,
      StartedAt: state.StartedAt,
      FinishedAt: state.FinishedAt,
    },
    Image: rec.Image,
    ImageName: rec.ImageName,
    LogPath: containerLogPath(rec.Id),
    Name: `/${rec.Name}`,
    RestartCount: state.RestartCount,
    Driver: rec.Rootfs ? "rootfs" : "overlay",
    Platform: "linux",
    HostConfig: rec.HostConfig,
    Mounts: dockerMounts(rec),
    Config: rec.Config,
    NetworkSettings: { Ports: publishedPorts(rec, isRunning(state)) },
  };
}

/**
 * The part of Go's text/template that `inspect -f` scripts use: {{.A.B}}, {{json .A}}, {{.A}} of
 * objects (printed as JSON, where Go would print map[...]) and literal text between actions.
 */
export function renderTemplate(template: string, value: unknown): string {
  return template.replace(/\{\{\s*(json\s+)?(\.[A-Za-z0-9_.]*)\s*\}\}/g, (_, json: string | undefined, path: string) => {
    let v: unknown = value;
    for (const key of path.split(".").filter(Boolean)) v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[key] : undefined;
    if (json) return JSON.stringify(v ?? null);
    if (v === undefined || v === null) return "<no value>";
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  });
}
