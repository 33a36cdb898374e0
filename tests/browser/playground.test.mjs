// The gateway in a real browser: headless Debian Chromium (playwright-core)
// against the built Worker in workerd and the mock upstream. CORS preflight
// and denial from pages on other origins, a video job from the playground's
// form to a playing <video>, listing and deleting, an expired browser token
// shown as a readable error, and the realtime and GPT-Live WebRTC signaling
// round trips with Chromium's fake microphone. Screenshots of the main states go to
// target/browser-artifacts/.
//
// Run: node --test tests/browser/ (after scripts/build-worker and building
// the mock binary; scripts/test does both).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ARTIFACTS, launchBrowser, snap, startGateway, startMock, startStatic } from "./harness.mjs";

let mock;
let gw;
let browser;
let allowedSite;
let otherSite;

// A 1×1 PNG, for the reference-image upload.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);

before(async () => {
  mock = await startMock();
  gw = await startGateway(mock.url);
  const blank = "<!doctype html><title>third-party page</title><h1>third-party page</h1>";
  allowedSite = await startStatic(blank);
  otherSite = await startStatic(blank);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await allowedSite?.close();
  await otherSite?.close();
  await gw?.stop();
  await mock?.stop();
});

/** fetch() from inside a page on another origin; returns what the page could read. */
async function crossOriginFetch(page, url, init) {
  return page.evaluate(
    async ({ url, init }) => {
      try {
        const resp = await fetch(url, init);
        let body = null;
        try {
          body = await resp.json();
        } catch {
          body = null;
        }
        return {
          ok: true,
          status: resp.status,
          body,
          requestId: resp.headers.get("x-request-id"),
          remaining: resp.headers.get("x-ratelimit-remaining-requests"),
        };
      } catch (e) {
        return { ok: false, error: String(e) };
      }
    },
    { url, init },
  );
}

test("CORS: a page on an allowed origin is granted, others see a CORS failure", async () => {
  const allowed = `http://127.0.0.1:${allowedSite.port}`;
  const denied = `http://127.0.0.1:${otherSite.port}`;
  const key = await gw.newKey({ models: ["veo-*"], rpm: 100, allowed_origins: [allowed] });
  const page = await browser.context.newPage();
  try {
    await page.goto(`${allowed}/`);
    // Authorization and x-stainless-* make this a preflighted request.
    const init = { headers: { authorization: `Bearer ${key}`, "x-stainless-os": "Linux" } };
    const granted = await crossOriginFetch(page, `${gw.url}/v1/models`, init);
    assert.equal(granted.ok, true, granted.error);
    assert.equal(granted.status, 200);
    assert.deepEqual(
      granted.body.data.map((m) => m.id),
      ["veo-3.1", "veo-3.1-fast"],
    );
    assert.match(granted.requestId, /^req_/, "x-request-id is exposed");
    assert.equal(granted.remaining, "99", "x-ratelimit-* headers are exposed");
    // The gateway's log lines reach us asynchronously: wait for the preflight's.
    let preflights = [];
    for (let i = 0; i < 50 && !preflights.length; i++) {
      preflights = gw.requests().filter((r) => r.method === "OPTIONS" && r.path === "/v1/models");
      if (!preflights.length) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(preflights.length >= 1, "the browser sent a preflight and the gateway answered it");
    assert.ok(preflights.every((r) => r.status === 204 && r.key === null), "preflights touch no key");

    // A header the gateway does not accept fails the preflight: fetch rejects.
    const badHeader = await crossOriginFetch(page, `${gw.url}/v1/models`, {
      headers: { authorization: `Bearer ${key}`, "x-bogus": "1" },
    });
    assert.equal(badHeader.ok, false);
    assert.match(badHeader.error, /Failed to fetch/);

    // Another origin: no key lists it, so the preflight grants nothing and
    // the page sees a CORS failure — no response is readable by an origin
    // the key does not allow, errors included.
    await page.goto(`${denied}/`);
    const refused = await crossOriginFetch(page, `${gw.url}/v1/videos`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "veo-3.1", prompt: "x" }),
    });
    assert.equal(refused.ok, false);
    assert.match(refused.error, /Failed to fetch/);
    await page.evaluate((text) => {
      document.body.insertAdjacentHTML(
        "beforeend",
        `<pre style="white-space:pre-wrap;font:14px monospace">${text.replace(/</g, "&lt;")}</pre>`,
      );
    }, refused.error);
    await snap(page, "cors-denied");
  } finally {
    await page.close();
  }
});

