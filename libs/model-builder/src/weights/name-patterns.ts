/**
 * A tensor-name pattern: a RegExp, or a string where `*` matches any run of characters (dots included) and
 * everything else is literal, e.g. `lm_head.*` or `connector.scale_factor`.
 */
export type NamePattern = string | RegExp;

const compiled = new Map<string, RegExp>();

function toRegExp(pattern: NamePattern): RegExp {
  if (pattern instanceof RegExp) return pattern;
  let re = compiled.get(pattern);
  if (!re) {
    const body = pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    re = new RegExp(`^${body}$`);
    compiled.set(pattern, re);
  }
  return re;
}

export function matchesAny(name: string, patterns: readonly NamePattern[] | undefined): boolean {
  if (!patterns) return false;
  return patterns.some((p) => {
    const re = toRegExp(p);
    re.lastIndex = 0;
    return re.test(name);
  });
}
