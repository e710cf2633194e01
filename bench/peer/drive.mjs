// Usage: node drive.mjs --url URL --token TOKEN --workload noop|increment|users
//                       [--clients N] [--calls N] [--users N] [--tag TAG]
//
// The client of bench/http_compare.py, the same for both servers: keep-alive
// HTTP/1.1 connections, one per client, each client sending its calls one after
// another, POST /objects/Counter/<name>/<method> with {"args": []}. The client is
// a minimal HTTP/1.1 speaker on a plain socket (Content-Length or chunked
// answers), so that its own cost per call stays small beside either server's.
// Prints one JSON line: {"workload", "calls", "seconds", "calls_per_sec", "distinct"}
// where "distinct" is true when every answer of an increment workload is
// distinct per object and the answers of each object are exactly 1..n (one
// instance, serialized); for noop, when every answer was {"result": null}.
import net from "node:net";
import { parseArgs } from "./common.mjs";

const a = parseArgs(process.argv.slice(2), { clients: "1", calls: "2000", users: "200", tag: "t" });
const clients = Number(a.clients);
const calls = Number(a.calls);
const users = Number(a.users);
const url = new URL(a.url);
const body = '{"args":[]}';
const head = `Host: ${url.host}\r\nAuthorization: Bearer ${a.token}\r\nContent-Type: application/json\r\n` +
  `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

// One keep-alive connection; request() sends one call and resolves with [status, body text].
function connection() {
  const sock = net.connect({ host: url.hostname, port: Number(url.port), noDelay: true });
  let buf = Buffer.alloc(0);
  let waiting = null;
  sock.on("data", (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    const answer = parseAnswer();
    if (answer && waiting) {
      const w = waiting;
      waiting = null;
      w.resolve(answer);
    }
  });
  sock.on("error", (e) => waiting && waiting.reject(e));
  function parseAnswer() {
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0) return null;
    const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
    const status = Number(lines[0].split(" ")[1]);
    let length = -1, chunked = false;
    for (const line of lines) {
      const l = line.toLowerCase();
      if (l.startsWith("content-length:")) length = Number(l.slice(15));
      else if (l.startsWith("transfer-encoding:") && l.includes("chunked")) chunked = true;
    }
    let rest = buf.subarray(end + 4);
    if (!chunked) {
      if (length < 0) throw new Error("an answer with neither Content-Length nor chunked");
      if (rest.length < length) return null;
      buf = rest.subarray(length);
      return [status, rest.subarray(0, length).toString("utf8")];
    }
    const parts = [];
    for (;;) {
      const eol = rest.indexOf("\r\n");
      if (eol < 0) return null;
      const size = parseInt(rest.subarray(0, eol).toString("latin1"), 16);
      if (rest.length < eol + 2 + size + 2) return null;
      if (size === 0) {
        buf = rest.subarray(eol + 4);
        return [status, Buffer.concat(parts).toString("utf8")];
      }
      parts.push(rest.subarray(eol + 2, eol + 2 + size));
      rest = rest.subarray(eol + 2 + size + 2);
    }
  }
  return {
    request(path) {
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
        sock.write(`POST ${path} HTTP/1.1\r\n${head}`);
      });
    },
    close() { sock.end(); },
  };
}
const conns = Array.from({ length: clients }, connection);

function target(i) {
  if (a.workload === "noop") return `/objects/Counter/noop-${a.tag}/noop`;
  if (a.workload === "increment") return `/objects/Counter/one-${a.tag}/increment`;
  if (a.workload === "users") return `/objects/Counter/user-${a.tag}-${i % users}/increment`;
  throw new Error(`unknown workload ${a.workload}`);
}

async function call(conn, path) {
  const [status, text] = await conn.request(path);
  if (status !== 200) throw new Error(`${path} -> ${status}: ${text.slice(0, 300)}`);
  return JSON.parse(text).result;
}

// One call per connection first: connections open, objects made, code warm.
await Promise.all(conns.map((c) => call(c, `/objects/Counter/warm-${a.tag}/noop`)));

const answers = new Map();
let next = 0;
async function client(conn) {
  while (true) {
    const i = next++;
    if (i >= calls) return;
    const path = target(i);
    const result = await call(conn, path);
    let list = answers.get(path);
    if (!list) answers.set(path, (list = []));
    list.push(result);
  }
}
const t0 = performance.now();
await Promise.all(conns.map(client));
const seconds = (performance.now() - t0) / 1000;

let distinct = true;
for (const list of answers.values()) {
  if (a.workload === "noop") {
    distinct &&= list.every((x) => x === null);
  } else {
    const sorted = [...list].sort((x, y) => x - y);
    distinct &&= sorted.every((x, k) => x === k + 1);
  }
}
for (const c of conns) c.close();
console.log(JSON.stringify({ workload: a.workload, calls, seconds, calls_per_sec: calls / seconds, distinct,
                             objects: answers.size }));
