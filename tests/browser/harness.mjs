// Starts what the browser tests need, all on 127.0.0.1: the mock upstream
// binary (target/debug/reelay-mock-upstream, or $REELAY_MOCK_BIN), the built
// Worker under Miniflare (tests/harness/serve.mjs), a tiny static server for
// pages on *other* origins (to exercise CORS), and Debian's Chromium driven
// by playwright-core (no browser download).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, existsSync, mkdirSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const MASTER_KEY = "sk-master-browser-0123456789abcdef";
const SEALING_KEY = "browser-sealing-key-0123456789abcdef0123456789";
export const ARTIFACTS = path.join(ROOT, "target", "browser-artifacts");
const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";

/** A child that prints `READY <url>`; its output is kept for failure reports. */
async function startChild(name, cmd, args, env) {
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines = [];
  const keep = (line) => {
    lines.push(line);
    if (lines.length > 2000) lines.shift();
  };
  readline.createInterface({ input: child.stderr }).on("line", keep);
  const out = readline.createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 30 s:\n${lines.join("\n")}`)), 30_000);
    out.on("line", (line) => {
      if (line.startsWith("READY ")) {
        clearTimeout(timer);
        resolve(line.slice(6).trim());
      } else {
        keep(line);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${lines.join("\n")}`));
    });
  });
  return {
    url,
    lines,
    async stop() {
      if (child.exitCode !== null) return;
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 8000);
      await once(child, "exit").catch(() => {});
      clearTimeout(timer);
    },
  };
}

/** The mock upstream binary. */
export async function startMock() {
  const bin = process.env.REELAY_MOCK_BIN || path.join(ROOT, "target", "debug", "reelay-mock-upstream");
  if (!existsSync(bin)) {
    throw new Error(`${bin} is missing: build it with \`cargo build -p reelay-tests --bin reelay-mock-upstream\``);
  }
  // Three polls per job, so the page shows queued → in progress → completed.
  return startChild("mock upstream", bin, ["--port", "0", "--polls", "3"], {});
}

/** The built Worker under Miniflare. `cors` is the config's cors section. */
export async function startGateway(mockUrl) {
  const worker = path.join(ROOT, "edge", "build", "index.js");
  if (!existsSync(worker)) throw new Error("edge/build/index.js is missing: run scripts/build-worker");
  const config = {
    model_groups: [
      {
        name: "veo-3.1",
        deployments: [{ id: "gemini-veo31", provider: "gemini", model: "veo-3.1-generate-preview", credential: "GEMINI_API_KEY", api_base: mockUrl }],
      },
      {
        name: "veo-3.1-fast",
        deployments: [{ id: "gemini-veo31-fast", provider: "gemini", model: "veo-3.1-fast-generate-preview", credential: "GEMINI_API_KEY", api_base: mockUrl }],
      },
      {
        name: "gpt-realtime",
        deployments: [{ id: "openai-rt", provider: "openai", model: "gpt-realtime-2025-08-28", credential: "OPENAI_API_KEY", api_base: mockUrl }],
      },
      {
        name: "gpt-live-1",
        deployments: [{ id: "openai-live", provider: "openai", model: "gpt-live-1", credential: "OPENAI_API_KEY", api_base: mockUrl }],
      },
    ],
  };
  const options = {
    config,
    secrets: {
      MASTER_KEY,
      SEALING_KEY,
      GEMINI_API_KEY: "mock-gemini-key",
      OPENAI_API_KEY: "mock-openai-key",
    },
  };
  const gw = await startChild("gateway", process.execPath, [path.join(ROOT, "tests", "harness", "serve.mjs")], {
    REELAY_HARNESS_OPTIONS: JSON.stringify(options),
  });
  gw.newKey = async (body) => {
    const resp = await fetch(`${gw.url}/key/generate`, {
      method: "POST",
      headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = await resp.json();
    if (resp.status !== 200) throw new Error(`key/generate: ${JSON.stringify(json)}`);
    return json.key;
  };
  gw.mint = async (key, body) => {
    const resp = await fetch(`${gw.url}/v1/browser_tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = await resp.json();
    if (resp.status !== 200) throw new Error(`browser_tokens: ${JSON.stringify(json)}`);
    return json;
  };
  /** The gateway's request log lines (one JSON object per request). */
  gw.requests = () =>
    gw.lines
      .map((l) => {
        try {
          return JSON.parse(l);
        } catch {
          return null;
        }
      })
      .filter((l) => l && l.request_id);
  return gw;
}

/** A static server for pages on another origin: `GET /` is `html`. */
export async function startStatic(html) {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(html);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  return {
    port,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Headless Debian Chromium with a fresh profile and fake media devices. */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (scripts/install-tools does)`);
  const profile = mkdtempSync(path.join(os.tmpdir(), "reelay-chromium-"));
  mkdirSync(ARTIFACTS, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--use-fake-device-for-media-stream",
      "--use-fake-ui-for-media-stream",
      "--autoplay-policy=no-user-gesture-required",
    ],
    viewport: { width: 1200, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot under target/browser-artifacts/. */
export async function snap(page, name) {
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
