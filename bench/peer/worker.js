// workerd side of the dotui peer benchmark.
//
// Storage backend: SQLite-backed Durable Objects. run.mjs / scenario.mjs
// configure every class with `useSQLite: true`, which is miniflare's
// equivalent of a `new_sqlite_classes` migration in wrangler.toml. The
// classes below use only the (async) KV-style storage API
// (ctx.storage.get/put/delete/list/transaction/*Alarm), which on a
// SQLite-backed object is stored in that object's own SQLite database
// (one <id>.sqlite file per object in the persist directory).
//
// Routes (all benchmark loops run INSIDE the Worker, so the HTTP hop between
// Node and workerd is outside the loop; run.mjs still subtracts one empty
// round trip from its outer timing):
//   GET /empty                         -> "{}" (round-trip baseline)
//   GET /warm?name=X                   -> one peek() on object X (creates it)
//   GET /bench/noop?n=N&name=X         -> N sequential noop() RPCs on one object
//   GET /bench/increment?n=N&name=X    -> N sequential increment() RPCs
//   GET /bench/concurrent?n=N&name=X   -> N concurrent increment() RPCs (Promise.all)
//   GET /bench/new_objects?n=N&prefix=P-> increment() once on N fresh objects (sequential)
//   GET /scenario                      -> storage/id/limit behaviour scenario (JSON)
//   GET /timer_check                   -> is Date.now()/performance.now() frozen
//                                         during pure CPU work?

import { DurableObject } from "cloudflare:workers";

// Equivalent of the Python class:
//   class Counter(DurableObject):
//       async def increment(self, by=1):
//           n = self.ctx.storage.get("n", 0) + by
//           self.ctx.storage.put("n", n)
//           return n
//       def peek(self): return self.ctx.storage.get("n", 0)
//       def noop(self): return None
// The JS storage API is async; input/output gates make get->put atomic and
// hold the RPC reply until the put is durable (output gate).
export class Counter extends DurableObject {
  async increment(by = 1) {
    const n = ((await this.ctx.storage.get("n")) ?? 0) + by;
    this.ctx.storage.put("n", n); // not awaited, like the Python code; output gate covers it
    return n;
  }
  async peek() {
    return (await this.ctx.storage.get("n")) ?? 0;
  }
  noop() {
    return null;
  }
}

// Second namespace: used for cross-namespace id validation, and to observe
// setAlarm() on a class that has NO alarm() handler.
export class Other extends DurableObject {
  async trySetAlarm() {
    try {
      await this.ctx.storage.setAlarm(Date.now() + 60_000);
      const a = await this.ctx.storage.getAlarm();
      await this.ctx.storage.deleteAlarm();
      return `no error (getAlarm -> ${typeof a})`;
    } catch (e) {
      return errText(e);
    }
  }
}

function errText(e) {
  return `${e && e.name ? e.name : "Error"}: ${e && e.message !== undefined ? e.message : String(e)}`;
}

async function attempt(fn) {
  try {
    await fn();
    return "no error";
  } catch (e) {
    return errText(e);
  }
}

// Storage-semantics scenario; runs inside one SQLite-backed object.
export class Scenario extends DurableObject {
  async alarm() {
    // present so setAlarm() is allowed; never expected to fire during the scenario
  }

