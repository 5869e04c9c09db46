// Tests of wsgate-client.js with a fake WebSocket and fake timers: backoff and jitter bounds,
// stop on 1008 until setToken(), reconnect on 1001/1013/4008/4029. Run: node --test clients/js
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const WsgateClient = require("./wsgate-client.js");

// A controllable world: sockets created, timers scheduled, the random source and the clock.
function harness(options = {}) {
  const sockets = [];
  const timers = [];
  const world = { sockets, timers, rand: 0.5, clock: 0 };
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.closedWith = null;
      sockets.push(this);
    }
    close(code) {
      this.closedWith = code;
    }
    // Test side: what the server does.
    open() {
      this.onopen && this.onopen({});
    }
    message(data) {
      this.onmessage && this.onmessage({ data });
    }
    serverClose(code, reason = "") {
      this.onclose && this.onclose({ code, reason, wasClean: code !== 1006 });
    }
  }
  const events = [];
  const client = new WsgateClient(
    Object.assign(
      {
        url: "wss://gw.example.com/",
        clientId: "alice/1 é",
        token: "t1",
        WebSocket: FakeWebSocket,
        random: () => world.rand,
        now: () => world.clock,
        setTimer: (fn, ms) => {
          const t = { fn, ms, cleared: false };
          timers.push(t);
          return t;
        },
        clearTimer: (t) => {
          t.cleared = true;
        },
        onMessage: (d) => events.push(["message", d]),
        onClose: (e) => events.push(["close", e]),
        onTokenRejected: (r) => events.push(["rejected", r]),
      },
      options
    )
  );
  world.client = client;
  world.events = events;
  world.last = () => sockets[sockets.length - 1];
  // Fires the newest pending timer and returns its delay.
  world.fire = () => {
    const t = timers[timers.length - 1];
    assert.ok(t && !t.cleared, "a reconnect timer is pending");
    t.cleared = true;
    t.fn();
    return t.ms;
  };
  return world;
}

test("URL: client id percent-encoded in the path, token in the query", () => {
  const w = harness({ token: "a.b+c/d" });
  w.client.start();
  assert.equal(w.sockets.length, 1);
  assert.equal(w.last().url, "wss://gw.example.com/ws/v1/status/alice%2F1%20%C3%A9?token=a.b%2Bc%2Fd");
  w.last().open();
  w.last().message('{"status":"ready"}');
  assert.deepEqual(w.events, [["message", '{"status":"ready"}']]);
});

test("full jitter: each delay is in [0, min(max, base * 2^attempt))", () => {
  const base = 1000, max = 30000;
  for (const rand of [0, 0.25, 0.999999]) {
    const w = harness({ baseDelayMs: base, maxDelayMs: max });
    w.rand = rand;
    w.client.start();
    const delays = [];
    for (let attempt = 0; attempt < 10; attempt++) {
      w.last().serverClose(1006); // never opened: the network failed or the upgrade was refused
      const ceiling = Math.min(max, base * 2 ** attempt);
      const d = w.fire();
      assert.ok(d >= 0 && d < ceiling, `attempt ${attempt}: ${d} not in [0, ${ceiling})`);
      assert.equal(d, Math.floor(rand * ceiling));
      delays.push(d);
    }
    assert.equal(w.sockets.length, 11);
    if (rand > 0.9) {
      // The ceiling doubles, then stays at the cap.
      assert.deepEqual(delays.slice(0, 6), [999, 1999, 3999, 7999, 15999, 29999]);
      assert.ok(delays.slice(5).every((d) => d === 29999));
    }
  }
});

test("backoff restarts after a connection that stayed open, not after one closed at once", () => {
  const w = harness({ stableAfterMs: 10000 });
  w.rand = 0.999999;
  w.client.start();
  for (let i = 0; i < 3; i++) {
    w.last().open();
    w.last().serverClose(1013, "subscription unavailable"); // right after the upgrade
    w.fire();
  }
  w.last().open();
  w.last().serverClose(1013);
  assert.equal(w.fire(), 7999); // fourth failure in a row: ceiling 8 s
  w.last().open();
  w.clock += 10000;
  w.last().serverClose(1001, "server shutting down");
  assert.equal(w.fire(), 999); // stable connection: back to the base ceiling
});

