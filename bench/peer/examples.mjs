// Usage: node examples.mjs < steps.json
// Runs each docs example's JavaScript (examples/*.js) on workerd (Miniflare) and answers the requests
// bench/examples_scenario.py sends on stdin: {example: {binding, class, steps: [[kind, path, body], ...]}}.
// Prints {example: [answer, ...]}: [status, text] for "GET"/"POST", the echoed text for "WS" (one message
// sent on a WebSocket to path), null after "SLEEP" (milliseconds in body).
import { Miniflare } from "miniflare";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { COMPATIBILITY_DATE } from "./common.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const plan = JSON.parse(readFileSync(0, "utf8"));
const out = {};
for (const [name, { binding, cls, steps }] of Object.entries(plan)) {
  const mf = new Miniflare({
    modules: true,
    scriptPath: path.join(here, "examples", `${name}.js`),
    compatibilityDate: COMPATIBILITY_DATE,
    durableObjects: { [binding]: { className: cls, useSQLite: true } },
    verbose: false,
  });
  await mf.ready;
  const answers = [];
  try {
    for (const [kind, p, body] of steps) {
      if (kind === "SLEEP") {
        await new Promise((r) => setTimeout(r, Number(body)));
        answers.push(null);
      } else if (kind === "WS") {
        const res = await mf.dispatchFetch(`http://localhost${p}`, { headers: { Upgrade: "websocket" } });
        const ws = res.webSocket;
        ws.accept();
        const got = new Promise((resolve) => ws.addEventListener("message", (e) => resolve(e.data)));
        ws.send(body);
        answers.push(await got);
        ws.close(1000, "done");
      } else {
        const res = await mf.dispatchFetch(`http://localhost${p}`, kind === "POST" ? { method: "POST", body } : {});
        answers.push([res.status, await res.text()]);
      }
    }
  } finally {
    await mf.dispose();
  }
  out[name] = answers;
}
console.log(JSON.stringify(out));