  async run() {
    const s = this.ctx.storage;
    const out = {};
    // true only on a SQLite-backed class (confirms which backend ran)
    out["backend: ctx.storage.sql.exec(\"SELECT 1\")"] = (() => {
      try {
        return this.ctx.storage.sql.exec("SELECT 1 AS one").one().one === 1 ? "works (SQLite-backed)" : "unexpected";
      } catch (e) {
        return errText(e);
      }
    })();
    const keysOf = (m) => [...m.keys()];

    // --- list() ---------------------------------------------------------
    const names = ["a", "b", "c", "d", "e", "aa", "ab", "b/1", "b/2", "é", "z"];
    for (const k of names) await s.put(k, k);
    const listCases = [
      ["list()", undefined],
      ['list({start:"b"})', { start: "b" }],
      ['list({startAfter:"b"})', { startAfter: "b" }],
      ['list({end:"c"})', { end: "c" }],
      ['list({start:"aa",end:"b"})', { start: "aa", end: "b" }],
      ['list({prefix:"a"})', { prefix: "a" }],
      ['list({prefix:"b/"})', { prefix: "b/" }],
      ["list({reverse:true})", { reverse: true }],
      ["list({reverse:true,limit:3})", { reverse: true, limit: 3 }],
      ["list({limit:2})", { limit: 2 }],
      ['list({prefix:"a",reverse:true,limit:2})', { prefix: "a", reverse: true, limit: 2 }],
      ['list({start:"b",end:"e",reverse:true})', { start: "b", end: "e", reverse: true }],
      ['list({startAfter:"aa",limit:2})', { startAfter: "aa", limit: 2 }],
    ];
    for (const [label, opts] of listCases) {
      try {
        out[label] = keysOf(opts === undefined ? await s.list() : await s.list(opts));
      } catch (e) {
        out[label] = { error: errText(e) };
      }
    }
    const errCases = [
      ['list({start:"a",startAfter:"b"})', { start: "a", startAfter: "b" }],
      ["list({limit:0})", { limit: 0 }],
      ["list({limit:-1})", { limit: -1 }],
    ];
    for (const [label, opts] of errCases) {
      try {
        const m = await s.list(opts);
        out[label] = { result: "no error", keys: keysOf(m) };
      } catch (e) {
        out[label] = { result: errText(e) };
      }
    }

    // --- batch get / delete -------------------------------------------------
    const got = await s.get(["a", "nope", "c"]);
    out['get(["a","nope","c"])'] = Object.fromEntries(got.entries());
    out['delete(["a","nope","c"])'] = await s.delete(["a", "nope", "c"]);
    out['delete("b")'] = await s.delete("b");
    out['delete("nope")'] = await s.delete("nope");

    // --- transactions ---------------------------------------------------------
    let thrown = "none";
    try {
      await s.transaction(async (txn) => {
        await txn.put("t1", "t1");
        throw new Error("boom");
      });
    } catch (e) {
      thrown = errText(e);
    }
    out["transaction(put t1; throw)"] = {
      propagated_error: thrown,
      t1_exists_after: (await s.get("t1")) !== undefined,
    };
    let rbResult;
    try {
      rbResult = await s.transaction(async (txn) => {
        await txn.put("t2", "t2");
        txn.rollback();
        return "returned";
      });
    } catch (e) {
      rbResult = errText(e);
    }
    out["transaction(put t2; rollback())"] = {
      transaction_result: rbResult === undefined ? null : rbResult,
      t2_exists_after: (await s.get("t2")) !== undefined,
    };

    // --- alarms -----------------------------------------------------------------
    const a0 = await s.getAlarm();
    out["getAlarm() initially"] = a0 === undefined ? "undefined" : a0; // workerd returns null when no alarm is set
    const want = Date.now() + 60_000;
    await s.setAlarm(want);
    const a1 = await s.getAlarm();
    out["setAlarm(now+60s); getAlarm()"] = {
      type: typeof a1,
      within_1s: typeof a1 === "number" && Math.abs(a1 - want) <= 1000,
      exact: a1 === want,
    };
    await s.deleteAlarm();
    const a2 = await s.getAlarm();
    out["deleteAlarm(); getAlarm()"] = a2 === undefined ? "undefined" : a2; // workerd returns null when no alarm is set
    out["setAlarm() on class without alarm() handler"] = await this.env.OTHER.get(
      this.env.OTHER.idFromName("no-alarm-handler"),
    ).trySetAlarm();

    // --- deleteAll -------------------------------------------------------------
    // observe whether deleteAll() also clears the alarm (it does for compatibility
    // dates >= 2026-02-24, both backends; before that it left the alarm in place)
    await s.setAlarm(Date.now() + 60_000);
    await s.deleteAll();
    out["deleteAll(); list().size"] = (await s.list()).size;
    const a3 = await s.getAlarm();
    out["deleteAll(); getAlarm() (alarm was set before)"] = a3 === undefined ? "undefined" : a3 === null ? null : typeof a3;
    await s.deleteAlarm();

    // --- limits -----------------------------------------------------------------
    out["put(key of 2049 bytes)"] = await attempt(() => s.put("k".repeat(2049), 1));
    out["put(key of 2048 bytes)"] = await attempt(() => s.put("k".repeat(2048), 1));
    out["put(value string of 128 KiB + 1)"] = await attempt(() => s.put("big", "v".repeat(128 * 1024 + 1)));
    out["put(value string of 2 MiB + 1)"] = await attempt(() => s.put("big2", "v".repeat(2 * 1024 * 1024 + 1)));
    const keys129 = Array.from({ length: 129 }, (_, i) => `k${i}`);
    out["get(129 keys)"] = await attempt(() => s.get(keys129));
    out["put(129 entries)"] = await attempt(() => s.put(Object.fromEntries(keys129.map((k) => [k, k]))));
    out["delete(129 keys)"] = await attempt(() => s.delete(keys129));
    await s.deleteAll();
    return out;
  }
}

