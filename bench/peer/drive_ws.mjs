// Usage: node drive_ws.mjs --url URL --token TOKEN --workload ws_noop|ws_count
//                          [--clients N] [--calls N] [--rooms N] [--window N] [--tag TAG]
//
// The WebSocket client of bench/http_compare.py, the same for both servers: N
// sockets (GET /ws/Sockets/<room>/x, spread over --rooms objects), each sending its
// messages one after another and waiting for each answer (--window N: keeping N
// messages in flight per socket, answers in order). "ws_noop" answers "ok";
// "ws_count" writes a counter per room and answers {"n": ...} (durable first: the
// output gate). Prints one JSON line: {"workload", "calls", "seconds", "calls_per_sec",
// "distinct"}; "distinct" is true when each room's answers are exactly 1..n.
import WebSocket from "ws";
import { parseArgs } from "./common.mjs";

const a = parseArgs(process.argv.slice(2), { clients: "20", calls: "2000", rooms: "10", window: "1", tag: "t" });
const window = Number(a.window);
const clients = Number(a.clients);
const calls = Number(a.calls);
const rooms = Number(a.rooms);
const message = a.workload === "ws_count" ? "count" : "noop";
const base = a.url.replace(/^http/, "ws");

function open(room) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base}/ws/Sockets/${a.tag}-${a.workload}-${room}/x`,
      { headers: { Authorization: `Bearer ${a.token}` }, perMessageDeflate: false });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

const sockets = await Promise.all(Array.from({ length: clients }, (_, i) => open(i % rooms)));
const per = Math.floor(calls / clients);
const answers = Array.from({ length: rooms }, () => []);

function run(ws, room) {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let got = 0;
    ws.on("message", (data) => {
      const answer = data.toString();
      if (message === "count") answers[room].push(JSON.parse(answer).n);
      else if (answer !== "ok") answers[room].push(-1);
      got += 1;
      if (got === per) resolve();
      else if (sent < per) {
        sent += 1;
        ws.send(message);
      }
    });
    ws.once("close", () => reject(new Error("closed")));
    for (; sent < Math.min(window, per); sent++) ws.send(message);
  });
}

const t0 = performance.now();
await Promise.all(sockets.map((ws, i) => run(ws, i % rooms)));
const seconds = (performance.now() - t0) / 1000;
let distinct = true;
for (const got of answers) {
  if (message === "noop") {
    distinct &&= got.length === 0;
    continue;
  }
  const sorted = [...got].sort((x, y) => x - y);
  distinct &&= sorted.every((v, i) => v === i + 1);
}
for (const ws of sockets) ws.close(1000);
const total = per * clients;
console.log(JSON.stringify({ workload: a.workload, calls: total, seconds, calls_per_sec: total / seconds, distinct }));
process.exit(0);
