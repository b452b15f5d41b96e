// The otp-channels chat page: joins room:<name> with the official Phoenix client
// (window.Phoenix from /js/phoenix.js), sends new_msg and shows every new_msg of the room.
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const status = $("status");
  const messages = $("messages");

  function setStatus(text, kind) {
    status.textContent = text;
    status.dataset.kind = kind;
  }

  function addLine(user, body, cls) {
    const li = document.createElement("li");
    if (cls) li.className = cls;
    if (user !== null) {
      const who = document.createElement("span");
      who.className = "user";
      who.textContent = user;
      li.appendChild(who);
    }
    const text = document.createElement("span");
    text.className = "body";
    text.textContent = body;
    li.appendChild(text);
    messages.appendChild(li);
    messages.scrollTop = messages.scrollHeight;
  }

  function notice(text) { addLine(null, text, "notice"); }

  if (typeof window.Phoenix === "undefined") {
    $("missing-client").hidden = false;
    $("app").hidden = true;
    setStatus("Phoenix client missing", "error");
    console.error("chat: /js/phoenix.js did not load; run `cd tests/interop && npm ci` and restart the server");
    return;
  }

  const query = new URLSearchParams(window.location.search);
  $("user").value = query.get("user") || "";
  $("room").value = query.get("room") || "lobby";

  let socket = null;
  let socketUser = null;
  let channel = null;

  function setCanSend(yes) {
    $("body").disabled = !yes;
    $("send").disabled = !yes;
    if (yes) $("body").focus();
  }

  function connect(user) {
    if (socket && socketUser === user) return socket;
    if (socket) socket.disconnect();
    socketUser = user;
    socket = new window.Phoenix.Socket("/socket", { params: { user: user } });
    socket.onOpen(() => setStatus(channel ? "connected" : "connected, no room", "ok"));
    socket.onError(() => setStatus("connection error, retrying…", "error"));
    socket.onClose(() => setStatus("disconnected, retrying…", "warn"));
    socket.connect();
    return socket;
  }

  function join(user, room) {
    const sock = connect(user);
    if (channel) channel.leave();
    messages.replaceChildren();
    const topic = "room:" + room;
    const ch = sock.channel(topic, {});
    channel = ch;
    $("room-title").textContent = "Room " + room;
    ch.on("new_msg", (payload) => addLine(payload.user || "?", String(payload.body)));
    const presence = new window.Phoenix.Presence(ch);
    presence.onSync(() => {
      const names = presence.list((user, { metas }) => user + (metas.length > 1 ? " (" + metas.length + ")" : ""));
      const list = $("online");
      list.replaceChildren(...names.sort().map((name) => {
        const li = document.createElement("li");
        li.textContent = name;
        return li;
      }));
    });
    ch.onError(() => { if (channel === ch) { setCanSend(false); setStatus("room error, rejoining…", "warn"); } });
    ch.join()
      .receive("ok", () => {
        if (channel !== ch) return;
        setStatus("joined " + topic + " as " + (user || "anonymous"), "ok");
        notice("You joined " + topic + ".");
        setCanSend(true);
      })
      .receive("error", (resp) => {
        setStatus("could not join " + topic, "error");
        notice("Join refused: " + ((resp && resp.reason) || JSON.stringify(resp)));
      })
      .receive("timeout", () => setStatus("join timed out, retrying…", "warn"));
  }

  $("join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const room = $("room").value.trim();
    if (!room) return;
    setCanSend(false);
    join($("user").value.trim(), room);
  });

  $("msg-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("body");
    const body = input.value;
    if (!channel || !body.trim()) return;
    channel.push("new_msg", { body: body })
      .receive("ok", () => { if (input.value === body) input.value = ""; })
      .receive("error", (resp) => notice("Not sent: " + ((resp && resp.reason) || "error")))
      .receive("timeout", () => notice("Not sent: the server did not answer in time."));
  });
})();
