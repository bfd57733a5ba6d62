// Runs in the guest: loads oomwarden's built modules from the checkout and reports what they see.
import { release } from "node:os";
import { pathToFileURL } from "node:url";

const root = process.env.OOMWARDEN_ROOT;
const load = (path) => import(pathToFileURL(`${root}/dist/src/${path}`).href);
const native = await load("host/linux/native.js");
const cgroupMounts = await load("host/linux/cgroup-mounts.js");

const pidfd = native.pidfdOpen(process.pid);
if (pidfd.ok) native.closeFd(pidfd.value);
const mounts = cgroupMounts.readCgroupMounts();
console.log(
  JSON.stringify({
    release: release(),
    nativeStatus: native.nativeStatus(),
    pidfd,
    mounts: mounts.ok ? { v2: mounts.value.v2, v1Memory: mounts.value.v1Memory } : mounts,
  }),
);
