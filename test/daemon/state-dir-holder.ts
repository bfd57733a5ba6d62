// A state directory held by another process, as a running daemon holds it, for the lock and restore tests.

import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const STATE_DIR_LOCK_JS = fileURLToPath(new URL("../../src/daemon/state-dir-lock.js", import.meta.url));

/** A separate process holding the state directory until killed; resolves once it holds it. */
export async function holdStateDirElsewhere(dir: string, command: "run" | "restore" = "run"): Promise<ChildProcess & { pid: number }> {
  const script = `import { claimStateDir } from ${JSON.stringify(STATE_DIR_LOCK_JS)};
    const claim = claimStateDir(${JSON.stringify(dir)}, ${JSON.stringify(command)});
    console.log(claim.kind);
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the holder did not start")), 10_000);
    child.stdout.on("data", (d: Buffer) => {
      clearTimeout(timer);
      if (d.toString().includes("owned")) resolve();
      else reject(new Error(`the holder could not claim ${dir}: ${d.toString()}`));
    });
  });
  return child as ChildProcess & { pid: number };
}
