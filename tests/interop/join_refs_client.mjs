// Two channels on one socket, joined, left and rejoined, with every frame's join_ref reported.
//
//   node join_refs_client.mjs <socket url, e.g. ws://127.0.0.1:4000/socket>
//                             [--transport websocket|longpoll] [--timeout ms]
//
// Server: tests.interop.server (topic "test:*": "push_back" pushes "pushed", then replies ok).
// The official client (package "phoenix", unmodified) is driven as an application would:
// join test:a and test:b, push on both, leave test:a, push on test:b, rejoin test:a, leave
// test:b, rejoin test:b, push on both. Printed lines (besides the harness's):
//   {"event":"frame", topic, name, ref, join_ref, status}   every message the socket receives
//                                                             (socket.onMessage), in order
//   {"event":"joined", topic, round, join_ref}              channel.joinRef() once a join is ok
//   {"event":"left", topic, round, join_ref}                after the leave reply and phx_close
// The pytest side (test_join_refs_js.py) checks every join_ref against the joins.

import { emit, join, makeSocket, parseArgs, reply, run, waitFor, watchChannel } from "./harness.mjs";

const { positional, options } = parseArgs();
const [url] = positional;
if (!url) {
  console.error("usage: node join_refs_client.mjs <socket url> [--transport websocket|longpoll] [--timeout ms]");
  process.exit(2);
}

run(async () => {
  const who = `jr-${process.pid}`;
  const socket = makeSocket(url, { transport: options.transport, params: { user: who }, who });
  socket.onMessage((msg) => {
    if (msg.topic === "phoenix") return; // heartbeats
    emit("frame", {
      topic: msg.topic,
      name: msg.event,
      ref: msg.ref ?? null,
      join_ref: msg.join_ref ?? null,
      status: msg.payload && msg.payload.status !== undefined ? msg.payload.status : null,
    });
  });
  socket.connect();
  await waitFor({ event: "open", who });

  const rounds = { "test:a": 0, "test:b": 0 };
  const channels = {};

  async function joinTopic(topic) {
    rounds[topic] += 1;
    const ch = watchChannel(socket.channel(topic, {}), who, ["pushed"]);
    const joined = await join(ch, who);
    if (joined.status !== "ok") throw new Error(`join ${topic} failed: ${JSON.stringify(joined)}`);
    emit("joined", { topic, round: rounds[topic], join_ref: ch.joinRef() });
    channels[topic] = ch;
  }

  async function pushBack(topic, label) {
    const r = await reply(channels[topic].push("push_back", { label }), who, label);
    if (r.status !== "ok") throw new Error(`push_back on ${topic} failed: ${JSON.stringify(r)}`);
    await waitFor({ event: "frame", topic, name: "pushed" });
  }

  async function leaveTopic(topic) {
    const ch = channels[topic];
    const joinRef = ch.joinRef();
    const r = await reply(ch.leave(), who, `leave ${topic} ${rounds[topic]}`);
    if (r.status !== "ok") throw new Error(`leave ${topic} failed: ${JSON.stringify(r)}`);
    await waitFor({ event: "frame", topic, name: "phx_close", join_ref: joinRef });
    emit("left", { topic, round: rounds[topic], join_ref: joinRef });
  }

  await joinTopic("test:a");
  await joinTopic("test:b");
  await pushBack("test:a", "a1");
  await pushBack("test:b", "b1");
  await leaveTopic("test:a");
  await pushBack("test:b", "b1-after-a-left");
  await joinTopic("test:a");
  await pushBack("test:a", "a2");
  await leaveTopic("test:b");
  await joinTopic("test:b");
  await pushBack("test:b", "b2");
  await pushBack("test:a", "a2-again");
  emit("checkpoint", { name: "end" }); // disconnecting makes the client report channel errors
  socket.disconnect();
}, options.timeout);
