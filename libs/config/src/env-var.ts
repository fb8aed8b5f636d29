import { isIP } from 'node:net';

/** One environment variable: how to read it, its default (as text, like the env would give it) and its doc. */
export interface EnvVar<T, D extends string | undefined = string | undefined> {
  /** Shown in the README's table. */
  readonly type: string;
  /** Textual default; undefined means the variable is optional and reads as `null` when unset. */
  readonly default: D;
  readonly doc: string;
  /** Hides the value in error messages (keys, secrets). */
  readonly secret?: boolean;
  /** Parses the text or throws an Error whose message says what is expected. */
  readonly parse: (text: string) => T;
}

type Spec<T, D extends string | undefined> = Omit<EnvVar<T, D>, 'parse' | 'type'>;

export function intVar<D extends string | undefined>(
  spec: Spec<number, D> & { min: number; max: number },
): EnvVar<number, D> {
  return {
    ...spec,
    type: `integer ${spec.min}–${spec.max}`,
    parse: (text) => {
      if (!/^-?\d+$/.test(text.trim())) throw new Error('must be an integer');
      const value = Number(text.trim());
      if (value < spec.min || value > spec.max) throw new Error(`must be between ${spec.min} and ${spec.max}`);
      return value;
    },
  };
}

export function numberVar<D extends string | undefined>(
  spec: Spec<number, D> & { min: number; max: number },
): EnvVar<number, D> {
  return {
    ...spec,
    type: `number ${spec.min}–${spec.max}`,
    parse: (text) => {
      const value = Number(text.trim());
      if (text.trim() === '' || !Number.isFinite(value)) throw new Error('must be a number');
      if (value < spec.min || value > spec.max) throw new Error(`must be between ${spec.min} and ${spec.max}`);
      return value;
    },
  };
}

export function boolVar<D extends string | undefined>(spec: Spec<boolean, D>): EnvVar<boolean, D> {
  return {
    ...spec,
    type: 'boolean',
    parse: (text) => {
      const value = text.trim().toLowerCase();
      if (['true', '1', 'yes'].includes(value)) return true;
      if (['false', '0', 'no'].includes(value)) return false;
      throw new Error('must be true or false');
    },
  };
}

export function stringVar<D extends string | undefined>(
  spec: Spec<string, D> & { pattern?: RegExp; patternDoc?: string },
): EnvVar<string, D> {
  return {
    ...spec,
    type: spec.patternDoc ?? 'string',
    parse: (text) => {
      if (text.length === 0) throw new Error('must not be empty');
      if (spec.pattern && !spec.pattern.test(text)) throw new Error(`must match ${spec.patternDoc ?? spec.pattern}`);
      return text;
    },
  };
}

export function enumVar<const T extends string, D extends string | undefined>(
  spec: Spec<T, D> & { values: readonly T[] },
): EnvVar<T, D> {
  return {
    ...spec,
    type: spec.values.join(' \\| '),
    parse: (text) => {
      const value = text.trim() as T;
      if (!spec.values.includes(value)) throw new Error(`must be one of ${spec.values.join(', ')}`);
      return value;
    },
  };
}

