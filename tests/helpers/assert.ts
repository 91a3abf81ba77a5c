/**
 * The few assertions the tests need (`@std/assert` lives on JSR, which is out of reach).
 *
 * @module
 */
import { deepStrictEqual } from "node:assert";

/** Thrown when an assertion fails. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Fail unless `condition` is truthy. */
export function assert(condition: unknown, message = "Assertion failed"): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Fail unless `actual` deeply equals `expected`. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  try {
    deepStrictEqual(actual, expected);
  } catch {
    throw new AssertionError(
      `${message ? `${message}: ` : ""}expected ${JSON.stringify(expected)}, got ${
        JSON.stringify(actual)
      }`,
    );
  }
}

/** Fail if `actual` deeply equals `expected`. */
export function assertNotEquals<T>(actual: T, expected: T, message?: string): void {
  let equal = true;
  try {
    deepStrictEqual(actual, expected);
  } catch {
    equal = false;
  }
  if (equal) {
    throw new AssertionError(message ?? `expected a value other than ${JSON.stringify(expected)}`);
  }
}

/** Fail unless `fn` throws an instance of `type`; returns the error. */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  type: abstract new (...args: never[]) => E,
): E {
  try {
    fn();
  } catch (error) {
    if (error instanceof type) return error;
    throw new AssertionError(`Expected ${type.name}, got ${error}`);
  }
  throw new AssertionError(`Expected ${type.name} to be thrown`);
}

/** Fail unless `fn` rejects with an instance of `type`; returns the error. */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  type: abstract new (...args: never[]) => E,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof type) return error;
    throw new AssertionError(`Expected ${type.name}, got ${error}`);
  }
  throw new AssertionError(`Expected ${type.name} to be thrown`);
}

/** Fail unless `text` contains `part`. */
export function assertStringIncludes(text: string, part: string): void {
  if (!text.includes(part)) {
    throw new AssertionError(`Expected ${JSON.stringify(text)} to include ${JSON.stringify(part)}`);
  }
}
