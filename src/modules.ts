/**
 * Every module of the app, in the order of the document's tags. Adding a resource is its folder
 * under `modules/`, its migrations (both dialects) and one line here: `createApp` mounts each
 * descriptor's router, and the version gate, the document's tags and the scope vocabulary are
 * derived from this list.
 *
 * @module
 */
import { apiKeysModule } from "@/modules/api-keys/api-keys.index.ts";
import { auditModule } from "@/modules/audit/audit.index.ts";
import { authModule } from "@/modules/auth/auth.index.ts";
import { healthModule } from "@/modules/health/health.index.ts";
import { itemsModule } from "@/modules/items/items.index.ts";
import { rolesModule } from "@/modules/roles/roles.index.ts";
import { usersModule } from "@/modules/users/users.index.ts";
import { versionsModule } from "@/modules/versions/versions.index.ts";

/** The modules `createApp` mounts by default. */
export const MODULES = [
  authModule,
  apiKeysModule,
  usersModule,
  rolesModule,
  versionsModule,
  itemsModule,
  auditModule,
  healthModule,
] as const;
