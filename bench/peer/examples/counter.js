// The Durable Objects docs' "Build a counter", the JavaScript the Python port in
// examples/cloudflare/counter/ follows (bench/examples_scenario.py compares the two).
import { DurableObject } from "cloudflare:workers";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const name = url.searchParams.get("name");
    if (!name) {
      return new Response("Select a Durable Object to contact by using the `name` URL query string parameter, for example, ?name=A");
    }
    const stub = env.COUNTERS.getByName(name);
    let count;
    if (url.pathname === "/increment") count = await stub.increment();
    else if (url.pathname === "/decrement") count = await stub.decrement();
    else if (url.pathname === "/") count = await stub.getCounterValue();
    else return new Response("Not found", { status: 404 });
    return new Response(`Durable Object '${name}' count: ${count}`);
  },
};

export class Counter extends DurableObject {
  async getCounterValue() {
    return (await this.ctx.storage.get("value")) || 0;
  }
  async increment(amount = 1) {
    const value = ((await this.ctx.storage.get("value")) || 0) + amount;
    await this.ctx.storage.put("value", value);
    return value;
  }
  async decrement(amount = 1) {
    const value = ((await this.ctx.storage.get("value")) || 0) - amount;
    await this.ctx.storage.put("value", value);
    return value;
  }
}
