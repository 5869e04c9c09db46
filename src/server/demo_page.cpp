// The demo page's three assets as raw strings; the page is a template that the access key
// completes. The script builds every element it adds with textContent, never innerHTML, so a
// payload cannot inject markup, and uses relative URLs, so it works at whatever loopback
// address it was opened.
#include "server/demo_page.hpp"

namespace wsgate {
namespace {

// Where the access key goes in `html`.
constexpr std::string_view key_slot = "@KEY@";

constexpr std::string_view html = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="wsgate-demo-key" content="@KEY@">
<title>wsgate demo</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="demo/app.css?key=@KEY@">
<script src="demo/app.js?key=@KEY@" defer></script>
</head>
<body>
<main>
<h1>wsgate demo</h1>
<p class="note">Demo mode (<code>--demo true</code>): this page and its endpoints answer loopback
clients holding the access key the gateway logged at start, and are not for production. Tokens
minted here open this gateway only. This page's address holds the key: do not share it.</p>

<section>
<h2>Connect</h2>
<form id="connect-form">
  <label>User id <input id="user" value="demo-user" maxlength="256" autocomplete="off"
    spellcheck="false" required></label>
  <label>Token <input id="token" placeholder="empty: a demo token is minted" autocomplete="off"
    spellcheck="false"></label>
  <button id="connect" type="submit">Connect</button>
  <button id="disconnect" type="button" disabled>Disconnect</button>
</form>
<p>State: <strong id="state" data-state="idle">idle</strong> <span id="notice"></span></p>
<p><span id="close-info" role="status"></span> <span id="close-meaning"></span></p>
</section>

<section>
<h2>Publish a test notification</h2>
<form id="publish-form">
  <textarea id="payload" rows="3" spellcheck="false">{"status":"hello"}</textarea>
  <button id="publish" type="submit">Send</button>
  <span id="publish-result" role="status"></span>
</form>
<p class="note">Sent to the user id above through <code>POST /demo/publish</code>, which runs
<code>PUBLISH ws:{user_id}</code>; the answer counts the gateway subscriptions that took it.</p>
</section>

<section>
<h2>Received (<span id="count">0</span>)</h2>
<ol id="messages"></ol>
</section>
</main>
</body>
</html>
)HTML";

constexpr std::string_view css =
    R"CSS(:root { color-scheme: light dark; font-family: system-ui, sans-serif; }
body { margin: 0; }
main { max-width: 52rem; margin: 0 auto; padding: 1rem 1.5rem; }
h1 { font-size: 1.4rem; }
h2 { font-size: 1.1rem; margin-top: 1.5rem; }
.note { color: GrayText; font-size: 0.9rem; }
form { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: end; }
label { display: flex; flex-direction: column; font-size: 0.85rem; gap: 0.2rem; }
input { min-width: 14rem; font: inherit; padding: 0.3rem; }
#token { min-width: 22rem; font-family: ui-monospace, monospace; }
textarea { flex: 1 1 100%; font-family: ui-monospace, monospace; padding: 0.3rem; }
button { font: inherit; padding: 0.3rem 0.9rem; }
#state[data-state="open"] { color: green; }
#state[data-state="closed"] { color: firebrick; }
#close-info { font-weight: bold; }
#messages { list-style: none; padding: 0; margin: 0; font-size: 0.9rem; }
#messages li { display: grid; grid-template-columns: 6.5rem 5rem 1fr; gap: 0.5rem;
  padding: 0.3rem 0; border-bottom: 1px solid color-mix(in srgb, currentColor 15%, transparent); }
#messages time, #messages .size { color: GrayText; }
#messages .payload { white-space: pre-wrap; word-break: break-all; }
)CSS";

