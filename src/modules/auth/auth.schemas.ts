import { z } from "@hono/zod-openapi";
import { BIG_SERIAL_MAX, idParam } from "@/http/ids.ts";
import { timestamp } from "@/http/openapi.ts";
import { PASSWORD_MAX_LENGTH } from "@/runtime/passwords.ts";

/** Login passwords: any length the policy allows (older or bootstrap passwords may be short). */
const LoginPasswordSchema = z.string().min(1).max(PASSWORD_MAX_LENGTH).openapi({
  example: "correct horse battery staple",
});
const LoginUsernameSchema = z.string().min(1).max(64).openapi({ example: "alice" });

const RefreshTokenSchema = z.string().min(1).max(256).openapi({
  example: "3q2-7wEAAAAA9J0t2y3z0vX1u5mH8kVqZr6c4bN1aLs",
});
/** What OAuth clients add to a token request; taken and ignored (as the reference app did). */
const OAUTH_CLIENT_FIELDS = {
  scope: z.string().max(1024).optional(),
  client_id: z.string().max(255).optional(),
  client_secret: z.string().max(255).optional(),
};
const GRANT_TYPES_MESSAGE = 'Expected grant_type "password" (the default) or "refresh_token"';
/** A discriminated union's "no option matched" names the grant types it takes. */
const grantTypeError = (issue: { code?: string }) =>
  issue.code === "invalid_union" ? GRANT_TYPES_MESSAGE : undefined;

/** Password grant as JSON: `{username, password}` (`grant_type` may be left out). */
export const LoginJsonSchema = z.strictObject({
  grant_type: z.literal("password").optional().openapi({ example: "password" }),
  username: LoginUsernameSchema,
  password: LoginPasswordSchema,
}).openapi("LoginRequest");

/** OAuth 2 password grant form, as the reference app took it (`scope`, client fields ignored). */
export const LoginFormSchema = z.strictObject({
  grant_type: z.literal("password").optional().openapi({ example: "password" }),
  username: LoginUsernameSchema,
  password: LoginPasswordSchema,
  ...OAUTH_CLIENT_FIELDS,
}).openapi("LoginForm");

/** Refresh grant as JSON (RFC 6749 §6): the `POST /auth/refresh` operation on the token URL. */
export const RefreshGrantJsonSchema = z.strictObject({
  grant_type: z.literal("refresh_token").openapi({ example: "refresh_token" }),
  refresh_token: RefreshTokenSchema,
}).openapi("RefreshGrantRequest");

/** Refresh grant form (RFC 6749 §6), as Scalar's Refresh button sends it. */
export const RefreshGrantFormSchema = z.strictObject({
  grant_type: z.literal("refresh_token").openapi({ example: "refresh_token" }),
  refresh_token: RefreshTokenSchema,
  ...OAUTH_CLIENT_FIELDS,
}).openapi("RefreshGrantForm");

/**
 * `POST /auth/token` as JSON: the password grant or the refresh grant, by `grant_type`. The
 * document shows it as a plain `oneOf` (see `dropOptionalDiscriminators`).
 */
export const TokenJsonSchema = z.discriminatedUnion(
  "grant_type",
  [LoginJsonSchema, RefreshGrantJsonSchema],
  { error: grantTypeError },
);

/** `POST /auth/token` as a form: the password grant or the refresh grant, by `grant_type`. */
export const TokenFormSchema = z.discriminatedUnion(
  "grant_type",
  [LoginFormSchema, RefreshGrantFormSchema],
  { error: grantTypeError },
);

export const RefreshRequestSchema = z.strictObject({
  refresh_token: RefreshTokenSchema,
}).openapi("RefreshRequest");

export const TokenResponseSchema = z.object({
  access_token: z.string().openapi({ example: "kq1mJ2v5Yb0e0kq1mJ2v5Yb0e0kq1mJ2v5Yb0e0kq1" }),
  token_type: z.literal("bearer").openapi({ example: "bearer" }),
  expires_in: z.number().int().openapi({
    example: 7200,
    description: "Seconds the access token lives",
  }),
  refresh_token: z.string().openapi({ example: "3q2-7wEAAAAA9J0t2y3z0vX1u5mH8kVqZr6c4bN1aLs" }),
  refresh_expires_in: z.number().int().openapi({
    example: 2_592_000,
    description: "Seconds the refresh token lives",
  }),
  user_id: z.number().int().openapi({ example: 2 }),
}).openapi("TokenResponse");
export type TokenResponse = z.infer<typeof TokenResponseSchema>;

export const SessionSchema = z.object({
  id: z.number().int().openapi({ example: 12 }),
  created_at: timestamp(),
  last_used_at: timestamp("2026-01-31T12:30:00.000Z").openapi({
    description: "Updated at most about once a minute",
  }),
  expires_at: timestamp("2026-03-02T12:00:00.000Z").openapi({
    description: "When the refresh token expires",
  }),
  user_agent: z.string().nullable().openapi({ example: "Mozilla/5.0" }),
  ip: z.string().nullable().openapi({ example: "203.0.113.7" }),
  current: z.boolean().openapi({
    example: true,
    description: "The session of the token used for this request",
  }),
}).openapi("Session");
export type Session = z.infer<typeof SessionSchema>;

export const SessionIdParamsSchema = z.object({
  session_id: idParam("session_id", { in: "path", max: BIG_SERIAL_MAX }),
});
