import type { AppRouteHandler } from "@/middleware/app-router.ts";
import * as service from "@/modules/versions/versions.service.ts";
import type {
  CreateVersionRoute,
  ListVersionsRoute,
  UpdateVersionRoute,
} from "@/modules/versions/versions.routes.ts";

/** The handlers of `/versions`, created with the clock and the in-memory versions table. */
export function createVersionsHandlers({ clock, versions }: service.VersionsDeps) {
  const listVersions: AppRouteHandler<ListVersionsRoute> = async (c) => {
    return c.json(await service.listVersions({ versions }), 200);
  };

  const createVersion: AppRouteHandler<CreateVersionRoute> = async (c) => {
    const body = c.req.valid("json");
    const created = await service.createVersion({ db: c.get("db"), clock, versions }, {
      version: body.version,
      supported: body.supported,
      deprecated: body.deprecated,
      sunsetAt: body.sunset_at,
    });
    return c.json(created, 201);
  };

  const updateVersion: AppRouteHandler<UpdateVersionRoute> = async (c) => {
    const { version_id: id } = c.req.valid("param");
    const changes = c.req.valid("json");
    const updated = await service.updateVersion({ db: c.get("db"), clock, versions }, id, {
      version: changes.version,
      supported: changes.supported,
      deprecated: changes.deprecated,
      sunsetAt: changes.sunset_at,
    });
    return c.json(updated, 200);
  };

  return { listVersions, createVersion, updateVersion };
}
