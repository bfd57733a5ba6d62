import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseZoneinfo, sumWatermarks } from "../../src/host/linux/parse-zoneinfo.js";
import { captured } from "../fixtures/captured.js";
import { errorOf, value } from "../support/result-assert.js";

const ZONEINFO = captured("proc-zoneinfo.txt");

/** Sum of one watermark over the captured text, by a different method than the parser: a regex on the 8-space-indented line. */
function sumByRegex(text: string, key: "min" | "low"): number {
  let sum = 0;
  for (const match of text.matchAll(new RegExp(`^ {8}${key} +(\\d+)$`, "gm"))) sum += Number(match[1]);
  return sum;
}

/** One zone's watermark block as the kernel prints it, pagesets included (their "high:" is not the watermark). */
function zoneText(node: number, name: string, numbers: { free: number; min: number; low: number; high: number; managed: number }): string {
  return [
    `Node ${node}, zone ${name.padStart(8)}`,
    `  pages free     ${numbers.free}`,
    "        boost    0",
    `        min      ${numbers.min}`,
    `        low      ${numbers.low}`,
    `        high     ${numbers.high}`,
    "        promo    1",
    "        spanned  4095",
    "        present  3998",
    `        managed  ${numbers.managed}`,
    "        cma      0",
    "        protection: (0, 3019, 7883, 7883, 7883)",
    "      nr_free_pages 3840",
    "  pagesets",
    "    cpu: 0",
    "              count:    0",
    "              high:     999",
    "              batch:    1",
    "  node_unreclaimable:  0",
    "  start_pfn:           1",
    "",
  ].join("\n");
}

describe("parseZoneinfo", () => {
  it("reads the five zones of this machine's /proc/zoneinfo", () => {
    // Numbers checked by hand with: awk '$1=="min"{...} $1=="managed"{...}' test/fixtures/captured/proc-zoneinfo.txt
    const { zones } = value(parseZoneinfo(ZONEINFO));
    assert.deepEqual(
      zones.map((z) => [z.node, z.name, z.freePages, z.minPages, z.lowPages, z.highPages, z.managedPages]),
      [
        [0, "DMA", 3840, 32, 40, 48, 3840],
        [0, "DMA32", 772917, 6458, 8072, 9686, 772917],
        [0, "Normal", 1121076, 10405, 13006, 15607, 1245184],
        // Empty zones still print watermarks: Movable's min is clamped to SWAP_CLUSTER_MAX (32).
        [0, "Movable", 0, 32, 32, 32, 0],
        [0, "Device", 0, 0, 0, 0, 0],
      ],
    );
  });

  it("sums the min and low watermarks over every zone, empty ones included", () => {
    const sums = sumWatermarks(value(parseZoneinfo(ZONEINFO)));
    assert.deepEqual(sums, { minPages: sumByRegex(ZONEINFO, "min"), lowPages: sumByRegex(ZONEINFO, "low") });
    // The same by hand (awk): 16927 pages = 67708 KiB, 21150 pages = 84600 KiB.
    assert.deepEqual(sums, { minPages: 16927, lowPages: 21150 });
  });

  it("the zones' free pages add up to vmstat's nr_free_pages captured at the same moment", () => {
    const nrFreePages = Number(/^nr_free_pages (\d+)$/m.exec(captured("proc-vmstat.txt"))?.[1]);
    const { zones } = value(parseZoneinfo(ZONEINFO));
    assert.equal(
      zones.reduce((sum, z) => sum + z.freePages, 0),
      nrFreePages,
    );
  });

  it('does not take the per-cpu pageset "high:" for the high watermark', () => {
    const { zones } = value(parseZoneinfo(zoneText(0, "DMA", { free: 10, min: 1, low: 2, high: 3, managed: 20 })));
    assert.equal(zones[0]?.highPages, 3);
  });

  it("reads several nodes and ignores lines it does not know", () => {
    const text = zoneText(0, "Normal", { free: 10, min: 1, low: 2, high: 3, managed: 20 }) + "  some_future_line 12 34\n" + zoneText(1, "Normal", { free: 11, min: 4, low: 5, high: 6, managed: 21 });
    const info = value(parseZoneinfo(text));
    assert.deepEqual(
      info.zones.map((z) => [z.node, z.name]),
      [
        [0, "Normal"],
        [1, "Normal"],
      ],
    );
    assert.deepEqual(sumWatermarks(info), { minPages: 5, lowPages: 7 });
  });

  describe("malformed text is a failure with a message", () => {
    it("empty text", () => {
      const error = errorOf(parseZoneinfo(""));
      assert.equal(error.code, "PARSE_ERROR");
      assert.match(error.message, /no "Node N, zone NAME" line/);
    });

    it("a truncated number", () => {
      const text = ZONEINFO.replace(/^( {8}min +)6458$/m, "$1645x");
      assert.notEqual(text, ZONEINFO);
      const error = errorOf(parseZoneinfo(text));
      assert.match(error.message, /node 0 zone DMA32: cannot read "        min      645x"/);
    });

    it("a watermark line without its number", () => {
      const error = errorOf(parseZoneinfo("Node 0, zone      DMA\n  pages free     3840\n        min\n"));
      assert.match(error.message, /node 0 zone DMA: cannot read "        min"/);
    });

    it("a negative count", () => {
      const error = errorOf(parseZoneinfo(zoneText(0, "DMA", { free: 10, min: -1, low: 2, high: 3, managed: 20 })));
      assert.match(error.message, /cannot read "        min      -1"/);
    });

    it("a file cut in the middle of a zone", () => {
      const cut = ZONEINFO.slice(0, ZONEINFO.indexOf("        managed  772917"));
      const error = errorOf(parseZoneinfo(cut));
      assert.match(error.message, /node 0 zone DMA32 has no "managed" line/);
    });

    it("two zones run together (a key seen twice)", () => {
      const text = zoneText(0, "DMA", { free: 10, min: 1, low: 2, high: 3, managed: 20 }).replace("        min      1\n", "        min      1\n        min      1\n");
      assert.match(errorOf(parseZoneinfo(text)).message, /"min" appears twice/);
    });

    it("a watermark line before any zone header", () => {
      assert.match(errorOf(parseZoneinfo("        min      32\n")).message, /before any zone/);
    });
  });
});
