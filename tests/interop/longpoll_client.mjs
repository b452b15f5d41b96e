// Drives the official Phoenix JS client over LongPoll (Node: global fetch) against a server
// started by test_longpoll_js.py.
//
//   node longpoll_client.mjs <scenario> <socket url, e.g. ws://127.0.0.1:4000/socket> [--timeout ms]
//
// Prints one JSON line per observed event (see harness.mjs). Scenarios (topics "lp:*"):
//   channels      alice and bob: join, push/reply, server push, broadcast to both, bob leaves
//                 and gets no more broadcasts, a channel crash is followed by a rejoin
//   session_loss  the server kills the long-poll session: the poll answers 410, the client
//                 closes with 3410 "session_gone", reconnects (new session) and rejoins
//   disconnect    "disconnect" broadcast to the socket id ends the session; the client
//                 reconnects and rejoins by itself

import { emit, join, makeSocket, mark, parseArgs, reply, run, waitFor, watchChannel } from "./harness.mjs";

const { positional, options } = parseArgs();
const [scenario, url] = positional;
if (!scenario || !url) {
  console.error("usage: node longpoll_client.mjs <scenario> <socket url> [--timeout ms]");
  process.exit(2);
}
const unique = `${process.pid}-${Date.now()}`;

function connect(who) {
  const socket = makeSocket(url, { transport: "longpoll", params: { user: who }, who });
  socket.connect();
  return socket;
}

const scenarios = {
  async channels() {
    const room = `lp:room-${unique}`;
    const alice = connect("alice");
    const bob = connect("bob");
    await Promise.all([waitFor({ event: "open", who: "alice" }), waitFor({ event: "open", who: "bob" })]);
    emit("transport", { who: "alice", name: alice.transport.name });
    const a = watchChannel(alice.channel(room, {}), "alice", ["shout", "pushed"]);
    const b = watchChannel(bob.channel(room, {}), "bob", ["shout"]);
    await Promise.all([join(a, "alice"), join(b, "bob")]);
    await reply(a.push("ping", { n: 1 }), "alice", "ping");
    await reply(a.push("push_me", { x: 1 }), "alice", "push_me");
    await waitFor({ event: "push", who: "alice", name: "pushed" });
    await reply(a.push("shout", { body: "hello bob" }), "alice", "shout");
    await waitFor({ event: "push", who: "bob", name: "shout" });
    await waitFor({ event: "push", who: "alice", name: "shout" });
    await reply(b.leave(), "bob", "leave");
    emit("state", { who: "bob", topic: b.topic, state: b.state });
    emit("checkpoint", { name: "left" });
    const before = mark();
    await reply(a.push("shout", { body: "after leave" }), "alice", "shout_after_leave");
    await waitFor({ event: "push", who: "alice", name: "shout" }, { after: before });
    // A round trip on another topic: anything for bob on `room` would have come first.
    const other = watchChannel(bob.channel(`lp:other-${unique}`, {}), "bob");
    await join(other, "bob");
    await reply(other.push("ping", { n: 2 }), "bob", "round_trip");
    emit("checkpoint", { name: "end" });
    // A crash: phx_error, then the client rejoins after rejoinAfterMs(1) = 1 s.
    let after = mark();
    a.push("crash", {});
    await waitFor({ event: "channel_error", who: "alice" }, { after });
    after = mark();
    await waitFor({ event: "join", who: "alice", topic: room, status: "ok" }, { after, timeoutMs: 8000 });
    await reply(a.push("ping", { n: 3 }), "alice", "ping_after_rejoin");
    alice.disconnect();
    bob.disconnect();
  },

  async session_loss() {
    const who = `loss-${unique}`;
    const socket = connect(who);
    await waitFor({ event: "open", who });
    const ch = watchChannel(socket.channel(`lp:loss-${unique}`, {}), who);
    await join(ch, who);
    await reply(ch.push("ping", { n: 1 }), who, "ping_before");
    let after = mark();
    ch.push("kill_session", {});
    await waitFor({ event: "close", who }, { after });
    after = mark();
    await waitFor({ event: "open", who }, { after, timeoutMs: 8000 });
    await waitFor({ event: "join", who, status: "ok" }, { after, timeoutMs: 8000 });
    await reply(ch.push("ping", { n: 2 }), who, "ping_after_recovery");
    emit("state", { who, topic: ch.topic, state: ch.state });
    socket.disconnect();
  },

  async disconnect() {
    const who = `dc-${unique}`;
    const socket = connect(who);
    await waitFor({ event: "open", who });
    const ch = watchChannel(socket.channel(`lp:dc-${unique}`, {}), who);
    await join(ch, who);
    let after = mark();
    ch.push("disconnect", {});
    await waitFor({ event: "close", who }, { after });
    after = mark();
    await waitFor({ event: "open", who }, { after, timeoutMs: 8000 });
    await waitFor({ event: "join", who, status: "ok" }, { after, timeoutMs: 8000 });
    await reply(ch.push("ping", { n: 2 }), who, "ping_after_reconnect");
    emit("state", { who, topic: ch.topic, state: ch.state });
    socket.disconnect();
  },
};

if (!(scenario in scenarios)) {
  console.error(`unknown scenario ${scenario}; known: ${Object.keys(scenarios).join(", ")}`);
  process.exit(2);
}
emit("start", { scenario, url, transport: "longpoll" });
run(scenarios[scenario], options.timeout);
