// "Build a WebSocket server with WebSocket Hibernation" (examples/cloudflare/websocket-hibernation/ is its
// Python port).
import { DurableObject } from "cloudflare:workers";

export default {
  async fetch(request, env) {
    if (request.url.endsWith("/websocket")) {
      const upgradeHeader = request.headers.get("Upgrade");
      if (!upgradeHeader || upgradeHeader !== "websocket") {
        return new Response("Durable Object expected Upgrade: websocket", { status: 426 });
      }
      const stub = env.WEBSOCKET_HIBERNATION_SERVER.get(env.WEBSOCKET_HIBERNATION_SERVER.idFromName("foo"));
      return stub.fetch(request);
    }
    return new Response(null, { status: 400, statusText: "Bad Request", headers: { "Content-Type": "text/plain" } });
  },
};

export class WebSocketHibernationServer extends DurableObject {
  async fetch(request) {
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }
  async webSocketMessage(ws, message) {
    ws.send(`[Durable Object] message: ${message}, connections: ${this.ctx.getWebSockets().length}`);
  }
  async webSocketClose(ws, code, reason, wasClean) {
    ws.close(code, "Durable Object is closing WebSocket");
  }
}
