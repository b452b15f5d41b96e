// Drives the observer page (/_observer/) in headless Chromium through playwright-core.
//
//   node observer_page.mjs <page url> <pid to click> <pid that will be killed> <supervised pid that will be killed>
//        --chromium /usr/bin/chromium --screenshot out.png --modules DIR_WITH_node_modules
//
// Prints JSON lines: {"event": "tree", ...}, {"event": "details", ...}, then
// {"event": "ready_for_kill"}; waits until the killed pids leave the tree (the test kills them
// through the control socket when it reads "ready_for_kill") and the supervised one is
// replaced by a restarted process (a "restarts" badge), takes the screenshot and prints
// {"event": "done"}. Uses the system (Debian) Chromium; never downloads a browser.

import { createRequire } from "node:module";
import path from "node:path";

function parseArgs() {
  const positional = [];
  const options = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith("--")) options[argv[i].slice(2)] = argv[++i];
    else positional.push(argv[i]);
  }
  return { positional, options };
}

const emit = (event, data = {}) => console.log(JSON.stringify({ event, ...data }));

const { positional, options } = parseArgs();
const [pageUrl, clickPid, killPid, restartPid] = positional;
if (!pageUrl || !clickPid || !killPid || !restartPid || !options.chromium || !options.screenshot || !options.modules) {
  console.error("usage: node observer_page.mjs <url> <click pid> <kill pid> <restart pid> " +
                "--chromium PATH --screenshot PATH --modules DIR");
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(options.modules), "package.json"));
const { chromium } = require("playwright-core");
const timeout = Number(options.timeout || 20000);

const browser = await chromium.launch({
  executablePath: options.chromium,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(timeout);
  page.on("pageerror", (err) => emit("page_error", { message: String(err) }));
  await page.goto(pageUrl);
  await page.waitForSelector('#status[data-state="live"]');
  await page.waitForSelector(`li.proc[data-pid="${killPid}"]`);
  const names = await page.$$eval("li.proc[data-name]", (lis) => lis.map((li) => li.dataset.name));
  const topics = await page.$$eval(".topic", (spans) => spans.map((s) => s.textContent));
  emit("tree", { names, topics, node: await page.textContent("#node") });

  await page.click(`li.proc[data-pid="${clickPid}"] > .row`);
  await page.waitForSelector(`#details[data-pid="${clickPid}"]`);
  const details = await page.$$eval("#details th", (ths) => ths.map((th) => th.textContent));
  const state = JSON.parse(await page.textContent("#details pre.state"));
  emit("details", { headings: details, state });

  emit("ready_for_kill");
  await page.waitForSelector(`li.proc[data-pid="${killPid}"]`, { state: "detached" });
  await page.waitForSelector(`li.proc[data-pid="${restartPid}"]`, { state: "detached" });
  await page.waitForSelector("li.proc.fresh .badge.restarts");
  const restarted = await page.$eval("li.proc.fresh .badge.restarts",
    (badge) => badge.closest("li.proc").dataset.pid);
  await page.waitForSelector("#events li.exit");
  const events = await page.$$eval("#events li", (lis) => lis.map((li) => li.textContent));
  emit("changed", { events, restarted });
  await page.screenshot({ path: options.screenshot, fullPage: true });
  emit("done");
} finally {
  await browser.close();
}
