// The five seeds as small literal scenarios: the actors of each thread, scaled down to a few
// thousand pages and a few seconds, with the policies each test compares.

import type { PolicySpec, Scenario, Step, UserspaceSpec } from "../../../src/sim/scenario.js";
import { cgroup, dormant, fault, forever, idle, policy, scenario, task } from "./build.js";

const lockRead = (lock: string): Step => ({ op: "lock", lock, mode: "read" });
const lockWrite = (lock: string): Step => ({ op: "lock", lock, mode: "write" });
const unlock = (lock: string): Step => ({ op: "unlock", lock });
const sleep = (ms: number): Step => ({ op: "sleep", ms });

/**
 * Seed 000 (Rientjes, June 2018): a test harness spawns a unittest that induces a system-wide OOM
 * on purpose, with an antagonist memory hog that is meant to be the victim. The hog's threads sit
 * in direct compaction holding mmap_sem for read while its mmap() threads queue for write, so the
 * 2018 reaper's down_read_trylock keeps failing; after 10 tries it sets MMF_OOM_SKIP and the
 * unittest's next allocation kills the unittest itself while the hog is still on its way out.
 */
export function seed000(): Scenario {
  const hog: Record<string, Step[]> = {};
  for (let i = 0; i < 6; i++) {
    // Each faulter holds mmap_sem for read through 2.5 s of compaction (uninterruptible), then faults.
    hog[`fault${i}`] = [sleep(i * 7), forever([lockRead("mmap_sem"), sleep(2500), fault(4, 1), unlock("mmap_sem")])];
  }
  for (let i = 0; i < 2; i++) hog[`mmap${i}`] = [forever([sleep(5 + 3 * i), lockWrite("mmap_sem"), sleep(2), unlock("mmap_sem")])];
  return scenario("seed 000: reaper gives up, innocents die", {
    seed: "000",
    durationMs: 20_000,
    machine: { pages: 8192, min: 128, exitMmapMsPerKiPage: 20 },
    tasks: [
      task("harness", { main: idle }, { anon: 600, innocent: true }),
      task("unittest", { main: [sleep(1000), fault(1200, 2), sleep(3000), { op: "free", pages: 1200 }, ...idle] }, { anon: 600, innocent: true }),
      task("hog", hog, { anon: 6000 }),
    ],
    policies: [policy("kernel-2018", "2018"), policy("kernel-today", "today"), policy("victim-timeout", "2018", [{ kind: "victim-timeout", timeoutMs: 10_000 }])],
  });
}

/**
 * Seed 001 (Hocko/Chinner, Feb 2015): taskA holds an XFS inode lock and loops in kmem_alloc
 * (GFP_NOFS, retried by the caller, so the allocator never invokes the OOM killer and gives it no
 * reserves); taskB, the biggest task, waits for that lock when the OOM killer picks it; taskB's
 * memory sits behind a blockable mmu notifier (RDMA), so the reaper frees nothing. No one left
 * can make progress, and nothing else is ever killed.
 */
export function seed001(context: "GFP_NOFS" | "GFP_NOFS_NOFAIL" = "GFP_NOFS"): Scenario {
  return scenario("seed 001: TIF_MEMDIE stall", {
    seed: "001",
    durationMs: 30_000,
    machine: { pages: 2048, min: 64, low: 80, high: 96, exitMmapMsPerKiPage: 20 },
    locks: [{ name: "xfs_ilock", kind: "mutex" }],
    tasks: [
      task("xfs-writer", { main: [{ op: "lock", lock: "xfs_ilock", mode: "exclusive" }, { op: "alloc", pages: 48, pagesPerMs: 0.1, context, charge: "syscall" }, unlock("xfs_ilock"), ...idle] }, { anon: 40, innocent: true }),
      task(
        "db",
        {
          faulter: [sleep(20), forever([fault(16, 2)])],
          writer: [sleep(10), { op: "lock", lock: "xfs_ilock", mode: "exclusive" }, unlock("xfs_ilock"), ...idle],
        },
        { anon: 1200, blockableMmuNotifier: true },
      ),
      task("sshd", { main: dormant }, { anon: 100, innocent: true }),
    ],
    policies: [policy("kernel-2018", "2018"), policy("kernel-today", "today"), policy("victim-reserves", "2018", [{ kind: "victim-reserves" }])],
  });
}

/**
 * Seed 002 (Weiner/Thelen, Oct 2017): a memcg at its hard limit, full of an application's
 * anonymous memory, while a server keeps opening files (kernel memory charged in syscalls: filp
 * and names caches). 2018: only page faults invoke the memcg OOM killer, so every such syscall
 * fails with ENOMEM and nothing resolves it. Proposal: force the charge past the limit and
 * reconcile asynchronously.
 */
