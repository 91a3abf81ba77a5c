import { ifMatchPrecondition, jsonWithEtag } from "@/http/etag.ts";
import type { AppRouteHandler } from "@/middleware/app-router.ts";
import * as service from "@/modules/versions/versions.service.ts";
import { auditActorOf, type AuditLog } from "@/modules/audit/audit.service.ts";
import type {
  CreateVersionRoute,
  GetVersionRoute,
  ListVersionsRoute,
  UpdateVersionRoute,
} from "@/modules/versions/versions.routes.ts";

/** The handlers of `/versions`, created with the clock and the in-memory versions table. */
export function createVersionsHandlers(
  { clock, versions, config, auditLog }: service.VersionsDeps & {
    readonly config: { readonly http: { readonly requireIfMatch: boolean } };
    readonly auditLog: AuditLog;
  },
) {
  const ifMatch = { required: config.http.requireIfMatch };

  const listVersions: AppRouteHandler<ListVersionsRoute> = async (c) => {
    return c.json(await service.listVersions({ versions }), 200);
  };

  const getVersion: AppRouteHandler<GetVersionRoute> = async (c) => {
    const { version_id: id } = c.req.valid("param");
    return jsonWithEtag(c, await service.getVersion({ versions }, id), 200);
  };

  const createVersion: AppRouteHandler<CreateVersionRoute> = async (c) => {
    const body = c.req.valid("json");
    const created = await service.createVersion({
      db: c.get("db"),
      clock,
      versions,
      audit: { log: auditLog, actor: auditActorOf(c) },
    }, {
      version: body.version,
      supported: body.supported,
      deprecated: body.deprecated,
      sunsetAt: body.sunset_at,
    });
    return jsonWithEtag(c, created, 201);
  };

  const updateVersion: AppRouteHandler<UpdateVersionRoute> = async (c) => {
    const { version_id: id } = c.req.valid("param");
    const changes = c.req.valid("json");
    const precondition = ifMatchPrecondition(c.req.header("if-match"), ifMatch);
    const updated = await service.updateVersion(
      { db: c.get("db"), clock, versions, audit: { log: auditLog, actor: auditActorOf(c) } },
      id,
      {
        version: changes.version,
        supported: changes.supported,
        deprecated: changes.deprecated,
        sunsetAt: changes.sunset_at,
      },
      precondition,
    );
    return jsonWithEtag(c, updated, 200);
  };

  return { listVersions, getVersion, createVersion, updateVersion };
}
