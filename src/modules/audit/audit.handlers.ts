import { nextLink } from "@/http/pagination.ts";
import type { AppRouteHandler } from "@/middleware/app-router.ts";
import type { AppDeps } from "@/middleware/app-deps.ts";
import type { ListAuditEventsRoute } from "@/modules/audit/audit.routes.ts";
import * as service from "@/modules/audit/audit.service.ts";

/** The handler of `GET /audit-events`. */
export function createAuditHandlers({ config }: Pick<AppDeps, "config">) {
  const listAuditEvents: AppRouteHandler<ListAuditEventsRoute> = async (c) => {
    const page = await service.listAuditEvents({ db: c.get("db"), config }, {
      ...c.req.valid("query"),
      pageGiven: c.req.query("page") !== undefined,
    });
    if (page.next_cursor) c.header("Link", nextLink(c.req.url, page.next_cursor));
    return c.json(page, 200);
  };
  return { listAuditEvents };
}
