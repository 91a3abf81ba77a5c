/**
 * The typed client (client/mod.ts) over a test app's `app.request`: no socket, same types.
 *
 * @module
 */
import { createClient, type ItemsApiClient } from "../../client/mod.ts";
import { LOOPBACK_PEER, type TestApp } from "./app.ts";

/**
 * A typed client of `t`, sending `Authorization: Bearer <token>` when a token is given.
 *
 * @example
 * ```ts
 * const res = await clientOf(t, alice.token).items.$post({ json: { name: "Pen" } });
 * ```
 */
export function clientOf(t: TestApp, token?: string): ItemsApiClient {
  return createClient("http://items-api.test", {
    fetch: (input: RequestInfo | URL, init?: RequestInit) =>
      t.app.request(input, init, LOOPBACK_PEER),
    ...(token === undefined ? {} : { headers: { Authorization: `Bearer ${token}` } }),
  });
}

/** A typed client response: one member of the union per declared status. */
interface TypedResponse {
  status: number;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

/**
 * Assert the status of a typed client response and return its body, typed by the route's
 * declaration for that status (no cast): `const item = await expectJson(res, 201)`.
 */
export async function expectJson<R extends TypedResponse, const S extends R["status"]>(
  res: R,
  status: S,
): Promise<Awaited<ReturnType<Extract<R, { status: S }>["json"]>>> {
  const text = await res.text();
  if (res.status !== status) {
    throw new Error(`Expected status ${status}, got ${res.status}: ${text}`);
  }
  return JSON.parse(text);
}
