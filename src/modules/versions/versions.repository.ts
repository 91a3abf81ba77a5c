/**
 * All SQL about client versions (the `versions` table the `X-Version` gate enforces). Rows come
 * back in their API shape, {@link ClientVersion}; a duplicate version string surfaces as the
 * database's `UniqueViolationError`, which the service turns into a 409.
 *
 * @module
 */
import { type Queryable, type SqlValue, toIsoTimestampOrNull } from "@/db/database.ts";
import type { ClientVersion } from "@/modules/versions/client-versions.ts";

/** The columns a write sets (timestamps as ISO 8601 strings, as the API carries them). */
export type VersionValues = Omit<ClientVersion, "id">;

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

function toVersion(row: VersionRow): ClientVersion {
  return {
    id: Number(row.id),
    version: row.version,
    supported: Boolean(Number(row.supported)),
    deprecated: Boolean(Number(row.deprecated)),
    deprecated_at: toIsoTimestampOrNull(row.deprecated_at),
    sunset_at: toIsoTimestampOrNull(row.sunset_at),
  };
}

/** The SQL parameters of `values`, in the column order of the writes below. */
function columns(values: VersionValues): SqlValue[] {
  const toDate = (iso: string | null) => (iso === null ? null : new Date(iso));
  return [
    values.version,
    values.supported,
    values.deprecated,
    toDate(values.deprecated_at),
    toDate(values.sunset_at),
  ];
}

/** Every client version, oldest row first. */
export async function listVersions(db: Queryable): Promise<ClientVersion[]> {
  const rows = await db.query<VersionRow>(`${SELECT_VERSION} ORDER BY id`);
  return rows.map(toVersion);
}

/** Find a client version by id. */
export async function findVersionById(
  db: Queryable,
  id: number,
): Promise<ClientVersion | undefined> {
  const rows = await db.query<VersionRow>(`${SELECT_VERSION} WHERE id = ?`, [id]);
  return rows[0] && toVersion(rows[0]);
}

/** Insert a client version and return it. */
/** Take the row's lock for the rest of the transaction (a no-op write by primary key). */
export async function lockVersion(db: Queryable, id: number): Promise<void> {
  await db.execute("UPDATE versions SET id = id WHERE id = ?", [id]);
}

export async function insertVersion(db: Queryable, values: VersionValues): Promise<ClientVersion> {
  const { insertId } = await db.execute(
    "INSERT INTO versions (version, supported, deprecated, deprecated_at, sunset_at) VALUES (?, ?, ?, ?, ?)",
    columns(values),
  );
  return { id: insertId, ...values };
}

/** Overwrite a client version's columns. */
export async function updateVersion(
  db: Queryable,
  id: number,
  values: VersionValues,
): Promise<void> {
  await db.execute(
    "UPDATE versions SET version = ?, supported = ?, deprecated = ?, deprecated_at = ?, sunset_at = ? WHERE id = ?",
    [...columns(values), id],
  );
}
