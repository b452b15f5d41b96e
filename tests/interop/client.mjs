// Drives the official Phoenix JS client (Node, package "phoenix") against a server.
//
//   node client.mjs <scenario> <socket url, e.g. ws://127.0.0.1:4000/socket>
//                   [--transport websocket|longpoll] [--timeout ms]
//
// Prints one JSON line per observed event (see harness.mjs); the pytest side asserts on them.
// Scenarios and the server they expect:
//   ping        examples.hello_sockets  connect, join "ping", push/reply, leave
//   broadcast   examples.chat           alice and bob in room:lobby; new_msg reaches both
//                                       ([--url2 URL]: bob connects to another node of the chat)
//   leave       examples.chat           after bob leaves, alice's new_msg no longer reaches him
//   crash       tests.interop.server    the channel crashes; the client rejoins by itself
//   disconnect  tests.interop.server    "disconnect" to the socket id closes it (1001); the
//                                       client reconnects and rejoins by itself
//   binary      tests.interop.server    binary push; binary reply, push and broadcast back
//   heartbeat   any server              [--beats N] heartbeats every 50 ms are all answered
//   wait_close  tests.interop.server    joins, prints "ready", waits for the server to close it
//   terminate_reasons  tests.interop.server  [--rounds N] clients close cleanly; the channels'
//                                       terminate reasons are reported on test:observer

import { emit, join, makeSocket, mark, parseArgs, reply, run, waitFor, watchChannel } from "./harness.mjs";

const { positional, options } = parseArgs();
const [scenario, url] = positional;
if (!scenario || !url) {
  console.error("usage: node client.mjs <scenario> <socket url> [--transport websocket|longpoll] [--timeout ms]");
  process.exit(2);
}
const transport = options.transport;
const unique = `${process.pid}-${Date.now()}`;

function connect(who, params = { user: who }, at = url) {
  const socket = makeSocket(at, { transport, params, who });
  socket.connect();
  return socket;
}