test("playground: a video job from the form to a playing <video>, then list and delete", async () => {
  const key = await gw.newKey({ models: ["veo-*", "gpt-realtime"] });
  const page = await browser.context.newPage();
  const consoleErrors = [];
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  page.on("dialog", (d) => d.accept());
  try {
    await page.goto(`${gw.url}/`);
    assert.equal(await page.title(), "reelay playground");
    await snap(page, "01-empty");

    // Keyboard only: type the key and press Enter.
    await page.getByLabel("API key or browser token").fill(key);
    await page.getByLabel("API key or browser token").press("Enter");
    await page.getByText(/Key accepted: 3 models available/).waitFor();
    assert.deepEqual(
      await page.locator("#video-model option").allTextContents(),
      ["veo-3.1", "veo-3.1-fast"],
    );
    assert.deepEqual(await page.locator("#rt-model option").allTextContents(), ["gpt-realtime"]);

    // A missing prompt is explained, not sent.
    await page.getByRole("button", { name: "Generate video" }).click();
    await page.locator("#video-error").getByText("Describe the video").waitFor();

    await page.getByLabel("Prompt").fill("A calico cat playing a grand piano, warm evening light");
    await page.getByLabel("Size").selectOption("720x1280");
    await page.getByLabel("Length").selectOption("6");
    await page.getByLabel(/Reference image/).setInputFiles({ name: "ref.png", mimeType: "image/png", buffer: PNG });
    await page.getByRole("button", { name: "Generate video" }).click();
    await page.locator("#job-status").getByText(/Queued|Generating/).waitFor();
    await snap(page, "02-in-progress");

    // Completed: the <video> has decodable frames and plays.
    await page.locator("#job-status").getByText(/^Ready:/).waitFor({ timeout: 30_000 });
    const player = page.locator("#player");
    await player.waitFor({ state: "visible" });
    await page.waitForFunction(() => {
      const v = document.getElementById("player");
      return v.readyState >= 2 && v.videoWidth > 0;
    });
    const dims = await player.evaluate((v) => ({ w: v.videoWidth, h: v.videoHeight, d: v.duration }));
    assert.equal(dims.w, 320);
    assert.equal(dims.h, 180);
    assert.ok(dims.d > 1.5 && dims.d < 2.5, `duration ${dims.d}`);
    await player.evaluate((v) => {
      v.muted = true;
      return v.play();
    });
    await page.waitForFunction(() => document.getElementById("player").currentTime > 0.3);
    await player.evaluate((v) => {
      v.pause();
      v.currentTime = 1;
    });
    await page.waitForFunction(() => document.getElementById("player").readyState >= 2);
    await page.waitForTimeout(200);
    assert.ok(await page.locator("#download").isVisible());
    await snap(page, "03-completed");
    // The README's picture (docs/playground.png): the key and video cards.
    await page.screenshot({ path: `${ARTIFACTS}/playground.png`, fullPage: true, clip: { x: 0, y: 0, width: 1200, height: 1060 } });

    // The reference image went upstream as the Veo instance image.
    const creates = await (await fetch(`${mock.url}/_mock/requests`)).json();
    const create = creates.filter((r) => r.path.endsWith(":predictLongRunning")).pop();
    const sent = JSON.parse(Buffer.from(create.body).toString("utf8"));
    assert.equal(sent.instances[0].image.mimeType, "image/png");
    assert.equal(sent.parameters.aspectRatio, "9:16");
    assert.equal(sent.parameters.durationSeconds, 6);

    // The list shows it; play from the list; delete it (confirmed).
    const list = page.locator("#video-list li");
    await list.first().waitFor();
    assert.equal(await list.count(), 1);
    const id = await list.first().getAttribute("data-id");
    assert.match(id, /^video_/);
    assert.match(await list.first().innerText(), /completed/);
    await page.setViewportSize({ width: 390, height: 844 });
    await snap(page, "04-phone");
    await page.setViewportSize({ width: 1200, height: 900 });
    await list.first().getByRole("button", { name: /Delete video/ }).click();
    await page.locator("#list-status").getByText("No videos yet.").waitFor();
    const gone = await fetch(`${gw.url}/v1/videos/${id}`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(gone.status, 404);

    // Focus is visible on keyboard navigation.
    await page.locator("#cred-key").focus();
    await page.keyboard.press("Tab");
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, "none");
    assert.deepEqual(consoleErrors, []);
  } finally {
    await page.close();
  }
});

