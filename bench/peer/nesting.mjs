// Usage: node nesting.mjs DEPTH...
// blockConcurrencyWhile nested DEPTH deep in one Durable Object on workerd (Miniflare), for each DEPTH:
// prints {depth: answer} with answer "bottom" when the innermost callback ran, else the error's message.
// bench/nesting.py runs it beside dotui (docs/cloudflare.md, "blockConcurrencyWhile nesting").
import { Miniflare } from "miniflare";
import { COMPATIBILITY_DATE } from "./common.mjs";

const script = `
import { DurableObject } from "cloudflare:workers";
export class Nest extends DurableObject {
  async nest(depth) {
    const inner = async (n) => (n === 0 ? "bottom" : await this.ctx.blockConcurrencyWhile(() => inner(n - 1)));
    try { return await inner(depth); } catch (e) { return String(e && e.message || e); }
  }
}
export default {
  async fetch(request, env) {
    const depth = Number(new URL(request.url).searchParams.get("depth"));
    return new Response(await env.NEST.getByName("n" + depth).nest(depth));
  },
};`;
const mf = new Miniflare({
  modules: true, script, compatibilityDate: COMPATIBILITY_DATE,
  durableObjects: { NEST: { className: "Nest", useSQLite: true } }, verbose: false,
});
await mf.ready;
const out = {};
try {
  for (const d of process.argv.slice(2)) {
    const res = await mf.dispatchFetch(`http://localhost/?depth=${d}`);
    out[d] = `${res.status} ${(await res.text()).slice(0, 200)}`;
  }
} finally {
  await mf.dispose();
}
console.log(JSON.stringify(out));
