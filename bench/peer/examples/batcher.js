// "Use the Alarms API" (examples/cloudflare/batcher/ is its Python port); the requests compared are the
// ones answered before the alarm fires.
import { DurableObject } from "cloudflare:workers";

export default {
  async fetch(request, env) {
    return await env.BATCHER.getByName("foo").fetch(request);
  },
};

export class Batcher extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.storage = ctx.storage;
    this.ctx.blockConcurrencyWhile(async () => {
      const vals = await this.storage.list({ reverse: true, limit: 1 });
      this.count = vals.size == 0 ? 0 : parseInt(vals.keys().next().value);
    });
  }
  async fetch(request) {
    this.count++;
    const currentAlarm = await this.storage.getAlarm();
    if (currentAlarm == null) this.storage.setAlarm(Date.now() + 1000 * 10);
    await this.storage.put(this.count, await request.text());
    return new Response(JSON.stringify({ queued: this.count }), {
      headers: { "content-type": "application/json;charset=UTF-8" },
    });
  }
  async alarm() {
    const vals = await this.storage.list();
    await fetch("http://example.com/some-upstream-service", { method: "POST", body: Array.from(vals.values()) });
    await this.storage.deleteAll();
    this.count = 0;
  }
}
