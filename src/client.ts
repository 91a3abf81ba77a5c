/**
 * A typed client of the API: Hono's RPC client over the route definitions, so paths, params,
 * bodies and responses are checked by the compiler. Exported as `@items-api/items-api/client`.
 *
 * @example
 * ```ts
 * import { createApp } from "@/app.ts";
 * import { createClient } from "@/client.ts"; // elsewhere: "@items-api/items-api/client"
 * import { parseConfig } from "@/config.ts";
 * import { createDeps } from "@/deps.ts";
 *
 * // A throwaway service on a free loopback port (in-memory SQLite, development admin).
 * const config = parseConfig({ APP_ENV: "test", DATABASE_URL: "sqlite::memory:" });
 * const deps = await createDeps(config);
 * const app = createApp(deps);
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
 * try {
 *   const api = createClient(`http://127.0.0.1:${server.addr.port}`);
 *   const login = await api.auth.token.$post({ json: { username: "admin", password: "admin" } });
 *   if (login.status !== 200) throw new Error(`Login failed: ${login.status}`);
 *   const { access_token } = await login.json();
 *   const headers = { Authorization: `Bearer ${access_token}` };
 *   const page = await api.items.$get({ query: { limit: "10" } }, { headers });
 *   if (page.status === 200) console.log((await page.json()).items); // []
 * } finally {
 *   await server.shutdown();
 *   await deps.close();
 * }
 * ```
 *
 * @module
 */
import { type ClientRequestOptions, hc } from "hono/client";
import type { AppType } from "@/app.ts";

export type { AppType } from "@/app.ts";

// Computed once here, so callers do not make the compiler instantiate the app type again.
const typedClient = (baseUrl: string, options?: ClientRequestOptions) =>
  hc<AppType>(baseUrl, options);

type RawClient = ReturnType<typeof typedClient>;
type TokenPost = RawClient["auth"]["token"]["$post"];

/**
 * The client {@link createClient} returns. `POST /auth/token` takes JSON here: the route also
 * accepts an OAuth 2 password-grant form, which the route types demand alongside, but `hc`
 * sends `form` as multipart, which that endpoint does not take.
 */
export type ItemsApiClient = Omit<RawClient, "auth"> & {
  auth: Omit<RawClient["auth"], "token"> & {
    token: Omit<RawClient["auth"]["token"], "$post"> & {
      $post(
        args: Omit<Parameters<TokenPost>[0], "form">,
        options?: ClientRequestOptions,
      ): ReturnType<TokenPost>;
    };
  };
};

/**
 * A client of the service at `baseUrl`. `options.headers` go with every request (e.g. an
 * `Authorization` header); `options.fetch` replaces `fetch` (e.g. `app.request` in tests).
 */
export function createClient(baseUrl: string, options?: ClientRequestOptions): ItemsApiClient {
  return typedClient(baseUrl, options) as unknown as ItemsApiClient;
}
