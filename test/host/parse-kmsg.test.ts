// The kernel log's OOM-kill lines, as Debian's 6.1 printed them in the VM test bed.

import assert from "node:assert/strict";
import test from "node:test";
import { emptyKmsgState, inSubtree, kmsgMessage, readKmsgMessage } from "../../src/host/linux/parse-kmsg.js";

const feed = (records: string[]) => {
  const state = emptyKmsgState();
  return records.map((record) => readKmsgMessage(state, kmsgMessage(record) ?? "")).filter((kill) => kill !== null);
};

test("a memcg kill, and a memory.oom.group kill of every member, each with its cgroup", () => {
  const kills = feed([
    "4,423,125999357,-;tail invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0",
    "6,469,126006627,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/g186,task_memcg=/g186/a,task=tail,pid=189,uid=0",
    "3,470,126007735,-;Memory cgroup out of memory: Killed process 189 (tail) total-vm:67736kB, anon-rss:64872kB, file-rss:864kB, shmem-rss:0kB, UID:0 pgtables:172kB oom_score_adj:0",
    "6,471,126009327,-;Tasks in /g186 are going to be killed due to memory.oom.group set",
    "3,472,126012206,-;Memory cgroup out of memory: Killed process 187 (sleep) total-vm:2912kB, anon-rss:84kB, file-rss:584kB, shmem-rss:0kB, UID:0 pgtables:48kB oom_score_adj:0",
  ]);
  assert.deepEqual(kills, [
    { pid: 189, comm: "tail", taskCgroup: "/g186/a", rssBytes: (64872 + 864) * 1024, global: false },
    { pid: 187, comm: "sleep", taskCgroup: "/g186", rssBytes: (84 + 584) * 1024, global: false },
  ]);
  assert.ok(inSubtree("/g186/a", "/g186") && inSubtree("/g186", "/g186") && !inSubtree("/g1860", "/g186") && inSubtree("/x", "/"));
});

test("a global kill is global, named with its task's cgroup", () => {
  const kills = feed([
    "6,900,226006627,-;oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=tail,pid=412,uid=0",
    "3,901,226007735,-;Out of memory: Killed process 412 (tail) total-vm:901234kB, anon-rss:880000kB, file-rss:100kB, shmem-rss:0kB, UID:0 pgtables:1800kB oom_score_adj:0",
  ]);
  assert.deepEqual(kills, [{ pid: 412, comm: "tail", taskCgroup: "/", rssBytes: 880100 * 1024, global: true }]);
});

test("other lines, continuation lines and a memcg line without its header are no kill", () => {
  assert.equal(kmsgMessage(" SUBSYSTEM=memory"), null);
  assert.deepEqual(feed(["6,1,1,-;Memory cgroup out of memory: Killed process 5 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0", "6,2,2,-;hello"]), []);
});
