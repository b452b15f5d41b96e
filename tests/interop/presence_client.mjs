// Presence across nodes with the official client's Presence:
//   node presence_client.mjs <url of node A> --url2 <url of node B>
// "watcher" joins room:presence on node B and follows presence_state/presence_diff with
// Phoenix.Presence; "ann" joins the same room on node A. The watcher must see ann appear
// (a diff replicated from A through Redis), then disappear when ann leaves.
import { Presence } from "phoenix";
import { emit, join, makeSocket, parseArgs, run, waitFor, mark } from "./harness.mjs";

const { positional, options } = parseArgs();
const [urlA] = positional;
const urlB = options.url2;

run(async () => {
  const watcherSocket = makeSocket(urlB, { transport: options.transport, params: { user: "watcher" }, who: "watcher" });
  watcherSocket.connect();
  const watched = watcherSocket.channel("room:presence", {});
  const presence = new Presence(watched);
  presence.onSync(() => {
    const users = presence.list((user) => user).sort();
    emit("sync", { who: "watcher", users });
  });
  await join(watched, "watcher");
  await waitFor({ event: "sync", who: "watcher" });

  const annSocket = makeSocket(urlA, { transport: options.transport, params: { user: "ann" }, who: "ann" });
  annSocket.connect();
  const annChannel = annSocket.channel("room:presence", {});
  await join(annChannel, "ann");

  // ann's presence reaches node B through Redis: the watcher's Presence shows both.
  await waitForUsers(["ann", "watcher"]);
  const before = mark();
  annChannel.leave();
  await waitForUsers(["watcher"], before);
  watcherSocket.disconnect();
  annSocket.disconnect();
}, options.timeout);

async function waitForUsers(users, after = 0) {
  const want = JSON.stringify(users);
  for (;;) {
    const record = await waitFor({ event: "sync", who: "watcher" }, { after, timeoutMs: 15000 });
    if (JSON.stringify(record.users) === want) return record;
    after = mark();
  }
}
