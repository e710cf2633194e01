// Shared helpers for run.mjs and scenario.mjs: start Miniflare (real workerd)
// with SQLite-backed Durable Objects persisted to a directory, find the
// workerd child process, and measure files on disk.
import { Miniflare } from "miniflare";
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

export const COMPATIBILITY_DATE = "2026-04-01";

export function parseArgs(argv, defaults) {
  const args = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
    const [k, inline] = a.slice(2).split("=", 2);
    args[k] = inline ?? argv[++i];
    if (args[k] === undefined) throw new Error(`missing value for --${k}`);
  }
  return args;
}

// backend "sqlite" (default, what the benchmark uses) or "kv" (legacy
// KV-backed class, no new_sqlite_classes migration) for comparison runs.
export async function startMiniflare(persistDir, backend = "sqlite", compatibilityDate = COMPATIBILITY_DATE) {
  if (backend !== "sqlite" && backend !== "kv") throw new Error(`unknown backend ${backend}`);
  const useSQLite = backend === "sqlite";
  const mf = new Miniflare({
    modules: true,
    scriptPath: path.join(here, "worker.js"),
    compatibilityDate,
    // useSQLite: true == a `new_sqlite_classes` migration in wrangler.toml
    durableObjects: {
      COUNTER: { className: "Counter", useSQLite },
      OTHER: { className: "Other", useSQLite },
      SCENARIO: { className: "Scenario", useSQLite },
      INTERLEAVE: { className: "Interleave", useSQLite },
      SOCKETS: { className: "Sockets", useSQLite },
      SQLSCENARIO: { className: "SqlScenario", useSQLite: true },
      SQLBENCH: { className: "SqlBench", useSQLite: true },
    },
    durableObjectsPersist: path.resolve(persistDir),
    // keep miniflare quiet on stdout (we print exactly one JSON line per result)
    verbose: false,
  });
  await mf.ready;
  return mf;
}

export async function get(mf, pathAndQuery) {
  const res = await mf.dispatchFetch(`http://localhost${pathAndQuery}`);
  const text = await res.text();
  if (!res.ok) throw new Error(`${pathAndQuery} -> HTTP ${res.status}: ${text.slice(0, 2000)}`);
  return JSON.parse(text);
}

function readStatus(pid) {
  try {
    return readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
}

function field(status, name) {
  const m = status.match(new RegExp(`^${name}:\\s+(.*)$`, "m"));
  return m ? m[1].trim() : null;
}

// All live processes named "workerd" that descend from this node process.
export function workerdPids() {
  const parent = new Map();
  const names = new Map();
  for (const ent of readdirSync("/proc")) {
    if (!/^\d+$/.test(ent)) continue;
    const st = readStatus(ent);
    if (!st) continue;
    parent.set(Number(ent), Number(field(st, "PPid")));
    names.set(Number(ent), field(st, "Name"));
  }
  const out = [];
  for (const [pid, name] of names) {
    if (name !== "workerd") continue;
    for (let p = parent.get(pid); p && p > 1; p = parent.get(p)) {
      if (p === process.pid) {
        out.push(pid);
        break;
      }
    }
  }
  return out;
}

// Peak resident set (VmHWM) of workerd, in bytes; null if not found.
export function workerdPeakRss() {
  let total = null;
  for (const pid of workerdPids()) {
    const st = readStatus(pid);
    const hwm = st && field(st, "VmHWM");
    if (hwm) total = (total ?? 0) + Number(hwm.split(/\s+/)[0]) * 1024;
  }
  return total;
}

// Recursively list files under dir as [{path, size}].
export function listFiles(dir) {
  const out = [];
  const walk = (d) => {
    let ents;
    try {
      ents = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of ents) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push({ path: p, size: statSync(p).size });
    }
  };
  walk(dir);
  return out;
}
