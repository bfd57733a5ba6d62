// A process on its way out, as /proc shows it: SIGKILL pending in SigPnd/ShdPnd (captured from a
// killed task that could not run yet), or PF_EXITING in the stat flags once do_exit() has begun.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseProcStat, parseProcStatus } from "../../src/host/linux/parse-proc.js";
import { PF_EXITING } from "../../src/host/linux/control-files.js";
import { captured } from "../fixtures/captured.js";

function ok<T>(result: { ok: true; value: T } | { ok: false; error: { message: string } }): T {
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

describe("exiting processes in procfs text", () => {
  it("a killed task that has not run yet: SIGKILL pending, memory still there, PF_EXITING not yet", () => {
    const status = ok(parseProcStatus(captured("proc-pid-status.sigkill-pending.txt")));
    assert.equal(status.sigkillPending, true);
    assert.ok((status.memory?.rssBytes ?? 0) > 0);
    assert.equal(ok(parseProcStat(captured("proc-pid-stat.sigkill-pending.txt"))).isExiting, false);
  });

  it("an ordinary process and a kernel thread: nothing pending, not exiting", () => {
    for (const name of ["proc-self-status.txt", "proc-kthreadd-status.txt", "proc-pid-status.memcg-oom-victim.txt"]) {
      assert.equal(ok(parseProcStatus(captured(name))).sigkillPending, false, name);
    }
    assert.equal(ok(parseProcStat(captured("proc-self-stat.txt"))).isExiting, false);
  });

  it("PF_EXITING in field 9 marks a task in do_exit()", () => {
    const text = captured("proc-pid-stat.sigkill-pending.txt");
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const flags = Number(fields[6]);
    fields[6] = String(flags | PF_EXITING);
    const exiting = `${text.slice(0, text.lastIndexOf(")") + 2)}${fields.join(" ")}`;
    assert.equal(ok(parseProcStat(exiting)).isExiting, true);
  });

  it("SIGKILL only in the shared mask counts; other signals do not; a garbled mask is a parse error", () => {
    const base = captured("proc-self-status.txt");
    const withMasks = (sig: string, shd: string): string => base.replace(/SigPnd:\t\S+/, `SigPnd:\t${sig}`).replace(/ShdPnd:\t\S+/, `ShdPnd:\t${shd}`);
    assert.equal(ok(parseProcStatus(withMasks("0000000000000000", "0000000000000100"))).sigkillPending, true);
    assert.equal(ok(parseProcStatus(withMasks("0000000000004000", "0000000000000002"))).sigkillPending, false, "SIGTERM and SIGINT are not SIGKILL");
    assert.equal(parseProcStatus(withMasks("zz", "0000000000000000")).ok, false);
  });
});

describe("readProcessSample marks a killed process as exiting", () => {
  it("from the captured SIGKILL-pending files", async () => {
    const { buildProcTree } = await import("../fixtures/proc-tree.js");
    const { readProcessSample } = await import("../../src/host/linux/proc-reader.js");
    const proc = buildProcTree();
    try {
      const pid = 20018;
      proc.addProcess(pid, {
        stat: captured("proc-pid-stat.sigkill-pending.txt"),
        status: captured("proc-pid-status.sigkill-pending.txt"),
        oomScoreAdj: "0\n",
      });
      const sample = ok(readProcessSample(pid, proc.root));
      assert.equal(sample.exiting, true);
      assert.ok(sample.rssBytes > 0, "its memory is still there: it is freed as it exits");
    } finally {
      proc.cleanup();
    }
  });
});
