// Usage: node scenario.mjs --persist DIR [--backend sqlite|kv] [--compat-date YYYY-MM-DD]
// Runs the storage/id/limits behaviour scenario on real workerd (via
// Miniflare, SQLite-backed Durable Objects) and prints one JSON object keyed
// by step name, for diffing against the dotui engine.
import { COMPATIBILITY_DATE, get, parseArgs, startMiniflare } from "./common.mjs";
import { randomBytes } from "node:crypto";

const args = parseArgs(process.argv.slice(2), { backend: "sqlite", "compat-date": COMPATIBILITY_DATE });
if (!args.persist) {
  console.error("usage: node scenario.mjs --persist DIR [--backend sqlite|kv] [--compat-date YYYY-MM-DD]");
  process.exit(2);
}
const mf = await startMiniflare(args.persist, args.backend, args["compat-date"]);
try {
  // a fresh object each run, so a reused persist dir cannot leak state in
  const name = `scenario-${randomBytes(6).toString("hex")}`;
  const out = await get(mf, `/scenario?name=${name}`);
  console.log(JSON.stringify(out, null, 2));
} finally {
  await mf.dispose();
}
