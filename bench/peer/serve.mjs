// Usage: node serve.mjs --persist DIR --token TOKEN [--port 0]
//
// workerd (via Miniflare) listening on a loopback port, serving the dotui
// gateway's object route from worker.js (POST /objects/<Namespace>/<name>/<method>),
// with SQLite-backed Durable Objects persisted to DIR. Prints one line,
// "miniflare: <URL>", once it answers; stops on SIGTERM or SIGINT.
import { Miniflare } from "miniflare";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { COMPATIBILITY_DATE, parseArgs } from "./common.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = parseArgs(process.argv.slice(2), { port: "0" });
if (!args.persist || !args.token) throw new Error("usage: node serve.mjs --persist DIR --token TOKEN [--port N]");

const mf = new Miniflare({
  modules: true,
  scriptPath: path.join(here, "worker.js"),
  compatibilityDate: COMPATIBILITY_DATE,
  durableObjects: {
    COUNTER: { className: "Counter", useSQLite: true },
    OTHER: { className: "Other", useSQLite: true },
    SCENARIO: { className: "Scenario", useSQLite: true },
    SOCKETS: { className: "Sockets", useSQLite: true },
  },
  durableObjectsPersist: path.resolve(args.persist),
  bindings: { TOKEN: args.token },
  host: "127.0.0.1",
  port: Number(args.port),
  verbose: false,
});
const url = await mf.ready;
console.log(`miniflare: ${url.origin}`);

async function stop() {
  await mf.dispose();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
