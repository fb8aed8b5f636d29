export interface WaitPreference {
  /** Seconds to hold the request, after clamping. */
  seconds: number;
  /** The `Preference-Applied` value to send. */
  applied: string;
}

/**
 * Reads `wait=N` from RFC 7240 `Prefer` headers (several preferences may be comma-separated or repeated). N above
 * `maxSeconds` is clamped; a malformed or absent wait is ignored, as RFC 7240 asks of unknown preferences.
 */
export function parsePreferWait(header: string | string[] | undefined, maxSeconds: number): WaitPreference | null {
  if (header === undefined) return null;
  const preferences = (Array.isArray(header) ? header : [header]).flatMap((h) => h.split(','));
  for (const preference of preferences) {
    const match = /^\s*wait\s*=\s*"?(\d{1,9})"?\s*(?:;.*)?$/i.exec(preference);
    if (!match) continue;
    const seconds = Math.min(Number(match[1]), maxSeconds);
    return { seconds, applied: `wait=${seconds}` };
  }
  return null;
}
