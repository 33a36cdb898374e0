// Hosts the built reelay Worker (edge/build/index.js) in workerd through
// Miniflare, with local KV and a SQLite Durable Object, on 127.0.0.1 and a
// free port. Used by the end-to-end tests and the load script.
//
// Options come as JSON in the REELAY_HARNESS_OPTIONS environment variable:
//   { "config": {...REELAY_CONFIG...} | "<json text>",
//     "secrets": { "MASTER_KEY": "...", "SEALING_KEY": "...", ... },
//     "persist": "/optional/state/dir", "port": 0,
//     "without_quota_store": false }
// Prints exactly one line `READY http(s)://127.0.0.1:PORT` once serving, then
// runs until SIGTERM/SIGINT or until stdin closes (so a dying parent takes
// it down).
//
// Test control over stdin, one JSON object per line:
//   {"kv_put": {"key": "...", "value": "..."}}  writes KEYS directly (to play
//   a stale edge cache: KV serves old values for up to 60 s in production);
//   {"kv_get": {"key": "..."}}                  reads it;
// each is answered with the stdout line `ACK <n> <JSON value or null>` (n
// counts commands from 1), or `NACK <n> <error>`.
import { Miniflare, Log, LogLevel } from "miniflare";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const options = JSON.parse(process.env.REELAY_HARNESS_OPTIONS ?? "{}");
const bindings = { ...(options.secrets ?? {}) };
if (options.config !== undefined) bindings.REELAY_CONFIG = options.config;
const persist = options.persist ?? false;

const mf = new Miniflare({
  modules: true,
  scriptPath: path.join(root, "edge/build/index.js"),
  modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
  compatibilityDate: "2026-04-01",
  host: "127.0.0.1",
  port: options.port ?? 0,
  kvNamespaces: ["KEYS"],
  // `without_quota_store` leaves the binding out: the gateway must then
  // fail closed for metered work (tests of that policy).
  durableObjects: options.without_quota_store
    ? {}
    : { QUOTA: { className: "QuotaCounter", useSQLite: true } },
  kvPersist: persist && path.join(persist, "kv"),
  durableObjectsPersist: persist && path.join(persist, "do"),
  bindings,
  cf: false,
  log: new Log(options.verbose ? LogLevel.DEBUG : LogLevel.WARN),
  ...(options.https
    ? { httpsKeyPath: options.https.key, httpsCertPath: options.https.cert }
    : {}),
});

const url = await mf.ready;
process.stdout.write(`READY ${url.origin}\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await mf.dispose().catch(() => {});
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.on("close", stop);
let commands = 0;
let pending = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  pending += chunk;
  let newline;
  while ((newline = pending.indexOf("\n")) >= 0) {
    const line = pending.slice(0, newline).trim();
    pending = pending.slice(newline + 1);
    if (line) handle(line);
  }
});
let queue = Promise.resolve();
function handle(line) {
  queue = queue.then(async () => {
    const n = ++commands;
    try {
      const command = JSON.parse(line);
      const kv = await mf.getKVNamespace("KEYS");
      let answer = null;
      if (command.kv_put) await kv.put(command.kv_put.key, command.kv_put.value);
      if (command.kv_get) answer = await kv.get(command.kv_get.key);
      process.stdout.write(`ACK ${n} ${JSON.stringify(answer)}\n`);
    } catch (e) {
      process.stdout.write(`NACK ${n} ${e}\n`);
    }
  });
}
