// The official client and a FastAPI route on one port (examples.asgi): the client joins
// room:<unique> over the WebSocket; this script then POSTs to the FastAPI handler on the
// same port, which calls endpoint.broadcast in-process; the client receives new_msg.
//
//   node asgi_client.mjs <socket url, ws://host:port/socket>

import { emit, join, makeSocket, parseArgs, run, waitFor, watchChannel } from "./harness.mjs";

const { positional, options } = parseArgs();
const [url] = positional;
if (!url) {
  console.error("usage: node asgi_client.mjs <socket url>");
  process.exit(2);
}
const room = `r${process.pid}${Date.now()}`;
const http = url.replace(/^ws/, "http").replace(/\/socket$/, "");

run(async () => {
  const socket = makeSocket(url, { who: "ann" });
  socket.connect();
  const ch = watchChannel(socket.channel(`room:${room}`, {}), "ann");
  ch.on("new_msg", (payload) => emit("new_msg", { who: "ann", ...payload }));
  await join(ch, "ann");
  const health = await fetch(`${http}/api/health`);
  emit("http", { path: "/api/health", status: health.status, body: await health.json() });
  const res = await fetch(`${http}/api/rooms/${room}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user: "fastapi", body: "hello from a FastAPI handler" }),
  });
  emit("http", { path: "/api/rooms/messages", status: res.status, body: await res.json() });
  await waitFor({ event: "new_msg", who: "ann" });
  socket.disconnect();
}, options.timeout);
