import { z } from "@hono/zod-openapi";
import { BIG_SERIAL_MAX, idParam } from "@/http/ids.ts";
import { timestamp } from "@/http/openapi.ts";
import { PASSWORD_MAX_LENGTH } from "@/runtime/passwords.ts";

/** Login passwords: any length the policy allows (older or bootstrap passwords may be short). */
const LoginPasswordSchema = z.string().min(1).max(PASSWORD_MAX_LENGTH).openapi({
  example: "correct horse battery staple",
});
const LoginUsernameSchema = z.string().min(1).max(64).openapi({ example: "alice" });

export const LoginJsonSchema = z.strictObject({
  username: LoginUsernameSchema,
  password: LoginPasswordSchema,
}).openapi("LoginRequest");

/** OAuth 2 password grant form, as the reference app took it (`scope`, client fields ignored). */
export const LoginFormSchema = z.strictObject({
  grant_type: z.literal("password").optional().openapi({ example: "password" }),
  username: LoginUsernameSchema,
  password: LoginPasswordSchema,
  scope: z.string().max(1024).optional(),
  client_id: z.string().max(255).optional(),
  client_secret: z.string().max(255).optional(),
}).openapi("LoginForm");

export const RefreshRequestSchema = z.strictObject({
  refresh_token: z.string().min(1).max(256).openapi({
    example: "3q2-7wEAAAAA9J0t2y3z0vX1u5mH8kVqZr6c4bN1aLs",
  }),
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
