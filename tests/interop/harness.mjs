// Shared helpers of the interop scripts: argument parsing, transport selection, one JSON
// line per observed event on stdout, and promise wrappers with a global deadline.
//
// Every script prints lines like {"event":"join","t":12,"who":"alice","status":"ok",...}
// and finishes with {"event":"done"} (exit 0) or {"event":"failed","error":"..."} (exit 1).

import { Socket, LongPoll } from "phoenix";
import WebSocket from "ws";

const started = Date.now();
const observed = [];
const waiters = [];

/** Print one event as a JSON line and wake up the waiters whose predicate it satisfies. */
export function emit(event, fields = {}) {
  const record = { event, t: Date.now() - started, ...fields };
  observed.push(record);
  process.stdout.write(JSON.stringify(record) + "\n");
  for (const w of [...waiters]) {
    if (w.match(record)) {
      waiters.splice(waiters.indexOf(w), 1);
      clearTimeout(w.timer);
      w.resolve(record);
    }
  }
  return record;
}

/** Resolve with the first event (already observed or future) matching `fields`. */
export function waitFor(fields, { timeoutMs = 10000, after = 0 } = {}) {
  const match = (r) => observed.indexOf(r) >= after && Object.entries(fields).every(([k, v]) => r[k] === v);
  const seen = observed.find(match);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const w = { match, resolve };
    w.timer = setTimeout(() => {
      waiters.splice(waiters.indexOf(w), 1);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${JSON.stringify(fields)}`));
    }, timeoutMs);
    waiters.push(w);
  });
}

/** Index to pass as `after` so that waitFor only considers events from now on. */
export function mark() {
  return observed.length;
}

/** Parse `<positional...> [--transport websocket|longpoll] [--timeout ms] [--key value...]`. */
export function parseArgs(argv = process.argv.slice(2)) {
  const positional = [];
  const options = { transport: "websocket", timeout: "20000" };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith("--")) {
      const key = argv[i].slice(2);
      const value = argv[i + 1];
      if (value === undefined) throw new Error(`option --${key} needs a value`);
      options[key] = value;
      i++;
    } else {
      positional.push(argv[i]);
    }
  }
  if (!["websocket", "longpoll"].includes(options.transport)) {
    throw new Error(`--transport must be websocket or longpoll, not ${options.transport}`);
  }
  options.timeout = Number(options.timeout);
  return { positional, options };
}

/** The official client's Socket on `url` (ws://host:port/socket) with the chosen transport. */
export function makeSocket(url, { transport = "websocket", params = {}, who = "client", ...rest } = {}) {
  const socket = new Socket(url, {
    transport: transport === "longpoll" ? LongPoll : WebSocket,
    params,
    ...rest,
  });
  socket.onOpen(() => emit("open", { who, transport }));
  socket.onClose((e) => emit("close", { who, code: e && e.code, reason: e && e.reason }));
  socket.onError((e) => emit("socket_error", { who, message: String((e && e.message) || e) }));
  return socket;
}

/** Watch a channel: every join reply, error, close and the given events become lines. */
export function watchChannel(channel, who, events = []) {
  const topic = channel.topic;
  channel.onError((reason) => emit("channel_error", { who, topic, reason: reason === undefined ? null : reason }));
  channel.onClose(() => emit("channel_close", { who, topic }));
  for (const name of events) {
    channel.on(name, (payload) => emit("push", { who, topic, name, payload }));
  }
  return channel;
}

/** `channel.join()`, each reply (the first and every rejoin) printed as a "join" line. */
export function join(channel, who) {
  const topic = channel.topic;
  const after = mark();
  const push = channel.join();
  for (const status of ["ok", "error", "timeout"]) {
    push.receive(status, (response) => emit("join", { who, topic, status, response: response ?? null }));
  }
  return waitFor({ event: "join", who, topic }, { after });
}

/** Resolve with {status, response} of a push (ok, error or timeout), printed as a "reply" line. */
export function reply(push, who, label) {
  return new Promise((resolve) => {
    for (const status of ["ok", "error", "timeout"]) {
      push.receive(status, (response) => {
        resolve(emit("reply", { who, label, status, response: response ?? null }));
      });
    }
  });
}

/** Run `main` under a deadline; print "done" or "failed" and exit accordingly. */
export function run(main, timeoutMs = 20000) {
  const deadline = setTimeout(() => {
    emit("failed", { error: `script deadline of ${timeoutMs} ms exceeded` });
    process.exit(1);
  }, timeoutMs);
  main().then(
    () => {
      clearTimeout(deadline);
      emit("done");
      process.exit(0);
    },
    (err) => {
      clearTimeout(deadline);
      emit("failed", { error: String((err && err.stack) || err) });
      process.exit(1);
    },
  );
}
