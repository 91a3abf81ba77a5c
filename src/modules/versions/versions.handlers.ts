import type { AppRouteHandler } from "@/http/router.ts";
import * as service from "@/modules/versions/versions.service.ts";
import type {
  CreateVersionRoute,
  ListVersionsRoute,
  UpdateVersionRoute,
} from "@/modules/versions/versions.routes.ts";

export const listVersions: AppRouteHandler<ListVersionsRoute> = async (c) => {
  return c.json(await service.listVersions(c.get("deps")), 200);
};

export const createVersion: AppRouteHandler<CreateVersionRoute> = async (c) => {
  const body = c.req.valid("json");
  const created = await service.createVersion(c.get("deps"), {
    version: body.version,
    supported: body.supported,
    deprecated: body.deprecated,
    sunsetAt: body.sunset_at,
  });
  return c.json(created, 201);
};

export const updateVersion: AppRouteHandler<UpdateVersionRoute> = async (c) => {
  const { version_id: id } = c.req.valid("param");
  const changes = c.req.valid("json");
  const updated = await service.updateVersion(c.get("deps"), id, {
    version: changes.version,
    supported: changes.supported,
    deprecated: changes.deprecated,
    sunsetAt: changes.sunset_at,
  });
  return c.json(updated, 200);
};
