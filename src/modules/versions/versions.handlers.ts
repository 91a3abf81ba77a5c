import { NotFoundError } from "@/lib/errors.ts";
import type { AppRouteHandler } from "@/lib/router.ts";
import * as repository from "@/modules/versions/versions.repository.ts";
import type {
  CreateVersionRoute,
  ListVersionsRoute,
  UpdateVersionRoute,
} from "@/modules/versions/versions.routes.ts";
import { toVersionJson } from "@/modules/versions/versions.schemas.ts";

function dateOrNull(iso: string | null): Date | null {
  return iso === null ? null : new Date(iso);
}

export const listVersions: AppRouteHandler<ListVersionsRoute> = async (c) => {
  const snapshot = await c.var.deps.versions.load();
  return c.json(snapshot.versions.map(toVersionJson), 200);
};

export const createVersion: AppRouteHandler<CreateVersionRoute> = async (c) => {
  const body = c.req.valid("json");
  const { db, clock, versions } = c.var.deps;
  const created = await repository.insertVersion(db, {
    version: body.version,
    supported: body.supported,
    deprecated: body.deprecated,
    deprecatedAt: body.deprecated ? clock.now() : null,
    sunsetAt: body.sunset_at,
  });
  versions.apply(created);
  return c.json(toVersionJson(created), 201);
};

export const updateVersion: AppRouteHandler<UpdateVersionRoute> = async (c) => {
  const { version_id: id } = c.req.valid("param");
  const changes = c.req.valid("json");
  const { db, clock, versions } = c.var.deps;
  const updated = await db.transaction(async (tx) => {
    const current = await repository.findVersionById(tx, id);
    if (!current) throw new NotFoundError("Version not found");
    const deprecated = changes.deprecated ?? current.deprecated;
    // The Deprecation date is when it became deprecated; it survives unrelated changes.
    const deprecatedAt = !deprecated
      ? null
      : current.deprecated && current.deprecatedAt !== null
      ? new Date(current.deprecatedAt)
      : clock.now();
    const values: repository.VersionValues = {
      version: changes.version ?? current.version,
      supported: changes.supported ?? current.supported,
      deprecated,
      deprecatedAt,
      sunsetAt: changes.sunset_at === undefined ? dateOrNull(current.sunsetAt) : changes.sunset_at,
    };
    await repository.updateVersion(tx, id, values);
    return {
      id,
      version: values.version,
      supported: values.supported,
      deprecated: values.deprecated,
      deprecatedAt: values.deprecatedAt?.toISOString() ?? null,
      sunsetAt: values.sunsetAt?.toISOString() ?? null,
    };
  });
  versions.apply(updated);
  return c.json(toVersionJson(updated), 200);
};
