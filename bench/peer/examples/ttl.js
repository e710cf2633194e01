// "Durable Object Time To Live" (examples/cloudflare/ttl/ is its Python port).
import { DurableObject } from "cloudflare:workers";

export class MyDurableObject extends DurableObject {
  timeToLiveMs = 1000;
  async fetch(_request) {
    await this.ctx.storage.setAlarm(Date.now() + this.timeToLiveMs);
    const visits = ((await this.ctx.storage.get("visits")) || 0) + 1;
    await this.ctx.storage.put("visits", visits);
    return new Response(`visits: ${visits}`);
  }
  async alarm() {
    await this.ctx.storage.deleteAll();
  }
}

export default {
  async fetch(request, env) {
    return await env.MY_DURABLE_OBJECT.getByName("foo").fetch(request);
  },
};