// The input gate's ordering (bench/behaviour.py, "ordering" steps): calls kept
// out by blockConcurrencyWhile start later in arrival order, one at a time;
// without it, two calls interleave at a timer and one update is lost.
export class Interleave extends DurableObject {
  async bumpBlocked(delay = 20) {
    return await this.ctx.blockConcurrencyWhile(async () => {
      const n = (await this.ctx.storage.get("n")) ?? 0;
      await new Promise((r) => setTimeout(r, delay));
      await this.ctx.storage.put("n", n + 1);
      return n + 1;
    });
  }
  async bumpRacy(delay = 20) {
    const n = (await this.ctx.storage.get("n")) ?? 0;
    await new Promise((r) => setTimeout(r, delay));
    this.ctx.storage.put("n", n + 1);
    return n + 1;
  }
  async peek() {
    return (await this.ctx.storage.get("n")) ?? 0;
  }
}

async function orderingScenario(env, name) {
  const out = {};
  const blocked = env.INTERLEAVE.get(env.INTERLEAVE.idFromName(`${name}-blocked`));
  out["3 overlapping bump_blocked, then peek"] = await Promise.all([
    blocked.bumpBlocked(), blocked.bumpBlocked(), blocked.bumpBlocked(), blocked.peek(),
  ]);
  const racy = env.INTERLEAVE.get(env.INTERLEAVE.idFromName(`${name}-racy`));
  out["2 overlapping bump_racy, then peek"] = await Promise.all([racy.bumpRacy(), racy.bumpRacy(), racy.peek()]);
  out["2 overlapping bump_racy; peek after both"] = await racy.peek();
  return out;
}

async function idScenario(env) {
  const out = {};
  out['COUNTER.idFromString("xyz")'] = await attempt(() => env.COUNTER.idFromString("xyz"));
  out["COUNTER.idFromString(64 x '0')"] = await attempt(() => env.COUNTER.idFromString("0".repeat(64)));
  const otherId = env.OTHER.newUniqueId().toString();
  out["COUNTER.idFromString(id from OTHER namespace)"] = await attempt(() => env.COUNTER.idFromString(otherId));
  const named = env.COUNTER.idFromName("alice");
  const hex = named.toString();
  out['idFromName("alice").toString()'] = {
    length: hex.length,
    lowercase_hex: /^[0-9a-f]+$/.test(hex),
    stable: env.COUNTER.idFromName("alice").toString() === hex,
    differs_across_namespaces: env.OTHER.idFromName("alice").toString() !== hex,
  };
  out["newUniqueId().toString().length"] = env.COUNTER.newUniqueId().toString().length;
  out['idFromName("alice").name'] = named.name === undefined ? "undefined" : named.name;
  out["idFromString(idFromName(alice).toString()).name"] = (() => {
    const v = env.COUNTER.idFromString(hex).name;
    return v === undefined ? "undefined" : v;
  })();
  out['idFromString(idFromName("alice").toString()).equals(idFromName("alice"))'] =
    env.COUNTER.idFromString(hex).equals(named);
  return out;
}

