// Headless Chromium (playwright-core, Debian's chromium): a page whose socket cannot use
// WebSocket falls back to LongPoll (`longPollFallbackMs`) and then joins, pushes and
// receives a broadcast over long-poll.
//
//   node longpoll_browser.mjs <page url> --chromium /usr/bin/chromium [--timeout ms]
//
// The page (served by test_longpoll_js.py) logs into `window.events`; this script waits
// for its last step and prints what it saw, plus the fallback memo in sessionStorage.

import { chromium } from "playwright-core";
import { emit, parseArgs, run } from "./harness.mjs";

const { positional, options } = parseArgs();
const [pageUrl] = positional;
if (!pageUrl || !options.chromium) {
  console.error("usage: node longpoll_browser.mjs <page url> --chromium PATH");
  process.exit(2);
}

// Flags measured to work with Debian's chromium in a container (libraries.md §5).
const LAUNCH_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

run(async () => {
  const browser = await chromium.launch({ executablePath: options.chromium, args: LAUNCH_ARGS });
  try {
    emit("browser", { version: browser.version() });
    const page = await browser.newPage();
    page.setDefaultTimeout(15000);
    page.on("pageerror", (e) => emit("pageerror", { message: e.message }));
    page.on("request", (r) => {
      const u = new URL(r.url());
      if (u.pathname.includes("/longpoll")) emit("request", { method: r.method(), path: u.pathname });
    });
    page.on("websocket", (ws) => emit("websocket", { path: new URL(ws.url()).pathname }));
    await page.goto(pageUrl);
    await page.waitForFunction(() => window.events && window.events.some((e) => e.event === "shout"));
    for (const e of await page.evaluate(() => window.events)) emit("page", { entry: e });
    emit("fallback_memo", { value: await page.evaluate(() => sessionStorage.getItem("phx:fallback:LongPoll")) });
    await page.evaluate(() => window.phxSocket.disconnect());
  } finally {
    await browser.close();
  }
}, options.timeout);
