/**
 * Which socket peers may name the client in `X-Forwarded-For`, and who the client then is.
 * `TRUST_PROXY` is parsed once (at startup, by `config.ts`) into {@link TrustedProxies}: a list
 * of IPv4 and IPv6 ranges held as numbers, so matching an address per request is a parse of
 * at most 39 characters and a few integer comparisons.
 *
 * @module
 */

/** The ranges `TRUST_PROXY=true` stands for: loopback and the private ranges. */
export const PRIVATE_RANGES: readonly string[] = [
  "127.0.0.0/8",
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "::1/128",
  "fc00::/7",
];

/** How many `X-Forwarded-For` entries are examined, from the right; the rest are ignored. */
const MAX_FORWARDED_HOPS = 32;
/** Longer than any textual IPv6 address with an embedded IPv4 one (45 characters). */
const MAX_ADDRESS_LENGTH = 45;

/** An address as 8 groups of 16 bits; IPv4 addresses are IPv4-mapped (`::ffff:a.b.c.d`). */
type Groups = readonly number[];

interface Range {
  readonly groups: Groups;
  readonly prefix: number;
}

/** Parse dotted IPv4 into two 16-bit groups, or undefined. */
function parseIpv4(text: string): [number, number] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes: number[] = [];
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || (part.length > 1 && part[0] === "0")) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    bytes.push(n);
  }
  return [(bytes[0]! << 8) | bytes[1]!, (bytes[2]! << 8) | bytes[3]!];
}

/** Parse an IPv4 or IPv6 address (no zone, no brackets) into 8 groups, or undefined. */
export function parseAddress(text: string): Groups | undefined {
  if (text.length === 0 || text.length > MAX_ADDRESS_LENGTH) return undefined;
  if (!text.includes(":")) {
    const v4 = parseIpv4(text);
    return v4 && [0, 0, 0, 0, 0, 0xffff, v4[0], v4[1]];
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parseGroups = (part: string): number[] | undefined => {
    if (part === "") return [];
    const groups: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIpv4(piece);
        if (!v4) return undefined;
        groups.push(v4[0], v4[1]);
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(piece)) return undefined;
        groups.push(parseInt(piece, 16));
      }
    }
    return groups;
  };
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return undefined;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

function isIpv4Mapped(groups: Groups): boolean {
  return groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 &&
    groups[4] === 0 && groups[5] === 0xffff;
}

/**
 * The canonical text of an address: dotted IPv4 (an IPv4-mapped IPv6 address too), else
 * RFC 5952 IPv6 (lower case, the longest run of zero groups compressed).
 */
export function formatAddress(groups: Groups): string {
  if (isIpv4Mapped(groups)) {
    const [a, b] = [groups[6]!, groups[7]!];
    return `${a >> 8}.${a & 0xff}.${b >> 8}.${b & 0xff}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/** The canonical form of `text` if it is an IPv4 or IPv6 address, else undefined. */
export function normalizeAddress(text: string): string | undefined {
  const groups = parseAddress(text);
  return groups && formatAddress(groups);
}

/** Parse `a.b.c.d`, `a.b.c.d/n`, `x::y` or `x::y/n`; throws naming the bad entry. */
function parseRange(text: string): Range {
  const [address = "", prefixText, extra] = text.split("/");
  const groups = parseAddress(address);
  const v4 = groups !== undefined && !address.includes(":");
  const max = v4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (
    !groups || extra !== undefined ||
    (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) || prefix > max
  ) {
    throw new Error(`Cannot use "${text}": expected an IP address or CIDR such as 10.0.0.0/8`);
  }
  return { groups, prefix: v4 ? prefix + 96 : prefix };
}

function inRange(groups: Groups, range: Range): boolean {
  let bits = range.prefix;
  for (let i = 0; i < 8 && bits > 0; i++, bits -= 16) {
    const mask = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if ((groups[i]! & mask) !== (range.groups[i]! & mask)) return false;
  }
  return true;
}

/**
 * The proxies allowed to name the client: built once from `TRUST_PROXY`, asked per request.
 *
 * @example
 * ```ts
 * const proxies = TrustedProxies.parse("10.0.0.0/8, ::1");
 * proxies.clientAddress("10.1.2.3", "198.51.100.7, 10.0.0.9"); // "198.51.100.7"
 * ```
 */
export class TrustedProxies {
  readonly #ranges: readonly Range[];
  /** The trusted ranges as configured (after `true` was expanded). */
  readonly ranges: readonly string[];

  private constructor(ranges: readonly string[]) {
    this.ranges = ranges;
    this.#ranges = ranges.map(parseRange);
  }

  /** Nobody is trusted: `X-Forwarded-For` is ignored. */
  static readonly none: TrustedProxies = new TrustedProxies([]);

  /**
   * Parse `false`, `true` (loopback and private ranges) or a comma list of addresses and CIDRs.
   *
   * @throws {Error} naming the first entry that is neither
   */
  static parse(value: string): TrustedProxies {
    const normalized = value.trim().toLowerCase();
    if (["", "false", "0", "no"].includes(normalized)) return TrustedProxies.none;
    if (["true", "1", "yes"].includes(normalized)) return new TrustedProxies(PRIVATE_RANGES);
    return new TrustedProxies(value.split(",").map((s) => s.trim()).filter(Boolean));
  }

  /** Whether any proxy is trusted. */
  get enabled(): boolean {
    return this.#ranges.length > 0;
  }

  /** Whether the (parsed) address is in a trusted range. */
  #trusts(groups: Groups): boolean {
    for (const range of this.#ranges) if (inRange(groups, range)) return true;
    return false;
  }

  /**
   * The client of a request from socket peer `peer`: when the peer is a trusted proxy,
   * `X-Forwarded-For` is read from the right, trusted hops are skipped, entries that are not
   * addresses are ignored, and the first untrusted address is the client (when every entry is
   * trusted, the leftmost one). Always a canonical address, or `peer` itself when that is none.
   */
  clientAddress(peer: string, forwardedFor: string | undefined): string {
    // The socket's own address text (Deno's) is canonical already: the common case is free.
    if (this.#ranges.length === 0 || !forwardedFor) return peer.slice(0, MAX_ADDRESS_LENGTH);
    const peerGroups = parseAddress(peer);
    if (!peerGroups) return peer.slice(0, MAX_ADDRESS_LENGTH);
    const client = formatAddress(peerGroups);
    if (!this.#trusts(peerGroups)) return client;
    let hop = client;
    let end = forwardedFor.length;
    for (let seen = 0; end > 0 && seen < MAX_FORWARDED_HOPS; seen++) {
      const comma = forwardedFor.lastIndexOf(",", end - 1);
      const entry = forwardedFor.slice(comma + 1, end).trim();
      end = comma === -1 ? 0 : comma;
      const groups = parseAddress(entry);
      if (!groups) continue;
      hop = formatAddress(groups);
      if (!this.#trusts(groups)) return hop;
    }
    return hop;
  }
}