test("playground: an expired browser token is shown as a readable error", async () => {
  const key = await gw.newKey({ models: ["veo-*"] });
  const minted = await gw.mint(key, { models: ["veo-3.1"], expires_in: 10 });
  assert.match(minted.token, /^bt_rl_/);
  const page = await browser.context.newPage();
  try {
    await page.goto(`${gw.url}/`);
    await page.getByLabel("API key or browser token").fill(minted.token);
    await page.getByRole("button", { name: "Use this key" }).click();
    await page.getByText(/Browser token accepted: 1 model available/).waitFor();
    assert.deepEqual(await page.locator("#video-model option").allTextContents(), ["veo-3.1"]);
    // Wait out the token's life, then act.
    const wait = minted.expires_at * 1000 - Date.now() + 1200;
    await page.waitForTimeout(Math.max(0, wait));
    await page.getByLabel("Prompt").fill("A lighthouse at dusk");
    await page.getByRole("button", { name: "Generate video" }).click();
    const error = page.locator("#video-error");
    await error.getByText("Your browser token has expired").waitFor();
    const text = await error.innerText();
    assert.match(text, /ask your server for a new one/);
    assert.match(text, /code: browser_token_expired · HTTP 401 · request id: req_/);
    await snap(page, "05-token-expired");
  } finally {
    await page.close();
  }
});

test("playground: realtime WebRTC signaling round trip with a fake microphone", async () => {
  const key = await gw.newKey({ models: ["gpt-realtime"] });
  const page = await browser.context.newPage();
  try {
    await page.goto(`${gw.url}/`);
    await page.getByLabel("API key or browser token").fill(key);
    await page.getByRole("button", { name: "Use this key" }).click();
    await page.getByText(/Key accepted/).waitFor();
    await page.getByRole("button", { name: "Start session" }).click();
    await page.waitForFunction(
      () => document.getElementById("rt-status").dataset.phase === "answered" || !document.getElementById("rt-error").hidden,
      null,
      { timeout: 20_000 },
    );
    const error = await page.locator("#rt-error").innerText();
    assert.equal(error, "", "no realtime error");
    assert.equal(await page.locator("#rt-signaling").innerText(), "stable");
    const log = await page.locator("#rt-log").innerText();
    assert.match(log, /realtime token minted/);
    assert.match(log, /SDP answer received \(\d+ bytes\), call rtc_/);
    const secrets = (await (await fetch(`${mock.url}/_mock/realtime`)).json()).calls;
    assert.equal(secrets.length, 1, "the mock saw one call");
    await snap(page, "06-realtime");
    await page.getByRole("button", { name: "Hang up" }).click();
    assert.equal(await page.locator("#rt-signaling").innerText(), "closed");
  } finally {
    await page.close();
  }
});

test("playground: GPT-Live over WebRTC with a browser token and a fake microphone", async () => {
  // The page's own server mints a narrowed browser token; the page posts its
  // offer JSON with it and applies the answer.
  const key = await gw.newKey({ models: ["gpt-live-1", "gpt-realtime"] });
  const minted = await gw.mint(key, { models: ["gpt-live-1"], subject: "visitor-1", expires_in: 600 });
  const page = await browser.context.newPage();
  try {
    await page.goto(`${gw.url}/`);
    await page.getByLabel("API key or browser token").fill(minted.token);
    await page.getByRole("button", { name: "Use this key" }).click();
    await page.getByText(/Browser token accepted: 1 model available/).waitFor();
    assert.deepEqual(await page.locator("#live-model option").allTextContents(), ["gpt-live-1"]);
    assert.deepEqual(await page.locator("#rt-model option").allTextContents(), ["No realtime models for this key"]);
    const before = (await (await fetch(`${mock.url}/_mock/gpt_live_http`)).json()).sessions.length;
    await page.getByRole("button", { name: "Start live session" }).click();
    await page.waitForFunction(
      () => document.getElementById("live-status").dataset.phase === "answered" || !document.getElementById("live-error").hidden,
      null,
      { timeout: 20_000 },
    );
    assert.equal(await page.locator("#live-error").innerText(), "", "no live error");
    assert.equal(await page.locator("#live-signaling").innerText(), "stable");
    const log = await page.locator("#live-log").innerText();
    assert.match(log, /live session live_.* answered \(\d+ bytes of SDP\)/);
    const sessions = (await (await fetch(`${mock.url}/_mock/gpt_live_http`)).json()).sessions;
    assert.equal(sessions.length, before + 1, "the mock saw one session");
    const upstream = sessions[sessions.length - 1];
    assert.equal(upstream.provider, "openai");
    assert.doesNotMatch(await page.locator("#live-session").innerText(), new RegExp(upstream.id));
    await snap(page, "07-gpt-live");
    await page.getByRole("button", { name: "End live session" }).click();
    await page.waitForFunction(() => document.getElementById("live-status").dataset.phase === "ended", null, { timeout: 10_000 });
    assert.equal(await page.locator("#live-signaling").innerText(), "closed");
    const ended = (await (await fetch(`${mock.url}/_mock/gpt_live_http`)).json()).sessions.find((s) => s.id === upstream.id);
    assert.deepEqual(ended.actions, ["hangup"]);
  } finally {
    await page.close();
  }
});
