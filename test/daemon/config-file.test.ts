// `--config PATH` reads only a regular file of bounded size: a FIFO must not hang the daemon, and
// /dev/zero or a huge file must not exhaust its memory.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { loadConfigFile, type ConfigResult } from "../../src/daemon/config.js";

/** dist/test/daemon/x.test.js -> dist/src/daemon/config.js */
const CONFIG_MODULE = pathToFileURL(resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "daemon", "config.js")).href;

function refusal(result: ConfigResult): string {
  assert.equal(result.ok, false, "expected the config file to be refused");
  return result.ok ? "" : result.message;
}

/**
 * loadConfigFile in a child process with a deadline: a loader that blocks on a FIFO would
 * otherwise hang the test run instead of failing it.
 */
function loadInChild(path: string, timeoutMs: number): { result: ConfigResult | null; elapsedMs: number } {
  const script = `import { loadConfigFile } from ${JSON.stringify(CONFIG_MODULE)}; process.stdout.write(JSON.stringify(loadConfigFile(process.argv[1])));`;
  const started = performance.now();
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script, path], { timeout: timeoutMs, encoding: "utf8" });
  const elapsedMs = performance.now() - started;
  return { result: child.status === 0 ? (JSON.parse(child.stdout) as ConfigResult) : null, elapsedMs };
}

describe("loadConfigFile refuses what is not a small regular file", () => {
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "oomwarden-config-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("a FIFO is refused at once, without waiting for a writer", () => {
    const fifo = join(dir, "fifo.yaml");
    execFileSync("mkfifo", [fifo]);
    const { result, elapsedMs } = loadInChild(fifo, 10_000);
    assert.ok(result !== null, `the loader did not return within 10 s (${Math.round(elapsedMs)} ms): it blocked on the FIFO`);
    assert.equal(refusal(result), `cannot read config ${fifo}: not a regular file (a FIFO)`);
  });

  it("/dev/zero is refused", () => {
    assert.equal(refusal(loadConfigFile("/dev/zero")), "cannot read config /dev/zero: not a regular file (a character device)");
  });

  it("a directory is refused", () => {
    const sub = join(dir, "sub");
    mkdirSync(sub);
    assert.equal(refusal(loadConfigFile(sub)), `cannot read config ${sub}: not a regular file (a directory)`);
  });

  it("a 2 MiB file is refused, naming the limit", () => {
    const big = join(dir, "big.yaml");
    writeFileSync(big, `# ${"x".repeat(2 * 1024 * 1024)}\n`);
    assert.match(refusal(loadConfigFile(big)), new RegExp(`^cannot read config ${big}: too large: \\d+ bytes, at most 1048576 bytes allowed$`));
  });

  it("a file whose size stat does not tell is still read only up to the limit", (t) => {
    // /proc files report size 0 and can hold megabytes: the read, not the stat, must stop.
    const proc = "/proc/kallsyms";
    if (!existsSync(proc) || statSync(proc).size !== 0) return t.skip("no /proc/kallsyms with size 0");
    const message = refusal(loadConfigFile(proc));
    if (/not UTF-8|YAML/.test(message)) return t.skip(`/proc/kallsyms is shorter than the limit here: ${message}`);
    assert.equal(message, "cannot read config /proc/kallsyms: too large: 1048577 bytes or more, at most 1048576 bytes allowed");
  });

  it("a symlink to a regular file is that file", () => {
    const real = join(dir, "real.yaml");
    writeFileSync(real, "dryRun: true\n");
    const link = join(dir, "link.yaml");
    symlinkSync(real, link);
    const result = loadConfigFile(link);
    assert.ok(result.ok, result.ok ? "" : result.message);
    assert.equal(result.config.engine.dryRun, true);
  });

  it("binary junk is refused as not UTF-8, in one line", () => {
    const junk = join(dir, "junk.yaml");
    writeFileSync(junk, Buffer.from([0x64, 0x72, 0x79, 0xff, 0xfe, 0x0a, 0x00, 0xc3]));
    assert.equal(refusal(loadConfigFile(junk)), `cannot read config ${junk}: not UTF-8 text`);
  });

  it("a missing file names the path once, with the reason", () => {
    assert.equal(refusal(loadConfigFile(join(dir, "none.yaml"))), `cannot read config ${join(dir, "none.yaml")}: ENOENT: no such file or directory`);
  });

  it("a path with a newline is shown escaped", () => {
    const odd = join(dir, "a\nb.yaml");
    writeFileSync(odd, "bogus: 1\n");
    const message = refusal(loadConfigFile(odd));
    assert.ok(!message.includes("\n"), message);
    assert.match(message, /a\\nb\.yaml"?:1: unknown key "bogus"/);
  });
});
