/**
 * TRUST_PROXY: who may name the client in X-Forwarded-For, and who the client then is.
 */
import { ConfigError, parseConfig } from "@/config.ts";
import { normalizeAddress, PRIVATE_RANGES, TrustedProxies } from "@/runtime/trusted-proxies.ts";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { assert, assertEquals, assertThrows } from "./helpers/assert.ts";
import { captureLogs } from "./helpers/logs.ts";

Deno.test("TRUST_PROXY parses false, true and a list of IPv4 and IPv6 addresses and CIDRs", async (t) => {
  await t.step("false, 0, no and unset trust nobody", () => {
    for (const value of ["false", "0", "no", undefined]) {
      const config = parseConfig({ APP_ENV: "test", TRUST_PROXY: value });
      assertEquals(config.http.trustProxy.enabled, false, String(value));
    }
  });
  await t.step("true is loopback and the private ranges", () => {
    const config = parseConfig({ APP_ENV: "test", TRUST_PROXY: "true" });
    assertEquals(config.http.trustProxy.ranges, PRIVATE_RANGES);
  });
  await t.step("a list keeps its entries", () => {
    const config = parseConfig({
      APP_ENV: "test",
      TRUST_PROXY: " 10.0.0.0/8, 192.0.2.1 ,2001:db8::/32, ::1",
    });
    assertEquals(config.http.trustProxy.ranges, [
      "10.0.0.0/8",
      "192.0.2.1",
      "2001:db8::/32",
      "::1",
    ]);
  });
  await t.step("entries that are no address or CIDR are refused by name", () => {
    for (
      const bad of ["maybe", "10.0.0.0/33", "10.0.0/8", "::1/129", "10.0.0.1/8/8", "fe80::1%eth0"]
    ) {
      const error = assertThrows(
        () => parseConfig({ APP_ENV: "test", TRUST_PROXY: `10.0.0.1, ${bad}` }),
        ConfigError,
      );
      assert(error.message.includes("TRUST_PROXY"), error.message);
      assert(error.message.includes(`"${bad}"`), error.message);
    }
  });
});

Deno.test("TrustedProxies.clientAddress() reads X-Forwarded-For from the right, skipping trusted hops", async (t) => {
  const proxies = TrustedProxies.parse("10.0.0.0/8, 2001:db8:1::/48");
  await t.step("an untrusted peer is the client whatever the header says", () => {
    assertEquals(proxies.clientAddress("203.0.113.9", "198.51.100.1"), "203.0.113.9");
    assertEquals(TrustedProxies.none.clientAddress("10.0.0.1", "198.51.100.1"), "10.0.0.1");
  });
  await t.step("the first untrusted address from the right is the client", () => {
    assertEquals(
      proxies.clientAddress("10.0.0.2", "192.0.2.66, 198.51.100.7, 10.1.1.1, 10.0.0.3"),
      "198.51.100.7",
    );
    assertEquals(
      proxies.clientAddress("2001:db8:1::5", "2001:DB8:2:0:0:0:0:9, 2001:db8:1::7"),
      "2001:db8:2::9",
    );
  });
  await t.step("entries that are not addresses are ignored", () => {
    assertEquals(
      proxies.clientAddress("10.0.0.2", "198.51.100.7, not-an-ip, 1.2.3.4:80, , 999.1.1.1"),
      "198.51.100.7",
    );
    assertEquals(proxies.clientAddress("10.0.0.2", "garbage"), "10.0.0.2");
  });
  await t.step("when every hop is trusted the leftmost one is the client", () => {
    assertEquals(proxies.clientAddress("10.0.0.2", "10.9.9.9, 10.0.0.3"), "10.9.9.9");
  });
  await t.step("IPv4-mapped IPv6 addresses count as IPv4", () => {
    assertEquals(proxies.clientAddress("::ffff:10.0.0.2", "::ffff:198.51.100.7"), "198.51.100.7");
  });
  await t.step("a huge header costs a bounded walk and yields a bounded address", () => {
    const huge = `${"x".repeat(60_000)}, ${"10.0.0.1, ".repeat(100)}10.0.0.1`;
    const client = proxies.clientAddress("10.0.0.2", huge);
    assert(client.length <= 45, client);
  });
  await t.step("addresses are written in one canonical form", () => {
    assertEquals(normalizeAddress("2001:0DB8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
    assertEquals(normalizeAddress("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
    assertEquals(normalizeAddress("01.2.3.4"), undefined);
    assertEquals(normalizeAddress("1::2::3"), undefined);
  });
});

function from(t: TestApp, peer: string, forwardedFor: string): Promise<Response> {
  return Promise.resolve(t.app.request("/roles", { headers: { "X-Forwarded-For": forwardedFor } }, {
    remoteAddr: { transport: "tcp", hostname: peer, port: 50_000 },
  }));
}

Deno.test("Behind a trusted proxy a client can neither pick its address nor grow the limiter keys", async (t) => {
  const app = await createTestApp("sqlite", {
    env: { TRUST_PROXY: "10.0.0.0/8", RATE_LIMIT_API_MAX: "2" },
  });
  try {
    await t.step("entries a client wrote before the proxy's are not its address", async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await from(app, "10.0.0.2", `198.51.100.${i}, 203.0.113.50`);
        await res.body?.cancel();
        statuses.push(res.status);
      }
      assertEquals(statuses, [200, 200, 429, 429]);
    });
    await t.step("a client that is not a trusted proxy cannot send its own header", async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await from(app, "203.0.113.60", `198.51.100.${i}`);
        await res.body?.cancel();
        statuses.push(res.status);
      }
      assertEquals(statuses, [200, 200, 429, 429]);
    });
    await t.step("unique 60 KB values neither vary the key nor reach the log", async () => {
      const logs = await captureLogs();
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const junk = `${crypto.randomUUID()}${"y".repeat(60_000)}`;
        const res = await from(app, "10.0.0.2", `${junk}, 203.0.113.70, ${junk}`);
        await res.body?.cancel();
        statuses.push(res.status);
      }
      assertEquals(statuses, [200, 200, 429, 429]);
      const access = logs.filter((r) => r.properties.ip !== undefined);
      assert(access.length >= 4, "no access log lines captured");
      for (const record of access) assertEquals(record.properties.ip, "203.0.113.70");
    });
  } finally {
    await app.close();
  }
});
