// Usage: node sql_scenario.mjs --persist DIR --steps FILE
// Runs the SQL scenario of bench/sql_scenario.py (FILE: its steps as JSON) on real workerd (via
// Miniflare, a SQLite-backed class) and prints one JSON object: group -> {steps, call, after}.
import { readFileSync } from "node:fs";
import { parseArgs, startMiniflare } from "./common.mjs";

const args = parseArgs(process.argv.slice(2), {});
if (!args.persist || !args.steps) {
  console.error("usage: node sql_scenario.mjs --persist DIR --steps FILE");
  process.exit(2);
}
const mf = await startMiniflare(args.persist);
try {
  const res = await mf.dispatchFetch("http://localhost/sql_scenario", { method: "POST", body: readFileSync(args.steps) });
  const text = await res.text();
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 2000)}`);
  console.log(JSON.stringify(JSON.parse(text), null, 1));
} finally {
  await mf.dispose();
}
