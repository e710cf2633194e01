// Usage: node sql_bench.mjs --persist DIR
// The workerd side of bench/sql.py, driven a line at a time: each line on stdin is a JSON request
// ({"op": ..., "name", "n", "k"} for the /sqlbench route of worker.js; {"op": "restart"} to stop
// workerd and start it again on the same folder, so the next call wakes its object from disk;
// {"op": "io"} for the bytes workerd's processes have written so far, /proc/PID/io's write_bytes).
// Each answer is one JSON line: the route's answer ("r") and "ms", the time around the request as
// Node measures it.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { performance } from "node:perf_hooks";
import { parseArgs, startMiniflare, workerdPids } from "./common.mjs";

const args = parseArgs(process.argv.slice(2), {});
if (!args.persist) {
  console.error("usage: node sql_bench.mjs --persist DIR");
  process.exit(2);
}

function writeBytes() {
  let total = 0;
  for (const pid of workerdPids()) {
    const m = readFileSync(`/proc/${pid}/io`, "utf8").match(/^write_bytes:\s+(\d+)$/m);
    if (m) total += Number(m[1]);
  }
  return total;
}

let mf = await startMiniflare(args.persist);
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const req = JSON.parse(line);
  let answer;
  try {
    if (req.op === "restart") {
      await mf.dispose();
      mf = await startMiniflare(args.persist);
      answer = { r: true };
    } else if (req.op === "io") {
      answer = { r: writeBytes() };
    } else {
      const q = new URLSearchParams(Object.entries(req).map(([k, v]) => [k, String(v)]));
      const t0 = performance.now();
      const res = await mf.dispatchFetch(`http://localhost/sqlbench?${q}`);
      const body = await res.json();
      answer = { ...body, ms: performance.now() - t0 };
    }
  } catch (e) {
    answer = { error: String(e && e.stack ? e.stack : e) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
await mf.dispose();
