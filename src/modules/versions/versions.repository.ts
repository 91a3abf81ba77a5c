/**
 * All SQL about client versions (the `versions` table the `X-Version` gate enforces).
 *
 * @module
 */
import { type Queryable, toIsoTimestampOrNull, UniqueViolationError } from "@/db/database.ts";
import { ConflictError } from "@/lib/errors.ts";

/** A client version as stored. */
export interface VersionRecord {
  id: number;
  version: string;
  supported: boolean;
  deprecated: boolean;
  /** When it was deprecated (ISO 8601 UTC); null while not deprecated. */
  deprecatedAt: string | null;
  /** When it stops working (ISO 8601 UTC); null when no date is announced. */
  sunsetAt: string | null;
}

/** The columns a write may set. */
export interface VersionValues {
  version: string;
  supported: boolean;
  deprecated: boolean;
  deprecatedAt: Date | null;
  sunsetAt: Date | null;
}

interface VersionRow {
  id: number;
  version: string;
  supported: number;
  deprecated: number;
  deprecated_at: unknown;
  sunset_at: unknown;
}

const SELECT_VERSION =
  "SELECT id, version, supported, deprecated, deprecated_at, sunset_at FROM versions";

function toVersion(row: VersionRow): VersionRecord {
  return {
    id: Number(row.id),
    version: row.version,
    supported: Boolean(Number(row.supported)),
    deprecated: Boolean(Number(row.deprecated)),
    deprecatedAt: toIsoTimestampOrNull(row.deprecated_at),
    sunsetAt: toIsoTimestampOrNull(row.sunset_at),
  };
}

/** The one place a duplicate version string becomes a 409. */
function rethrowDuplicate(error: unknown, version: string): never {
  if (error instanceof UniqueViolationError) {
    throw new ConflictError(`Version "${version}" already exists`);
  }
  throw error;
}

/** Every client version, oldest row first. */
export async function listVersions(db: Queryable): Promise<VersionRecord[]> {
  const rows = await db.query<VersionRow>(`${SELECT_VERSION} ORDER BY id`);
  return rows.map(toVersion);
}

/** Find a client version by id. */
export async function findVersionById(
  db: Queryable,
  id: number,
): Promise<VersionRecord | undefined> {
  const rows = await db.query<VersionRow>(`${SELECT_VERSION} WHERE id = ?`, [id]);
  return rows[0] && toVersion(rows[0]);
}

/** Insert a client version; a duplicate version string is a `ConflictError` (409). */
export async function insertVersion(db: Queryable, values: VersionValues): Promise<VersionRecord> {
  try {
    const { insertId } = await db.execute(
      "INSERT INTO versions (version, supported, deprecated, deprecated_at, sunset_at) VALUES (?, ?, ?, ?, ?)",
      [values.version, values.supported, values.deprecated, values.deprecatedAt, values.sunsetAt],
    );
    return {
      id: insertId,
      version: values.version,
      supported: values.supported,
      deprecated: values.deprecated,
      deprecatedAt: values.deprecatedAt?.toISOString() ?? null,
      sunsetAt: values.sunsetAt?.toISOString() ?? null,
    };
  } catch (error) {
    rethrowDuplicate(error, values.version);
  }
}

/** Overwrite a client version's columns; a duplicate version string is a `ConflictError`. */
export async function updateVersion(
  db: Queryable,
  id: number,
  values: VersionValues,
): Promise<void> {
  try {
    await db.execute(
      "UPDATE versions SET version = ?, supported = ?, deprecated = ?, deprecated_at = ?, sunset_at = ? WHERE id = ?",
      [
        values.version,
        values.supported,
        values.deprecated,
        values.deprecatedAt,
        values.sunsetAt,
        id,
      ],
    );
  } catch (error) {
    rethrowDuplicate(error, values.version);
  }
}
