// Hosts the built reelay Worker (edge/build/index.js) in workerd through
// Miniflare, with local KV and a SQLite Durable Object, on 127.0.0.1 and a
// free port. Used by the end-to-end tests and the load script.
//
// Options come as JSON in the REELAY_HARNESS_OPTIONS environment variable:
//   { "config": {...REELAY_CONFIG...} | "<json text>",
//     "secrets": { "MASTER_KEY": "...", "SEALING_KEY": "...", ... },
//     "persist": "/optional/state/dir", "port": 0 }
// Prints exactly one line `READY http://127.0.0.1:PORT` once serving, then
// runs until SIGTERM/SIGINT or until stdin closes (so a dying parent takes
// it down).
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
  durableObjects: { QUOTA: { className: "QuotaCounter", useSQLite: true } },
  kvPersist: persist && path.join(persist, "kv"),
  durableObjectsPersist: persist && path.join(persist, "do"),
  bindings,
  cf: false,
  log: new Log(options.verbose ? LogLevel.DEBUG : LogLevel.WARN),
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
process.stdin.resume();
