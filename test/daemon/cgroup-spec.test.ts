import assert from "node:assert/strict";
import test from "node:test";
import { parseCgroupSpec } from "../../src/daemon/cgroup-spec.js";

test("a cgroup is a path, or a path with the logical limit its guard band keeps it below", () => {
  assert.deepEqual(parseCgroupSpec("/sys/fs/cgroup/app"), { path: "/sys/fs/cgroup/app", logicalLimitBytes: null });
  assert.deepEqual(parseCgroupSpec("/sys/fs/cgroup/app=2G"), { path: "/sys/fs/cgroup/app", logicalLimitBytes: 2 * 1024 ** 3 });
  assert.deepEqual(parseCgroupSpec("/sys/fs/cgroup/app=512m"), { path: "/sys/fs/cgroup/app", logicalLimitBytes: 512 * 1024 ** 2 });
  assert.deepEqual(parseCgroupSpec("/sys/fs/cgroup/app=4096"), { path: "/sys/fs/cgroup/app", logicalLimitBytes: 4096 });
  // An "=" inside the path, with more path after it, is part of the name.
  assert.deepEqual(parseCgroupSpec("/sys/fs/cgroup/a=b/c"), { path: "/sys/fs/cgroup/a=b/c", logicalLimitBytes: null });
});

test("a malformed limit is an error naming the text", () => {
  for (const [text, message] of [
    ["/sys/fs/cgroup/app=lots", /a logical limit after "=" is a size like 536870912, 512M or 2G/],
    ["/sys/fs/cgroup/app=0", /must be a whole number of bytes above 0/],
    ["=2G", /no cgroup path before "="/],
    ["/x=99999999999999999999T", /must be a whole number of bytes above 0/],
  ] as const) {
    const parsed = parseCgroupSpec(text);
    assert.ok("error" in parsed, text);
    assert.match(parsed.error, message);
    assert.ok(parsed.error.includes(JSON.stringify(text)));
  }
});
