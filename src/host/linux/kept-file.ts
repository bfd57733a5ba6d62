// One procfs file read again and again through an fd kept open (pread from offset 0: procfs
// generates the text afresh at each read from the start). The machine guard samples /proc/meminfo,
// zoneinfo, vmstat and pressure/memory every few tens of ms near a line; each by path costs an
// open, a path lookup and a close besides the read, some 40% of the sample on our host.

import type { Result } from "../../core/result.js";
import type { LinuxFs } from "./linux-fs.js";

export class KeptFile {
  private fd: number | null = null;

  constructor(
    readonly path: string,
    private readonly fs: LinuxFs,
  ) {}

  /** The file's whole text: through the kept fd, opened at the first read. A failed read through it is read by path once, and the fd opened afresh next time. */
  read(): Result<string> {
    if (this.fd === null) {
      const opened = this.fs.openFile(this.path);
      // Out of fds or not there (PSI off): by path, and the next read tries to open again.
      if (!opened.ok) return this.fs.readText(this.path);
      this.fd = opened.value;
    }
    const text = this.fs.readOpenFile(this.fd);
    if (text.ok) return text;
    this.close();
    return this.fs.readText(this.path);
  }

  close(): void {
    if (this.fd === null) return;
    this.fs.closeFile(this.fd);
    this.fd = null;
  }
}
