// The staff app's live part: the WebSocket (htmx's ws extension keeps it connected and
// reconnects with back-off) carries JSON events {kind, data} (staff/consumers.py); each
// event makes the page re-read the part it changes (hx-trigger="refresh"), so a repeated
// or lost event costs at most one extra read. New customer messages, new waiting
// conversations and assignments to me also ring: a browser notification, a sound and the
// count in the tab title.
(function () {
  "use strict";
  var body = document.body;
  var me = Number(body.dataset.me || 0);
  var conversation = Number(body.dataset.conversation || 0);
  var room = Number(body.dataset.room || 0);
  var baseTitle = document.title;
  var unseen = 0;
  var rung = {};
  var socket = null;
  var labels = document.getElementById("presence-labels");
  var presenceLabels = labels ? JSON.parse(labels.textContent || "{}") : {};

  function refresh(selector) {
    document.querySelectorAll(selector).forEach(function (el) {
      if (window.htmx) window.htmx.trigger(el, "refresh");
    });
  }

  function setTitle() {
    document.title = unseen > 0 ? "(" + unseen + ") " + baseTitle : baseTitle;
  }

  function ring(key, title, text, url) {
    if (rung[key]) return; // the same event through two groups (my queue and "all")
    rung[key] = true;
    if (document.hidden || !document.hasFocus()) {
      unseen += 1;
      setTitle();
    }
    var sound = body.dataset.sound;
    if (sound) {
      try {
        var audio = new Audio(sound);
        var played = audio.play();
        if (played && played.catch) played.catch(function () {});
      } catch (e) { /* no audio on this browser */ }
    }
    if ("Notification" in window && Notification.permission === "granted") {
      try {
        var n = new Notification(title, { body: text || "", tag: key });
        n.onclick = function () { window.focus(); if (url) window.location.href = url; };
      } catch (e) { /* some phones only notify from a service worker */ }
    }
    body.dataset.lastRing = key;
    body.dispatchEvent(new CustomEvent("staff:ring", { detail: { key: key, title: title } }));
  }

  function conversationUrl(id) { return "/atendimento/conversas/" + id + "/"; }

  function onEvent(kind, data) {
    if (kind === "message" || kind === "status" || kind === "note") {
      refresh("[data-live=list]");
      if (data.conversation === conversation) refresh("[data-live=history]");
      if (kind === "message" && data.direction === "in" &&
          !(data.conversation === conversation && !document.hidden)) {
        ring("m" + data.message, "Nova mensagem", data.text, conversationUrl(data.conversation));
      }
    } else if (kind === "ticket") {
      refresh("[data-live=list]");
      if (data.conversation === conversation) {
        refresh("[data-live=ticket]");
        refresh("[data-live=history]");
      }
      if (data.status === "waiting" && !data.assigned_to) {
        ring("w" + data.ticket + ":" + data.queue, "Conversa aguardando atendente", "",
             conversationUrl(data.conversation));
      } else if (data.assigned_to === me && data.status === "open") {
        ring("a" + data.ticket + ":" + me, "Conversa atribuída a você", "",
             conversationUrl(data.conversation));
      }
    } else if (kind === "chat") {
      if (data.room === room) {
        refresh("[data-live=chat]");
      } else if (data.author !== me) {
        var badge = document.getElementById("chat-unread");
        if (badge) { badge.hidden = false; badge.textContent = String(Number(badge.textContent || 0) + 1); }
      }
      if (data.author !== me && (data.room !== room || document.hidden)) {
        ring("c" + data.message, "Chat interno: " + (data.author_name || ""), data.text, "/atendimento/chat/" + data.room + "/");
      }
    } else if (kind === "presence") {
      document.querySelectorAll('[data-presence-user="' + data.user + '"]').forEach(function (el) {
        el.dataset.presence = data.status;
        el.title = presenceLabels[data.status] || data.status;
      });
    }
  }

  function send(message) {
    if (socket && socket.readyState === 1) socket.send(JSON.stringify(message));
  }

  function liveState(state) {
    var el = document.getElementById("live-state");
    if (el) el.dataset.state = state;
    body.dataset.live = state;
  }

  body.addEventListener("htmx:wsOpen", function (evt) {
    socket = evt.detail.socketWrapper || evt.detail.socket;
    liveState("open");
    if (conversation) send({ action: "watch", conversation: conversation });
    var presence = document.getElementById("presence");
    send({ action: "presence", status: document.hidden ? "away" : (presence ? presence.value : "online") });
    // Whatever changed while the socket was down.
    refresh("[data-live=list]");
    if (conversation) { refresh("[data-live=history]"); refresh("[data-live=ticket]"); }
  });
  body.addEventListener("htmx:wsClose", function () { liveState("closed"); });
  body.addEventListener("htmx:wsBeforeMessage", function (evt) {
    evt.preventDefault(); // JSON events, not HTML to swap
    var event;
    try { event = JSON.parse(evt.detail.message); } catch (e) { return; }
    if (event && event.kind) onEvent(event.kind, event.data || {});
  });

  document.addEventListener("visibilitychange", function () {
    var presence = document.getElementById("presence");
    if (!document.hidden) { unseen = 0; setTitle(); }
    if (presence && presence.value === "online") send({ action: "presence", status: document.hidden ? "away" : "online" });
  });
  window.addEventListener("focus", function () { unseen = 0; setTitle(); });

  document.addEventListener("DOMContentLoaded", function () {
    // The flow's drawing wider than a phone: start scrolled to its middle, where the first
    // step is drawn (staff/flow_diagram.py centres every row).
    var diagram = document.getElementById("flow-diagram");
    if (diagram) diagram.scrollLeft = (diagram.scrollWidth - diagram.clientWidth) / 2;
    var presence = document.getElementById("presence");
    if (presence) {
      presence.addEventListener("change", function () { send({ action: "presence", status: presence.value }); });
    }
    var enable = document.getElementById("enable-notifications");
    if (enable && "Notification" in window && Notification.permission === "default") {
      enable.hidden = false;
      enable.addEventListener("click", function () {
        Notification.requestPermission().then(function () { enable.hidden = true; });
      });
    }
    scrollHistory();
    quickReplies();
    document.querySelectorAll(".file-pick input[type=file]").forEach(function (input) {
      var shown = input.closest("form").querySelector(".file-name");
      input.addEventListener("change", function () {
        if (shown) shown.textContent = input.files.length ? input.files[0].name : shown.dataset.none;
      });
    });
  });

  function scrollHistory() {
    ["history", "chat-messages"].forEach(function (id) {
      var el = document.getElementById(id);
      if (el) el.scrollTop = el.scrollHeight;
    });
  }

  body.addEventListener("htmx:afterSwap", function (evt) {
    scrollHistory();
    var now = document.querySelector("[data-window-now]");
    if (now) {
      var open = now.dataset.windowNow === "open";
      document.querySelectorAll("[data-window]").forEach(function (el) {
        el.hidden = (el.dataset.window === "open") !== open;
      });
    }
  });

  // Quick replies: typing "/" and a shortcut offers the queue's replies; a click or Enter
  // on the first one puts its text in the box.
  function quickReplies() {
    var box = document.getElementById("reply-text");
    var menu = document.getElementById("quick-replies");
    var data = document.getElementById("quick-replies-data");
    if (!box || !menu || !data) return;
    var replies = JSON.parse(data.textContent || "[]");
    function matches() {
      var v = box.value;
      if (v.charAt(0) !== "/") return [];
      var typed = v.slice(1).toLowerCase();
      return replies.filter(function (r) { return r.shortcut.toLowerCase().indexOf(typed) === 0; });
    }
    function pick(r) { box.value = r.text; menu.hidden = true; box.focus(); }
    box.addEventListener("input", function () {
      var found = matches();
      menu.innerHTML = "";
      found.slice(0, 8).forEach(function (r) {
        var b = document.createElement("button");
        b.type = "button";
        b.className = "quick-reply";
        b.textContent = "/" + r.shortcut + " — " + r.text.slice(0, 60);
        b.addEventListener("click", function () { pick(r); });
        menu.appendChild(b);
      });
      menu.hidden = found.length === 0;
    });
    box.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey) {
        var found = matches();
        if (found.length) { e.preventDefault(); pick(found[0]); return; }
        if (box.value.trim()) { e.preventDefault(); box.form.requestSubmit(); }
      }
    });
  }
})();