export function seed002(chargeFailure: "enomem" | "overcharge" = "enomem"): Scenario {
  return scenario("seed 002: kmem charges at the memcg limit", {
    seed: "002",
    durationMs: 10_000,
    machine: { pages: 16384, min: 128, exitMmapMsPerKiPage: 50 },
    cgroups: [cgroup("/job", 2048, { version: 2, chargeFailure })],
    tasks: [
      task("app", { main: dormant }, { cgroup: "/job", anon: 1700 }),
      task("server", { main: [forever([{ op: "alloc", pages: 4, pagesPerMs: 4, context: "GFP_KERNEL", charge: "syscall" }, sleep(40)])] }, { cgroup: "/job", innocent: true }),
    ],
    policies: [policy("kernel-2018", "2018"), policy("kernel-today", "today"), policy("overcharge", "2018", [{ kind: "overcharge-reconcile", reconcileMs: 100 }])],
  });
}

/**
 * Seed 003 (Rientjes, Apr 2020): a burst of network receive (GFP_ATOMIC, in softirq, an
 * unkillable kernel context here) eats pages as fast as kswapd and direct reclaim free them, so
 * free memory sits between ALLOC_HIGH (min/2) and min. Reclaim keeps making progress, so user
 * allocations loop instead of invoking the OOM killer. Proposal: kill when free < min/2.
 */
export function seed003(): Scenario {
  return scenario("seed 003: GFP_ATOMIC keeps free memory below min", {
    seed: "003",
    durationMs: 12_000,
    machine: { pages: 65536, min: 1024, low: 1280, high: 1536, fileCachePages: 40_000, kswapdPagesPerMs: 2, directReclaimPagesPerMs: 1, exitMmapMsPerKiPage: 5 },
    tasks: [
      task("netrx", { softirq: [sleep(200), { op: "alloc", pages: 24_000, pagesPerMs: 4, context: "GFP_ATOMIC", charge: "syscall" }, ...dormant] }, { oomScoreAdj: -1000 }),
      task("batch", { main: dormant }, { anon: 16_000 }),
      task("app", { main: [forever([fault(50, 5), sleep(100), { op: "free", pages: 50 }])] }, { anon: 800, innocent: true }),
    ],
    policies: [policy("kernel-2018", "2018"), policy("kernel-today", "today"), policy("kill-below-half-min", "2018", [{ kind: "kill-below-half-min" }])],
  });
}

/**
 * Seed 004 (LWN, Dec 2013): a user's own OOM handler for its memcg (v1, kernel killer disabled).
 * "inside": the handler runs in the memcg it manages, so the page it faults in while reading the
 * memcg's state waits in that same OOM; "lock": it runs outside but needs a lock the OOMing task
 * holds; "outside": it runs outside and needs nothing, the case that works.
 */
export function seed004(where: "inside" | "lock" | "outside" = "inside"): Scenario {
  const handlerCgroup = where === "inside" ? "/job" : "/";
  const worker: Step[] =
    where === "lock"
      ? [{ op: "lock", lock: "job_state", mode: "exclusive" }, forever([fault(64, 1)])]
      : [forever([fault(64, 1)])];
  return scenario("seed 004: user-space OOM handler deadlock", {
    seed: "004",
    durationMs: 20_000,
    machine: { pages: 16384, min: 128, exitMmapMsPerKiPage: 20 },
    cgroups: [cgroup("/job", 2048, { version: 1, oomKillDisable: true })],
    locks: [{ name: "job_state", kind: "mutex" }],
    tasks: [
      task("worker", { main: worker }, { cgroup: "/job", anon: 1500 }),
      task("sidecar", { main: dormant }, { cgroup: "/job", anon: 200, innocent: true }),
      task("oom-handler", { main: idle }, { cgroup: handlerCgroup, anon: 50, innocent: true }),
    ],
  });
}

export function handlerPolicy(name: string, proposals: PolicySpec["kernel"]["proposals"] = [], extra: Partial<Extract<UserspaceSpec, { kind: "handler" }>> = {}): PolicySpec {
  return policy(name, "today", proposals, { kind: "handler", task: "oom-handler", cgroups: ["/job"], reactMs: 50, ...extra });
}

export const handlerNeedsJobState: Step[] = [{ op: "lock", lock: "job_state", mode: "exclusive" }, { op: "unlock", lock: "job_state" }];
