import { describe, expect, test } from "bun:test";
import { parseLine, parseLogOpts, parseLogSize, parseRestartPolicy, parseSignal, parseTimeArg, renderTemplate, splitCpArg, tailRecords } from "../../src/container";

describe("--restart", () => {
  test("docker's policies", () => {
    expect(parseRestartPolicy(undefined)).toEqual({ Name: "no", MaximumRetryCount: 0 });
    expect(parseRestartPolicy("always")).toEqual({ Name: "always", MaximumRetryCount: 0 });
    expect(parseRestartPolicy("unless-stopped")).toEqual({ Name: "unless-stopped", MaximumRetryCount: 0 });
    expect(parseRestartPolicy("on-failure")).toEqual({ Name: "on-failure", MaximumRetryCount: 0 });
    expect(parseRestartPolicy("on-failure:5")).toEqual({ Name: "on-failure", MaximumRetryCount: 5 });
  });
  test("bad values", () => {
    for (const v of ["sometimes", "on-failure:x", "on-failure:-1", "always:3", "on-failure:1:2"]) expect(() => parseRestartPolicy(v)).toThrow("--restart");
  });
});

describe("--log-opt", () => {
  test("sizes and files", () => {
    expect(parseLogSize("10m")).toBe(10 * 1024 * 1024);
    expect(parseLogSize("512k")).toBe(512 * 1024);
    expect(parseLogSize("1g")).toBe(1024 ** 3);
    expect(parseLogSize("2000")).toBe(2000);
    expect(parseLogOpts(["max-size=1m", "max-file=3"])).toEqual({ Type: "k8s-file", Config: { "max-size": "1m", "max-file": "3" } });
    expect(() => parseLogOpts(["max-size=big"])).toThrow("max-size");
    expect(() => parseLogOpts(["max-file=0", "max-size=1k"])).toThrow("max-file");
    expect(() => parseLogOpts(["max-file=3"])).toThrow("needs max-size");
    expect(() => parseLogOpts(["labels=x"])).toThrow("unknown --log-opt");
  });
});

describe("log lines", () => {
  test("k8s-file records", () => {
    expect(parseLine("2024-01-01T00:00:00.000000001Z stdout F hello world")).toEqual({ time: "2024-01-01T00:00:00.000000001Z", stream: "stdout", text: "hello world\n" });
    expect(parseLine("2024-01-01T00:00:00.000000001Z stderr P part")).toEqual({ time: "2024-01-01T00:00:00.000000001Z", stream: "stderr", text: "part" });
    expect(parseLine("2024-01-01T00:00:00Z stdout F ")!.text).toBe("\n");
    expect(parseLine("garbage")).toBeUndefined();
    expect(parseLine("2024 stdin F x")).toBeUndefined();
  });
  test("--tail counts lines: a trailing partial line is one, a line split in records is one", () => {
    const rec = (stream: "stdout" | "stderr", text: string) => ({ time: "t", stream, text });
    // stdout and stderr interleave; stdout's last line has no newline
    const talk = [rec("stdout", "out1\n"), rec("stderr", "err1\n"), rec("stdout", "out2\n"), rec("stdout", "partial")];
    expect(tailRecords(talk, 1)).toEqual([rec("stdout", "partial")]);
    expect(tailRecords(talk, 2)).toEqual(talk.slice(2));
    expect(tailRecords(talk, 3)).toEqual(talk.slice(1));
    expect(tailRecords(talk, 0)).toEqual([]);
    expect(tailRecords(talk, 10)).toEqual(talk);
    // P records belong to the line their F record closes
    const split = [rec("stdout", "a\n"), rec("stdout", "b1"), rec("stdout", "b2"), rec("stdout", "b3\n")];
    expect(tailRecords(split, 1)).toEqual(split.slice(1));
    const trailing = [rec("stdout", "a\n"), rec("stdout", "p1"), rec("stdout", "p2")];
    expect(tailRecords(trailing, 1)).toEqual(trailing.slice(1));
  });

  test("--since forms", () => {
    const now = Date.parse("2024-01-01T01:00:00Z");
    expect(parseTimeArg("since", "10m", now)).toBe(now - 600_000);
    expect(parseTimeArg("since", "1h30m", now)).toBe(now - 5_400_000);
    expect(parseTimeArg("since", "1700000000", now)).toBe(1_700_000_000_000);
    expect(parseTimeArg("since", "2024-01-01T00:00:00Z", now)).toBe(Date.parse("2024-01-01T00:00:00Z"));
    expect(() => parseTimeArg("since", "soon", now)).toThrow("invalid --since");
  });
});

describe("signals, cp arguments, templates", () => {
  test("signals by name, short name and number", () => {
    expect(parseSignal("SIGTERM")).toBe(15);
    expect(parseSignal("kill")).toBe(9);
    expect(parseSignal("10")).toBe(10);
    expect(() => parseSignal("SIGNOPE")).toThrow("invalid signal");
    expect(() => parseSignal("99")).toThrow("invalid signal");
  });
  test("CONTAINER:PATH", () => {
    expect(splitCpArg("box:/etc/hosts")).toEqual({ container: "box", path: "/etc/hosts" });
    expect(splitCpArg("box:")).toEqual({ container: "box", path: "/" });
    expect(splitCpArg("/host/a:b")).toBeUndefined();
    expect(splitCpArg("./a:b")).toBeUndefined();
    expect(splitCpArg("plain")).toBeUndefined();
  });
  test("inspect -f templates", () => {
    const v = { State: { Status: "running", Pid: 7 }, Config: { Env: ["A=1"] }, Name: "/x" };
    expect(renderTemplate("{{.State.Status}} {{ .State.Pid }}", v)).toBe("running 7");
    expect(renderTemplate("{{json .Config}}", v)).toBe('{"Env":["A=1"]}');
    expect(renderTemplate("{{.Nope.Deeper}}", v)).toBe("<no value>");
    expect(renderTemplate("name={{.Name}}", v)).toBe("name=/x");
  });
});