const scenarios = {
  async ping() {
    const socket = connect("u1");
    await waitFor({ event: "open", who: "u1" });
    const ch = watchChannel(socket.channel("ping", {}), "u1");
    await join(ch, "u1");
    await reply(ch.push("ping", {}), "u1", "ping");
    await reply(ch.push("ping", { ack_phrase: "hi there" }), "u1", "ping_phrase");
    await reply(ch.leave(), "u1", "leave");
    emit("state", { who: "u1", topic: ch.topic, state: ch.state });
    socket.disconnect();
  },

  async broadcast() {
    const room = `room:lobby-${unique}`;
    const alice = connect("alice");
    const bob = connect("bob", { user: "bob" }, options.url2 || url);
    const a = watchChannel(alice.channel(room, {}), "alice", ["new_msg"]);
    const b = watchChannel(bob.channel(room, {}), "bob", ["new_msg"]);
    await Promise.all([join(a, "alice"), join(b, "bob")]);
    await reply(a.push("new_msg", { body: "hello bob" }), "alice", "new_msg");
    await waitFor({ event: "push", who: "bob", name: "new_msg" });
    await waitFor({ event: "push", who: "alice", name: "new_msg" });
    const after = mark();
    await reply(b.push("new_msg", { body: "hi alice" }), "bob", "new_msg");
    await waitFor({ event: "push", who: "alice", name: "new_msg" }, { after });
    await waitFor({ event: "push", who: "bob", name: "new_msg" }, { after });
    await reply(a.push("new_msg", { body: "   " }), "alice", "empty_msg");
    alice.disconnect();
    bob.disconnect();
  },

  async leave() {
    const room = `room:leave-${unique}`;
    const alice = connect("alice");
    const bob = connect("bob");
    // Every frame bob's socket receives, on any topic, to prove the server stopped sending.
    bob.onMessage((m) => emit("frame", { who: "bob", topic: m.topic, name: m.event, payload: m.payload }));
    const a = watchChannel(alice.channel(room, {}), "alice", ["new_msg"]);
    const b = watchChannel(bob.channel(room, {}), "bob", ["new_msg"]);
    await Promise.all([join(a, "alice"), join(b, "bob")]);
    await reply(a.push("new_msg", { body: "before leave" }), "alice", "before");
    await waitFor({ event: "push", who: "bob", name: "new_msg" });
    await reply(b.leave(), "bob", "leave");
    emit("state", { who: "bob", topic: b.topic, state: b.state });
    emit("checkpoint", { name: "left" });
    // phoenix.js resolves a leave locally at once (the channel stops being joined before the
    // push goes out), so bob's phx_leave may still be on its way when alice pushes on her own
    // socket, and the server could rightly deliver "after leave" to bob first (as Phoenix
    // would). Wait until the server has ended bob's channel: its phx_close comes last.
    await waitFor({ event: "frame", who: "bob", topic: room, name: "phx_close" });
    // The server writes a broadcast to every subscriber before the sender's reply, and each
    // connection delivers in order: once alice has her reply and bob has answered a later
    // round trip, a message for bob on `room` would already have arrived.
    const before = mark();
    await reply(a.push("new_msg", { body: "after leave" }), "alice", "after");
    await waitFor({ event: "push", who: "alice", name: "new_msg", topic: room }, { after: before });
    const other = watchChannel(bob.channel(`room:other-${unique}`, {}), "bob", ["new_msg"]);
    await join(other, "bob");
    await reply(other.push("new_msg", { body: "round trip" }), "bob", "round_trip");
    emit("checkpoint", { name: "end" });
    alice.disconnect();
    bob.disconnect();
  },

  async crash() {
    const who = `crash-${unique}`;
    const socket = connect(who);
    const ch = watchChannel(socket.channel("test:crash", {}), who);
    await join(ch, who);
    let after = mark();
    ch.push("crash", {});
    await waitFor({ event: "channel_error", who }, { after });
    after = mark();
    // The client rejoins after rejoinAfterMs(1) = 1 s; the same join push answers again.
    await waitFor({ event: "join", who, status: "ok" }, { after, timeoutMs: 8000 });
    await reply(ch.push("ping", { n: 1 }), who, "ping_after_rejoin");
    emit("state", { who, topic: ch.topic, state: ch.state });
    socket.disconnect();
  },

  async disconnect() {
    const who = `dc-${unique}`;
    const socket = connect(who);
    await waitFor({ event: "open", who });
    const ch = watchChannel(socket.channel("test:dc", {}), who);
    await join(ch, who);
    let after = mark();
    ch.push("disconnect", {});
    await waitFor({ event: "close", who }, { after });
    after = mark();
    // reconnectAfterMs(1) = 10 ms; onOpen rejoins the errored channel at once.
    await waitFor({ event: "open", who }, { after, timeoutMs: 8000 });
    await waitFor({ event: "join", who, status: "ok" }, { after, timeoutMs: 8000 });
    await reply(ch.push("ping", { n: 2 }), who, "ping_after_reconnect");
    emit("state", { who, topic: ch.topic, state: ch.state });
    socket.disconnect();
  },

  async binary() {
    // V2 binary frames: an ArrayBuffer payload goes as a binary push; bytes come back as a
    // binary reply, push and broadcast.
    const who = `bin-${unique}`;
    const socket = connect(who);
    const ch = watchChannel(socket.channel("test:bin", {}), who);
    const bytes = (payload) => (payload instanceof ArrayBuffer ? Array.from(new Uint8Array(payload)) : null);
    ch.on("pushed", (p) => emit("binary_push", { who, name: "pushed", bytes: bytes(p) }));
    ch.on("shout", (p) => emit("binary_push", { who, name: "shout", bytes: bytes(p) }));
    await join(ch, who);
    const data = new Uint8Array([0, 1, 2, 253, 254, 255]).buffer;
    const echoed = await reply(ch.push("echo", data), who, "echo");
    emit("binary_reply", { who, status: echoed.status, bytes: bytes(echoed.response) });
    await reply(ch.push("push_back", data), who, "push_back");
    await waitFor({ event: "binary_push", who, name: "pushed" });
    await reply(ch.push("shout", data), who, "shout");
    await waitFor({ event: "binary_push", who, name: "shout" });
    socket.disconnect();
  },

  async heartbeat() {
    // A short heartbeat interval: every heartbeat is answered and the socket stays up.
    const beats = Number(options.beats || 5);
    const who = `hb-${unique}`;
    const socket = makeSocket(url, { transport, params: { user: who }, who, heartbeatIntervalMs: 50 });
    socket.onMessage((m) => {
      if (m.topic === "phoenix") emit("heartbeat_reply", { who, status: m.payload.status, ref: m.ref });
    });
    socket.connect();
    for (let i = 1; i <= beats; i++) {
      await waitFor({ event: "heartbeat_reply", who }, { after: i === 1 ? 0 : mark() });
    }
    socket.disconnect();
  },

  async wait_close() {
    // Join, print "ready", then wait for the server to close the socket (e.g. drain: 1012).
    const who = `wc-${unique}`;
    const socket = connect(who);
    const ch = watchChannel(socket.channel("test:wait_close", {}), who);
    await join(ch, who);
    emit("ready", { who });
    await waitFor({ event: "close", who }, { timeoutMs: Number(options["close-timeout"] || 15000) });
    socket.disconnect();
  },

  async terminate_reasons() {
    // Why does a channel end when its client closes the socket cleanly? (Phoenix: {:shutdown, :closed})
    const rounds = Number(options.rounds || 10);
    const observer = connect(`observer-${unique}`);
    const obs = watchChannel(observer.channel("test:observer", {}), "observer");
    obs.on("terminated", (p) => emit("terminated", { user: p.user, topic: p.topic, reason: p.reason }));
    await join(obs, "observer");
    for (let i = 0; i < rounds; i++) {
      const who = `tr-${unique}-${i}`;
      const socket = connect(who);
      await join(watchChannel(socket.channel("test:tr", {}), who), who);
      socket.disconnect();
      await waitFor({ event: "terminated", user: who });
    }
    observer.disconnect();
  },
};

if (!(scenario in scenarios)) {
  console.error(`unknown scenario ${scenario}; known: ${Object.keys(scenarios).join(", ")}`);
  process.exit(2);
}
emit("start", { scenario, url, transport });
run(scenarios[scenario], options.timeout);