// WebSocket Hibernation API: the same protocol as the Python class Sockets in
// bench/behaviour.py (each text message names what to do), for the WebSocket
// scenario and the messages/s workload of bench/http_compare.py.
export class Sockets extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.seen = 0; // in memory: 1 again after a wake
  }

  async fetch(request) {
    const url = new URL(request.url);
    const q = url.searchParams;
    if (request.headers.get("Upgrade") !== "websocket") return new Response("WebSockets only", { status: 400 });
    if (q.get("refuse")) return new Response("go away", { status: 403 });
    const pair = new WebSocketPair();
    const tags = (q.get("tags") ?? "").split(",").filter(Boolean);
    this.ctx.acceptWebSocket(pair[1], tags);
    pair[1].serializeAttachment({ user: q.get("user") });
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  async webSocketMessage(ws, message) {
    this.seen += 1;
    const attempt = (fn) => {
      try {
        fn();
        return "no error";
      } catch (e) {
        return `${e.name}: ${e.message}`;
      }
    };
    if (typeof message !== "string") {
      ws.send(new Uint8Array(message).reverse());
    } else if (message === "count") {
      const n = ((await this.ctx.storage.get("n")) ?? 0) + 1;
      await this.ctx.storage.put("n", n);
      ws.send(JSON.stringify({ n, seen: this.seen, attachment: ws.deserializeAttachment() }));
    } else if (message === "noop") {
      ws.send("ok");
    } else if (message.startsWith("tag:")) {
      const group = this.ctx.getWebSockets(message.slice(4));
      for (const w of group) w.send(`to ${message.slice(4)}: ${group.length}`);
    } else if (message === "tags") {
      ws.send(JSON.stringify(this.ctx.getTags(ws)));
    } else if (message === "all") {
      ws.send(String(this.ctx.getWebSockets().length));
    } else if (message === "auto") {
      this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
      ws.send("auto set");
    } else if (message === "autots") {
      ws.send(this.ctx.getWebSocketAutoResponseTimestamp(ws) === null ? "none" : "set");
    } else if (message.startsWith("rename:")) {
      ws.serializeAttachment({ ...ws.deserializeAttachment(), user: message.slice(7) });
      ws.send("renamed");
    } else if (message.startsWith("att:")) {
      ws.send(attempt(() => ws.serializeAttachment("x".repeat(Number(message.slice(4))))));
    } else if (message.startsWith("badclose:")) {
      ws.send(attempt(() => this.ctx.getWebSockets("victim")[0].close(Number(message.slice(9)), "x")));
    } else if (message === "sendafterclose") {
      const victim = this.ctx.getWebSockets("victim")[0];
      victim.close(1000, "done");
      ws.send(attempt(() => victim.send("late")));
    } else if (message === "lastclose") {
      ws.send(JSON.stringify((await this.ctx.storage.get("closed")) ?? null));
    } else if (message === "close") {
      ws.close(4000, "bye");
    } else if (message === "boom") {
      throw new Error("boom");
    } else if (message === "abort") {
      this.ctx.abort("reset by the scenario");
    } else if (message === "bcwthrow") {
      await this.ctx.blockConcurrencyWhile(async () => {
        throw new Error("thrown in blockConcurrencyWhile");
      });
    } else {
      ws.send("echo:" + message);
    }
  }

  async webSocketClose(ws, code, reason, wasClean) {
    await this.ctx.storage.put("closed", [code, reason, wasClean, ws.deserializeAttachment().user]);
  }
}

function json(obj, status = 200) {
  return new Response(JSON.stringify(obj), {
    status,
    headers: { "content-type": "application/json" },
  });
}

// The dotui gateway's object route, served by the Worker (bench/http_compare.py):
//   POST /objects/<Namespace>/<name>/<method>  {"args": [...]}  ->  {"result": ...}
// with the same bearer token check; the Worker calls the object by RPC.
const NAMESPACES = { Counter: "COUNTER" };

// The dotui gateway's WebSocket route: GET /ws/Sockets/<name>/<path> with the bearer token,
// handed to the object's fetch (which accepts with the Hibernation API).
async function socketRoute(request, env, parts) {
  if (request.headers.get("Authorization") !== `Bearer ${env.TOKEN}`) {
    return json({ error: { type: "Unauthorized", message: "wrong token" } }, 401);
  }
  if (parts[2] !== "Sockets") return json({ error: { type: "NamespaceNotFoundError", message: parts[2] } }, 404);
  return env.SOCKETS.get(env.SOCKETS.idFromName(decodeURIComponent(parts[3]))).fetch(request);
}

async function objectCall(request, env, parts) {
  if (request.headers.get("Authorization") !== `Bearer ${env.TOKEN}`) {
    return json({ error: { type: "Unauthorized", message: "wrong token" } }, 401);
  }
  const [, , namespace, name, method] = parts;
  const binding = env[NAMESPACES[namespace]];
  if (!binding) return json({ error: { type: "NamespaceNotFoundError", message: namespace } }, 404);
  const text = await request.text();
  const args = text ? (JSON.parse(text).args ?? []) : [];
  const stub = binding.get(binding.idFromName(decodeURIComponent(name)));
  const result = await stub[method](...args);
  return json({ result: result ?? null });
}

