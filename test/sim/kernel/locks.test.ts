import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type LockMode, type LockWaiter, SimLock } from "../../../src/sim/kernel/locks.js";

function waiter(log: string[], who: string, mode: LockMode): LockWaiter {
  return { mode, who, granted: () => log.push(who) };
}

describe("rwsem FIFO", () => {
  it("readers share while no writer waits", () => {
    const sem = new SimLock("mmap_sem", "rwsem");
    assert.equal(sem.tryAcquire("read"), true);
    assert.equal(sem.tryAcquire("read"), true);
    assert.equal(sem.readerCount, 2);
  });

  it("a reader arriving behind a queued writer waits, and trylock fails while anyone is queued", () => {
    const log: string[] = [];
    const sem = new SimLock("mmap_sem", "rwsem");
    assert.equal(sem.acquire(waiter(log, "r1", "read")), true);
    assert.equal(sem.acquire(waiter(log, "w", "write")), false);
    assert.equal(sem.acquire(waiter(log, "r2", "read")), false, "r2 queues behind the writer although only readers hold the lock");
    assert.equal(sem.tryAcquire("read"), false, "the OOM reaper's down_read_trylock fails");
    sem.release("read");
    assert.deepEqual(log, ["w"]);
    assert.equal(sem.writeHeld, true);
    sem.release("write");
    assert.deepEqual(log, ["w", "r2"]);
    assert.equal(sem.readerCount, 1);
  });

  it("release grants every reader at the head up to the first queued writer", () => {
    const log: string[] = [];
    const sem = new SimLock("mmap_sem", "rwsem");
    assert.equal(sem.acquire(waiter(log, "w1", "write")), true);
    for (const w of [waiter(log, "r1", "read"), waiter(log, "r2", "read"), waiter(log, "w2", "write"), waiter(log, "r3", "read")]) sem.acquire(w);
    sem.release("write");
    assert.deepEqual(log, ["r1", "r2"]);
    sem.release("read");
    sem.release("read");
    assert.deepEqual(log, ["r1", "r2", "w2"]);
    sem.release("write");
    assert.deepEqual(log, ["r1", "r2", "w2", "r3"]);
  });

  it("a cancelled waiter no longer blocks those behind it", () => {
    const log: string[] = [];
    const sem = new SimLock("mmap_sem", "rwsem");
    sem.acquire(waiter(log, "r1", "read"));
    const w = waiter(log, "w", "write");
    sem.acquire(w);
    sem.acquire(waiter(log, "r2", "read"));
    sem.cancel(w);
    assert.deepEqual(log, ["r2"]);
    assert.equal(sem.readerCount, 2);
  });

  it("a mutex has one holder whatever the mode asked", () => {
    const log: string[] = [];
    const m = new SimLock("i_mutex", "mutex");
    assert.equal(m.acquire(waiter(log, "a", "read")), true);
    assert.equal(m.acquire(waiter(log, "b", "read")), false);
    m.release("read");
    assert.deepEqual(log, ["b"]);
  });
});
