// Drives the chat page (examples.chat) in headless Chromium through playwright-core.
//
//   node browser.mjs <scenario> <page url, e.g. http://127.0.0.1:4000/>
//                    --chromium /usr/bin/chromium --screenshot out.png [--timeout ms]
//
// Scenarios:
//   chat            join a room, send a message, wait for its echo in the list
//   missing_client  the server cannot serve /js/phoenix.js: the page explains how to install it
//
// Uses the system (Debian) Chromium; never `npx playwright install`. Prints JSON lines
// like client.mjs (see harness.mjs).

import { chromium } from "playwright-core";
import { emit, parseArgs, run } from "./harness.mjs";

const { positional, options } = parseArgs();
const [scenario, pageUrl] = positional;
if (!scenario || !pageUrl || !options.chromium || !options.screenshot) {
  console.error("usage: node browser.mjs <chat|missing_client> <page url> --chromium PATH --screenshot PATH");
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

const scenarios = {
  async chat(page) {
    const room = `browser-${process.pid}`;
    await page.goto(`${pageUrl}?user=alice&room=${room}`);
    await page.click("#join");
    await page.waitForSelector("#body:not([disabled])");
    emit("joined", { status: await page.textContent("#status") });
    await page.fill("#body", "hello from chromium");
    await page.press("#body", "Enter");
    const line = page.locator("#messages li:not(.notice)").filter({ hasText: "hello from chromium" });
    await line.waitFor();
    emit("message", {
      user: await line.locator(".user").textContent(),
      body: await line.locator(".body").textContent(),
    });
    await page.waitForFunction(() => document.getElementById("body").value === "");
    emit("input_cleared");
  },

  async missing_client(page) {
    await page.goto(pageUrl);
    const notice = page.locator("#missing-client");
    await notice.waitFor({ state: "visible" });
    emit("missing_client", {
      text: await notice.innerText(),
      status: await page.textContent("#status"),
      app_visible: await page.locator("#app").isVisible(),
    });
  },
};

if (!(scenario in scenarios)) {
  console.error(`unknown scenario ${scenario}; known: ${Object.keys(scenarios).join(", ")}`);
  process.exit(2);
}

run(async () => {
  const browser = await chromium.launch({ executablePath: options.chromium, args: LAUNCH_ARGS });
  try {
    emit("browser", { version: browser.version() });
    const page = await browser.newPage({ viewport: { width: 900, height: 720 } });
    page.setDefaultTimeout(10000);
    page.on("console", (m) => emit("console", { type: m.type(), text: m.text() }));
    page.on("pageerror", (e) => emit("pageerror", { message: e.message }));
    page.on("response", (r) => { if (r.status() >= 400) emit("http_error", { url: r.url(), status: r.status() }); });
    try {
      await scenarios[scenario](page);
    } finally {
      await page.screenshot({ path: options.screenshot, fullPage: true });
      emit("screenshot", { path: options.screenshot });
    }
  } finally {
    await browser.close();
  }
}, options.timeout);
