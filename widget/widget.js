/*! Parley chat widget — one file, no framework.
 * <script src="https://HOST/widget.js" data-key="pk_…" async></script>
 * Optional: data-position="left|right", data-lang="en|de", data-open="true",
 * data-consent="required" (nothing is drawn until the page calls Parley.consent(true)),
 * data-preload="true" (the bot's settings load with the page, for the greeting bubble).
 * Until the visitor opens the chat (or the page opens it), the widget draws its launcher
 * and nothing else: no request, no cookie, no storage, no WebSocket.
 * Everything renders inside one shadow root; text is always inserted as text nodes.
 */
(function () {
  "use strict";

  var STRINGS = {
    en: {
      open: "Open chat", close: "Close chat", send: "Send", placeholder: "Type your question…",
      startOver: "Start over", typing: "Typing…", sources: "Sources", helpful: "Helpful",
      notHelpful: "Not helpful", thanks: "Thanks for your feedback!",
      reconnecting: "Connection lost, reconnecting…",
      err_origin_not_allowed: "This chat is not enabled on this website.",
      err_unauthorized: "This chat is not set up correctly (invalid key).",
      err_rate_limited: "You are sending messages quickly. Please wait a moment.",
      err_validation_error: "That message is too long.",
      err_offline: "We can't reach the chat right now. Please try again later.",
      err_default: "Something went wrong. Please try again.",
      contact: "Contact our team", suggest: "Did you mean:",
      more: "More options", download: "Download my data", erase: "Delete my conversation",
      confirmErase: "Delete your conversation and everything you wrote here? This cannot be undone.",
      confirm: "Delete", cancel: "Cancel", erased: "Your conversation was deleted.",
      downloaded: "Your data was downloaded.",
      talk: "Talk to a person", talkIntro: "A person from our team will join this chat. Your name and e-mail are optional.",
      offHours: "Our team is available {hours}. Leave your e-mail and we will answer you there.",
      name: "Your name", email: "Your e-mail", ask: "Ask for a person",
      st_waiting: "Waiting for a person to join…", st_human: "You are chatting with a person.",
      st_bot: "You are chatting with the assistant again.", st_closed: "The conversation was closed.",
      st_later: "Thanks! Our team will answer by e-mail.",
      err_email_required: "Please leave your e-mail address.", err_handoff_disabled: "No one is available to chat right now."
    },
    de: {
      open: "Chat öffnen", close: "Chat schließen", send: "Senden",
      placeholder: "Ihre Frage …", startOver: "Neu beginnen", typing: "Schreibt …",
      sources: "Quellen", helpful: "Hilfreich", notHelpful: "Nicht hilfreich",
      thanks: "Danke für Ihr Feedback!", reconnecting: "Verbindung unterbrochen, verbinde neu …",
      err_origin_not_allowed: "Dieser Chat ist auf dieser Website nicht freigeschaltet.",
      err_unauthorized: "Dieser Chat ist nicht richtig eingerichtet (ungültiger Schlüssel).",
      err_rate_limited: "Sie schreiben sehr schnell. Bitte warten Sie einen Moment.",
      err_validation_error: "Diese Nachricht ist zu lang.",
      err_offline: "Der Chat ist gerade nicht erreichbar. Bitte versuchen Sie es später.",
      err_default: "Etwas ist schiefgelaufen. Bitte versuchen Sie es erneut.",
      contact: "Team kontaktieren", suggest: "Meinten Sie:",
      more: "Weitere Optionen", download: "Meine Daten herunterladen", erase: "Meine Unterhaltung löschen",
      confirmErase: "Ihre Unterhaltung und alles, was Sie hier geschrieben haben, löschen? Das lässt sich nicht rückgängig machen.",
      confirm: "Löschen", cancel: "Abbrechen", erased: "Ihre Unterhaltung wurde gelöscht.",
      downloaded: "Ihre Daten wurden heruntergeladen.",
      talk: "Mit einem Menschen sprechen", talkIntro: "Jemand aus unserem Team kommt in diesen Chat. Name und E-Mail sind freiwillig.",
      offHours: "Unser Team ist {hours} erreichbar. Hinterlassen Sie Ihre E-Mail-Adresse, wir antworten Ihnen dort.",
      name: "Ihr Name", email: "Ihre E-Mail", ask: "Mitarbeiter anfragen",
      st_waiting: "Warten auf eine Person aus dem Team …", st_human: "Sie schreiben jetzt mit einem Menschen.",
      st_bot: "Sie schreiben wieder mit dem Assistenten.", st_closed: "Die Unterhaltung wurde beendet.",
      st_later: "Danke! Unser Team antwortet per E-Mail.",
      err_email_required: "Bitte hinterlassen Sie Ihre E-Mail-Adresse.", err_handoff_disabled: "Gerade ist niemand für den Chat erreichbar."
    }
  };

  // ----- pure parts (unit-tested with node:test) -----------------------------------

  /** Exponential back-off with jitter: half to full of min(cap, base * 2^attempt). */
  function backoffDelay(attempt, random, base, cap) {
    base = base || 500;
    cap = cap || 15000;
    var ceiling = Math.min(cap, base * Math.pow(2, attempt));
    return Math.round(ceiling / 2 + (random === undefined ? Math.random() : random) * ceiling / 2);
  }

  var SAFE_URL = /^(https?:|mailto:)/i;

  /** Inline Markdown -> nodes: {t:"text"|"b"|"i"|"code"|"a", …}. Images become their alt text. */
  function parseInline(text) {
    var out = [];
    var re = /(!\[([^\]]*)\]\(((?:[^()\s]|\([^()\s]*\))*)\))|(\[([^\]]+)\]\(((?:[^()\s]|\([^()\s]*\))+)\))|(`([^`]+)`)|(\*\*([^*]+)\*\*)|(\*([^*\s][^*]*)\*)|((?<![\w])_([^_\s][^_]*)_(?![\w]))/g;
    var last = 0, m;
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) out.push({ t: "text", v: text.slice(last, m.index) });
      if (m[1]) out.push({ t: "text", v: m[2] });
      else if (m[4]) {
        if (SAFE_URL.test(m[6])) out.push({ t: "a", href: m[6], c: parseInline(m[5]) });
        else out.push({ t: "text", v: m[5] });
      } else if (m[7]) out.push({ t: "code", v: m[8] });
      else if (m[9]) out.push({ t: "b", c: parseInline(m[10]) });
      else if (m[11]) out.push({ t: "i", c: parseInline(m[12]) });
      else out.push({ t: "i", c: parseInline(m[14]) });
      last = re.lastIndex;
    }
    if (last < text.length) out.push({ t: "text", v: text.slice(last) });
    return out;
  }

  /** Block Markdown -> [{t:"p"|"ul"|"ol", …}]: paragraphs and lists only. */
  function parseMarkdown(text) {
    var blocks = [], list = null;
    String(text).replace(/\r\n?/g, "\n").split(/\n/).forEach(function (line) {
      var bullet = /^\s*[-*•]\s+(.*)$/.exec(line), numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
      var item = bullet || numbered;
      if (item) {
        var kind = bullet ? "ul" : "ol";
        if (!list || list.t !== kind) { list = { t: kind, items: [] }; blocks.push(list); }
        list.items.push(parseInline(item[1]));
        return;
      }
      list = null;
      if (!line.trim()) { blocks.push(null); return; }
      var prev = blocks[blocks.length - 1];
      if (prev && prev.t === "p") prev.lines.push(parseInline(line));
      else blocks.push({ t: "p", lines: [parseInline(line)] });
    });
    return blocks.filter(Boolean);
  }

  // ----- DOM (browser only) --------------------------------------------------------------

  function el(doc, tag, attrs, children) {
    var node = doc.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? doc.createTextNode(c) : c);
    });
    return node;
  }

  /** A speech-bubble icon, built with DOM calls (works without emoji fonts). */
  function icon(doc) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = doc.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "26");
    svg.setAttribute("height", "26");
    svg.setAttribute("aria-hidden", "true");
    var path = doc.createElementNS(ns, "path");
    path.setAttribute("d", "M4 4h16a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1H9l-5 4v-4H4a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1z");
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  function renderInline(doc, nodes, parent) {
    nodes.forEach(function (n) {
      if (n.t === "text") parent.appendChild(doc.createTextNode(n.v));
      else if (n.t === "code") parent.appendChild(el(doc, "code", {}, [n.v]));
      else if (n.t === "a") {
        var a = el(doc, "a", { href: n.href, target: "_blank", rel: "noopener noreferrer" });
        renderInline(doc, n.c, a);
        parent.appendChild(a);
      } else {
        var e = el(doc, n.t === "b" ? "strong" : "em");
        renderInline(doc, n.c, e);
        parent.appendChild(e);
      }
    });
  }

  function renderMarkdown(doc, text) {
    var frag = doc.createDocumentFragment();
    parseMarkdown(text).forEach(function (b) {
      if (b.t === "p") {
        var p = el(doc, "p");
        b.lines.forEach(function (line, i) {
          if (i) p.appendChild(el(doc, "br"));
          renderInline(doc, line, p);
        });
        frag.appendChild(p);
      } else {
        var list = el(doc, b.t);
        b.items.forEach(function (item) { var li = el(doc, "li"); renderInline(doc, item, li); list.appendChild(li); });
        frag.appendChild(list);
      }
    });
    return frag;
  }

  var CSS = [
    ":host{all:initial;--p-accent:#2f6b4f;--p-bg:#fff;--p-fg:#1d2430;--p-muted:#5b6472;--p-bot:#f1f3f5;--p-border:#d5dae0;",
    "position:fixed;bottom:20px;z-index:2147483000;font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:var(--p-fg)}",
    ":host([data-position=right]){right:20px}:host([data-position=left]){left:20px}",
    "@media (prefers-color-scheme:dark){:host{--p-bg:#1c1f24;--p-fg:#eef1f4;--p-muted:#aab2bd;--p-bot:#2a2f36;--p-border:#3a414b}}",
    "*{box-sizing:border-box}button{font:inherit;cursor:pointer}",
    ".launcher{width:56px;height:56px;border-radius:50%;border:0;background:var(--p-accent);color:#fff;box-shadow:0 4px 14px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center}",
    ".launcher:focus-visible,.panel button:focus-visible,textarea:focus-visible,a:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}",
    ".bubble{position:absolute;bottom:66px;width:240px;background:var(--p-bg);border:1px solid var(--p-border);border-radius:12px;padding:10px 12px;box-shadow:0 4px 14px rgba(0,0,0,.15)}",
    ":host([data-position=right]) .bubble,:host([data-position=right]) .panel{right:0}",
    ".panel{position:absolute;bottom:66px;width:370px;height:560px;max-height:calc(100vh - 100px);display:flex;flex-direction:column;background:var(--p-bg);border:1px solid var(--p-border);border-radius:14px;box-shadow:0 10px 30px rgba(0,0,0,.25);overflow:hidden}",
    "[hidden]{display:none!important}",
    ".head{display:flex;align-items:center;gap:8px;padding:12px 14px;background:var(--p-accent);color:#fff}",
    ".head h2{flex:1;margin:0;font-size:16px}.head button{background:transparent;border:1px solid rgba(255,255,255,.6);color:#fff;border-radius:6px;padding:3px 8px}",
    ".log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:10px}",
    ".msg{max-width:85%;padding:8px 12px;border-radius:12px;word-wrap:break-word}.msg p{margin:0 0 6px}.msg p:last-child{margin:0}.msg ul,.msg ol{margin:4px 0;padding-left:20px}",
    ".user{align-self:flex-end;background:var(--p-accent);color:#fff}.bot{align-self:flex-start;background:var(--p-bot)}",
    ".bot a{color:inherit}.contact{display:inline-block;margin-top:6px;font-weight:600}.src{font-size:13px;color:var(--p-muted);margin-top:6px}.src a{display:block;color:var(--p-muted)}",
    ".fb{margin-top:6px;display:flex;gap:6px;font-size:13px}.fb button{border:1px solid var(--p-border);background:transparent;border-radius:6px;padding:1px 8px;color:var(--p-fg);font-size:13px}",
    ".chips,.sugg{display:flex;flex-wrap:wrap;gap:6px}.chips button,.sugg button{border:1px solid var(--p-accent);background:transparent;color:var(--p-fg);border-radius:16px;padding:4px 10px}",
    ".notice{padding:6px 14px;font-size:13px;color:#a4262c;background:#fdecea}.notice.ok{color:#1e5e3a;background:#e6f4ea}",
    ".menu,.confirm{display:flex;flex-direction:column;gap:6px;padding:10px 14px;border-bottom:1px solid var(--p-border);font-size:14px}",
    ".menu button,.confirm button{text-align:left;border:1px solid var(--p-border);background:transparent;color:var(--p-fg);border-radius:6px;padding:5px 10px}",
    ".typing{align-self:flex-start;color:var(--p-muted);font-style:italic}",
    ".op{align-self:flex-start;background:var(--p-bot);border-left:3px solid var(--p-accent)}.who{display:block;font-size:12px;font-weight:600;color:var(--p-muted)}",
    ".talk{margin-top:6px;border:1px solid var(--p-accent);background:transparent;color:var(--p-fg);border-radius:6px;padding:3px 10px}",
    ".confirm input{font:inherit;padding:6px;border:1px solid var(--p-border);border-radius:6px;background:var(--p-bg);color:var(--p-fg)}",
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid var(--p-border)}",
    "textarea{flex:1;resize:none;height:42px;padding:9px;border:1px solid var(--p-border);border-radius:8px;background:var(--p-bg);color:var(--p-fg);font:inherit}",
    "form button{border:0;border-radius:8px;background:var(--p-accent);color:#fff;padding:0 14px}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}",
    "@media (max-width:480px){.panel{position:fixed;inset:0;width:auto;height:auto;max-height:none;border-radius:0}}",
    "@media (prefers-reduced-motion:no-preference){.panel{animation:pin .15s ease-out}@keyframes pin{from{opacity:0;transform:translateY(8px)}}}"
  ].join("");

  function boot(script) {
    var doc = document, win = window;
    var opts = {
      key: script.getAttribute("data-key") || "",
      position: script.getAttribute("data-position") === "left" ? "left" : "right",
      lang: script.getAttribute("data-lang"),
      open: script.getAttribute("data-open") === "true",
      // "required": draw nothing until the page's consent banner calls Parley.consent(true).
      consent: script.getAttribute("data-consent") === "required" ? "required" : "open",
      // "true": fetch the bot's settings as the page loads, not when the chat is opened.
      preload: script.getAttribute("data-preload") === "true",
      // "http": never open a WebSocket (AWS Lambda behind an HTTP API has none).
      transport: script.getAttribute("data-transport") === "http" ? "http" : "auto"
    };
    // The API is where the script came from, unless data-api names it (a static host or CDN
    // serving widget.js in front of the Lambda deployment's HTTP API).
    var api = new URL(script.getAttribute("data-api") || script.src, doc.baseURI).origin;
    var storeKey = "parley:" + opts.key.slice(0, 15);
    // In memory until the bot's settings say where the conversation may be kept.
    var state = { transcript: [] }, storage = null;
    var t = STRINGS[opts.lang] || STRINGS.en;
    var config = null, loading = null, socket = null, attempt = 0, wsFailures = 0, closed = false;
    var granted = opts.consent !== "required" || win.parleyConsent === true;
    var useSse = opts.transport === "http";
    var pending = [], current = null, timers = [];

    function stores() {
      var found = [];
      // Reading a store can throw (a sandboxed frame, storage blocked by the browser).
      ["localStorage", "sessionStorage"].forEach(function (name) { try { found.push([name, win[name]]); } catch (e) { /* none */ } });
      return found;
    }
    /** The store the bot's remember_conversation setting names ("browser": localStorage,
     * "tab": sessionStorage, "off": none); what another store kept is forgotten. */
    function restore() {
      var wanted = { browser: "localStorage", tab: "sessionStorage" }[config.remember_conversation];
      storage = null;
      stores().forEach(function (pair) {
        try {
          if (pair[0] === wanted) storage = pair[1];
          else if (pair[1].getItem(storeKey) !== null) pair[1].removeItem(storeKey);
        } catch (e) { /* blocked */ }
      });
      if (state.transcript.length || state.visitor_id) return save();  // written before the settings came
      try { state = JSON.parse(storage.getItem(storeKey)) || state; } catch (e) { /* none kept */ }
    }
    function save() {
      state.transcript = state.transcript.slice(-50);
      if (!storage) return;
      try { storage.setItem(storeKey, JSON.stringify(state)); } catch (e) { /* private mode */ }
    }
    function forgetStored() {
      stores().forEach(function (pair) { try { pair[1].removeItem(storeKey); } catch (e) { /* blocked */ } });
    }

    var host = el(doc, "div", { "data-position": opts.position, "data-parley": "" });
    var root = host.attachShadow({ mode: "open" });
    root.appendChild(el(doc, "style", {}, [CSS]));
    var launcher = el(doc, "button", { "class": "launcher", "aria-expanded": "false", "aria-label": t.open }, [icon(doc)]);
    var bubble = el(doc, "div", { "class": "bubble", hidden: "" });
    var title = el(doc, "h2", { id: "parley-title" }, ["Chat"]);
    var restart = el(doc, "button", { type: "button" }, [t.startOver]);
    var closer = el(doc, "button", { type: "button", "aria-label": t.close }, ["✕"]);
    var more = el(doc, "button", { type: "button", "aria-label": t.more, "aria-haspopup": "true", "aria-expanded": "false" }, ["⋯"]);
    var getData = el(doc, "button", { type: "button" }, [t.download]);
    var eraseData = el(doc, "button", { type: "button" }, [t.erase]);
    var talkItem = el(doc, "button", { type: "button", hidden: "" }, [t.talk]);
    var menu = el(doc, "div", { "class": "menu", hidden: "" }, [talkItem, getData, eraseData]);
    var talkText = el(doc, "p", {}, [t.talkIntro]);
    var nameIn = el(doc, "input", { type: "text", maxlength: "200", autocomplete: "name", "aria-label": t.name, placeholder: t.name });
    var emailIn = el(doc, "input", { type: "email", maxlength: "254", autocomplete: "email", "aria-label": t.email, placeholder: t.email });
    var talkYes = el(doc, "button", { type: "button" }, [t.ask]);
    var talkNo = el(doc, "button", { type: "button" }, [t.cancel]);
    var talkBox = el(doc, "div", { "class": "confirm", role: "dialog", "aria-label": t.talk, hidden: "" }, [talkText, nameIn, emailIn, talkYes, talkNo]);
    var confirmYes = el(doc, "button", { type: "button" }, [t.confirm]);
    var confirmNo = el(doc, "button", { type: "button" }, [t.cancel]);
    var confirmText = el(doc, "p", {}, [t.confirmErase]);
    var confirmBox = el(doc, "div", { "class": "confirm", role: "alertdialog", hidden: "" }, [confirmText, confirmYes, confirmNo]);
    var log = el(doc, "div", { "class": "log", role: "log", "aria-live": "polite", "aria-relevant": "additions" });
    var notice = el(doc, "div", { "class": "notice", role: "alert", hidden: "" });
    var input = el(doc, "textarea", { "aria-label": t.placeholder, placeholder: t.placeholder, maxlength: "2000" });
    var send = el(doc, "button", { type: "submit" }, [t.send]);
    var form = el(doc, "form", {}, [input, send]);
    var panel = el(doc, "div", { "class": "panel", role: "dialog", "aria-labelledby": "parley-title", hidden: "" },
      [el(doc, "div", { "class": "head" }, [title, more, restart, closer]), menu, confirmBox, talkBox, log, notice, form]);
    root.appendChild(panel);
    root.appendChild(bubble);
    root.appendChild(launcher);

    function say(code) {
      notice.textContent = t["err_" + code] || (code === "reconnecting" ? t.reconnecting : t.err_default);
      notice.className = "notice";
      notice.hidden = false;
    }
    function tell(text) { notice.textContent = text; notice.className = "notice ok"; notice.hidden = false; }
    function clearNotice() { notice.hidden = true; notice.textContent = ""; }

    function authHeaders(extra) {
      var h = { "Authorization": "Bearer " + opts.key, "Content-Type": "application/json" };
      // This visitor's own message allowance (visitors behind one address do not share one).
      if (state.visitor_id) h["X-Parley-Visitor-Id"] = state.visitor_id;
      Object.keys(extra || {}).forEach(function (k) { h[k] = extra[k]; });
      return h;
    }
    function request(path, init, ms) {
      var ctl = new AbortController(), timer = setTimeout(function () { ctl.abort(); }, ms || 20000);
      init.signal = ctl.signal;
      return fetch(api + path, init).finally(function () { clearTimeout(timer); });
    }

    // ----- rendering ------------------------------------------------------------------
    function addMessage(entry) {
      var node = el(doc, "div", { "class": "msg " + (entry.role === "user" ? "user" : entry.role === "operator" ? "op" : "bot") });
      if (entry.role === "user") node.appendChild(doc.createTextNode(entry.text));
      else if (entry.role === "operator") {
        node.appendChild(el(doc, "span", { "class": "who" }, [String(entry.operator || "")]));
        node.appendChild(doc.createTextNode(entry.text));
      } else fillBot(node, entry);
      log.appendChild(node);
      log.scrollTop = log.scrollHeight;
      return node;
    }
    function fillBot(node, entry) {
      node.textContent = "";
      node.appendChild(renderMarkdown(doc, entry.text || ""));
      if (entry.sources && entry.sources.length) {
        var src = el(doc, "div", { "class": "src" }, [t.sources + ": "]);
        entry.sources.forEach(function (s) {
          var label = String(s.title || "");
          src.appendChild(s.url && SAFE_URL.test(s.url)
            ? el(doc, "a", { href: s.url, target: "_blank", rel: "noopener noreferrer" }, [label])
            : el(doc, "span", {}, [label]));
        });
        node.appendChild(src);
      }
      // An answer the bot could not give, or one given without its LLM (the bot's spending
      // cap is reached): the visitor is offered the team.
      if ((entry.source === "fallback" || entry.offer) && config) {
        if (entry.source === "fallback" && config.handoff_text && entry.text !== config.handoff_text) {
          node.appendChild(el(doc, "p", { "class": "src" }, [config.handoff_text]));
        }
        if (config.contact_url && SAFE_URL.test(config.contact_url)) {
          node.appendChild(el(doc, "a", { "class": "contact", href: config.contact_url, target: "_blank", rel: "noopener noreferrer" }, [t.contact]));
        }
        if (config.handoff_enabled && !withPerson()) {
          var talk = el(doc, "button", { type: "button", "class": "talk" }, [t.talk]);
          talk.addEventListener("click", showTalk);
          node.appendChild(talk);
        }
      }
      if (entry.suggestions && entry.suggestions.length && !entry.picked) node.appendChild(suggested(entry));
      if (entry.message_id && !entry.rated) node.appendChild(feedback(entry));
    }
    // The FAQs the visitor may have meant, offered with an answer the bot could not give:
    // one click asks that FAQ's own question.
    function suggested(entry) {
      var box = el(doc, "div", { "class": "sugg", role: "group", "aria-label": t.suggest }, [el(doc, "span", {}, [t.suggest])]);
      entry.suggestions.forEach(function (q) {
        var b = el(doc, "button", { type: "button" }, [q]);
        b.addEventListener("click", function () {
          entry.picked = true;
          box.remove();
          ask(q);
        });
        box.appendChild(b);
      });
      return box;
    }
    function feedback(entry) {
      var box = el(doc, "div", { "class": "fb" });
      [[1, t.helpful], [-1, t.notHelpful]].forEach(function (f) {
        var b = el(doc, "button", { type: "button" }, [f[1]]);
        b.addEventListener("click", function () {
          request("/v1/chat/feedback", { method: "POST", headers: authHeaders(), body: JSON.stringify({
            message_id: entry.message_id, rating: f[0], visitor_id: state.visitor_id, visitor_token: state.visitor_token
          }) }).catch(function () { /* feedback is best effort */ });
          entry.rated = true;
          save();
          box.textContent = t.thanks;
        });
        box.appendChild(b);
      });
      return box;
    }
    function renderAll() {
      var talkable = !!(config && config.handoff_enabled);
      more.hidden = !state.visitor_id && !talkable;
      talkItem.hidden = !talkable;
      getData.hidden = eraseData.hidden = !state.visitor_id;
      log.textContent = "";
      if (config && config.greeting) addMessage({ role: "bot", text: config.greeting });
      state.transcript.forEach(addMessage);
      if (!state.transcript.length && config && config.starter_questions.length) {
        var chips = el(doc, "div", { "class": "chips" });
        config.starter_questions.forEach(function (q) {
          var c = el(doc, "button", { type: "button" }, [q]);
          c.addEventListener("click", function () { ask(q); });
          chips.appendChild(c);
        });
        log.appendChild(chips);
      }
      if (current) log.appendChild(current.node);  // an answer still arriving stays in view
    }

    // ----- conversation -----------------------------------------------------------------
    function ask(text) {
      text = String(text).trim();
      if (!text) return;
      var chips = log.querySelector(".chips");
      if (chips) chips.remove();
      var entry = { role: "user", text: text };
      state.transcript.push(entry);
      save();
      addMessage(entry);
      var msg = { type: "message", text: text, client_message_id: "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8) };
      pending.push(msg);
      flush();
    }
    function payload(msg) {
      var body = { type: "message", text: msg.text, client_message_id: msg.client_message_id };
      if (state.visitor_id) { body.visitor_id = state.visitor_id; body.visitor_token = state.visitor_token; }
      if (state.conversation_id) body.conversation_id = state.conversation_id;
      return body;
    }
    function startTyping() {
      if (current) return;
      current = { node: el(doc, "div", { "class": "typing" }, [t.typing]), text: "" };
      log.appendChild(current.node);
      log.scrollTop = log.scrollHeight;
    }
    function onToken(text) {
      startTyping();
      current.text += text;
      if (current.node.className !== "msg bot") { current.node.className = "msg bot"; }
      current.node.textContent = "";
      current.node.appendChild(renderMarkdown(doc, current.text));
      log.scrollTop = log.scrollHeight;
    }
    function remember(result) {
      state.visitor_id = result.visitor_id || state.visitor_id;
      state.visitor_token = result.visitor_token || state.visitor_token;
      state.conversation_id = result.conversation_id || state.conversation_id;
      if (result.message_id) state.last_id = result.message_id;
      more.hidden = getData.hidden = eraseData.hidden = false;
    }
    function withPerson() { return state.handoff === "waiting" || state.handoff === "human"; }
    function onReceived(result) {
      pending.shift();
      remember(result);
      onStatus(result, true);
      save();
      if (current) { current.node.remove(); current = null; }
      flush();
    }
    function onStatus(frame, quiet) {
      var was = state.handoff;
      state.handoff = frame.state;
      save();
      if (frame.state === "waiting" && frame.available === false) tell(t.st_later);
      else if (!quiet || was !== frame.state) tell(t["st_" + frame.state] || "");
      if (!useSse) return;
      if (withPerson()) poll(); else stopPolling();
    }
    function onOperator(frame) {
      if (state.transcript.some(function (e) { return e.message_id === frame.message_id; })) return;
      var entry = { role: "operator", text: frame.text, operator: frame.operator, message_id: frame.message_id };
      state.last_id = frame.message_id;
      state.transcript.push(entry);
      save();
      addMessage(entry);
    }
    function onDone(result) {
      pending.shift();
      remember(result);
      if (result.state && result.state !== state.handoff) onStatus(result, true);
      var entry = { role: "bot", text: result.answer, sources: result.sources || [], source: result.source, message_id: result.message_id };
      if ((result.why || {}).rule === "spending_cap") entry.offer = true;
      if (result.suggestions && result.suggestions.length) {
        entry.suggestions = result.suggestions.slice(0, 3).map(function (s) { return String(s.question); });
      }
      state.transcript.push(entry);
      save();
      if (current) { current.node.className = "msg bot"; fillBot(current.node, entry); }
      else addMessage(entry);
      current = null;
      clearNotice();
      flush();
    }
    function onError(code) {
      var msg = pending[0];
      if ((code === "not_found" || code === "invalid_visitor_token") && msg && (msg.retries || 0) < 2) {
        // The conversation is gone (archived, erased) or the visitor unknown: start afresh.
        delete state.conversation_id;
        if (code === "invalid_visitor_token") { delete state.visitor_id; delete state.visitor_token; }
        save();
        msg.retries = (msg.retries || 0) + 1;
        if (current) { current.node.remove(); current = null; }
        return flush();
      }
      pending.shift();
      if (current) { current.node.remove(); current = null; }
      say(code);
      flush();
    }
    function flush() {
      if (!pending.length || current) return;
      if (useSse) return sendHttp(pending[0]);
      if (socket && socket.readyState === 1) { startTyping(); socket.send(JSON.stringify(payload(pending[0]))); }
      else connect();
    }

    function connect() {
      if (closed || (socket && socket.readyState <= 1)) return;
      var ws;
      try { ws = new WebSocket(api.replace(/^http/, "ws") + "/v1/chat/ws?key=" + encodeURIComponent(opts.key)); }
      catch (e) { useSse = true; return flush(); }
      socket = ws;
      var opened = false;
      ws.onopen = function () {
        opened = true; attempt = 0; wsFailures = 0; clearNotice();
        resume(ws);
        flush();
      };
      ws.onmessage = function (ev) {
        var frame;
        try { frame = JSON.parse(ev.data); } catch (e) { return; }
        if (frame.type === "token") onToken(frame.text);
        else if (frame.type === "done") onDone(frame);
        else if (frame.type === "received") onReceived(frame);
        else if (frame.type === "status") { remember(frame); onStatus(frame); }
        else if (frame.type === "operator_message") onOperator(frame);
        else if (frame.type === "error" && frame.frame === "resume") { delete state.handoff; delete state.last_id; save(); }
        else if (frame.type === "error" && frame.frame) say(frame.code);
        else if (frame.type === "error") onError(frame.code);
      };
      ws.onclose = function () {
        socket = null;
        if (closed) return;
        if (current) { current.node.remove(); current = null; }
        if (!opened) wsFailures += 1;
        if (wsFailures >= 2 && attempt >= 1) {
          // WebSockets may be blocked (proxy, firewall): try HTTP before giving up.
          return probeHttp();
        }
        if (pending.length || withPerson()) say("reconnecting");
        schedule();
      };
    }
    function resume(ws) {
      if (!state.conversation_id || !state.visitor_token) return;
      // What the team said while this page was away, then the conversation's state.
      ws.send(JSON.stringify({ type: "resume", conversation_id: state.conversation_id, visitor_token: state.visitor_token, after: state.last_id }));
    }
    function schedule() {
      var delay = backoffDelay(attempt++);
      timers.push(setTimeout(function () { if (pending.length || withPerson()) connect(); }, delay));
    }
    function probeHttp() {
      request("/v1/widget/config", { headers: authHeaders() }, 8000).then(function (r) {
        if (r.ok) { useSse = true; clearNotice(); flush(); return; }
        return r.json().then(function (b) { say((b.error || {}).code); });
      }).catch(function () { say("offline"); schedule(); });
    }
    function sendHttp(msg) {
      startTyping();
      var body = payload(msg);
      delete body.type;
      body.message = body.text;
      delete body.text;
      request("/v1/chat", { method: "POST", headers: authHeaders({ Accept: "text/event-stream" }), body: JSON.stringify(body) }, 90000)
        .then(function (r) {
          if (!r.ok) return r.json().then(function (b) { onError((b.error || {}).code); });
          if (r.status === 202) return r.json().then(onReceived);
          if (!r.body || !r.body.getReader) return r.json().then(onDone);
          return readSse(r.body.getReader());
        })
        .catch(function () {
          if (current) { current.node.remove(); current = null; }
          say("reconnecting");
          timers.push(setTimeout(flush, backoffDelay(attempt++)));
        });
    }
    function readSse(reader) {
      var decoder = new TextDecoder(), buffer = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) return;
          buffer += decoder.decode(chunk.value, { stream: true });
          var events = buffer.split("\n\n");
          buffer = events.pop();
          events.forEach(function (block) {
            var name = /^event: (.*)$/m.exec(block), data = /^data: (.*)$/m.exec(block);
            if (!name || !data) return;
            var value = JSON.parse(data[1]);
            if (name[1] === "token") onToken(value.text);
            else if (name[1] === "done") onDone(value);
            else if (name[1] === "received") onReceived(value);
            else if (name[1] === "error") onError(value.code);
          });
          return pump();
        });
      }
      return pump();
    }

    // ----- talking to a person ---------------------------------------------------------
    var polling = null;
    function poll() {
      if (polling || !state.conversation_id) return;
      polling = setInterval(function () {
        var q = "?visitor_token=" + encodeURIComponent(state.visitor_token || "") + (state.last_id ? "&after=" + state.last_id : "");
        request("/v1/chat/conversations/" + state.conversation_id + "/messages" + q, { headers: authHeaders() }, 10000)
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (news) {
            if (!news) return;
            news.messages.forEach(function (m) {
              if (m.role === "operator") onOperator(m);
              else state.last_id = m.message_id;
            });
            if (news.state !== state.handoff) onStatus(news);
          })
          .catch(function () { /* the next poll tries again */ });
      }, 3000);
      timers.push(polling);
    }
    function stopPolling() { if (polling) clearInterval(polling); polling = null; }
    function showTalk() {
      showMenu(false);
      var away = config && config.handoff_available === false;
      talkText.textContent = away ? t.offHours.replace("{hours}", config.handoff_hours || "") : t.talkIntro;
      emailIn.required = away;
      talkBox.hidden = false;
      nameIn.focus();
    }
    function requestPerson() {
      var email = emailIn.value.trim(), name = nameIn.value.trim();
      if (emailIn.required && !email) { say("email_required"); emailIn.focus(); return; }
      talkBox.hidden = true;
      var body = { conversation_id: state.conversation_id, visitor_id: state.visitor_id, visitor_token: state.visitor_token };
      if (name) body.name = name;
      if (email) body.email = email;
      if (!useSse && socket && socket.readyState === 1) {
        body.type = "handoff";
        socket.send(JSON.stringify(body));
        return;
      }
      request("/v1/chat/handoff", { method: "POST", headers: authHeaders(), body: JSON.stringify(body) }, 20000)
        .then(function (r) { return r.json().then(function (b) { return [r.ok, b]; }); })
        .then(function (res) {
          if (!res[0]) return say((res[1].error || {}).code);
          remember(res[1]);
          onStatus(res[1]);
          if (!useSse) connect();  // the socket follows the conversation from now on
        })
        .catch(function () { say("offline"); });
    }
    talkItem.addEventListener("click", showTalk);
    talkYes.addEventListener("click", requestPerson);
    talkNo.addEventListener("click", function () { talkBox.hidden = true; input.focus(); });

    // ----- the visitor's own data (GDPR) ----------------------------------------------
    function showMenu(on) {
      menu.hidden = !on;
      confirmBox.hidden = true;
      more.setAttribute("aria-expanded", on ? "true" : "false");
    }
    function visitorBody() { return JSON.stringify({ visitor_id: state.visitor_id, visitor_token: state.visitor_token }); }
    function saveFile(data) {
      var url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
      var a = el(doc, "a", { href: url, download: "my-chat-data.json" });
      root.appendChild(a);
      a.click();
      a.remove();
      timers.push(setTimeout(function () { URL.revokeObjectURL(url); }, 10000));
      tell(t.downloaded);
    }
    function failed(r) { return r.json().then(function (b) { say((b.error || {}).code); }); }
    getData.addEventListener("click", function () {
      showMenu(false);
      request("/v1/gdpr/export", { method: "POST", headers: authHeaders(), body: visitorBody() }, 60000).then(function (r) {
        if (r.status === 200) return r.json().then(saveFile);
        if (r.status !== 202) return failed(r);
        return r.json().then(function (receipt) {
          var proof = { "X-Parley-Visitor-Id": state.visitor_id, "X-Parley-Visitor-Token": state.visitor_token };
          return request(receipt.download_url, { headers: authHeaders(proof) }, 60000).then(function (d) {
            return d.ok ? d.json().then(saveFile) : failed(d);
          });
        });
      }).catch(function () { say("offline"); });
    });
    eraseData.addEventListener("click", function () { menu.hidden = true; confirmBox.hidden = false; confirmNo.focus(); });
    confirmNo.addEventListener("click", function () { showMenu(false); more.focus(); });
    confirmYes.addEventListener("click", function () {
      showMenu(false);
      request("/v1/gdpr/erasure", { method: "POST", headers: authHeaders(), body: visitorBody() }, 60000).then(function (r) {
        if (!r.ok) return failed(r);
        // Forget everything this browser kept: the transcript, the visitor id and its token.
        state = { transcript: [] };
        forgetStored();
        renderAll();
        tell(t.erased);
        input.focus();
      }).catch(function () { say("offline"); });
    });
    more.addEventListener("click", function () { showMenu(menu.hidden && confirmBox.hidden); });

    // ----- opening, closing, keyboard ---------------------------------------------------
    function open() {
      bubble.hidden = true;
      panel.hidden = false;
      launcher.setAttribute("aria-expanded", "true");
      launcher.setAttribute("aria-label", t.close);
      input.focus();
      // Opening is the visitor's request: only now does the widget talk to the server.
      if (config) follow(); else loadConfig();
    }
    /** With a person on the conversation, follow their replies. */
    function follow() {
      if (!withPerson()) return;
      if (useSse) poll();
      else if (socket && socket.readyState === 1) resume(socket);
      else connect();
    }
    function close() {
      shut();
      launcher.focus();
    }
    function shut() {
      panel.hidden = bubble.hidden = true;
      launcher.setAttribute("aria-expanded", "false");
      launcher.setAttribute("aria-label", t.open);
    }
    launcher.addEventListener("click", function () { if (panel.hidden) open(); else close(); });
    bubble.addEventListener("click", open);
    closer.addEventListener("click", close);
    restart.addEventListener("click", function () {
      state.transcript = [];
      delete state.conversation_id;
      delete state.handoff;
      delete state.last_id;
      stopPolling();
      save();
      renderAll();
      input.focus();
    });
    form.addEventListener("submit", function (e) { e.preventDefault(); ask(input.value); input.value = ""; });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); ask(input.value); input.value = ""; }
    });
    panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { e.preventDefault(); close(); return; }
      if (e.key !== "Tab") return;
      var items = Array.prototype.filter.call(panel.querySelectorAll("button, a[href], textarea"), function (n) { return !n.hidden; });
      var first = items[0], last = items[items.length - 1], active = root.activeElement;
      if (e.shiftKey && active === first) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && active === last) { e.preventDefault(); first.focus(); }
    });

    function loadConfig() {
      if (loading) return loading;
      var epoch = forgotten;
      loading = request("/v1/widget/config", { headers: authHeaders() }, 10000)
        .then(function (r) { return r.json().then(function (b) { return [r.ok, b]; }); })
        .then(function (res) {
          if (epoch !== forgotten) return;  // consent was withdrawn meanwhile
          if (!res[0]) { say((res[1].error || {}).code); return; }
          config = res[1];
          restore();
          t = STRINGS[opts.lang] || STRINGS[config.language] || STRINGS.en;
          input.setAttribute("placeholder", t.placeholder);
          [[nameIn, t.name], [emailIn, t.email]].forEach(function (pair) {
            pair[0].setAttribute("placeholder", pair[1]);
            pair[0].setAttribute("aria-label", pair[1]);
          });
          [[getData, t.download], [eraseData, t.erase], [confirmYes, t.confirm], [confirmNo, t.cancel], [confirmText, t.confirmErase],
            [talkItem, t.talk], [talkYes, t.ask], [talkNo, t.cancel]]
            .forEach(function (pair) { pair[0].textContent = pair[1]; });
          more.setAttribute("aria-label", t.more);
          title.textContent = config.title || "Chat";
          if (/^#[0-9a-fA-F]{6}$/.test(config.primary_color)) host.style.setProperty("--p-accent", config.primary_color);
          renderAll();
          if (!panel.hidden) follow();
          if (config.greeting && config.greeting_delay_seconds != null && panel.hidden && !state.transcript.length) {
            timers.push(setTimeout(function () {
              if (!panel.hidden) return;
              bubble.textContent = config.greeting;
              bubble.hidden = false;
            }, config.greeting_delay_seconds * 1000));
          }
        })
        .catch(function () { say("offline"); })
        .finally(function () { loading = null; });
      return loading;
    }

    // ----- consent ----------------------------------------------------------------------
    var forgotten = 0;
    function start() {
      if (host.isConnected) return;
      doc.body.appendChild(host);
      renderAll();
      if (opts.preload) loadConfig();
      if (opts.open) open();
    }
    /** Stop talking to the server and forget everything this browser kept. */
    function forget() {
      forgotten += 1;
      timers.forEach(clearTimeout);
      timers = [];
      stopPolling();
      if (socket) { socket.onclose = null; socket.close(); socket = null; }
      forgetStored();
      state = { transcript: [] };
      storage = config = loading = current = null;
      pending = [];
      shut();
      clearNotice();
    }
    function consent(yes) {
      granted = !!yes;
      if (granted) return start();
      forget();
      host.remove();
    }

    if (granted) start();

    return {
      open: function () { if (granted) open(); },
      close: close,
      consent: consent,
      remove: function () {
        closed = true;
        forget();
        host.remove();
      }
    };
  }

  if (typeof module !== "undefined" && module.exports) {
    module.exports = { parseMarkdown: parseMarkdown, parseInline: parseInline, backoffDelay: backoffDelay };
    return;
  }
  var script = document.currentScript;
  if (!script || window.Parley) return;
  var start = function () {
    try { window.Parley = boot(script); }
    catch (e) { console.error("[Parley] widget failed to start:", e); return; }
    // A consent banner that loads first listens for this before calling Parley.consent.
    window.dispatchEvent(new CustomEvent("parley:ready"));
  };
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
