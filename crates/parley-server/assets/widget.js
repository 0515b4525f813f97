// Parley's web widget: <script src="https://HOST/widget.js" data-bot="BOT_ID" async></script>
// (data-mode="page" fills the window instead of floating; /chat/{bot_id} uses it).
//
// Plain JavaScript, no build step, no dependencies, and no requests to anyone but the
// Parley server that served this file. Everything lives in a Shadow DOM. Untrusted text is
// only ever put into the page as text nodes (the Markdown below builds elements itself).
//
// The browser's only credential is the conversation token from the widget start endpoint,
// kept in localStorage until it expires. Replies stream from `complete` ("stream": true);
// everything else that happens in the conversation (an agent's replies) arrives on the
// events stream. Both are read with fetch, not EventSource, so the token travels in the
// Authorization header and never in a URL; after a drop the events stream reconnects with
// Last-Event-ID, and messages are shown once each, by id.
(() => {
  "use strict";
  const script = document.currentScript;
  const bot = script && script.dataset.bot;
  if (!bot || window["parley:" + bot]) return;
  window["parley:" + bot] = true;
  const base = new URL(script.src, location.href).origin;
  const api = base + "/api/v1";
  const pageMode = script.dataset.mode === "page";
  const CSS = "__PARLEY_CSS__";
  const storeKey = "parley:" + bot;

  const store = {
    get() {
      try {
        const s = JSON.parse(localStorage.getItem(storeKey));
        return s && Date.parse(s.expires_at) > Date.now() + 60e3 ? s : null;
      } catch { return null; }
    },
    set(v) { try { localStorage.setItem(storeKey, JSON.stringify(v)); } catch { /* storage off */ } },
    clear() { try { localStorage.removeItem(storeKey); } catch { /* storage off */ } },
  };
  const wasOpen = {
    get: () => { try { return sessionStorage.getItem(storeKey) === "open"; } catch { return false; } },
    set: (on) => { try { sessionStorage.setItem(storeKey, on ? "open" : ""); } catch { /* storage off */ } },
  };

  // h("a", {href, onclick}, "text", child): an element; strings become text nodes.
  const h = (tag, props, ...kids) => {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v == null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids.flat()) if (kid != null && kid !== false) el.append(kid);
    return el;
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  let cfg, t; // the bot's widget config and texts
  let conv = null; // {id, token, expires_at, last_event}
  let closedConv = null; // a conversation that ended, still open to a rating
  let starting = null, busy = false, events = null, streamingEl = null;
  const seen = new Set(); // ids of messages on screen
  const pending = []; // the user's messages shown before the server confirmed them
  let root, launcher, badge, panel, log, note, rating, input, sendBtn, typingEl;

  // --- requests ---
  async function call(method, path, body) {
    const headers = {};
    if (conv) headers.Authorization = "Bearer " + conv.token;
    if (body) headers["Content-Type"] = "application/json";
    const res = await fetch(api + path, { method, headers, body: body && JSON.stringify(body) });
    if (!res.ok) {
      let e = {};
      try { e = (await res.json()).error || {}; } catch { /* not JSON */ }
      throw Object.assign(new Error(e.message || "HTTP " + res.status), { status: res.status });
    }
    return res;
  }
  const data = async (res) => (await res.json()).data;

  // Server-sent events from a fetch body: calls on(event, data, id) per event.
  async function readEvents(res, on) {
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf = (buf + dec.decode(value, { stream: true })).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        let type = "message", id = null;
        const lines = [];
        for (const line of block.split("\n")) {
          const c = line.indexOf(":");
          if (c === 0) continue; // a keep-alive comment
          const field = c < 0 ? line : line.slice(0, c);
          const v = c < 0 ? "" : line.slice(c + 1).replace(/^ /, "");
          if (field === "event") type = v;
          else if (field === "data") lines.push(v);
          else if (field === "id") id = v;
        }
        if (!lines.length) continue;
        let payload = null;
        try { payload = JSON.parse(lines.join("\n")); } catch { /* not JSON */ }
        on(type, payload, id);
      }
    }
  }

  // --- the conversation ---
  function ensureConversation() {
    starting = starting || (async () => {
      const saved = store.get();
      if (!(saved && (await resume(saved)))) await startNew();
    })().catch((e) => {
      starting = null;
      conv = null;
      showNote(e.status === 429 || e.status === 403 ? e.message : t.error);
    });
    return starting;
  }

  async function startNew() {
    conv = null;
    const d = await data(await call("POST", `/widget/${bot}/conversations`));
    conv = { id: d.id, token: d.token, expires_at: d.expires_at, last_event: 0 };
    store.set(conv);
    clearLog();
    (d.messages || []).forEach(show);
    listen();
  }

  // Shows the stored conversation's history; false when its token no longer opens it.
  async function resume(saved) {
    conv = saved;
    try {
      const items = [];
      let cursor = "";
      do {
        const q = cursor ? "&cursor=" + encodeURIComponent(cursor) : "";
        const d = await data(await call("GET", `/conversations/${conv.id}/messages?limit=200${q}`));
        items.push(...d.items);
        cursor = d.next_cursor;
      } while (cursor && items.length < 2000);
      clearLog();
      items.forEach(show);
      listen();
      return true;
    } catch (e) {
      if ([401, 403, 404].includes(e.status)) {
        store.clear();
        conv = null;
        return false;
      }
      throw e;
    }
  }

  // Follows the conversation's events (agent replies, other tabs) until stopped; resumes
  // after a drop from the last event seen, backing off while the server is away.
  async function listen() {
    if (events) events.abort();
    const ctl = (events = new AbortController());
    let failures = 0;
    while (conv && !ctl.signal.aborted) {
      try {
        const headers = { Authorization: "Bearer " + conv.token };
        if (conv.last_event) headers["Last-Event-ID"] = String(conv.last_event);
        const res = await fetch(`${api}/conversations/${conv.id}/events`, {
          headers, signal: ctl.signal, cache: "no-store",
        });
        if ([401, 403, 404].includes(res.status)) return ended();
        if (!res.ok) throw new Error("HTTP " + res.status);
        if (failures) showNote("");
        failures = 0;
        await readEvents(res, (type, m, id) => {
          if (id && conv) {
            conv.last_event = Number(id);
            store.set(conv);
          }
          if (type === "message" && m && show(m) && panel.hidden && m.role !== "user") {
            badge.hidden = false;
          }
        });
      } catch {
        if (ctl.signal.aborted) return;
      }
      failures++;
      if (failures > 1) showNote(t.reconnecting);
      await sleep(Math.min(15e3, 500 * 2 ** failures) * (0.5 + Math.random() / 2));
    }
  }

  // Sends what the user typed or tapped and streams the answer in.
  async function say(text, buttonId) {
    text = (text || "").trim();
    if (!text || busy) return;
    await ensureConversation();
    if (!conv) return;
    setBusy(true);
    clearChoices();
    const mine = { el: messageEl({ role: "user", text }) };
    pending.push(mine);
    addEl(mine.el);
    typing(true);
    try {
      const body = buttonId ? { button_id: buttonId, stream: true } : { text, stream: true };
      const res = await call("POST", `/conversations/${conv.id}/complete`, body);
      await readEvents(res, (type, d) => {
        if (type === "delta") {
          typing(false);
          streamDelta((d && d.text) || "");
        } else if (type === "message" && d) {
          typing(false);
          show(d);
        } else if (type === "error") showNote((d && d.message) || t.error);
      });
    } catch (e) {
      const i = pending.indexOf(mine);
      if (i >= 0) pending.splice(i, 1);
      if (e.status === 409) ended(true);
      else if (e.status === 401 || e.status === 404) ended();
      else showNote(e.status === 422 || e.status === 429 ? e.message : t.error);
    } finally {
      typing(false);
      dropStreaming();
      setBusy(false);
    }
  }

  // The conversation was closed (ask for a rating) or its token expired: offer a new one.
  function ended(closed) {
    if (events) events.abort();
    store.clear();
    closedConv = closed ? conv : null;
    conv = null;
    starting = null;
    showNote(t.closed, () => {
      showNote("");
      clearLog();
      closedConv = null;
      rating.hidden = true;
      ensureConversation();
    });
    if (closed && rating.hidden) toggleRating();
  }

  async function rate(n) {
    rating.querySelectorAll("button").forEach((b, i) => b.classList.toggle("on", i < n));
    try {
      if (!closedConv) await ensureConversation();
      const c = closedConv || conv;
      const res = await fetch(`${api}/conversations/${c.id}/feedback`, {
        method: "POST",
        headers: { Authorization: "Bearer " + c.token, "Content-Type": "application/json" },
        body: JSON.stringify({ rating: n }),
      });
      if (!res.ok) throw new Error("HTTP " + res.status);
      rating.replaceChildren(h("span", { text: t.rate_thanks }));
      setTimeout(() => (rating.hidden = true), 3000);
    } catch {
      showNote(t.error);
    }
  }

  // --- rendering ---
  // Adds a message unless it is on screen already; true when it was added.
  function show(m) {
    if (m.id && seen.has(m.id)) return false;
    if (m.id) seen.add(m.id);
    if (m.role === "user" && pending.length) {
      pending.shift(); // ours, shown when sent
      return false;
    }
    if (m.role !== "user") dropStreaming();
    clearChoices();
    addEl(messageEl(m));
    return true;
  }

  function messageEl(m) {
    const role = ["user", "bot", "agent", "system"].includes(m.role) ? m.role : "bot";
    const meta = m.meta || {};
    const label = { user: t.you_label, bot: t.bot_label, agent: meta.agent_name || t.agent_label }[role];
    const el = h("div", { class: "msg " + role },
      role === "agent" ? h("div", { class: "who", text: label }) : label && h("span", { class: "sr", text: label + ": " }),
      h("div", { class: "bubble" }, role === "user" ? m.text : markdown(m.text || "")));
    if (Array.isArray(meta.sources) && meta.sources.length) el.append(sourcesEl(meta.sources));
    if (role === "bot" && m.id && meta.source !== "greeting") el.append(thumbs(m));
    if (m.buttons && m.buttons.length) el.append(choicesEl(m));
    return el;
  }

  // 1–3 buttons are quick replies, 4–10 a list (or as the server's meta.layout says).
  function choicesEl(m) {
    const list = (m.meta && m.meta.layout) === "list" || m.buttons.length > 3;
    return h("div", { class: "choices" + (list ? " list" : ""), role: "group" },
      m.buttons.map((b) => h("button", { type: "button", onclick: () => say(b.title, b.id) }, b.title)));
  }

  function sourcesEl(list) {
    return h("div", { class: "sources" }, t.sources,
      h("ol", null, list.slice(0, 8).map((s) => {
        const title = typeof s === "string" ? s : s.title || s.url || "";
        return h("li", null, s && s.url ? link(s.url, title) : title);
      })));
  }

  function thumbs(m) {
    const box = h("div", { class: "fb" });
    const vote = (rating, btn) => {
      box.querySelectorAll("button").forEach((b) => (b.disabled = true));
      btn.setAttribute("aria-pressed", "true");
      if (conv) call("POST", `/conversations/${conv.id}/feedback`, { rating, message_id: m.id }).catch(() => showNote(t.error));
    };
    for (const [label, rating] of [[t.helpful, 5], [t.not_helpful, 1]]) {
      const b = h("button", { type: "button", "aria-label": label, title: label, "aria-pressed": "false" }, icon(THUMB));
      b.addEventListener("click", () => vote(rating, b));
      box.append(b);
    }
    return box;
  }

  // Safe Markdown: paragraphs, line breaks, - and 1. lists, **bold**, *italics*, `code`,
  // [links](https://…) and bare URLs. Built as elements; never parsed as HTML.
  function markdown(text) {
    const out = document.createDocumentFragment();
    let list = null, para = null;
    for (const line of text.split("\n")) {
      const item = /^\s*(?:([-*•])|\d+[.)])\s+(.*)$/.exec(line);
      if (item) {
        const tag = item[1] ? "UL" : "OL";
        if (!list || list.tagName !== tag) out.append((list = h(tag)));
        list.append(h("li", null, inline(item[2])));
        para = null;
      } else if (!line.trim()) {
        list = para = null;
      } else {
        list = null;
        if (para) para.append(h("br"));
        else out.append((para = h("p")));
        para.append(inline(line));
      }
    }
    return out;
  }
  const INLINE = /\*\*(.+?)\*\*|\*(\S(?:.*?\S)?)\*|(?<!\w)_(\S(?:.*?\S)?)_(?!\w)|`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)|(https?:\/\/[^\s<>()]*[^\s<>().,;:!?'"])/g;
  function inline(s) {
    const out = document.createDocumentFragment();
    let at = 0;
    for (const m of s.matchAll(INLINE)) {
      out.append(s.slice(at, m.index));
      at = m.index + m[0].length;
      if (m[1]) out.append(h("strong", null, inline(m[1])));
      else if (m[2] || m[3]) out.append(h("em", null, inline(m[2] || m[3])));
      else if (m[4]) out.append(h("code", { text: m[4] }));
      else out.append(link(m[6] || m[7], m[5] || m[7]));
    }
    out.append(s.slice(at));
    return out;
  }
  // Only web and mail links: a javascript: or data: "link" stays text.
  const link = (href, label) => /^(https?|mailto):/i.test(href)
    ? h("a", { href, target: "_blank", rel: "noopener noreferrer" }, label)
    : label;

  function streamDelta(text) {
    if (!streamingEl) {
      // Hidden from screen readers until whole; the finished message is announced.
      streamingEl = h("div", { class: "msg bot streaming", "aria-hidden": "true" }, h("div", { class: "bubble" }));
      addEl(streamingEl);
    }
    streamingEl.firstChild.append(text);
    scroll();
  }
  function dropStreaming() {
    if (streamingEl) streamingEl.remove();
    streamingEl = null;
  }

  function addEl(el) {
    log.insertBefore(el, typingEl.isConnected ? typingEl : null);
    scroll();
  }
  const scroll = () => (log.scrollTop = log.scrollHeight);
  const clearChoices = () => log.querySelectorAll(".choices").forEach((c) => c.remove());
  function clearLog() {
    log.replaceChildren();
    seen.clear();
    pending.length = 0;
  }
  function typing(on) {
    if (on) addEl(typingEl);
    else typingEl.remove();
  }
  function setBusy(on) {
    busy = on;
    sendBtn.disabled = on;
    log.querySelectorAll(".choices button").forEach((b) => (b.disabled = on));
  }
  function showNote(text, action) {
    note.replaceChildren(text || "", action ? h("button", { type: "button", onclick: action }, t.new_conversation) : "");
    note.hidden = !text;
  }

  function toggleRating() {
    rating.hidden = !rating.hidden;
    if (rating.hidden) return;
    rating.replaceChildren(h("span", { text: t.rate_prompt }),
      ...[1, 2, 3, 4, 5].map((n) => h("button", { type: "button", "aria-label": `${n} / 5`, onclick: () => rate(n) }, "★")));
    rating.querySelector("button").focus();
  }

  function toggle(open = panel.hidden) {
    panel.hidden = !open;
    root.classList.toggle("open", open);
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? t.close_chat : t.open_chat);
    wasOpen.set(open);
    if (open) {
      badge.hidden = true;
      ensureConversation();
      input.focus();
    }
  }

  const BUBBLE = "M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2z";
  const THUMB = "M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1.2-.7v-2z";
  function icon(d) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.append(document.createElementNS(ns, "path"));
    svg.firstChild.setAttribute("d", d);
    return svg;
  }

  // Readable text on the bot's colour.
  function textOn(hex) {
    const n = parseInt(hex.slice(1), 16);
    return 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255) > 165 ? "#111827" : "#fff";
  }

  function build() {
    const host = h("div", { "data-parley-widget": bot });
    const shadow = host.attachShadow({ mode: "open" });
    root = h("div", { class: "root" + (cfg.position === "left" ? " left" : "") + (pageMode ? " page open" : "") });
    if (/^#[0-9a-f]{6}$/i.test(cfg.primary_color)) {
      root.style.setProperty("--pc", cfg.primary_color);
      root.style.setProperty("--pt", textOn(cfg.primary_color));
    }
    launcher = h("button", {
      class: "launcher", type: "button", "aria-label": t.open_chat, "aria-expanded": "false",
      "aria-controls": "parley-panel", hidden: pageMode, onclick: () => toggle(),
    }, icon(BUBBLE), (badge = h("span", { class: "badge", hidden: true })));
    typingEl = h("div", { class: "typing", role: "status" }, h("span", { class: "sr", text: t.typing }), h("i"), h("i"), h("i"));
    const avatar = cfg.avatar_url && new URL(cfg.avatar_url, base).href;
    panel = h("section", { class: "panel", id: "parley-panel", role: "dialog", "aria-label": cfg.title, hidden: !pageMode },
      h("header", { class: "head" },
        avatar && h("img", { src: avatar, alt: "" }),
        h("div", null, h("h2", { text: cfg.title }), cfg.welcome_text && h("p", { text: cfg.welcome_text })),
        h("button", { class: "icon rate", type: "button", "aria-label": t.rate_prompt, title: t.rate_prompt, onclick: toggleRating }, "☆"),
        !pageMode && h("button", { class: "icon", type: "button", "aria-label": t.close_chat, title: t.close_chat,
          onclick: () => { toggle(false); launcher.focus(); } }, "✕")),
      (log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": cfg.title, tabindex: "0" })),
      (note = h("div", { class: "bar note", role: "status", hidden: true })),
      (rating = h("div", { class: "bar rating", role: "group", "aria-label": t.rate_prompt, hidden: true })),
      h("div", { class: "foot" },
        h("form", { onsubmit: (e) => {
          e.preventDefault();
          if (busy || !input.value.trim()) return;
          say(input.value);
          input.value = "";
        } },
          (input = h("input", {
            type: "text", "aria-label": t.input_placeholder, placeholder: t.input_placeholder,
            maxlength: "4000", autocomplete: "off", enterkeyhint: "send",
          })),
          (sendBtn = h("button", { class: "send", type: "submit" }, t.send))),
        h("button", { class: "handoff", type: "button", onclick: () => say(t.talk_to_person) }, t.talk_to_person)));
    panel.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !pageMode) {
        toggle(false);
        launcher.focus();
      }
    });
    root.append(launcher, panel);
    shadow.append(h("style", { text: CSS }), root);
    document.body.append(host);
  }

  async function init() {
    try {
      const res = await fetch(`${api}/widget/${bot}/config`);
      if (!res.ok) {
        const e = await res.json().catch(() => ({}));
        throw new Error((e.error && e.error.message) || "HTTP " + res.status);
      }
      cfg = await data(res);
    } catch (e) {
      console.warn(`Parley widget: bot ${bot} is not available here (${e.message}). ` +
        "Is this site's origin in the bot's widget.allowed_origins?");
      return;
    }
    t = cfg.texts || {};
    build();
    if (pageMode || wasOpen.get()) toggle(true);
    // A conversation going on from an earlier page: follow it while closed, so an agent's
    // reply lights the bubble's badge.
    else if (store.get()) ensureConversation();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