// The SQL scenario of bench/sql_scenario.py: the same steps, interpreted here on a SQLite-backed
// object (the Python interpreter is run_steps there). Each step's result is {ok: value} or {error}.
function sqlArg(v) {
  if (v && typeof v === "object") {
    if ("$blob" in v) return new Uint8Array(v.$blob.match(/../g).map((h) => parseInt(h, 16)));
    if ("$string" in v) return "v".repeat(v.$string);
    if ("$unstorable" in v) return { a: 1 };
  }
  return v;
}

function sqlValue(v) {
  if (v === undefined) return null;
  if (v instanceof ArrayBuffer) return { $blob: [...new Uint8Array(v)].map((b) => b.toString(16).padStart(2, "0")).join("") };
  if (v instanceof Map) return [...v.entries()].map(([k, x]) => [k, sqlValue(x)]);
  if (Array.isArray(v)) return v.map(sqlValue);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, sqlValue(x)]));
  return v;
}

function sqlLook(cursor, view) {
  switch (view) {
    case "rows": return [...cursor].map(sqlValue);
    case "raw": return [...cursor.raw()].map(sqlValue);
    case "to_array": return cursor.toArray().map(sqlValue);
    case "one": return sqlValue(cursor.one());
    case "one_then_rest": return { one: sqlValue(cursor.one()), rest: [...cursor].map(sqlValue) };
    case "columns": return cursor.columnNames;
    case "names": return [...cursor].map((r) => r.name);
    case "count": return [...cursor].length;
    case "counts": {
      const rows = [...cursor].length;
      return { rows, rows_read: cursor.rowsRead, rows_written: cursor.rowsWritten };
    }
    case "next": {
      const out = [];
      for (let i = 0; i < 4; i++) {
        const r = cursor.next();
        out.push(r.done ? { done: true } : { value: sqlValue(r.value) });
      }
      return out;
    }
    case "none": [...cursor]; return "ok";
  }
  throw new Error(`unknown view ${view}`);
}

export class SqlScenario extends DurableObject {
  async alarm() {}

  stepSync(step) {
    const s = this.ctx.storage;
    if ("exec" in step) return sqlLook(s.sql.exec(step.exec, ...step.bind.map(sqlArg)), step.view);
    if ("kv" in step) {
      const args = step.args.map(sqlArg);
      if (step.kv === "list") return [...s.kv.list(args[0])].map(([k, v]) => [k, sqlValue(v)]);
      return sqlValue(s.kv[step.kv](...args));
    }
    if ("alarm" in step) {
      if (step.alarm === "set") { s.setAlarm(Date.now() + 86400 * 365 * 1000); return "set"; }
      throw new Error("getAlarm is asynchronous here");
    }
    if ("txn" in step) {
      const inner = {};
      try {
        const returned = s.transactionSync(() => {
          for (const sub of step.txn) {
            try {
              inner[sub.l] = { ok: this.stepSync(sub) };
            } catch (e) {
              if (sub.escape) throw e;
              inner[sub.l] = { error: e.message };
            }
          }
          if ("throw" in step) throw new Error(step.throw);
          return step.returns ?? null;
        });
        return { inner, returned };
      } catch (e) {
        return { inner, error: e.message };
      }
    }
    if ("size_delta" in step) {
      const before = s.sql.databaseSize;
      [...s.sql.exec(step.size_delta)];
      return s.sql.databaseSize - before;
    }
    throw new Error(`unknown step ${JSON.stringify(step)}`);
  }

  async step(step) {
    const s = this.ctx.storage;
    if ("storage" in step) {
      const r = await s[step.storage](...step.args.map(sqlArg));
      return step.view === "len" ? r.length : sqlValue(r);
    }
    if ("alarm" in step && step.alarm === "get") return (await s.getAlarm()) === null ? null : "set";
    if ("atxn" in step) {
      const inner = {};
      try {
        await s.transaction(async (txn) => {
          for (const sub of step.atxn) inner[sub.l] = { ok: await this.step(sub) };
          if (step.rollback) txn.rollback();
          if ("throw" in step) throw new Error(step.throw);
        });
        return { inner, returned: null };
      } catch (e) {
        return { inner, error: e.message };
      }
    }
    if ("abort" in step) this.ctx.abort(step.abort);
    return this.stepSync(step);
  }

  async run(steps) {
    const out = {};
    for (const step of steps) {
      if ("wait" in step) { await scheduler.wait(step.wait); continue; }
      try {
        out[step.l] = { ok: await this.step(step) };
      } catch (e) {
        out[step.l] = { error: e.message };
      }
    }
    return out;
  }
}

