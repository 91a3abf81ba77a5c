/**
 * The rules of client versions: a version string is unique (409), a version keeps the date it
 * was deprecated on through unrelated changes, and every change reaches this instance's gate
 * at once (other instances within one refresh interval).
 *
 * @module
 */
import { UniqueViolationError } from "@/db/database.ts";
import type { AppDeps } from "@/middleware/app-deps.ts";
import type { Queryable } from "@/db/database.ts";
import type { ClientVersion, VersionsCache } from "@/modules/versions/client-versions.ts";
import { type AuditContext, changedFields, recordIn } from "@/modules/audit/audit.service.ts";
import { ConflictError, NotFoundError } from "@/http/errors.ts";
import * as repository from "@/modules/versions/versions.repository.ts";

/** Every row of the versions table, oldest first (what the in-memory table is loaded from). */
export function loadVersions(db: Queryable): Promise<ClientVersion[]> {
  return repository.listVersions(db);
}

/** The 404 detail of an unknown version id. */
export const VERSION_NOT_FOUND = "Version not found";

/** What the versions handlers are created with: the clock and the in-memory table. */
export interface VersionsDeps extends Pick<AppDeps, "clock"> {
  readonly versions: VersionsCache;
}

type Deps = Pick<AppDeps, "db"> & VersionsDeps & { readonly audit?: AuditContext };

/** The fields of a version the audit trail records when they change. */
const AUDITED_FIELDS = ["version", "supported", "deprecated", "sunset_at"] as const;

/** What a client may set when adding a version. */
export interface NewVersion {
  version: string;
  supported: boolean;
  deprecated: boolean;
  sunsetAt: Date | null;
}

/** What a client may change; absent fields stay as they are. */
export type VersionChanges = Partial<NewVersion>;

/** The one place a duplicate version string becomes a 409. */
async function unlessTaken<T>(version: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof UniqueViolationError) {
      throw new ConflictError(`Version "${version}" already exists`);
    }
    throw error;
  }
}

/** Every client version, oldest first, as the gate enforces them (no query once loaded). */
export async function listVersions(deps: Pick<VersionsDeps, "versions">): Promise<ClientVersion[]> {
  return [...(await deps.versions.load()).versions];
}

/** Add a client version. */
export async function createVersion(deps: Deps, input: NewVersion): Promise<ClientVersion> {
  const created = await unlessTaken(input.version, () =>
    deps.db.transaction(async (tx) => {
      const created = await repository.insertVersion(tx, {
        version: input.version,
        supported: input.supported,
        deprecated: input.deprecated,
        deprecated_at: input.deprecated ? deps.clock.now().toISOString() : null,
        sunset_at: input.sunsetAt?.toISOString() ?? null,
      });
      await recordIn(tx, deps.audit, {
        action: "version.created",
        targetType: "version",
        targetId: created.id,
        changes: changedFields({} as Partial<ClientVersion>, created, AUDITED_FIELDS),
      });
      return created;
    }));
  deps.versions.apply(created);
  return created;
}

/** One client version from the in-memory table; 404 when there is none with this id. */
export async function getVersion(
  deps: Pick<VersionsDeps, "versions">,
  id: number,
): Promise<ClientVersion> {
  const found = (await deps.versions.load()).versions.find((version) => version.id === id);
  if (!found) throw new NotFoundError(VERSION_NOT_FOUND);
  return found;
}

/**
 * Change a client version; 404 when there is none with this id. A `precondition` (an
 * `If-Match`) is checked against the row under its lock, and may refuse the change.
 */
export async function updateVersion(
  deps: Deps,
  id: number,
  changes: VersionChanges,
  precondition?: (current: ClientVersion) => void,
): Promise<ClientVersion> {
  const updated = await deps.db.transaction(async (tx) => {
    if (precondition) await repository.lockVersion(tx, id);
    const current = await repository.findVersionById(tx, id);
    if (!current) throw new NotFoundError(VERSION_NOT_FOUND);
    precondition?.(current);
    const deprecated = changes.deprecated ?? current.deprecated;
    const next: ClientVersion = {
      id,
      version: changes.version ?? current.version,
      supported: changes.supported ?? current.supported,
      deprecated,
      // The Deprecation date is when it became deprecated; it survives unrelated changes.
      deprecated_at: !deprecated
        ? null
        : (current.deprecated ? current.deprecated_at : null) ?? deps.clock.now().toISOString(),
      sunset_at: changes.sunsetAt === undefined
        ? current.sunset_at
        : changes.sunsetAt?.toISOString() ?? null,
    };
    await unlessTaken(next.version, () => repository.updateVersion(tx, id, next));
    const fields = changedFields(current, next, AUDITED_FIELDS);
    if (Object.keys(fields).length > 0) {
      await recordIn(tx, deps.audit, {
        action: current.supported && !next.supported ? "version.retired" : "version.updated",
        targetType: "version",
        targetId: id,
        changes: fields,
      });
    }
    return next;
  });
  deps.versions.apply(updated);
  return updated;
}
