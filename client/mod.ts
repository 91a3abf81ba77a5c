/**
 * A typed client of the API: Hono's RPC client over the route definitions, so paths, params,
 * bodies and responses are checked by the compiler. A package of its own (`client/deno.json`,
 * whose only dependency is hono): an app beside the clone maps
 * `"@items-api/items-api/client": "../items-api/client/mod.ts"` in its deno.json; running it
 * fetches and type-checks with hono alone: the routes' types are generated into
 * `api-schema.ts`. See docs/api.md, "Typed client".
 *
 * @example
 * ```ts ignore
 * import { createClient } from "@items-api/items-api/client";
 *
 * const api = createClient("http://localhost:8080");
 * const login = await api.auth.token.$post({ json: { username: "admin", password: "admin" } });
 * if (login.status !== 200) throw new Error(`Login failed: ${login.status}`);
 * const { access_token } = await login.json();
 * const headers = { Authorization: `Bearer ${access_token}` };
 * const page = await api.items.$get({ query: { limit: "10" } }, { headers });
 * if (page.status === 200) console.log((await page.json()).items);
 * ```
 *
 * @module
 */
import type { Hono } from "hono";
import { type ClientRequestOptions, hc } from "hono/client";
import type { ApiSchema } from "./api-schema.ts";

export type { ApiSchema } from "./api-schema.ts";

/**
 * The API as `hc` sees it: the server's route schema, generated into `api-schema.ts` by
 * `deno task client:schema`, so this package needs hono and nothing of the server.
 */
// deno-lint-ignore ban-types
export type AppType = Hono<{}, ApiSchema, "/">;

// Computed once here, so callers do not make the compiler instantiate the app type again.
type RawClient = ReturnType<typeof hc<AppType>>;
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
export function createClient(
  baseUrl: string,
  options?: ClientRequestOptions,
): ItemsApiClient {
  return hc<AppType>(baseUrl, options) as unknown as ItemsApiClient;
}
