// Assertions over Result values, shared by the tests.

import assert from "node:assert/strict";
import type { Result } from "../../src/core/result.js";

/** The value of an ok result; fails the test with the error otherwise. */
export function value<T>(result: Result<T>): T {
  if (!result.ok) assert.fail(`expected ok, got ${result.error.code}: ${result.error.message}`);
  return result.value;
}

/** The error of a failed result; fails the test with the value otherwise. */
export function errorOf<T>(result: Result<T>): { code: string; message: string } {
  if (result.ok) assert.fail(`expected an error, got ${JSON.stringify(result.value)}`);
  return result.error;
}
