import { z } from "@hono/zod-openapi";
import { jsonContent, problemResponses } from "@/http/openapi.ts";
import { defineRoute } from "@/http/router.ts";
import { requireAuth } from "@/middleware/authenticate.ts";
import {
  RefreshRequestSchema,
  SessionIdParamsSchema,
  SessionSchema,
  TokenFormSchema,
  TokenJsonSchema,
  TokenResponseSchema,
} from "@/modules/auth/auth.schemas.ts";

/** The OpenAPI tag of every auth operation. */
export const TAG = "Auth";
const tags = [TAG];

export const login = defineRoute({
  method: "post",
  path: "/auth/token",
  security: [], // public
  tags,
  summary: "Log in (password grant) or rotate tokens (refresh grant)",
  description:
    "The OAuth 2 token endpoint. **Password grant:** JSON `{username, password}` or a form " +
    "`grant_type=password&username=…&password=…` opens a session (one per device); beyond " +
    "MAX_SESSIONS_PER_USER the oldest is evicted. Unknown users, wrong passwords and " +
    "deactivated users get the same 401 in similar time. **Refresh grant** (RFC 6749 §6, what " +
    "the docs' Refresh button sends): a form `grant_type=refresh_token&refresh_token=…` or JSON " +
    '`{"grant_type": "refresh_token", "refresh_token": "…"}` does what `POST /auth/refresh` ' +
    "does: a new access and refresh token, the old pair stops working, and presenting a " +
    "refresh token that was already rotated revokes its session.",
  request: {
    body: {
      // Either media type; without a body the handler answers 422 (see defineRoute).
      required: true,
      description: "A password grant or a refresh grant, as JSON or as a form",
      content: {
        "application/json": { schema: TokenJsonSchema },
        "application/x-www-form-urlencoded": { schema: TokenFormSchema },
      },
    },
  },
  responses: {
    200: jsonContent(TokenResponseSchema, "A new session's tokens, or the session's new tokens"),
    ...problemResponses(400, 401, 413, 415, 422),
  },
});
export type LoginRoute = typeof login;

export const refresh = defineRoute({
  method: "post",
  path: "/auth/refresh",
  security: [], // public
  tags,
  summary: "Rotate a session's tokens",
  description:
    "Returns a new access and refresh token; the old pair stops working. Presenting a refresh " +
    "token that was already rotated revokes that session (reuse detection), so do not refresh " +
    "concurrently with one token.",
  request: {
    body: {
      required: true,
      content: { "application/json": { schema: RefreshRequestSchema } },
    },
  },
  responses: {
    200: jsonContent(TokenResponseSchema, "The session's new tokens"),
    ...problemResponses(400, 401, 413, 415, 422),
  },
});
export type RefreshRoute = typeof refresh;

export const logout = defineRoute({
  method: "post",
  path: "/auth/logout",
  tags,
  summary: "Log out this session",
  description: "Its access and refresh tokens stop working at once.",
  middleware: [requireAuth({ methods: ["session"] })] as const,
  responses: {
    204: { description: "Logged out" },
    ...problemResponses(401, 403),
  },
});
export type LogoutRoute = typeof logout;

export const listSessions = defineRoute({
  method: "get",
  path: "/auth/sessions",
  tags,
  summary: "The caller's sessions (devices)",
  description: "Newest first; never contains token material.",
  middleware: [requireAuth({ methods: ["session"] })] as const,
  responses: {
    200: jsonContent(z.array(SessionSchema), "The caller's sessions"),
    ...problemResponses(401, 403),
  },
});
export type ListSessionsRoute = typeof listSessions;

export const revokeSession = defineRoute({
  method: "delete",
  path: "/auth/sessions/{session_id}",
  tags,
  summary: "Revoke one of the caller's sessions",
  description: "Another user's session is reported as not found.",
  middleware: [requireAuth({ methods: ["session"] })] as const,
  request: { params: SessionIdParamsSchema },
  responses: {
    204: { description: "Revoked" },
    ...problemResponses(401, 403, 404, 422),
  },
});
export type RevokeSessionRoute = typeof revokeSession;

export const revokeOtherSessions = defineRoute({
  method: "delete",
  path: "/auth/sessions",
  tags,
  summary: "Log out every other device",
  description: "Revokes all of the caller's sessions except the current one.",
  middleware: [requireAuth({ methods: ["session"] })] as const,
  responses: {
    204: { description: "Revoked" },
    ...problemResponses(401, 403),
  },
});
export type RevokeOtherSessionsRoute = typeof revokeOtherSessions;
