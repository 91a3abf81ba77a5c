/**
 * The service process with provider tokens configured while the provider is down: startup
 * does not wait for it, its tokens answer 503 meanwhile, and its keys are picked up once it is
 * back, without a restart.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { startTestProvider } from "./helpers/oidc-provider.ts";
import { startServiceProcess } from "./helpers/process.ts";

Deno.test("The service starts while the identity provider is down and picks its keys up once it is back", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "items-api-oidc-" });
  const provider = await startTestProvider({
    clients: [{ id: "svc", claims: { roles: ["user"] } }],
  });
  await provider.stop();
  const service = await startServiceProcess({
    DATABASE_URL: `sqlite:${dir}/oidc.db`,
    OIDC_ISSUER: provider.issuer,
    OIDC_AUDIENCE: provider.audience,
  });
  const seen: string[] = [];
  const me = async (token: string) => {
    seen.push(token);
    const res = await fetch(`${service.baseUrl}/auth/me`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    return { status: res.status, type: res.headers.get("content-type"), body: await res.json() };
  };
  try {
    await t.step("a provider token answers 503 problem+json while no keys are known", async () => {
      const token = await provider.mint({ sub: "early" });
      const res = await me(token);
      assertEquals(res.status, 503);
      assert(res.type?.startsWith("application/problem+json"), String(res.type));
    });
    await t.step(
      "once the provider is up, a retry loads its keys and its tokens work",
      async () => {
        await provider.rotate();
        const token = await provider.token("svc");
        const deadline = Date.now() + 15_000;
        let last = await me(token);
        while (last.status !== 200 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 250));
          last = await me(token);
        }
        assertEquals(last.status, 200, JSON.stringify(last.body));
        assertEquals(last.body.auth_method, "oidc");
      },
    );
    await t.step("SIGTERM still exits 0", async () => {
      const status = await service.stop();
      assertEquals(status.code, 0);
    });
    await t.step("the log says why, and never shows a token", () => {
      const output = service.output();
      assert(output.includes("Could not fetch the keys"), "the failed fetch is logged");
      for (const token of seen) {
        for (const part of token.split(".")) assert(!output.includes(part), "token in the log");
      }
    });
  } finally {
    await service.stop();
    await provider.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