for (const [code, reason] of [
  [1001, "server shutting down"],
  [1013, "subscription unavailable"],
  [4008, "slow consumer"],
  [1006, ""],
]) {
  test(`close ${code} reconnects with backoff`, () => {
    const w = harness();
    w.client.start();
    w.last().open();
    w.last().serverClose(code, reason);
    assert.equal(w.sockets.length, 1, "no reconnect before the delay");
    const [, e] = w.events.find(([k]) => k === "close");
    assert.equal(e.code, code);
    assert.ok(e.retryInMs >= 0 && e.retryInMs < 1000);
    w.fire();
    assert.equal(w.sockets.length, 2);
    assert.match(w.last().url, /\?token=t1$/);
    assert.ok(!w.events.some(([k]) => k === "rejected"));
  });
}

test("close 4029 reconnects after the longer per-user-limit delay", () => {
  const w = harness({ userLimitDelayMs: 30000, baseDelayMs: 1000 });
  w.client.start();
  for (const [rand, expected] of [[0, 30000], [0.999999, 31999], [0.5, 32000]]) {
    w.rand = rand; // attempts 0, 1, 2: jitter ceilings 1 s, 2 s, 4 s on top of 30 s
    w.last().open();
    w.last().serverClose(4029, "too many connections for this user");
    assert.equal(w.fire(), expected);
  }
  assert.equal(w.sockets.length, 4);
});

test("close 1008 stops reconnecting until setToken()", () => {
  const w = harness();
  w.client.start();
  w.last().open();
  w.last().serverClose(1008, "token expired");
  assert.deepEqual(w.events, [
    ["close", { code: 1008, reason: "token expired", retryInMs: null }],
    ["rejected", "token expired"],
  ]);
  assert.equal(w.timers.length, 0, "no reconnect is scheduled");
  w.client.start(); // start() does not bypass the wait for a token
  assert.equal(w.sockets.length, 1);
  w.client.setToken("t2");
  assert.equal(w.sockets.length, 2, "a new token reconnects at once");
  assert.match(w.last().url, /\?token=t2$/);
  // A token refreshed while connected is kept for the next connection, without a reconnect.
  w.last().open();
  w.client.setToken("t3");
  assert.equal(w.sockets.length, 2);
  w.last().serverClose(1001);
  w.fire();
  assert.match(w.last().url, /\?token=t3$/);
});

test("1008 after a token refreshed during the connection reconnects with the new token", () => {
  const w = harness();
  w.client.start();
  w.last().open();
  w.client.setToken("t2"); // refreshed before t1 expired
  w.last().serverClose(1008, "token expired"); // the connection still ran on t1
  assert.ok(!w.events.some(([k]) => k === "rejected"));
  const [, e] = w.events.find(([k]) => k === "close");
  assert.ok(e.retryInMs >= 0 && e.retryInMs < 1000);
  w.fire();
  assert.equal(w.sockets.length, 2);
  assert.match(w.last().url, /\?token=t2$/);
  // The same token rejected again: now the client waits for a new one.
  w.last().serverClose(1008, "invalid token");
  assert.deepEqual(w.events[w.events.length - 1], ["rejected", "invalid token"]);
  assert.equal(w.timers.length, 1);
});

test("1008 for too much client data backs off and reconnects, it is no token problem", () => {
  const w = harness();
  w.client.start();
  w.last().open();
  w.last().serverClose(1008, "client sent too much data");
  assert.ok(!w.events.some(([k]) => k === "rejected"));
  const [, e] = w.events.find(([k]) => k === "close");
  assert.ok(e.retryInMs !== null && e.retryInMs >= 0);
  w.fire();
  assert.equal(w.sockets.length, 2, "reconnected with the same token");
  assert.match(w.last().url, /\?token=t1$/);
});

test("setToken() from inside onTokenRejected reconnects", () => {
  let client;
  const w = harness({ onTokenRejected: () => client.setToken("fresh") });
  client = w.client;
  client.start();
  w.last().serverClose(1008, "invalid token");
  assert.equal(w.sockets.length, 2);
  assert.match(w.last().url, /\?token=fresh$/);
});

test("stop() closes the socket and cancels a pending reconnect", () => {
  const w = harness();
  w.client.start();
  w.last().open();
  w.last().serverClose(4008, "slow consumer");
  assert.equal(w.timers.length, 1);
  w.client.stop();
  assert.ok(w.timers[0].cleared);
  w.client.start();
  assert.equal(w.sockets.length, 2);
  const ws = w.last();
  w.client.stop();
  assert.equal(ws.closedWith, 1000);
  ws.serverClose(1000);
  assert.equal(w.sockets.length, 2);
  assert.equal(w.timers.length, 1);
});