async function sqlScenario(request, env) {
  const { groups, after } = await request.json();
  const out = {};
  for (const [group, steps] of Object.entries(groups)) {

    const name = `${group}-${crypto.randomUUID()}`;
    const get = () => env.SQLSCENARIO.get(env.SQLSCENARIO.idFromName(name));
    let answer;
    try {
      answer = { steps: await get().run(steps), call: "returned" };
    } catch (e) {
      answer = { steps: null, call: `error: ${e.message}` };
    }
    if (after[group]) {
      try {
        answer.after = await get().run(after[group]);
      } catch (e) {
        answer.after = `error: ${e.message}`;
      }
    }
    out[group] = answer;
  }
  return json(out);
}

// The SQL workloads of bench/sql.py (the Python twin is class SqlBench there): one table of
// K rows (id INTEGER PRIMARY KEY, v TEXT of 100 bytes). bench/sql.py times each call from outside
// and takes off the same call with n = 0, so a method only does its work and checks it.
const ROW = "x".repeat(100);

export class SqlBench extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)");
  }

  fill(k) {
    for (let start = 0; start < k; start += 10_000) this.transaction(Math.min(10_000, k - start), start);
    return this.count();
  }

  count() {
    return this.ctx.storage.sql.exec("SELECT count(*) AS n FROM t").one().n;
  }

  peek() {
    return this.ctx.storage.sql.exec("SELECT v FROM t WHERE id = 0").one().v.length;
  }

  pointReads(n, k) {
    const sql = this.ctx.storage.sql;
    let bytes = 0;
    for (let i = 0; i < n; i++) bytes += sql.exec("SELECT v FROM t WHERE id = ?", (i * 7919) % k).one().v.length;
    return bytes === n * ROW.length;
  }

  pointWrites(n, k) {
    const sql = this.ctx.storage.sql;
    let written = 0;
    for (let i = 0; i < n; i++) written += sql.exec("UPDATE t SET v = ? WHERE id = ?", ROW, (i * 7919) % k).rowsWritten;
    return written === n;
  }

  inserts(n, base) {
    const sql = this.ctx.storage.sql;
    for (let i = 0; i < n; i++) sql.exec("INSERT INTO t VALUES (?, ?)", base + i, ROW);
    return true;
  }

  transaction(n, base) {
    const sql = this.ctx.storage.sql;
    this.ctx.storage.transactionSync(() => {
      for (let i = 0; i < n; i++) sql.exec("INSERT OR REPLACE INTO t VALUES (?, ?)", base + i, ROW);
    });
    return true;
  }

  scan(n, k) {
    let ok = true;
    for (let i = 0; i < n; i++) ok &&= this.ctx.storage.sql.exec("SELECT * FROM t").toArray().length === k;
    return ok;
  }

  kvReads(n) {
    const kv = this.ctx.storage.kv;
    for (let i = 0; i < 100; i++) kv.put(`k${i}`, ROW);
    let bytes = 0;
    for (let i = 0; i < n; i++) bytes += kv.get(`k${i % 100}`).length;
    return bytes === n * ROW.length;
  }

  kvWrites(n) {
    const kv = this.ctx.storage.kv;
    for (let i = 0; i < n; i++) kv.put(`k${i % 100}`, ROW);
    return true;
  }

  writeOne(i) {
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO t VALUES (?, ?)", i, ROW);
    return i;
  }
}

