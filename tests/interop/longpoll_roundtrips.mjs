// The official Phoenix JS client over LongPoll doing N push/reply round trips on "ping"
// (examples.hello_sockets), every HTTP request on a new TCP connection ("connection: close"),
// so that behind `serve --workers N` the kernel spreads them over the workers.
//
//   node longpoll_roundtrips.mjs <socket url, e.g. ws://127.0.0.1:4000/socket> [--rounds 50] [--timeout ms]
//
// Prints one JSON line per event (harness.mjs), and an "lp" line per long-poll response with
// the logical status of its body ({"status": 200|204|410|...}).

import { emit, join, makeSocket, parseArgs, reply, run, waitFor, watchChannel } from "./harness.mjs";

const { positional, options } = parseArgs();
const [url] = positional;
if (!url) {
  console.error("usage: node longpoll_roundtrips.mjs <socket url> [--rounds N] [--timeout ms]");
  process.exit(2);
}
const rounds = Number(options.rounds || 50);

const originalFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
  const headers = new Headers(init.headers || {});
  headers.set("connection", "close");
  const response = await originalFetch(input, { ...init, headers });
  const method = init.method || "GET";
  try {
    const body = await response.clone().json();
    emit("lp", { method, status: body.status });
  } catch {
    emit("lp", { method, status: `http ${response.status}` });
  }
  return response;
};

run(async () => {
  const socket = makeSocket(url, { transport: "longpoll", who: "lp" });
  socket.connect();
  await waitFor({ event: "open", who: "lp" });
  const channel = watchChannel(socket.channel("ping", {}), "lp");
  await join(channel, "lp");
  for (let i = 0; i < rounds; i++) {
    await reply(channel.push("ping", { ack_phrase: `round ${i}` }), "lp", `ping ${i}`);
  }
  socket.disconnect();
}, Number(options.timeout));
