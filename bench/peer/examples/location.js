// "Durable Object in-memory state" (examples/cloudflare/location/ is its Python port).
import { DurableObject } from "cloudflare:workers";

export default {
  async fetch(request, env) {
    const resp = await env.LOCATION.getByName("A").fetch(request);
    return new Response(await resp.text());
  },
};

export class Location extends DurableObject {
  constructor(state, env) {
    super(state, env);
    this.location = null;
  }
  async fetch(request) {
    let response;
    if (this.location == null) {
      response = `
This is the first request, you called the constructor, so this.location was null.
You will see the location of this request next time you make a request.
`;
    } else {
      response = `
The last request was from ${this.location}.
You will see the location of this request next time you make a request.
`;
    }
    this.location = request.cf.city;
    return new Response(response);
  }
}