async function sqlBenchRoute(env, q) {
  const stub = env.SQLBENCH.get(env.SQLBENCH.idFromName(q.get("name")));
  const n = Number(q.get("n") ?? "0");
  const k = Number(q.get("k") ?? "0");
  const op = q.get("op");
  let r;
  if (op === "fill") r = await stub.fill(k);
  else if (op === "count") r = await stub.count();
  else if (op === "peek") r = await stub.peek();
  else if (op === "point_reads") r = await stub.pointReads(n, k);
  else if (op === "point_writes") r = await stub.pointWrites(n, k);
  else if (op === "inserts") r = await stub.inserts(n, k);
  else if (op === "transaction") r = await stub.transaction(n, k);
  else if (op === "scan") r = await stub.scan(n, k);
  else if (op === "kv_reads") r = await stub.kvReads(n);
  else if (op === "kv_writes") r = await stub.kvWrites(n);
  else if (op === "write_one") r = await stub.writeOne(k);
  else if (op === "sequential_writes") {
    for (let i = 0; i < n; i++) await stub.writeOne(i % k);
    r = true;
  } else if (op === "concurrent_writes") {
    const got = await Promise.all(Array.from({ length: n }, (_, i) => stub.writeOne(i % k)));
    r = got.length === n;
  } else return json({ error: `unknown op ${op}` }, 404);
  return json({ r });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/ws/")) return socketRoute(request, env, url.pathname.split("/"));
    if (request.method === "POST" && url.pathname === "/sql_scenario") return sqlScenario(request, env);
    if (url.pathname === "/sqlbench") return sqlBenchRoute(env, url.searchParams);
    if (request.method === "POST" && url.pathname.startsWith("/objects/")) {
      const parts = url.pathname.split("/");
      if (parts.length === 5) return objectCall(request, env, parts);
    }
    const q = url.searchParams;
    const n = Number(q.get("n") ?? "0");
    const name = q.get("name") ?? "bench";

    switch (url.pathname) {
      case "/empty":
        return json({});

      case "/warm": {
        const stub = env.COUNTER.get(env.COUNTER.idFromName(name));
        return json({ peek: await stub.peek() });
      }

      case "/timer_check": {
        // Spin ~50 ms of pure CPU with no I/O and see whether the clocks move.
        const d0 = Date.now();
        const p0 = performance.now();
        let x = 0;
        const end = Date.now() + 50;
        let spins = 0;
        // Bound the spin by iterations in case the clock never moves.
        while (spins < 30_000_000 && Date.now() < end) {
          x += Math.sqrt(spins++);
        }
        const dSpin = Date.now() - d0;
        const pSpin = performance.now() - p0;
        // Now do one I/O (an RPC) and look again.
        await env.COUNTER.get(env.COUNTER.idFromName("timer-check")).noop();
        return json({
          spins,
          date_delta_after_cpu_ms: dSpin,
          perf_delta_after_cpu_ms: pSpin,
          date_delta_after_io_ms: Date.now() - d0,
          perf_delta_after_io_ms: performance.now() - p0,
          x: x > 0,
        });
      }

      case "/bench/noop": {
        const stub = env.COUNTER.get(env.COUNTER.idFromName(name));
        const t0 = performance.now();
        for (let i = 0; i < n; i++) await stub.noop();
        return json({ ops: n, worker_ms: performance.now() - t0 });
      }

      case "/bench/increment": {
        const stub = env.COUNTER.get(env.COUNTER.idFromName(name));
        const before = await stub.peek();
        const t0 = performance.now();
        let last = before;
        for (let i = 0; i < n; i++) last = await stub.increment();
        const ms = performance.now() - t0;
        return json({ ops: n, worker_ms: ms, before, final: last, ok: last === before + n });
      }

      case "/bench/concurrent": {
        const stub = env.COUNTER.get(env.COUNTER.idFromName(name));
        const before = await stub.peek();
        const t0 = performance.now();
        const results = await Promise.all(Array.from({ length: n }, () => stub.increment()));
        const ms = performance.now() - t0;
        const final = await stub.peek();
        // every increment must have returned a distinct value before+1..before+n
        const distinct = new Set(results).size;
        const max = results.reduce((a, b) => Math.max(a, b), -Infinity);
        return json({
          ops: n,
          worker_ms: ms,
          before,
          final,
          ok: final === before + n && distinct === n && max === before + n,
          distinct_results: distinct,
        });
      }

      case "/bench/new_objects": {
        const prefix = q.get("prefix") ?? "obj";
        const ids = [];
        const t0 = performance.now();
        for (let i = 0; i < n; i++) {
          const id = env.COUNTER.idFromName(`${prefix}-${i}`);
          const v = await env.COUNTER.get(id).increment();
          if (v !== 1) return json({ error: `object ${prefix}-${i} was not new (got ${v})` }, 500);
          ids.push(id.toString());
        }
        return json({ ops: n, worker_ms: performance.now() - t0, ids });
      }

      case "/scenario": {
        const storage = await env.SCENARIO.get(env.SCENARIO.idFromName(q.get("name") ?? "scenario")).run();
        const ids = await idScenario(env);
        const ordering = await orderingScenario(env, q.get("name") ?? "scenario");
        return json({ ...storage, ...ids, ...ordering });
      }

      default:
        return json({ error: "not found" }, 404);
    }
  },
};
