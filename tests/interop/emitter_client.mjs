// The official client on two nodes of examples.emitter receives what a plain, synchronous
// Python process publishes with channels.emitter.Emitter through Redis.
//
//   node emitter_client.mjs <socket url of node A> --url2 <socket url of node B>
//        --python <python executable> --redis-url <redis url> [--root <project dir>]
//        [--http2 <node B's http://host:port/> --token <its publish token>]
//
// alice (node A) and bob (node B) join news:<unique>; then, from this script, the publisher
// (`python -m examples.emitter.publish`, a separate process) broadcasts "headline" (both
// must receive it) twice; then it disconnects alice's socket id: alice's socket closes
// (1001) and reconnects, bob's stays open; a third broadcast reaches both.

import { execFile } from "node:child_process";
import { emit, join, makeSocket, mark, parseArgs, run, waitFor, watchChannel } from "./harness.mjs";

const { positional, options } = parseArgs();
const [url] = positional;
if (!url || !options.url2 || !options.python || !options["redis-url"]) {
  console.error("usage: node emitter_client.mjs <url A> --url2 <url B> --python PY --redis-url URL");
  process.exit(2);
}
const unique = `${process.pid}-${Date.now()}`;
const topic = `news:${unique}`;

function publish(...args) {
  return new Promise((resolve, reject) => {
    execFile(options.python, ["-m", "examples.emitter.publish", "--redis-url", options["redis-url"], ...args],
      { cwd: options.root || "../..", timeout: 15000 }, (err, stdout, stderr) => {
        if (err) { reject(new Error(`publisher failed: ${err}\n${stderr}`)); return; }
        const result = JSON.parse(stdout.trim().split("\n").pop());
        emit("published", { args, ...result });
        resolve(result);
      });
  });
}

function watch(channel, who) {
  watchChannel(channel, who);
  channel.on("headline", (payload) => emit("headline", { who, n: payload.n, title: payload.title }));
  return channel;
}

run(async () => {
  const alice = makeSocket(url, { params: { user: `alice-${unique}` }, who: "alice" });
  const bob = makeSocket(options.url2, { params: { user: `bob-${unique}` }, who: "bob" });
  alice.connect();
  bob.connect();
  const a = watch(alice.channel(topic, {}), "alice");
  const b = watch(bob.channel(topic, {}), "bob");
  await Promise.all([join(a, "alice"), join(b, "bob")]);

  for (const n of [1, 2]) {
    await publish("broadcast", topic, "headline", JSON.stringify({ title: `headline ${n}`, n }));
    await waitFor({ event: "headline", who: "alice", n });
    await waitFor({ event: "headline", who: "bob", n });
  }

  const beforeDc = mark();
  await publish("disconnect", `user_socket:alice-${unique}`);
  await waitFor({ event: "close", who: "alice" }, { after: beforeDc });
  await waitFor({ event: "open", who: "alice" }, { after: beforeDc, timeoutMs: 8000 });
  await waitFor({ event: "join", who: "alice", status: "ok" }, { after: beforeDc, timeoutMs: 8000 });

  // After alice's reconnect, a broadcast reaches both again.
  await publish("broadcast", topic, "headline", JSON.stringify({ title: "headline 3", n: 3 }));
  await waitFor({ event: "headline", who: "alice", n: 3 });
  await waitFor({ event: "headline", who: "bob", n: 3 });

  // Over HTTP (--http2 is node B's base URL): a wrong token gets 401, the right one
  // broadcasts to both nodes.
  if (options.http2) {
    const post = async (token, n) => {
      const res = await fetch(`${options.http2}_channels/broadcast`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ topic, event: "headline", payload: { title: `headline ${n}`, n } }),
      });
      emit("http_publish", { status: res.status, token_ok: token === options.token });
    };
    await post(`${options.token}-wrong`, 99);
    await post(options.token, 4);
    await waitFor({ event: "headline", who: "alice", n: 4 });
    await waitFor({ event: "headline", who: "bob", n: 4 });
  }
  alice.disconnect();
  bob.disconnect();
}, options.timeout);