constexpr std::string_view js = R"JS('use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const user = $('user'), token = $('token'), connectBtn = $('connect');
  const disconnectBtn = $('disconnect'), state = $('state'), notice = $('notice');
  const closeInfo = $('close-info'), closeMeaning = $('close-meaning');
  const messages = $('messages'), count = $('count');
  const payload = $('payload'), publishBtn = $('publish'), publishResult = $('publish-result');
  const encoder = new TextEncoder();
  const maxShown = 200;
  // What a close code means for the client (README, "Close codes").
  const meaning = {
    1000: 'normal closure',
    1001: 'the gateway is shutting down: reconnect with backoff',
    1006: 'no close frame: the connection failed or was lost',
    1008: 'authentication failed: get a new token before reconnecting',
    1009: 'message too big',
    1013: 'subscription unavailable: reconnect with backoff',
    4008: 'slow consumer: reconnect',
    4029: 'too many connections for this user',
  };
  // The access key, which the gateway wrote into the page. The page's URL keeps it too, so a
  // reload works; no cookie holds it (a browser would send it to every port of this host).
  const keyHeaders = {
    'X-Wsgate-Demo-Key': document.querySelector('meta[name="wsgate-demo-key"]').content,
  };
  let ws = null;
  let received = 0;

  function setState(s) {
    state.textContent = s;
    state.dataset.state = s;
  }

  async function fetchJson(url, options) {
    const res = await fetch(url, Object.assign({ cache: 'no-store', headers: keyHeaders },
      options));
    let body;
    try {
      body = await res.json();
    } catch (e) {
      body = {};
    }
    if (!res.ok) throw new Error(body.error || res.status + ' ' + res.statusText);
    return body;
  }

  function statusUrl(id, tok) {
    const url = new URL('ws/v1/status/' + encodeURIComponent(id), location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    url.search = '?token=' + encodeURIComponent(tok);
    return url.href;
  }

  function addMessage(data) {
    const li = document.createElement('li');
    const now = new Date();
    const time = document.createElement('time');
    time.dateTime = now.toISOString();
    time.textContent = now.toLocaleTimeString();
    const size = document.createElement('span');
    size.className = 'size';
    const body = document.createElement('span');
    body.className = 'payload';
    if (typeof data === 'string') {
      size.textContent = encoder.encode(data).length + ' B';
      body.textContent = data;
    } else {
      size.textContent = data.byteLength + ' B';
      body.textContent = '(binary frame)';
    }
    li.append(time, size, body);
    messages.prepend(li);
    while (messages.children.length > maxShown) messages.lastElementChild.remove();
    count.textContent = String(++received);
  }

  async function connect() {
    if (ws) return;
    const id = user.value;
    if (!id) {
      notice.textContent = 'enter a user id';
      return;
    }
    connectBtn.disabled = true;
    closeInfo.textContent = '';
    closeMeaning.textContent = '';
    notice.textContent = '';
    let tok = token.value.trim();
    if (!tok) {
      setState('getting token');
      try {
        const t = await fetchJson('demo/token?user=' + encodeURIComponent(id));
        tok = t.token;
        notice.textContent = 'with a demo token for this user (valid ' +
          Math.round(t.expires_in / 60) + ' min)';
      } catch (e) {
        setState('idle');
        notice.textContent = e.message;
        connectBtn.disabled = false;
        return;
      }
    }
    setState('connecting');
    const socket = new WebSocket(statusUrl(id, tok));
    socket.binaryType = 'arraybuffer';
    ws = socket;
    disconnectBtn.disabled = false;
    socket.onopen = () => setState('open');
    socket.onmessage = (ev) => addMessage(ev.data);
    socket.onclose = (ev) => {
      ws = null;
      setState('closed');
      closeInfo.textContent = 'closed ' + ev.code + (ev.reason ? ': ' + ev.reason : '');
      closeInfo.dataset.code = String(ev.code);
      closeMeaning.textContent = meaning[ev.code] ? '(' + meaning[ev.code] + ')' : '';
      connectBtn.disabled = false;
      disconnectBtn.disabled = true;
    };
  }

  function disconnect() {
    if (!ws) return;
    setState('closing');
    ws.close(1000, 'closed by the page');
  }

  async function publish() {
    const query = 'user=' + encodeURIComponent(user.value) +
      '&payload=' + encodeURIComponent(payload.value);
    publishResult.textContent = '';
    if (query.length > 7000) {
      // The request line counts against the gateway's --max-header-bytes (16 KiB by default, 10 KiB at the least).
      publishResult.textContent = 'not published: too long once URL-encoded';
      return;
    }
    publishBtn.disabled = true;
    try {
      const r = await fetchJson('demo/publish?' + query, { method: 'POST' });
      publishResult.textContent = 'published: ' + r.receivers +
        (r.receivers === 1 ? ' receiver' : ' receivers');
    } catch (e) {
      publishResult.textContent = 'not published: ' + e.message;
    } finally {
      publishBtn.disabled = false;
    }
  }

  $('connect-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    connect();
  });
  disconnectBtn.addEventListener('click', disconnect);
  $('publish-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    publish();
  });
})();
)JS";

}  // namespace

std::string demo_page_html(std::string_view key) {
    std::string out;
    out.reserve(html.size() + 3 * key.size());
    std::string_view rest = html;
    for (auto at = rest.find(key_slot); at != std::string_view::npos; at = rest.find(key_slot)) {
        out += rest.substr(0, at);
        out += key;
        rest.remove_prefix(at + key_slot.size());
    }
    out += rest;
    return out;
}
std::string_view demo_page_style() noexcept { return css; }
std::string_view demo_page_script() noexcept { return js; }

}  // namespace wsgate
