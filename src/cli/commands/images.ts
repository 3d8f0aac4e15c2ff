import { defineCommand } from "citty";
import { renderTemplate } from "../../container/view";
import { imageSummaries } from "../../image/inspect";
import { humanAgo, humanSize, printJson, printTable } from "../output";
import { repeatedFlag } from "../repeated-flag";

export default defineCommand({
  meta: { name: "images", description: "List images in the store" },
  args: {
    repository: { type: "positional", description: "Only images of this REPOSITORY[:TAG]", required: false },
    quiet: { type: "boolean", alias: "q", description: "Only show image IDs" },
    format: { type: "string", description: "Output format: json, or a Go template like '{{.Repository}}:{{.Tag}}'" },
    // citty reads --no-trunc as the negation of --trunc.
    trunc: { type: "boolean", default: true, description: "Truncate image IDs (--no-trunc: don't)" },
    all: { type: "boolean", alias: "a", description: "Show all images (accepted for docker compatibility)" },
    filter: { type: "string", alias: "f", description: "dangling=true|false, reference=GLOB, before=IMAGE, since=IMAGE, label=KEY[=VALUE] (repeatable)" },
  },
  run({ args, rawArgs }) {
    const rows = imageSummaries(args.repository, repeatedFlag(rawArgs, "--filter", "-f"));
    const short = (id: string) => (args.trunc ? id.slice(7, 19) : id);
    if (args.format === "json") return printJson(rows);
    if (args.format) {
      // docker's Go-template rows: {{.Repository}}:{{.Tag}}, {{.ID}}, {{.Size}}...
      const lines = rows.map((r) =>
        renderTemplate(args.format!, {
          ...r,
          ID: short(r.Id),
          Digest: r.RepoDigests[0]?.split("@")[1] ?? "<none>",
          CreatedAt: r.Created,
          CreatedSince: r.Created ? humanAgo(new Date(r.Created)) : "N/A",
          Size: humanSize(r.Size),
        }),
      );
      if (lines.length) process.stdout.write(`${lines.join("\n")}\n`);
      return;
    }
    if (args.quiet) {
      const ids = [...new Set(rows.map((r) => short(r.Id)))];
      if (ids.length) process.stdout.write(`${ids.join("\n")}\n`);
      return;
    }
    printTable(
      ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
      rows.map((r) => [r.Repository, r.Tag, short(r.Id), r.Created ? humanAgo(new Date(r.Created)) : "N/A", humanSize(r.Size)]),
    );
  },
});
