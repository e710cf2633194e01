// Usage: node run.mjs --persist DIR --workload noop|increment|concurrent|new_objects|all
//        [--n N]                 override the op count
//        [--backend sqlite|kv]   sqlite (default) = new_sqlite_classes; kv = legacy KV-backed class
//
// Each workload runs in a fresh Miniflare/workerd instance persisting SQLite-
// backed Durable Objects to DIR, and prints ONE JSON line on stdout:
//   {"workload", "ops", "seconds", "ops_per_sec", "peak_rss_bytes", ...}
// (--workload all prints one such line per workload, in order.)
//
// Timing: each workload's loop runs inside the Worker in a single HTTP request.
// "seconds" = Node-side wall time around that one request minus the median
// round trip of an empty request. "worker_seconds" is the Worker's own
// performance.now() delta around the loop (workerd only advances its clocks on
// I/O, but each RPC await is I/O, so it is meaningful here; see README).
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { get, listFiles, parseArgs, startMiniflare, workerdPeakRss } from "./common.mjs";

const WORKLOADS = {
  noop: { n: 20_000 },
  increment: { n: 2_000 },
  concurrent: { n: 10_000 },
  new_objects: { n: 2_000 },
};

async function emptyRoundTrip(mf) {
  for (let i = 0; i < 20; i++) await get(mf, "/empty"); // warm up
  const samples = [];
  for (let i = 0; i < 51; i++) {
    const t0 = performance.now();
    await get(mf, "/empty");
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] / 1000;
}

async function timed(mf, pathAndQuery) {
  const t0 = performance.now();
  const body = await get(mf, pathAndQuery);
  return { body, outer: (performance.now() - t0) / 1000 };
}

async function runWorkload(persist, workload, nOverride, backend) {
  const n = nOverride ?? WORKLOADS[workload].n;
  const nonce = randomBytes(6).toString("hex"); // fresh object names every run
  const mf = await startMiniflare(persist, backend);
  let result;
  let ids = null;
  try {
    const rtt = await emptyRoundTrip(mf);
    let r;
    const obj = `${workload}-${nonce}`;
    if (workload === "new_objects") {
      r = await timed(mf, `/bench/new_objects?n=${n}&prefix=${obj}`);
      ids = r.body.ids;
      if (!Array.isArray(ids) || ids.length !== n) throw new Error("new_objects: bad id list");
    } else {
      await get(mf, `/warm?name=${obj}`); // create the object outside the timed loop
      if (workload === "noop") await get(mf, `/bench/noop?n=100&name=${obj}`); // JIT warm-up
      r = await timed(mf, `/bench/${workload}?n=${n}&name=${obj}`);
      if (r.body.ok === false) throw new Error(`${workload}: verification failed: ${JSON.stringify(r.body)}`);
    }
    const seconds = Math.max(r.outer - rtt, 1e-9);
    result = {
      workload,
      backend,
      ops: n,
      seconds: +seconds.toFixed(6),
      ops_per_sec: +(n / seconds).toFixed(1),
      worker_seconds: +(r.body.worker_ms / 1000).toFixed(6),
      request_seconds: +r.outer.toFixed(6),
      empty_rtt_seconds: +rtt.toFixed(6),
    };
    if (r.body.final !== undefined) {
      result.final_count = r.body.final;
      result.verified = r.body.ok;
    }
    result.peak_rss_bytes = workerdPeakRss();
  } finally {
    await mf.dispose();
  }
  if (ids) {
    // After dispose: the SQLite files (plus any -wal/-shm) of exactly these objects.
    const want = new Set(ids);
    const files = listFiles(persist).filter((f) => want.has(path.basename(f.path).split(/[.-]/)[0]));
    const found = new Set(files.map((f) => path.basename(f.path).split(/[.-]/)[0]));
    const bytes = files.reduce((a, f) => a + f.size, 0);
    const bySuffix = {};
    for (const f of files) {
      const suffix = path.basename(f.path).slice(64) || "(none)"; // ".sqlite", ".sqlite-wal", ".sqlite-shm"
      bySuffix[suffix] = (bySuffix[suffix] ?? 0) + f.size;
    }
    for (const k of Object.keys(bySuffix)) bySuffix[k] = +(bySuffix[k] / n).toFixed(1);
    result.objects_with_files = found.size;
    result.disk_bytes_per_object = +(bytes / n).toFixed(1);
    // workerd is killed on dispose without a WAL checkpoint, so the data sits in
    // <id>.sqlite-wal and a 32 KiB <id>.sqlite-shm index is left behind.
    result.disk_bytes_per_object_by_file = bySuffix;
  }
  return result;
}

const args = parseArgs(process.argv.slice(2), { workload: "all", backend: "sqlite" });
if (!args.persist) {
  console.error("usage: node run.mjs --persist DIR --workload noop|increment|concurrent|new_objects|all [--n N] [--backend sqlite|kv]");
  process.exit(2);
}
const list = args.workload === "all" ? Object.keys(WORKLOADS) : [args.workload];
for (const w of list) {
  if (!WORKLOADS[w]) {
    console.error(`unknown workload ${w}`);
    process.exit(2);
  }
  const nOverride = args.n !== undefined ? Number(args.n) : undefined;
  console.log(JSON.stringify(await runWorkload(args.persist, w, nOverride, args.backend)));
}
