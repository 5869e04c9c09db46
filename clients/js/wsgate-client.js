// wsgate-client.js: a dependency-free wsgate client for browsers and Node (global WebSocket,
// Node >= 22; or pass one in). Reconnects with exponential backoff and full jitter; on 1008
// (authentication) it stops until setToken() supplies a new token. See docs/protocol.md.
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.WsgateClient = factory();
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  const POLICY_VIOLATION = 1008; // authentication failed: a new token is needed
  // 1008 for what the client sent, not for its token: a new token would not help.
  const NOT_A_TOKEN_PROBLEM = new Set(["client sent too much data", "client sent too many frames"]);
  const TOO_MANY_CONNECTIONS = 4029; // per-user limit: retry, but later

  class WsgateClient {
    // options: url (ws[s]://host[:port]), clientId, token, onMessage(data),
    // onOpen(), onClose({code, reason, retryInMs}) (retryInMs null: not retrying),
    // onTokenRejected(reason): fetch a new token, then call setToken(it).
    // Tuning: baseDelayMs (1000), maxDelayMs (30000), userLimitDelayMs (30000),
    // stableAfterMs (10000). Injectable for tests: WebSocket, random, now, setTimer, clearTimer.
    constructor(options) {
      this.o = Object.assign(
        {
          baseDelayMs: 1000,
          maxDelayMs: 30000,
          userLimitDelayMs: 30000,
          stableAfterMs: 10000,
          WebSocket: globalThis.WebSocket,
          random: Math.random,
          now: () => Date.now(),
          setTimer: (fn, ms) => setTimeout(fn, ms),
          clearTimer: (t) => clearTimeout(t),
        },
        options
      );
      if (typeof this.o.WebSocket !== "function") throw new Error("no WebSocket implementation");
      this.token = this.o.token;
      this.attempt = 0; // failed attempts since the last stable connection
      this.ws = null;
      this.timer = null;
      this.stopped = true;
      this.waitingForToken = false;
    }

    start() {
      this.stopped = false;
      if (!this.ws && !this.timer && !this.waitingForToken) this.connect();
    }

    stop() {
      this.stopped = true;
      if (this.timer !== null) this.o.clearTimer(this.timer);
      this.timer = null;
      if (this.ws) this.ws.close(1000);
      this.ws = null;
    }

    // A new token: used for the next connection; reconnects now if 1008 stopped us.
    setToken(token) {
      this.token = token;
      if (this.waitingForToken && !this.stopped) {
        this.waitingForToken = false;
        this.attempt = 0;
        this.connect();
      }
    }

    // Full jitter: uniform in [0, min(max, base * 2^attempt)); 4029 waits userLimitDelayMs more.
    delayFor(code) {
      const ceiling = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** Math.min(this.attempt, 30));
      const jitter = Math.floor(this.o.random() * ceiling);
      return code === TOO_MANY_CONNECTIONS ? this.o.userLimitDelayMs + jitter : jitter;
    }

    connect() {
      const url =
        this.o.url.replace(/\/+$/, "") +
        "/ws/v1/status/" + encodeURIComponent(this.o.clientId) +
        "?token=" + encodeURIComponent(this.token);
      const ws = new this.o.WebSocket(url);
      const tokenUsed = this.token;
      this.ws = ws;
      let openedAt = null;
      ws.onopen = () => {
        openedAt = this.o.now();
        if (this.o.onOpen) this.o.onOpen();
      };
      ws.onmessage = (event) => {
        if (this.o.onMessage) this.o.onMessage(event.data);
      };
      ws.onclose = (event) => {
        if (this.ws !== ws) return; // stop() already let go of it
        this.ws = null;
        if (this.stopped) return;
        // A connection that stayed up resets the backoff; one closed at once (1013, 4029,
        // 1008 arrive right after the upgrade) keeps backing off.
        if (openedAt !== null && this.o.now() - openedAt >= this.o.stableAfterMs) this.attempt = 0;
        let retryInMs = null;
        // 1008 with the token we still hold: wait for a new one. A token set meanwhile
        // (refreshed before this one expired) is tried like any reconnect.
        if (
          event.code === POLICY_VIOLATION &&
          !NOT_A_TOKEN_PROBLEM.has(event.reason) &&
          this.token === tokenUsed
        ) {
          this.waitingForToken = true;
        } else {
          // 1001 shutdown, 1013 subscription unavailable, 4008 slow consumer, 4029 user
          // limit, 1006 network or refused upgrade (403/429/503), anything else.
          retryInMs = this.delayFor(event.code);
          this.attempt++;
          this.timer = this.o.setTimer(() => {
            this.timer = null;
            if (!this.stopped) this.connect();
          }, retryInMs);
        }
        if (this.o.onClose) this.o.onClose({ code: event.code, reason: event.reason, retryInMs });
        if (this.waitingForToken && this.o.onTokenRejected)
          this.o.onTokenRejected(event.reason);
      };
    }
  }

  return WsgateClient;
});
