// The warn level's optional command (`warnCommand:`): a program run when the machine first falls
// below the warn level, to tell someone before anything is killed (a desktop notification, a
// page to the on-call). It is started from the journal record of that level, so it runs exactly
// when the journal says the level was reached, once per time below it.
//
// It must never cost the protection anything: it is spawned without a shell and without waiting
// (libuv's spawn, no fork of the daemon's memory), its output is thrown away, one runs at a time,
// and one still running after its deadline is killed. Its failure is journaled, never retried.

import { spawn, type ChildProcess } from "node:child_process";
import type { JournalRecord, JournalSink } from "../engine/journal-record.js";

/** A command still running this long after it started is killed: a hung notifier must not pile up. */
export const WARN_COMMAND_DEADLINE_MS = 10_000;

export interface WarnCommandOptions {
  /** argv: the program and its arguments, no shell. */
  argv: readonly string[];
  deadlineMs?: number;
  /** Lines for the daemon's log. */
  log: (message: string) => void;
}

/** The journal, passing every record on, and starting the command on each warn-level notice. */
export function withWarnCommand(journal: JournalSink, options: WarnCommandOptions): JournalSink & { whenIdle(): Promise<void> } {
  const deadlineMs = options.deadlineMs ?? WARN_COMMAND_DEADLINE_MS;
  const [program, ...args] = options.argv;
  let running: Promise<void> | null = null;
  const fail = (message: string): void => {
    journal.append({ type: "error", cgroup: "/", message: `warnCommand: ${message}` });
    options.log(`warnCommand: ${message}`);
  };
  const start = (record: { message: string }): void => {
    if (program === undefined) return;
    if (running !== null) {
      fail("still running from the last warning: not started again");
      return;
    }
    let child: ChildProcess;
    try {
      child = spawn(program, args, {
        stdio: "ignore",
        env: { ...process.env, OOMWARDEN_LEVEL: "warn", OOMWARDEN_MESSAGE: record.message },
      });
    } catch (error) {
      fail(`${program} could not be started: ${String(error)}`);
      return;
    }
    running = new Promise<void>((resolve) => {
      let overdue = false;
      const deadline = setTimeout(() => {
        overdue = true;
        child.kill("SIGKILL");
      }, deadlineMs);
      deadline.unref();
      const done = (): void => {
        clearTimeout(deadline);
        running = null;
        resolve();
      };
      child.once("error", (error) => {
        fail(`${program} could not be started: ${error.message}`);
        done();
      });
      child.once("exit", (code, signal) => {
        if (overdue) fail(`${program} was still running after ${deadlineMs} ms: killed`);
        else if (code !== 0) fail(`${program} ${code !== null ? `exited with status ${code}` : `was ended by ${signal ?? "a signal"}`}`);
        done();
      });
    });
  };
  return {
    append(record) {
      journal.append(record);
      if (record.type === "notice" && record.level === "warn") start(record);
    },
    ...(journal.appendUnflushed !== undefined
      ? {
          appendUnflushed: (record: JournalRecord) => {
            journal.appendUnflushed?.(record);
            if (record.type === "notice" && record.level === "warn") start(record);
          },
        }
      : {}),
    ...(journal.flush !== undefined ? { flush: () => journal.flush?.() } : {}),
    whenIdle: async () => {
      await running;
    },
  };
}