export function urlVar<D extends string | undefined>(
  spec: Spec<string, D> & { protocols: readonly string[] },
): EnvVar<string, D> {
  return {
    ...spec,
    type: `URL (${spec.protocols.join(', ')})`,
    parse: (text) => {
      let url: URL;
      try {
        url = new URL(text.trim());
      } catch {
        throw new Error('must be an absolute URL');
      }
      if (!spec.protocols.includes(url.protocol.replace(/:$/, ''))) {
        throw new Error(`must use ${spec.protocols.join(' or ')}`);
      }
      return text.trim();
    },
  };
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

export interface ApiKeySeed {
  tenantId: string;
  key: string;
}

const TENANT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** `tenant:key,tenant2:key2`; a tenant may have several keys. */
export function apiKeysVar<D extends string | undefined>(spec: Spec<ApiKeySeed[], D>): EnvVar<ApiKeySeed[], D> {
  return {
    ...spec,
    type: 'list of tenant:key',
    parse: (text) =>
      splitList(text).map((entry, index) => {
        const colon = entry.indexOf(':');
        const tenantId = colon > 0 ? entry.slice(0, colon) : '';
        const key = colon > 0 ? entry.slice(colon + 1) : '';
        if (!TENANT_ID.test(tenantId)) {
          throw new Error(`entry ${index + 1} must be tenant:key with a tenant of [A-Za-z0-9_-]{1,64}`);
        }
        if (key.length < 8 || /\s/.test(key)) {
          throw new Error(`entry ${index + 1} needs a key of at least 8 non-blank characters`);
        }
        return { tenantId, key };
      }),
  };
}

/** IPs and CIDRs (`127.0.0.2/32`, `::1`, `10.0.0.0/8`); the egress guard interprets them. */
export function cidrListVar<D extends string | undefined>(spec: Spec<string[], D>): EnvVar<string[], D> {
  return {
    ...spec,
    type: 'list of IP or CIDR',
    parse: (text) =>
      splitList(text).map((entry) => {
        const [address, prefix, extra] = entry.split('/');
        const family = isIP(address ?? '');
        const maxPrefix = family === 4 ? 32 : 128;
        const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= maxPrefix);
        if (family === 0 || !prefixOk || extra !== undefined) throw new Error(`"${entry}" is not an IP or CIDR`);
        return entry;
      }),
  };
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `5s`, `5m`, `2h`, `1d`, or a bare number of milliseconds. */
export function parseDurationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration (e.g. 500ms, 5s, 5m, 2h)`);
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2] ?? 'ms']);
}

export function durationListVar<D extends string | undefined>(spec: Spec<number[], D>): EnvVar<number[], D> {
  return {
    ...spec,
    type: 'list of durations',
    parse: (text) => {
      const list = splitList(text).map(parseDurationMs);
      if (list.length === 0) throw new Error('needs at least one delay');
      return list;
    },
  };
}

/** A comma-separated list whose items come from a fixed set, order kept (e.g. execution providers by preference). */
export function enumListVar<const T extends string, D extends string | undefined>(
  values: readonly T[],
  spec: Spec<T[], D>,
): EnvVar<T[], D> {
  return {
    ...spec,
    type: `list of ${values.join(' \\| ')}`,
    parse(text: string): T[] {
      const items = text
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean);
      if (items.length === 0) throw new Error('must name at least one');
      for (const item of items) if (!values.includes(item as T)) throw new Error(`unknown value "${item}"`);
      return items as T[];
    },
  };
}

/** `tenant:weight,…` with positive weights (fair scheduling shares); a tenant listed twice is refused. */
export function tenantWeightsVar<D extends string | undefined>(
  spec: Spec<ReadonlyMap<string, number>, D>,
): EnvVar<ReadonlyMap<string, number>, D> {
  return {
    ...spec,
    type: 'list of tenant:weight',
    parse: (text) => {
      const weights = new Map<string, number>();
      splitList(text).forEach((entry, index) => {
        const colon = entry.lastIndexOf(':');
        const tenantId = colon > 0 ? entry.slice(0, colon) : '';
        const weightText = colon > 0 ? entry.slice(colon + 1).trim() : '';
        const weight = Number(weightText);
        if (!TENANT_ID.test(tenantId) || !/^\d+(\.\d+)?$/.test(weightText) || !(weight > 0) || weight > 1000) {
          throw new Error(`entry ${index + 1} must be tenant:weight with a weight above 0 and at most 1000`);
        }
        if (weights.has(tenantId)) throw new Error(`tenant ${tenantId} is listed twice`);
        weights.set(tenantId, weight);
      });
      return weights;
    },
  };
}
